"""Each metric on small hand-built stores; expected values worked out by hand in comments.

Unless a test says otherwise: organization timezone UTC, cycle c2 = [2026-03-02, 2026-04-13)
(six weeks), previous cycle c1 = [2026-01-19, 2026-03-02), default ladder of DESIGN.md:
supporter (any 1 in 365 d), member (2+ any, or a donation, in 180 d), active (3+ attended
attendance in 90 d), leader (host/lead attendance, a 1:1, or assessment ≥ 4, in 90 d).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from cyclebook.config import Rung, default_ladder
from cyclebook.metrics import compute_metrics

from .storebuild import StoreBuilder, at, make_card, make_org

C1 = make_card("c1", "2026-01-19", "2026-03-02")
C2 = make_card("c2", "2026-03-02", "2026-04-13", previous="c1")
START = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
END = dt.datetime(2026, 4, 13, tzinfo=dt.UTC)


def run(b: StoreBuilder, org=None, card=C2, previous=C1, **kw):
    b.build()
    return compute_metrics(b.path, org or make_org(), card, previous, save=False, **kw)


def v(res, metric, period=None, dimension=""):
    got = res.get(metric, period, dimension)
    assert got is not None, (metric, period, dimension)
    return got.value


def den(res, metric, period=None, dimension=""):
    return res.get(metric, period, dimension).denominator


# --------------------------------------------------------------------------- ladder


def ladder_people(b: StoreBuilder) -> None:
    # A: one signup 2025-04-01. start-365 = 2025-03-02 → supporter at start;
    #    end-365 = 2025-04-13 → nothing at end: supporter → off (down).
    b.person("A", at("2025-04-01"))
    b.act("A", "signup", at("2025-04-01"))
    # B: a donation 2026-02-01 → member at start and at end (180 d) → stayed.
    b.person("B", at("2026-02-01"))
    b.act("B", "donation", at("2026-02-01"), amount=25.0)
    # C: signup 2025-12-01 (supporter at start: 1 activity) + three attended
    #    events in the cycle → active at end: up.
    b.person("C", at("2025-12-01"))
    b.act("C", "signup", at("2025-12-01"))
    for day in ("2026-03-10", "2026-03-20", "2026-04-01"):
        b.act("C", "attendance", at(day), status="registered", attended=True)
    # D: first seen with a one-on-one on 2026-04-12 → new → leader.
    b.person("D", at("2026-04-12"))
    b.act("D", "one_on_one", at("2026-04-12"), organizer_id="org1")
    # E: a person with no activity at all (known since 2025): on no rung, ever.
    b.person("E", at("2025-01-01"))
    # F: assessed 5 on 2026-01-01 (within 90 d of start: leader), assessed 3 on
    #    2026-03-15; at end the 5 is older than 90 d, two activities in 180 d →
    #    member: leader → member (down).
    b.person("F", at("2026-01-01"))
    b.act("F", "assessment", at("2026-01-01"), score=5.0)
    b.act("F", "assessment", at("2026-03-15"), score=3.0)


def test_ladder_distribution_and_transitions(builder):
    ladder_people(builder)
    res = run(builder)
    # start: supporter A, C; member B; leader F.   end: member B, F; active C; leader D.
    assert [v(res, "ladder", "start", r) for r in ("supporter", "member", "active", "leader")] == [
        2,
        1,
        0,
        1,
    ]
    assert [v(res, "ladder", "end", r) for r in ("supporter", "member", "active", "leader")] == [
        0,
        2,
        1,
        1,
    ]
    assert v(res, "ladder", "start") == 4 and v(res, "ladder", "end") == 4  # E never counts
    transitions = {x.dimension: x.value for x in res.select("ladder", "transition")}
    assert transitions == {
        "supporter>off": 1,
        "member>member": 1,
        "supporter>active": 1,
        "new>leader": 1,
        "leader>member": 1,
    }


def test_movement_and_conversion(builder):
    ladder_people(builder)
    res = run(builder)
    assert v(res, "movement", "cycle", "supporter:up") == 1  # C
    assert v(res, "movement", "cycle", "supporter:down") == 1  # A
    assert v(res, "movement", "cycle", "member:stayed") == 1  # B
    assert v(res, "movement", "cycle", "leader:down") == 1  # F
    assert v(res, "movement", "cycle", "new:joined") == 1  # D
    assert v(res, "movement", "cycle", "off:joined") == 0
    assert v(res, "movement", "cycle") == 1  # depth: C climbed (D joined the ladder)
    assert v(res, "movement", "cycle", "joined") == 1  # D
    assert v(res, "conversion", "cycle", "supporter") == pytest.approx(1 / 2)
    assert den(res, "conversion", "cycle", "supporter") == 2
    assert v(res, "conversion", "cycle", "member") == 0
    assert v(res, "conversion", "cycle", "active") is None  # nobody there at start
    assert res.get("conversion", "cycle", "leader") is None  # the top rung has no "above"
    # all rungs below the top: 3 people at start (A, C, B), 1 went above (C)
    assert v(res, "conversion", "cycle") == pytest.approx(1 / 3)


def test_leaders_and_ratio(builder):
    ladder_people(builder)
    res = run(builder)
    assert v(res, "leaders", "start") == 1  # F
    assert v(res, "leaders", "end") == 1  # D
    # active base at end (any activity in (2025-04-13, 2026-04-13]): B, C, D, F = 4
    assert v(res, "active_base", "end") == 4
    assert v(res, "leader_ratio", "end") == pytest.approx(1 / 4)


def test_window_edges(builder):
    # G: signup exactly 365 days before the start instant → outside (d - 365, d].
    builder.person("G", at("2025-03-02", 0))
    builder.act("G", "signup", at("2025-03-02", 0))
    # H: signup exactly at the start instant → inside, so supporter at start.
    builder.person("H", at("2025-01-01"))
    builder.act("H", "signup", at("2026-03-02", 0))
    # I: signup one second after the window opens → inside.
    builder.person("I", at("2025-01-01"))
    builder.act("I", "signup", at("2025-03-02", 0, 0, 1))
    # J: activity exactly at the end instant counts at end but is not in the cycle.
    builder.person("J", at("2025-01-01"))
    builder.act("J", "signup", at("2026-04-13", 0))
    res = run(builder)
    assert v(res, "ladder", "start", "supporter") == 2  # H, I
    assert v(res, "active_base", "start") == 2  # same 365-day window
    assert v(res, "ladder", "end", "supporter") == 2  # H and J
    assert v(res, "active_base", "cycle") == 1  # only H acted in [start, end)


def test_timezone_of_the_organization(builder):
    # New York: the cycle starts 2026-03-02 00:00 EST = 05:00 UTC.
    builder.person("K", at("2025-01-01"))
    builder.act("K", "signup", at("2026-03-02", 4, 30))  # 23:30 on 1 March, local
    builder.person("L", at("2025-01-01"))
    builder.act("L", "signup", at("2026-03-02", 5, 0))  # midnight local: in the cycle
    res = run(builder, org=make_org(timezone="America/New_York"))
    assert v(res, "active_base", "cycle") == 1
    assert v(res, "ladder", "start", "supporter") == 2


def test_changed_rung_rule(builder):
    # M: two signups in the cycle. Default ladder: member (2+ activities in 180 d).
    builder.person("M", at("2025-01-01"))
    builder.act("M", "signup", at("2026-03-05"))
    builder.act("M", "signup", at("2026-03-06"))
    # N: two activist codes → member only under the organization's own rule.
    builder.person("N", at("2025-01-01"))
    builder.act("N", "activist_code", at("2026-03-05"))
    builder.act("N", "activist_code", at("2026-03-06"))
    builder.build()
    default = compute_metrics(builder.path, make_org(), C2, C1, save=False)
    assert v(default, "ladder", "end", "member") == 2
    own = make_org(
        ladder=[
            {
                "name": "supporter",
                "label": "Supporter",
                "window_days": 365,
                "any_of": [{"min_count": 1}],
                "definition": "Any action this year.",
            },
            {
                "name": "member",
                "label": "Dues-paying member",
                "window_days": 180,
                "any_of": [
                    {"activity_types": ["donation"]},
                    {"activity_types": ["activist_code"], "min_count": 2},
                ],
                "definition": "Dues, or two member activist codes.",
            },
        ],
        metrics={"leader_rung": "member"},
    )
    changed = compute_metrics(builder.path, own, C2, C1, save=False)
    assert v(changed, "ladder", "end", "member") == 1  # N only
    assert v(changed, "ladder", "end", "supporter") == 1  # M
    assert changed.get("ladder", "end", "active") is None
    assert (
        "Dues, or two member activist codes." in changed.get("ladder", "end", "member").definition
    )
    assert v(changed, "leaders", "end") == 1


def test_leader_rung_missing_falls_back_to_top(builder):
    # the config refuses a leader_rung that names no rung; the default ('leader') on a
    # ladder of the group's own without that rung counts the top rung, and says so
    builder.person("P", at("2025-01-01"))
    builder.act("P", "one_on_one", at("2026-03-05"))
    ladder = [r.model_dump() for r in default_ladder()]
    captain = dict(ladder[-1], name="captain", label="Captain")
    res = run(builder, org=make_org(ladder=[*ladder[:-1], captain]))
    assert v(res, "leaders", "end") == 1
    assert any("'leader'" in note and "'captain'" in note for note in res.notes)


def test_invitations_and_refusals_are_not_actions(builder):
    builder.person("Q", at("2025-01-01"))
    builder.act("Q", "attendance", at("2026-03-05"), status="invited")
    builder.act("Q", "attendance", at("2026-03-06"), status="declined")
    res = run(builder)
    assert v(res, "ladder", "end") == 0
    assert v(res, "active_base", "end") == 0


def test_what_has_not_happened_yet_is_not_an_action(builder):
    """A running cycle (now 2026-03-20): Mobilize dates a registration by its event's
    day, and one for the 30th counted as an action, made Z "absorbed", and W, known only
    by a registration for April 1st, new and on the ladder."""
    builder.person("Z", at("2026-03-10"))
    builder.act("Z", "signup", at("2026-03-10"), event_id="E1")
    builder.act("Z", "attendance", at("2026-03-30"), event_id="E2", status="registered")
    builder.person("W", at("2026-03-15"))
    builder.act("W", "attendance", at("2026-04-01"), event_id="E3", status="registered")
    res = run(builder, now=at("2026-03-20"))
    assert v(res, "ladder", "end") == 1  # Z: one signup, a supporter
    assert v(res, "ladder", "end", "supporter") == 1
    assert v(res, "active_base", "end") == 1
    # Z new, not yet absorbed; W not new (no action yet, as one who only declined)
    assert (v(res, "absorption", "cycle"), den(res, "absorption", "cycle")) == (0.0, 1.0)
    # the same data once those days have passed: both count
    later = compute_metrics(builder.path, make_org(), C2, C1, save=False, now=at("2026-04-20"))
    assert v(later, "ladder", "end") == 2
    assert (v(later, "absorption", "cycle"), den(later, "absorption", "cycle")) == (0.5, 2.0)


def test_a_cycle_under_way_is_measured_as_of_today(builder):
    """Now 2026-03-20, the cycle ends 2026-04-13. R attended three events, the last on
    01-08: active today (three in the 90 days before 03-21), and not lapsed (90 days
    run out on 04-08). Worked out at the end date, R was off the active rung and lapsed
    already, weeks before the window ran out."""
    builder.person("R", at("2025-12-20"))
    for day in ("2025-12-25", "2026-01-01", "2026-01-08"):
        builder.act("R", "attendance", at(day), status="completed", attended=True)
    res = run(builder, now=at("2026-03-20"))
    assert v(res, "ladder", "end", "active") == 1
    assert v(res, "lapsed", "cycle") == 0
    # once the cycle has ended, at its end date: off the active rung, and lapsed
    after = compute_metrics(builder.path, make_org(), C2, C1, save=False, now=at("2026-05-01"))
    assert v(after, "ladder", "end", "active") == 0
    assert v(after, "lapsed", "cycle") == 1


def test_cancelled_sign_ups_are_not_actions(builder):
    """X's only records are two sign-ups, both cancelled: not on the ladder (two
    cancellations made a "member", 2+ actions in 180 days), not active, not new, not
    absorbed. Y registered once and came: a supporter, new, not absorbed."""
    builder.person("X", at("2026-03-04"))
    builder.act("X", "attendance", at("2026-03-05"), event_id="E1", status="cancelled")
    builder.act("X", "attendance", at("2026-03-12"), event_id="E2", status="cancelled")
    builder.person("Y", at("2026-03-04"))
    builder.act("Y", "attendance", at("2026-03-05"), event_id="E1", status="completed")
    res = run(builder)
    assert v(res, "ladder", "end") == 1
    assert v(res, "ladder", "end", "supporter") == 1
    assert v(res, "ladder", "end", "member") == 0
    assert v(res, "active_base", "end") == 1
    assert v(res, "new_people", "cycle") == 1
    assert (v(res, "absorption", "cycle"), den(res, "absorption", "cycle")) == (0.0, 1.0)


# --------------------------------------------------------------------------- base


def test_new_people_absorption_and_one_on_ones(builder):
    # N1: new 03-05; signup, attends another event 03-20, 1:1 on 03-30 (25 d) → absorbed,
    #     1:1 within 30 d. First tool: action_network.
    builder.person("N1", at("2026-03-05"))
    builder.act("N1", "signup", at("2026-03-05"), event_id="E1")
    builder.act("N1", "attendance", at("2026-03-20"), event_id="E9", attended=True)
    builder.act("N1", "one_on_one", at("2026-03-30"))
    # N2: signup and attendance of the *same* event → one distinct activity → not absorbed.
    builder.person("N2", at("2026-03-10"), sources=("mobilize",))
    builder.act("N2", "signup", at("2026-03-10"), event_id="E2", source="mobilize")
    builder.act(
        "N2", "attendance", at("2026-03-12"), event_id="E2", source="mobilize", attended=True
    )
    # N3: first seen 04-01 noon; next activity exactly 42 days later (05-13 noon) →
    #     outside [first, first + 42 d) → not absorbed.
    builder.person("N3", at("2026-04-01"))
    builder.act("N3", "signup", at("2026-04-01"))
    builder.act("N3", "signup", at("2026-05-13"))
    # N4: listed by VAN on 03-15, no activity → not new: a person new to the base took an
    #     action (a texted voter or a voter-file row is seen, not recruited)
    builder.person("N4", at("2026-03-15"), sources=("van",))
    # O1: an old member active in the cycle → not new.
    builder.person("O1", at("2025-05-01"))
    builder.act("O1", "signup", at("2026-03-05"))
    builder.act("O1", "one_on_one", at("2026-03-06"), organizer_id="org2")
    # X: first activity before first_seen_at → first seen is the activity (2026-02-20).
    builder.person("X", at("2026-03-03"))
    builder.act("X", "signup", at("2026-02-20"))
    res = run(builder)
    assert v(res, "new_people", "cycle") == 3  # N1, N2, N3
    assert v(res, "new_people", "cycle", "source=action_network") == 2  # N1, N3
    assert v(res, "new_people", "cycle", "source=mobilize") == 1
    assert res.get("new_people", "cycle", "source=van") is None  # N4 took no action
    assert v(res, "absorption", "cycle") == pytest.approx(1 / 3)
    assert den(res, "absorption", "cycle") == 3
    assert v(res, "absorption", "cycle", "source=mobilize") == 0
    assert v(res, "one_on_ones", "cycle", "new_within_window") == pytest.approx(1 / 3)
    assert v(res, "one_on_ones", "cycle") == 2  # N1's and O1's
    assert v(res, "one_on_ones", "cycle", "people") == 2
    assert v(res, "one_on_ones", "cycle", "organizers") == 1  # N1's has no organizer


def test_new_people_source_ties_go_to_the_name_that_sorts_first(builder):
    # T*: VAN and Action Network listed each of them at the same instant (VAN's row
    #     written first) → action_network, the name that sorts first.
    for n in range(300):
        when = at("2026-03-10", 9)
        builder.person(
            f"T{n}",
            when,
            sources=("van", "action_network"),
            tool_first_seen={"van": when, "action_network": when},
        )
        builder.act(f"T{n}", "signup", at("2026-03-25"), source="action_network")
    # S*: no tool gave a date; the first activities are a Mobilize and an Action Network
    #     one at the same instant (Mobilize's written first) → action_network.
    for n in range(300):
        builder.person(f"S{n}", None, sources=("mobilize", "action_network"))
        for source in ("mobilize", "action_network"):
            builder.act(f"S{n}", "signup", at("2026-03-20", 10), source=source)
    # U: the tools' dates differ by a second → mobilize (earlier), although it sorts later.
    builder.person(
        "U",
        at("2026-03-11", 9),
        sources=("mobilize", "action_network"),
        tool_first_seen={
            "mobilize": at("2026-03-11", 9),
            "action_network": at("2026-03-11", 9, 0, 1),
        },
    )
    builder.act("U", "signup", at("2026-03-25"), source="action_network")
    # W: no date from any tool → the identity whose name sorts first.
    builder.person("W", at("2026-03-12"), sources=("van", "spoke"))
    builder.act("W", "signup", at("2026-03-25"), source="spoke")
    res = run(builder)
    assert v(res, "new_people", "cycle") == 602
    assert v(res, "new_people", "cycle", "source=action_network") == 600
    assert v(res, "new_people", "cycle", "source=mobilize") == 1  # U
    assert v(res, "new_people", "cycle", "source=spoke") == 1  # W
    assert res.get("new_people", "cycle", "source=van") is None


def test_lapsed_net_growth_edges(builder):
    # lapse window: last qualifying activity L with L in (start-90 d, end-90 d]
    #   = (2025-12-02 00:00, 2026-01-13 00:00]
    builder.person("L1", at("2025-01-01"))
    builder.act("L1", "signup", at("2025-12-15"))  # lapsed in the cycle
    builder.person("L2", at("2025-01-01"))
    builder.act("L2", "signup", at("2026-01-13", 0))  # crosses 90 d exactly at end → lapsed
    builder.person("L3", at("2025-01-01"))
    builder.act("L3", "signup", at("2025-12-02", 0))  # crossed exactly at start → before
    builder.person("L4", at("2025-01-01"))
    builder.act("L4", "signup", at("2026-01-14"))  # still within 90 d at end
    builder.person("N1", at("2026-03-20"))
    builder.act("N1", "signup", at("2026-03-20"))
    res = run(builder)
    assert v(res, "lapsed", "cycle") == 2
    assert v(res, "new_people", "cycle") == 1
    assert v(res, "net_growth", "cycle") == 1 - 2
    # active base (365 d) at start: L1..L4 = 4; at end: L1..L4 + N1 = 5
    assert v(res, "active_base", "start") == 4
    assert v(res, "active_base", "end") == 5
    assert v(res, "active_base", "cycle", "change") == 1


def test_qualifying_types_setting(builder):
    builder.person("T1", at("2025-01-01"))
    builder.act("T1", "tagging", at("2026-01-01"))  # a tag is not qualifying below
    builder.person("T2", at("2025-01-01"))
    builder.act("T2", "attendance", at("2026-01-01"), attended=True)
    res = run(builder, org=make_org(metrics={"qualifying_types": ["attendance", "donation"]}))
    assert v(res, "active_base", "end") == 1
    assert "attendance or donation" in res.get("active_base", "end").definition


def test_retention(builder):
    # previous cycle [2026-01-19, 2026-03-02); this cycle [2026-03-02, 2026-04-13)
    builder.person("R1", at("2025-01-01"))
    builder.act("R1", "signup", at("2026-02-01"))
    builder.act("R1", "signup", at("2026-03-10"))  # retained
    builder.person("R2", at("2025-01-01"))
    builder.act("R2", "signup", at("2026-02-10"))  # not back
    builder.person("R3", at("2025-01-01"))
    builder.act("R3", "signup", at("2026-03-01", 23, 59, 59))  # last second of c1
    builder.act("R3", "signup", at("2026-03-02", 0))  # first instant of c2 → retained
    builder.person("R4", at("2025-01-01"))
    builder.act("R4", "signup", at("2026-01-18"))  # before c1 → not in the denominator
    builder.act("R4", "signup", at("2026-03-20"))
    res = run(builder)
    assert v(res, "retention", "cycle") == pytest.approx(2 / 3)
    assert den(res, "retention", "cycle") == 3


def test_no_previous_cycle_means_no_retention(builder):
    builder.person("R1", at("2025-01-01"))
    builder.act("R1", "signup", at("2026-03-10"))
    res = run(builder, card=make_card("c2", "2026-03-02", "2026-04-13"), previous=None)
    assert res.get("retention") is None
    assert any("previous cycle" in note for note in res.notes)


def test_match_rate_and_one_tool_people(builder):
    builder.person("M1", at("2025-01-01"), sources=("action_network", "mobilize"))
    builder.person("M2", at("2025-01-01"), sources=("action_network",))  # one tool only
    builder.person("M3", at("2025-01-01"), sources=("van",))
    builder.person("M4", at("2025-01-01"), sources=("van", "spoke", "mobilize"))
    builder.act("M2", "signup", at("2026-03-05"))
    res = run(builder)
    assert v(res, "match_rate", "end") == pytest.approx(2 / 4)
    assert v(res, "ladder", "end", "supporter") == 1  # M2, known to one tool only


def test_an_id_only_another_tool_named_does_not_make_a_person_matched(builder):
    """A Spoke contact's external_id names a VAN id, kept as the person's VAN id though
    no VAN export lists it: the person counted as matched with a VAN record that did
    not exist."""
    builder.person("M1", at("2025-01-01"), sources=("spoke", "van"), unlisted=("van",))
    builder.person("M2", at("2025-01-01"), sources=("spoke", "van"))  # VAN lists her
    builder.person("M3", at("2025-01-01"), sources=("spoke", "van", "mobilize"), unlisted=("van",))
    res = run(builder)
    assert v(res, "match_rate", "end") == pytest.approx(2 / 3)  # M2 and M3 (Mobilize)


def test_match_rate_leaves_out_people_first_seen_after_the_cycle(builder):
    # A later export holds a matched person first seen after the cycle's end: they are
    # neither in the denominator nor in the numerator (the rate can never pass 100%).
    builder.person("M1", at("2025-01-01"), sources=("action_network", "mobilize"))
    builder.person("M2", at("2025-01-01"), sources=("action_network",))
    builder.person("LATE", at("2026-06-01"), sources=("van", "spoke"))
    res = run(builder)
    assert v(res, "match_rate", "end") == pytest.approx(1 / 2)
    assert den(res, "match_rate", "end") == 2


# --------------------------------------------------------------------------- events


def test_show_rate(builder):
    b = builder
    b.event("E1", "MEETING", at("2026-03-10"))
    b.event("E2", None, at("2026-03-12"), source="van")
    b.event("E5", "Meeting ", at("2026-03-11"), source="van")  # same kind as MEETING
    b.event("E3", "MEETING", at("2026-05-01"))  # after the cycle
    b.event("E4", "MEETING", at("2026-02-01"))  # before the cycle
    b.event("E6", "MEETING", at("2026-03-13"))  # nobody marked who came
    for pid in "ABCDEFGHIJK":
        b.person(pid, at("2025-01-01"))
    b.act("A", "attendance", at("2026-03-10"), event_id="E1", status="registered", attended=True)
    b.act("B", "attendance", at("2026-03-10"), event_id="E1", status="confirmed", attended=False)
    # unmarked at an event whose attendance was taken (A, B marked): did not come
    b.act("C", "attendance", at("2026-03-10"), event_id="E1", status="registered")
    b.act("K", "attendance", at("2026-03-13"), event_id="E6", status="registered")  # unrecorded
    b.act("D", "attendance", at("2026-03-10"), event_id="E1", status="cancelled")
    b.act("E", "attendance", at("2026-03-10"), event_id="E1", status="walk_in", attended=True)
    b.act("F", "attendance", at("2026-03-12"), event_id="E2", status="completed", source="van")
    b.act("G", "attendance", at("2026-03-12"), event_id="E2", status="no_show", source="van")
    b.act("H", "attendance", at("2026-05-01"), event_id="E3", status="registered", attended=True)
    b.act("I", "attendance", at("2026-02-01"), event_id="E4", status="registered", attended=True)
    b.act("J", "attendance", at("2026-03-11"), event_id="E5", status="completed", source="van")
    res = run(b)
    # recorded registrations: A(yes) B(no) C(no) J(yes) F(yes) G(no) → 3/6
    assert v(res, "show_rate", "cycle") == pytest.approx(3 / 6)
    assert den(res, "show_rate", "cycle") == 6
    # MEETING: E1 A(yes) B(no) C(no), E5 J(yes) → 2/4; OTHER: E2 F(yes) G(no) → 1/2
    assert v(res, "show_rate", "cycle", "event_type=MEETING") == pytest.approx(2 / 4)
    assert v(res, "show_rate", "cycle", "event_type=OTHER") == pytest.approx(0.5)
    assert v(res, "show_rate", "cycle", "unrecorded") == 1  # K: E6 took no attendance
    # an event still in the future is not "past": now = 2026-03-11 leaves only E1
    early = compute_metrics(
        b.path, make_org(), C2, C1, save=False, now=dt.datetime(2026, 3, 11, tzinfo=dt.UTC)
    )
    assert den(early, "show_rate", "cycle") == 3  # E5 (11 March, noon) is still ahead


def test_unmarked_van_signups_are_not_no_shows(builder):
    """VAN's show rate is Completed over Completed + No Show (DESIGN.md): a Scheduled
    sign-up beside a Completed one at the same event stays out of it."""
    b = builder
    b.event("V1", "MEETING", at("2026-03-10"), source="van")
    for pid in "AB":
        b.person(pid, at("2025-01-01"))
    b.act(
        "A",
        "attendance",
        at("2026-03-10"),
        event_id="V1",
        status="completed",
        source="van",
        attended=True,
    )
    b.act("B", "attendance", at("2026-03-10"), event_id="V1", status="registered", source="van")
    res = run(b)
    assert (v(res, "show_rate", "cycle"), den(res, "show_rate", "cycle")) == (1.0, 1)
    assert v(res, "show_rate", "cycle", "unrecorded") == 1


def test_volunteer_tiers(builder):
    b = builder
    # end = 2026-04-13 00:00: 14-day window (03-30, 04-13], 30-day window (03-14, 04-13]
    shifts = {
        "V1": ["2026-04-01", "2026-04-10"],  # 2+ in 14
        "V2": ["2026-03-20", "2026-04-05"],  # 2+ in 30 (one in 14)
        "V3": ["2026-04-12"],  # exactly 1 in 30
    }
    n = 0
    for pid, days in shifts.items():
        b.person(pid, at("2025-01-01"))
        for day in days:
            n += 1
            b.event(f"S{n}", "CANVASS", at(day))
            b.act(pid, "attendance", at(day), event_id=f"S{n}", attended=True)
    b.person("V4", at("2025-01-01"))  # a shift exactly 30 days before end → outside
    b.event("S90", "PHONE_BANK", at("2026-03-14", 0))
    b.act("V4", "attendance", at("2026-03-14", 0), event_id="S90", status="completed")
    b.person("V5", at("2025-01-01"))  # a meeting is not a shift
    b.event("M1", "MEETING", at("2026-04-10"))
    b.act("V5", "attendance", at("2026-04-10"), event_id="M1", attended=True)
    b.person("V7", at("2025-01-01"))  # VAN spells the type "phone bank": still a shift
    b.event("S92", "phone bank", at("2026-04-11"), source="van")
    b.act("V7", "attendance", at("2026-04-11"), event_id="S92", status="completed")
    b.person("V6", at("2025-01-01"))  # registered for a shift, did not come
    b.event("S91", "text_bank", at("2026-04-10"))
    b.act("V6", "attendance", at("2026-04-10"), event_id="S91", attended=False)
    res = run(b)
    assert v(res, "volunteer_tiers", "end", "2+ in 14 days") == 1
    assert v(res, "volunteer_tiers", "end", "2+ in 30 days") == 1
    assert v(res, "volunteer_tiers", "end", "1 in 30 days") == 2  # V3, V7
    assert v(res, "volunteer_tiers", "end", "none in 30 days") == 1
    assert v(res, "volunteer_tiers", "end") == 4
    # at start (2026-03-02) nobody had a shift yet
    assert v(res, "volunteer_tiers", "start") == 0


# --------------------------------------------------------------------------- contact


def test_contact_by_channel_and_week(builder):
    b = builder
    b.attempt("P1", "door", at("2026-03-02", 0), conversation=True)  # week 1 (first instant)
    b.attempt("P2", "door", at("2026-03-08", 23, 59), conversation=False)  # week 1
    b.attempt("P1", "door", at("2026-03-09", 0), conversation=True)  # week 2
    b.attempt("P3", "phone", at("2026-03-20"), conversation=True)  # week 3
    b.attempt(None, "phone", at("2026-03-21"))  # unmatched voter, week 3
    b.attempt("P4", "text", at("2026-03-22"), conversation=True, replied=True)
    b.attempt("P5", "text", at("2026-03-22"), conversation=True, replied=True, opted_out=True)
    b.attempt("P6", "text", at("2026-03-22"), replied=False)
    b.attempt("P7", "door", at("2026-04-13", 0), conversation=True)  # end: not in the cycle
    b.attempt("P8", "door", at("2026-01-10"), conversation=True)  # this year, before
    res = run(b)
    assert v(res, "contact", "cycle", "attempts") == 8
    assert v(res, "contact", "cycle", "conversations") == 5
    assert v(res, "contact", "cycle") == 5  # headline: conversations
    assert v(res, "contact", "cycle", "contact_rate") == pytest.approx(5 / 8)
    assert v(res, "contact", "cycle", "reached") == 4  # P1 (twice), P3, P4, P5
    assert v(res, "contact", "cycle", "attempts|channel=door") == 3
    assert v(res, "contact", "cycle", "reached|channel=door") == 1
    assert v(res, "contact", "cycle", "reply_rate|channel=text") == pytest.approx(2 / 3)
    assert v(res, "contact", "cycle", "opt_out_rate|channel=text") == pytest.approx(1 / 3)
    assert v(res, "contact", "week", "attempts|week=1") == 2
    assert v(res, "contact", "week", "attempts|week=2") == 1
    assert v(res, "contact", "week", "attempts|week=3") == 5
    assert v(res, "contact", "week", "attempts|week=3|channel=text") == 3
    assert v(res, "contact", "year", "attempts|channel=door") == 4
    assert v(res, "contact", "year", "conversations|channel=door") == 3


def test_new_people_source_is_the_tool_that_knew_them_first(builder):
    # Z: Action Network listed Z on 03-10, Mobilize on 03-12; Z's first activity is a
    #    Mobilize signup on 03-12 → new by source action_network.
    builder.person(
        "Z",
        at("2026-03-10"),
        sources=("mobilize", "action_network"),
        tool_first_seen={"action_network": at("2026-03-10"), "mobilize": at("2026-03-12")},
    )
    builder.act("Z", "signup", at("2026-03-12"), source="mobilize")
    res = run(builder)
    assert v(res, "new_people", "cycle", "source=action_network") == 1
    assert res.get("new_people", "cycle", "source=mobilize") is None


def test_unique_reached_counts_voters_outside_the_base_once(builder):
    # two conversations with the same voter (not in the people exports, same contact key),
    # one with another voter, one with a member
    builder.attempt(None, "phone", at("2026-03-03"), conversation=True, contact_key="k1")
    builder.attempt(None, "phone", at("2026-03-04"), conversation=True, contact_key="k1")
    builder.attempt(None, "door", at("2026-03-04"), conversation=True, contact_key="k2")
    builder.attempt("P1", "door", at("2026-03-05"), conversation=True, contact_key="k3")
    res = run(builder)
    assert v(res, "contact", "cycle", "reached") == 3
    assert v(res, "contact", "cycle", "reached|channel=phone") == 1


def test_engine_runs_on_any_ibis_backend(builder):
    """The definitions are ibis expressions: a backend opened by ibis itself (as a
    warehouse connection would be) gives the same values as the store's own path."""
    import ibis

    from cyclebook.metrics import MetricEngine

    ladder_people(builder)
    via_store = run(builder)
    backend = ibis.duckdb.connect(str(builder.path), read_only=True)
    try:
        engine = MetricEngine(backend, make_org(), C2, C1)
        direct = engine.compute()
        engine.close()
    finally:
        backend.disconnect()
    assert direct.frame().equals(via_store.frame())


def _assessed_one_and_five(builder) -> None:
    # K assessed 1 (strongest) and L assessed 5 (opposed), both within 90 d of the end
    builder.person("K", at("2026-01-01"))
    builder.act("K", "assessment", at("2026-04-01"), score=1.0)
    builder.person("L", at("2026-01-01"))
    builder.act("L", "assessment", at("2026-04-01"), score=5.0)


AB = [{"kind": "action_builder", "path": "ab"}]


def test_a_scale_where_one_is_strongest(builder):
    """Action Builder's scales usually run from 1 (strongest support) to 5 (opposed):
    min_assessment: 4 counted the most opposed as leaders; max_assessment says so."""
    _assessed_one_and_five(builder)
    rule = {"activity_types": ["assessment"], "max_assessment": 1}
    ladder = [
        {
            "name": "supporter",
            "label": "Supporter",
            "window_days": 365,
            "any_of": [{"min_count": 1}],
            "definition": "Any activity.",
        },
        {
            "name": "leader",
            "label": "Leader",
            "window_days": 90,
            "any_of": [rule],
            "definition": "Assessed 1.",
        },
    ]
    res = run(builder, org=make_org(sources=AB, ladder=ladder))
    assert v(res, "ladder", "end", "leader") == 1  # K only
    assert v(res, "ladder", "end", "supporter") == 1  # L
    assert not [n for n in res.notes if "max_assessment" in n]


def test_the_default_ladder_says_how_it_reads_action_builder_scores(builder):
    _assessed_one_and_five(builder)
    res = run(builder, org=make_org(sources=AB))
    assert v(res, "ladder", "end", "leader") == 1  # L, assessed 5
    assert (
        "Leader counts assessments of 4 or more. Action Builder's scale often runs from 1 "
        "(strongest support) to 5 (opposed); if this organization's does, write "
        "max_assessment (say 1) on this rung's rule in cohort.yml instead of min_assessment."
    ) in res.notes


def test_the_leader_ratio_counts_leaders_in_the_base(builder):
    """With qualifying types that leave out assessments, two people assessed 5 and one
    active person made a leader ratio of 200%."""
    b = builder
    b.person("A", at("2026-01-01"))
    b.act("A", "attendance", at("2026-04-01"), status="registered", attended=True)
    for pid in "BC":
        b.person(pid, at("2026-01-01"))
        b.act(pid, "assessment", at("2026-04-01"), score=5.0)
    org = make_org(metrics={"qualifying_types": ["attendance", "donation"]})
    res = run(b, org=org)
    assert v(res, "leaders", "end") == 2  # B, C: leaders by the ladder
    assert v(res, "active_base", "end") == 1  # A only
    assert v(res, "leader_ratio", "end") == 0 and den(res, "leader_ratio", "end") == 1


def test_people_who_took_no_action_are_not_new(builder):
    """A texting campaign's contacts (and a voter file's rows) are seen, not recruited:
    20 voters texted, 3 replying STOP, were 20 new people, net growth +20 and
    absorption 0 of 20."""
    for n in range(20):
        builder.person(f"V{n}", at("2026-03-10"), sources=("spoke",))
    builder.person("J", at("2026-03-10"), sources=("spoke",))
    builder.act("J", "signup", at("2026-03-12"), source="action_network")  # joined
    res = run(builder)
    assert v(res, "new_people", "cycle") == 1  # J
    assert v(res, "net_growth", "cycle") == 1
    assert den(res, "absorption", "cycle") == 1


def test_a_form_and_its_automatic_tag_are_one_action(builder):
    """Action Network tags a person the moment a form is submitted: the submission and
    the tagging were two distinct activities, and one form made the person absorbed."""
    builder.person("F", at("2026-03-05"))
    builder.act("F", "submission", at("2026-03-05", 14))
    builder.act("F", "tagging", at("2026-03-05", 14))
    builder.person("G", at("2026-03-05"))
    builder.act("G", "submission", at("2026-03-05", 14))
    builder.act("G", "submission", at("2026-03-20", 9))  # a second action: absorbed
    res = run(builder)
    assert den(res, "absorption", "cycle") == 2
    assert v(res, "absorption", "cycle") == pytest.approx(1 / 2)  # G only


def test_a_person_first_seen_at_the_end_instant_is_on_the_ladder_at_the_end(builder):
    """A sheet dated the cycle's end date: first seen, and a one-on-one, exactly at the
    end instant. A rung at d reads (d - window, d]: the person was a leader at the end
    (leaders 1) but on no rung of the ladder at the end (ladder 0)."""
    builder.person("Z", at("2026-04-13", 0))
    builder.act("Z", "one_on_one", at("2026-04-13", 0))
    res = run(builder)
    assert v(res, "leaders", "end") == 1
    assert v(res, "ladder", "end", "leader") == 1 and v(res, "ladder", "end") == 1
    assert v(res, "active_base", "end") == 1


def test_no_contact_attempt_gives_what_the_contact_queries_give(builder, tmp_path):
    """An organization without a single contact attempt gets its contact figures without
    the contact queries: the same figures the queries give an organization whose only
    attempts are outside the cycle and its year (none this cycle, no channel, no week)."""
    ladder_people(builder)
    without = run(builder)
    old = StoreBuilder(tmp_path / "old.duckdb")
    ladder_people(old)
    old.attempt("B", "door", at("2025-06-01"), conversation=True)  # the year before
    queried = run(old)

    def contact(res):
        return [
            (x.metric, x.period, x.dimension, x.value, x.denominator, x.definition)
            for x in res.values
            if x.metric == "contact"
        ]

    assert contact(without) == contact(queried)
    # the headline, attempts, conversations, their rate (of none: no figure) and reached
    assert [(p, d, val) for _, p, d, val, _, _ in contact(without)] == [
        ("cycle", "", 0),
        ("cycle", "attempts", 0),
        ("cycle", "conversations", 0),
        ("cycle", "contact_rate", None),
        ("cycle", "reached", 0),
    ]
    assert without.frame().equals(queried.frame())


def test_an_attempt_to_meet_in_person_is_not_voter_contact(builder):
    """VAN's One on One marked Not Home is kept as an in-person attempt; it counted as
    voter contact (an in-person channel at 0% by construction, and the cycle's contact
    rate fell from 1/2 to 1/3)."""
    builder.person("P1", at("2025-01-01"))
    builder.attempt("P1", "door", at("2026-03-03"), conversation=True, contact_key="k1")
    builder.attempt("P1", "phone", at("2026-03-04"), contact_key="k1")
    builder.attempt("P1", "in_person", at("2026-03-05"), contact_key="k1")
    res = run(builder)
    assert v(res, "contact", "cycle", "attempts") == 2
    assert v(res, "contact", "cycle", "contact_rate") == 0.5
    assert res.get("contact", "cycle", "attempts|channel=in_person") is None


def form_and_tag_people(b: StoreBuilder) -> None:
    b.person("M", at("2026-03-05"))  # one form and its tag
    b.act("M", "submission", at("2026-03-20", 14))
    b.act("M", "tagging", at("2026-03-20", 14))
    b.person("N", at("2026-03-05"))  # a form, tagged by staff five days later
    b.act("N", "submission", at("2026-03-20", 14))
    b.act("N", "tagging", at("2026-03-25", 9))
    b.person("O", at("2026-03-05"))  # a form and a tag from another tool
    b.act("O", "submission", at("2026-03-20", 14))
    b.act("O", "tagging", at("2026-03-20", 14), source="van")


def test_a_form_and_its_automatic_tag_are_one_activity_on_the_ladder(builder):
    """Action Network tags a person the moment a form is submitted. The default ladder's
    "two or more activities" counted the submission and its tag as two: one form made a
    member. A tag put on later, or by another tool, is an activity of its own."""
    form_and_tag_people(builder)
    res = run(builder)
    assert v(res, "ladder", "end", "supporter") == 1  # M
    assert v(res, "ladder", "end", "member") == 2  # N, O


def test_a_rung_over_tags_counts_the_automatic_tag(builder):
    """A group whose forms tag its volunteers counts the tag on a rung of its own."""
    form_and_tag_people(builder)
    ladder = [
        Rung(
            name="supporter",
            label="Supporter",
            window_days=365,
            any_of=[{"min_count": 1}],
            definition="Any activity in the last year.",
        ),
        Rung(
            name="volunteer",
            label="Volunteer",
            window_days=180,
            any_of=[{"activity_types": ["tagging"], "min_count": 1}],
            definition="Tagged in the last six months.",
        ),
    ]
    res = run(builder, org=make_org(ladder=ladder))
    assert v(res, "ladder", "end", "volunteer") == 3
    assert v(res, "ladder", "end", "supporter") == 0


def test_match_rate_counts_each_spreadsheet_as_a_tool(builder):
    # the sync and improve reports count the same way (tests/sync/test_report.py)
    builder.person("S1", at("2025-01-01"), sources=("sheet:signins", "sheet:dues"))
    builder.person("S2", at("2025-01-01"), sources=("sheet:signins",))
    res = run(builder)
    assert v(res, "match_rate", "end") == pytest.approx(1 / 2)
    assert "each spreadsheet source counts as a tool of its own" in (
        res.get("match_rate", "end").definition
    )


def test_a_timestamp_literal_is_the_instant_it_was_made_of():
    """The SQL's instants are ISO text cast (a constant to DuckDB), not ibis's call of
    MAKE_TIMESTAMPTZ: the same instant, whatever its zone or fraction of a second."""
    import ibis

    from cyclebook.metrics import rules as R

    con = ibis.duckdb.connect()
    for value in (
        dt.datetime(2026, 3, 8, 10, 0, tzinfo=ZoneInfo("America/Los_Angeles")),
        dt.datetime(2026, 3, 2, 0, 0, 0, 123456, tzinfo=dt.UTC),
        START - dt.timedelta(seconds=1),
    ):
        assert "MAKE_TIMESTAMPTZ" not in ibis.to_sql(R.ts(value).name("t"), dialect="duckdb")
        assert con.to_pyarrow(R.ts(value)).as_py() == value
