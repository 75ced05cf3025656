"""The cohort report: consent respected, small counts suppressed, names escaped, and
planted personal values never appear, for every audience."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd
import pytest

from cyclebook.gallery import SharedValue, safe_values
from cyclebook.phases import cohort as cohort_phase
from cyclebook.phases import load_context
from cyclebook.privacy import build_index, load_index, scan_text

from .cohortfix import METRIC_VALUES, PLANTED_VALUES, make_cohort


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory) -> Path:
    return make_cohort(tmp_path_factory.mktemp("gallery") / "cohort")


@pytest.fixture(scope="module")
def pages(cohort_dir) -> dict[str, str]:
    out = {}
    for audience in ("cohort", "funder", "organization"):
        ctx = load_context("cohort", str(cohort_dir), "c2", None, audience)
        out[audience] = "\n".join(block.html for block in cohort_phase.blocks(ctx))
    return out


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page))


@pytest.mark.parametrize("audience", ["cohort", "funder", "organization"])
def test_planted_personal_values_never_appear(pages, cohort_dir, audience):
    page = pages[audience]
    for value in PLANTED_VALUES:
        assert value.lower() not in text_of(page).lower(), value
    index = load_index(cohort_dir / "store.duckdb", ["net", "net-a", "net-b", "solo", "quiet"])
    assert scan_text(page, index) == []


def test_names_are_escaped(pages):
    for page in pages.values():
        assert "<script>alert(1)</script>" not in page
        assert "Solo &lt;script&gt;alert(1)&lt;/script&gt; Center" in page
        assert "The &lt;b&gt;Network&lt;/b&gt; &amp; Friends" in page


def _value_frame(rows: list[tuple]) -> pd.DataFrame:
    """Saved metric values as safe_values reads them: (org, metric, period, dimension,
    value, denominator[, shared]) rows."""
    columns = ["org_id", "metric", "period", "dimension", "value", "denominator"]
    if rows and len(rows[0]) == len(columns) + 1:
        columns.append("shared")
    return pd.DataFrame(rows, columns=columns).assign(definition="", suppressed=False)


def _rows_for(page: str, org_name_escaped: str) -> str:
    start = page.index(f"<h3>{org_name_escaped}</h3>")
    nxt = page.find("<h3>", start + 5)
    return page[start : nxt if nxt != -1 else len(page)]


def test_consent_respected_for_the_cohort(pages):
    page = pages["cohort"]
    a = _rows_for(page, "Affiliate A")
    assert "Active base" in a and "Leaders" in a and "New people" in a
    assert "Lapsed" not in a  # computed, but not shared
    b = _rows_for(page, "Affiliate B")
    assert "Leaders" not in b.split("Shares:")[1]  # B keeps its leaders to itself
    solo = _rows_for(page, "Solo &lt;script&gt;alert(1)&lt;/script&gt; Center")
    assert "Active base" not in solo  # 310 is computed, never shared
    assert "310" not in text_of(solo)
    assert "999" not in text_of(page)  # the quiet group shares nothing
    assert "<h3>Quiet Group</h3>" not in page
    assert "Quiet Group" in page  # but its status is listed
    assert "ok (20 Oct 2026)" in page


def test_consent_respected_for_funders(pages):
    page = pages["funder"]
    assert "<h3>Affiliate B</h3>" not in page  # shares nothing with funders
    solo = _rows_for(page, "Solo &lt;script&gt;alert(1)&lt;/script&gt; Center")
    assert "Absorption" in solo
    assert "Show rate" not in solo.split("Shares:")[1]
    assert "Block captain" not in solo  # the ladder is shared with the cohort only
    assert "Rae" not in solo  # who proposed a change is for the cohort, not funders


def test_small_counts_are_suppressed(pages):
    page = pages["cohort"]
    b = _rows_for(page, "Affiliate B")
    assert "&lt;10" in b  # four new people
    a = _rows_for(page, "Affiliate A")
    # leaders: 7 -> <10; the ladder's leader rung (5) -> <10 and one more rung hidden
    assert a.count("&lt;10") >= 2
    assert "hidden" in a
    assert "<td>5</td>" not in a and "<td>7</td>" not in a
    solo = _rows_for(page, "Solo &lt;script&gt;alert(1)&lt;/script&gt; Center")
    assert "withheld" in solo  # absorption by source: 2 of 8


def test_organization_audience_is_treated_as_cohort(pages):
    assert "shown as for the cohort" in pages["organization"]
    assert "<td>7</td>" not in pages["organization"]


def test_gallery_shows_definitions_notes_and_ladder(pages):
    page = pages["cohort"]
    assert "We count &lt;i&gt;leaders&lt;/i&gt; because they hold the base together." in page
    assert "Block captain" in page and "Held a one-on-one in the last 90 days." in page
    assert "captains run the blocks" in page
    assert 'aria-label="People on each rung' in page


def _network_part(page: str) -> str:
    return page[page.index("the network together") :]


def _rows_of(part: str, measure: str) -> list[str]:
    return re.findall(rf"<tr><td>{measure}</td>.*?</tr>", part)


def test_network_rollup_respects_consent_and_gives_nothing_away_by_subtraction(pages):
    cohort_part, funder_part = (_network_part(pages[a]) for a in ("cohort", "funder"))
    text = html.unescape(cohort_part)
    assert "Leaders leaves out Affiliate B (not agreed to share it with this audience)." in text
    # B shares its active base with the cohort, not with funders, and the network shows
    # its active base to both: a roll-up with B for the cohort and without B for funders
    # would give B's part away (one person here) by subtraction, so neither has B
    assert (
        "Active base leaves out Affiliate B (shared with this audience, but not every "
        "measure of these roll-ups with every audience that sees them: roll-ups over "
        "different members would give their part away by subtraction)."
    ) in text
    assert "Active base leaves out Affiliate B (not agreed to share it with this audience)." in (
        html.unescape(funder_part)
    )
    assert len(_rows_of(cohort_part, "Active base")) == 4
    assert _rows_of(cohort_part, "Active base") == _rows_of(funder_part, "Active base")
    # leaders: the network shares them with the cohort only, so B's consent to the cohort
    # alone decides (and funders see no leaders at all)
    assert _rows_of(cohort_part, "Leaders") and not _rows_of(funder_part, "Leaders")
    assert "Leaders" not in funder_part


def test_a_rate_whose_rest_is_small_is_withheld_with_what_gives_it_away():
    """ "Show rate 75% of 32" told a funder that 8 people did not come: a count from 1 to 9
    as surely as a shown one. The rate is withheld, and so is the figure that would give
    the rest back with the count beside it."""
    frame = _value_frame(
        [
            ("o", "show_rate", "cycle", "", 0.75, 32.0, True),
            ("o", "absorption", "cycle", "", 0.5, 30.0, True),
        ]
    )
    got = {v.metric: v.shown for v in safe_values(frame, "funder")}
    assert got == {"show_rate": "withheld", "absorption": "50% of 30"}
    mine = {v.metric: v.shown for v in safe_values(frame, "organization")}
    assert mine["show_rate"] == "75% of 32"


def test_safe_values_secondary_and_derived():
    frame = _value_frame(
        [
            ("o", "ladder", "end", "", 120.0, None, True),
            ("o", "ladder", "end", "supporter", 80.0, None, True),
            ("o", "ladder", "end", "member", 36.0, None, True),
            ("o", "ladder", "end", "leader", 4.0, None, True),
            ("o", "net_growth", "cycle", "", 25.0, None, True),
            ("o", "new_people", "cycle", "", 30.0, None, False),  # context only
            ("o", "lapsed", "cycle", "", 5.0, None, False),  # context only
            ("o", "absorption", "cycle", "", 0.5, 30.0, True),
            ("o", "absorption", "cycle", "source=spoke", 0.5, 6.0, True),
            ("o", "absorption", "cycle", "source=van", 0.5, 24.0, True),
        ]
    )
    got = {(v.metric, v.dimension): v.shown for v in safe_values(frame, "cohort")}
    assert got == {
        ("ladder", ""): "120",
        ("ladder", "supporter"): "80",
        ("ladder", "member"): "hidden",
        ("ladder", "leader"): "<10",
        ("net_growth", ""): "withheld",  # 30 new minus 5 lapsed gives the 5 back
        ("absorption", ""): "50% of 30",
        ("absorption", "source=spoke"): "withheld",
        ("absorption", "source=van"): "withheld",  # 50% of 30 minus 50% of 24 gives 3 of 6
    }
    mine = {(v.metric, v.dimension): v.shown for v in safe_values(frame, "organization")}
    assert mine[("ladder", "leader")] == "4"
    assert mine[("net_growth", "")] == "25"
    assert all(isinstance(v, SharedValue) for v in safe_values(frame, "cohort"))


def test_build_index_unused_guard():
    # the report's own vocabulary is not mistaken for a member's last name
    index = build_index([("o", "p1", "Ann", "Gallery", None, None, None)])
    assert scan_text("<p>Measure Gallery</p>", index) == []


def test_rate_breakdowns_do_not_give_back_a_hidden_count():
    # 29 new people: 24 from Action Network, 5 from Mobilize. "52% of 29" and
    # "54% of 24" would give the 5 back (29 - 24), so the 24 is hidden like a count.
    frame = _value_frame(
        [
            ("o", "new_people", "cycle", "", 29.0, None),
            ("o", "new_people", "cycle", "source=action_network", 24.0, None),
            ("o", "new_people", "cycle", "source=mobilize", 5.0, None),
            ("o", "absorption", "cycle", "", 15 / 29, 29.0),
            ("o", "absorption", "cycle", "source=action_network", 13 / 24, 24.0),
            ("o", "absorption", "cycle", "source=mobilize", 2 / 5, 5.0),
            ("o", "contact", "cycle", "contact_rate|channel=door", 0.5, 40.0),
            ("o", "contact", "cycle", "contact_rate|channel=phone", 0.25, 400.0),
        ]
    )
    got = {(v.metric, v.dimension): v.shown for v in safe_values(frame, "cohort")}
    assert got == {
        ("new_people", ""): "29",
        ("new_people", "source=action_network"): "hidden",
        ("new_people", "source=mobilize"): "<10",
        ("absorption", ""): "52% of 29",
        ("absorption", "source=action_network"): "withheld",
        ("absorption", "source=mobilize"): "withheld",
        ("contact", "contact_rate|channel=door"): "50% of 40",
        ("contact", "contact_rate|channel=phone"): "25% of 400",
    }


def test_channel_breakdowns_add_up_to_their_own_total_not_the_headline():
    # 25 attempts: 22 at the door, 3 by text. The 3 is small; with "attempts" shown,
    # the 22 would give it back, so the 22 is hidden too (not the conversations headline).
    frame = _value_frame(
        [
            ("o", "contact", "cycle", "", 40.0, None),
            ("o", "contact", "cycle", "attempts", 25.0, None),
            ("o", "contact", "cycle", "attempts|channel=door", 22.0, None),
            ("o", "contact", "cycle", "attempts|channel=text", 3.0, None),
            ("o", "contact", "week", "attempts|week=1", 25.0, None),
            ("o", "contact", "week", "attempts|week=1|channel=door", 22.0, None),
            ("o", "contact", "week", "attempts|week=1|channel=text", 3.0, None),
        ]
    )
    shown = safe_values(frame, "cohort", skip_periods=())
    got = {(v.period, v.dimension): v.shown for v in shown}
    assert got[("cycle", "attempts|channel=text")] == "<10"
    assert got[("cycle", "attempts|channel=door")] == "hidden"
    assert got[("week", "attempts|week=1|channel=text")] == "<10"
    assert got[("week", "attempts|week=1|channel=door")] == "hidden"
    # the totals themselves stay visible: two hidden cells cannot be told apart
    assert got[("cycle", "attempts")] == "25"
    assert got[("cycle", "")] == "40"


def test_movement_is_protected_as_a_two_way_table():
    frame = pd.DataFrame(
        [
            ("o", "movement", "cycle", "member:up", 4.0),
            ("o", "movement", "cycle", "member:stayed", 30.0),
            ("o", "movement", "cycle", "member:down", 12.0),
            ("o", "movement", "cycle", "active:up", 15.0),
            ("o", "movement", "cycle", "active:stayed", 20.0),
            ("o", "movement", "cycle", "active:down", 11.0),
        ],
        columns=["org_id", "metric", "period", "dimension", "value"],
    ).assign(denominator=None, definition="", suppressed=False)
    got = {v.dimension: v.shown for v in safe_values(frame, "funder")}
    assert got["active:stayed"] == "20"
    # member:up is small; its row and its column each need a second hidden cell
    assert got["member:up"] == "<10"
    hidden = [dim for dim, shown in got.items() if shown == "hidden"]
    assert sum(d.startswith("member:") for d in hidden) >= 1
    assert sum(d.endswith(":up") for d in hidden) >= 1


def test_the_same_figure_reached_two_ways_is_hidden_in_both_places():
    # the leader rung (25) is hidden to protect the active rung (5); the leaders
    # headline is the same 25 and would give it back
    frame = pd.DataFrame(
        [
            ("o", "ladder", "end", "", 240.0),
            ("o", "ladder", "end", "supporter", 150.0),
            ("o", "ladder", "end", "member", 60.0),
            ("o", "ladder", "end", "active", 5.0),
            ("o", "ladder", "end", "leader", 25.0),
            ("o", "leaders", "end", "", 25.0),
            ("o", "active_base", "end", "", 240.0),
        ],
        columns=["org_id", "metric", "period", "dimension", "value"],
    ).assign(denominator=None, definition="", suppressed=False)
    got = {(v.metric, v.dimension): v.shown for v in safe_values(frame, "cohort")}
    assert got == {
        ("ladder", ""): "240",
        ("ladder", "supporter"): "150",
        ("ladder", "member"): "60",
        ("ladder", "active"): "<10",
        ("ladder", "leader"): "hidden",
        ("leaders", ""): "hidden",
        ("active_base", ""): "240",
    }


def test_safe_results_match_the_gallery(cohort_dir):
    # the share report (from MetricResults) and the gallery (from the store) must make
    # the same decisions, or a reader of both could undo a suppression
    from cyclebook.config import load_cohort
    from cyclebook.gallery import safe_results, shared_values
    from cyclebook.metrics import MetricResults

    cohort = load_cohort(cohort_dir)
    for org_id in ("net-a", "net-b", "solo", "quiet"):
        org = cohort.org(org_id)
        for audience in ("cohort", "funder"):
            frame = shared_values(cohort_dir / "store.duckdb", org, "c2", audience)
            gallery = {
                (v.metric, v.period, v.dimension): v.shown for v in safe_values(frame, audience)
            }
            raw = pd.DataFrame(
                [
                    (org_id, m, p, dim, v, den, f"definition of {m}")
                    for o, m, p, dim, v, den in METRIC_VALUES
                    if o == org_id
                ],
                columns=[
                    "org_id",
                    "metric",
                    "period",
                    "dimension",
                    "value",
                    "denominator",
                    "definition",
                ],
            )
            results = MetricResults.from_frame("c2", org_id, raw)
            assert safe_results(results, org, audience) == gallery, (org_id, audience)


def test_ladder_chart_takes_labels_as_plain_text():
    from cyclebook.config import Organization, Rung, RungCondition
    from cyclebook.gallery import _ladder_chart

    rung = dict(window_days=30, any_of=[RungCondition()], definition="d")
    org = Organization(
        id="o",
        name="O <b>",
        ladder=[
            Rung(name="a", label="Paid $5 dues $", **rung),
            Rung(name="b", label="<script>x</script>", **rung),
        ],
    )
    block = _ladder_chart(org, {"a": "40", "b": "<10"})
    assert 'aria-label="People on each rung' in block.html
    assert "Paid $5 dues $ 40" in block.html
    # the rung's label drawn as it was typed, beside its shown value
    assert ">Paid $5 dues $</text>" in block.html and ">&lt;10</text>" in block.html
    assert "&lt;script&gt;x&lt;/script&gt; &lt;10" in block.html
    assert "<script>" not in block.html


def test_suppression_does_not_depend_on_the_order_of_the_figures():
    """A fresh computation lists breakdowns in the order its queries returned them, the
    store returns them sorted: the same figures must hide the same cells either way (the
    share report and the gallery show one organization's figures to the same readers)."""
    from cyclebook.config import Organization
    from cyclebook.gallery import safe_results
    from cyclebook.metrics import MetricResults

    org = Organization.model_validate(
        {"id": "o", "name": "O", "consent": {"cohort": ["new_people"]}}
    )
    rows = [("", 25), ("source=a", 5), ("source=b", 10), ("source=c", 10)]
    shown = []
    for order in (rows, [rows[0], *rows[:0:-1]]):
        res = MetricResults("c", "o")
        for dimension, value in order:
            res.add("new_people", "cycle", dimension, value)
        shown.append(safe_results(res, org, "cohort"))
    assert shown[0] == shown[1]
    assert shown[0][("new_people", "cycle", "source=a")] == "<10"
    assert sorted(shown[0].values()).count("hidden") == 1  # one more cell, secondary


LADDER = ["supporter", "member", "active", "leader"]


def _transition_frame() -> pd.DataFrame:
    """A ladder matrix whose member row has one small cell (the demo's eastside-tenants):
    member -> supporter 53, stayed 288, -> active 23, -> leader 1 (365 members at the
    start); supporter row 387 / 63 / 2 / 0 / 55 off (507); 40 new people, 30 of them
    supporters and 10 members at the end."""
    cells = {
        "supporter>supporter": 387,
        "supporter>member": 63,
        "supporter>active": 2,
        "supporter>off": 55,
        "member>supporter": 53,
        "member>member": 288,
        "member>active": 23,
        "member>leader": 1,
        "new>supporter": 30,
        "new>member": 10,
    }
    rows = [("o", "ladder", "transition", dim, float(n)) for dim, n in cells.items()]
    rows += [
        ("o", "ladder", "start", "supporter", 507.0),
        ("o", "ladder", "start", "member", 365.0),
        ("o", "ladder", "end", "supporter", 470.0),
        ("o", "ladder", "end", "member", 361.0),
        ("o", "ladder", "end", "active", 25.0),
        ("o", "ladder", "end", "leader", 1.0),
        ("o", "movement", "cycle", "supporter:up", 65.0),
        ("o", "movement", "cycle", "supporter:stayed", 387.0),
        ("o", "movement", "cycle", "supporter:down", 55.0),
        ("o", "movement", "cycle", "member:up", 24.0),
        ("o", "movement", "cycle", "member:stayed", 288.0),
        ("o", "movement", "cycle", "member:down", 53.0),
        ("o", "movement", "cycle", "new:joined", 40.0),
    ]
    return _value_frame([(*row, None) for row in rows])


def test_ladder_transitions_give_no_hidden_count_back():
    """The share report's matrix had one "<10" in the member row (-> leader 1), and its
    Total column (365) gave it back: 365 - 53 - 288 - 23. Every sum the matrix is part
    of must have no hidden figure or at least two."""
    frame = _transition_frame()
    got = {
        (v.metric, v.period, v.dimension): v.shown
        for v in safe_values(frame, "cohort", skip_periods=(), ladders={"o": LADDER})
    }
    assert got[("ladder", "transition", "member>leader")] == "<10"
    assert got[("ladder", "transition", "supporter>active")] == "<10"
    assert got[("ladder", "end", "leader")] == "<10"

    def cell(dim):
        return ("ladder", "transition", dim)

    def mv(dim):
        return ("movement", "cycle", dim)

    sums = [
        # rows add up to the rung at the start, columns to the rung at the end
        [
            ("ladder", "start", "member"),
            *map(cell, ["member>supporter", "member>member"]),
            cell("member>active"),
            cell("member>leader"),
        ],
        [
            ("ladder", "start", "supporter"),
            *map(
                cell,
                ["supporter>supporter", "supporter>member", "supporter>active", "supporter>off"],
            ),
        ],
        [("ladder", "end", "active"), cell("supporter>active"), cell("member>active")],
        [
            ("ladder", "end", "member"),
            *map(cell, ["supporter>member", "member>member", "new>member"]),
        ],
        # a rung's up, stayed and down are parts of its row
        [mv("member:up"), cell("member>active"), cell("member>leader")],
        [mv("member:stayed"), cell("member>member")],
        [mv("supporter:up"), *map(cell, ["supporter>member", "supporter>active"])],
        [mv("new:joined"), cell("new>supporter"), cell("new>member")],
    ]
    for members in sums:
        hidden = [key for key in members if got[key] in ("<10", "hidden", "withheld")]
        assert len(hidden) != 1, (members, hidden)
    # the gallery, which does not show the matrix, hides what the share report hides
    gallery = {
        (v.metric, v.period, v.dimension): v.shown
        for v in safe_values(frame, "cohort", ladders={"o": LADDER})
    }
    assert gallery == {key: shown for key, shown in got.items() if key[1] != "transition"}
    # the organization's own report shows every figure
    mine = safe_values(frame, "organization", skip_periods=(), ladders={"o": LADDER})
    assert {v.shown for v in mine if v.dimension == "member>leader"} == {"1"}


def test_the_status_table_says_figures_are_from_before_a_failed_sync(tmp_path):
    """After an affiliate's sync failed, the cohort page showed its older figures as
    'computed', and called a network of one 'network of 1 affiliates'."""
    import datetime as dt

    from cyclebook.config import Cohort
    from cyclebook.gallery import status_block

    cohort = Cohort.model_validate(
        {
            "id": "t",
            "name": "T",
            "organizations": [
                {"id": "net", "name": "Net"},
                {"id": "small", "name": "Small", "parent": "net"},
            ],
        }
    )
    when = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
    status = {
        "net": {"last_sync": when, "sync": "ok", "metrics": 12},
        "small": {"last_sync": when, "sync": "failed", "metrics": 12},
    }
    plain = status_block(cohort, status, "funder").plain
    net_line, small_line = plain.splitlines()[2:4]
    assert "network of 1 affiliate " in net_line and "computed" in net_line
    assert "failed (06 Dec 2026)" in small_line
    assert "from the sync before the failed one" in small_line


def test_a_year_s_breakdown_is_not_part_of_the_cycle_s_total():
    """The demo's Riverside: the cycle's 65 conversations read 'hidden' for funders,
    because this year's conversations by channel (5 + 70 + 111, not 65) were taken for
    its parts. A week's figures do add up to the cycle's."""
    frame = _value_frame(
        [
            ("o", "contact", "cycle", "conversations", 65.0, None),
            ("o", "contact", "year", "conversations|channel=door", 5.0, None),
            ("o", "contact", "year", "conversations|channel=phone", 70.0, None),
            ("o", "contact", "year", "conversations|channel=text", 111.0, None),
            ("o", "contact", "week", "conversations|week=1", 62.0, None),
            ("o", "contact", "week", "conversations|week=2", 3.0, None),
        ]
    )
    got = {(v.period, v.dimension): v.shown for v in safe_values(frame, "funder", skip_periods=())}
    assert got[("year", "conversations|channel=door")] == "<10"
    # the weeks add up to the cycle: with week 2 small, the 65 or the 62 must go too
    assert got[("week", "conversations|week=2")] == "<10"
    assert "hidden" in (got[("cycle", "conversations")], got[("week", "conversations|week=1")])
    shown_without_weeks = {
        (v.period, v.dimension): v.shown
        for v in safe_values(frame[frame["period"] != "week"], "funder", skip_periods=())
    }
    assert shown_without_weeks[("cycle", "conversations")] == "65"


def _shown_of(frame: pd.DataFrame, audience: str, **kw) -> dict[tuple, object]:
    return {
        (v.metric, v.period, v.dimension): v.shown
        for v in safe_values(frame, audience, skip_periods=(), **kw)
    }


def test_weekly_cells_add_up_to_the_cycles_figure_by_channel():
    """Door attempts: 25 this cycle, 20 in week 1, 5 in week 2. Tied only to its week's
    total, the week-2 door cell "<10" came back as 25 - 20."""
    frame = _value_frame(
        [
            ("o", "contact", "cycle", "attempts", 60, None),
            ("o", "contact", "cycle", "attempts|channel=door", 25, None),
            ("o", "contact", "cycle", "attempts|channel=phone", 35, None),
            ("o", "contact", "week", "attempts|week=1", 40, None),
            ("o", "contact", "week", "attempts|week=2", 20, None),
            ("o", "contact", "week", "attempts|week=1|channel=door", 20, None),
            ("o", "contact", "week", "attempts|week=1|channel=phone", 20, None),
            ("o", "contact", "week", "attempts|week=2|channel=door", 5, None),
            ("o", "contact", "week", "attempts|week=2|channel=phone", 15, None),
        ]
    )
    got = _shown_of(frame, "funder")
    assert got[("contact", "week", "attempts|week=2|channel=door")] == "<10"
    door = [
        got[("contact", "cycle", "attempts|channel=door")],
        got[("contact", "week", "attempts|week=1|channel=door")],
    ]
    assert "hidden" in door  # one more of the door column: 25 - 20 no longer works
    # the organization sees every figure
    assert (
        _shown_of(frame, "organization")[("contact", "week", "attempts|week=1|channel=door")]
        == "20"
    )


def test_conversion_denominators_are_the_ladder_at_the_start():
    """97 on the ladder at the start (and in the active base), conversion "16% of 92":
    97 - 92 = 5 leaders, a rung shown "<10" to the cohort and not shared with funders at
    all; "active: 0% of 12" gave back the active rung the ladder table hid."""
    rows = [
        ("o", "active_base", "start", "", 97, None, True),
        ("o", "conversion", "cycle", "", 15 / 92, 92, True),
        ("o", "conversion", "cycle", "supporter", 0.3, 50, True),
        ("o", "conversion", "cycle", "member", 0.0, 30, True),
        ("o", "conversion", "cycle", "active", 0.0, 12, True),
    ]
    ladder = [
        ("o", "ladder", "start", "", 97),
        ("o", "ladder", "start", "supporter", 50),
        ("o", "ladder", "start", "member", 30),
        ("o", "ladder", "start", "active", 12),
        ("o", "ladder", "start", "leader", 5),
    ]
    rungs = {"o": ["supporter", "member", "active", "leader"]}
    # funders: the ladder is read to check conversion, never shown
    funder = _shown_of(
        _value_frame(rows + [(*r, None, False) for r in ladder]), "funder", ladders=rungs
    )
    assert not any(key[0] == "ladder" for key in funder)
    assert funder[("active_base", "start", "")] == "97"
    assert funder[("conversion", "cycle", "")] == "withheld"
    # the cohort sees the ladder too: the leaders "<10", one more rung hidden, and the
    # conversion of that rung withheld with it
    cohort = _shown_of(
        _value_frame(rows + [(*r, None, True) for r in ladder]), "cohort", ladders=rungs
    )
    assert cohort[("ladder", "start", "leader")] == "<10"
    assert cohort[("conversion", "cycle", "")] == "withheld"
    hidden_rungs = [
        r for r in ("supporter", "member", "active") if cohort[("ladder", "start", r)] == "hidden"
    ]
    assert len(hidden_rungs) == 1
    assert cohort[("conversion", "cycle", hidden_rungs[0])] == "withheld"


def test_volunteers_without_a_shift_are_not_part_of_the_headline():
    """The headline (42 active volunteers) adds up the first three tiers; grouped with
    "none in 30 days" the sum never held, and "1 in 30 days: 40" pinned both small
    tiers at 1."""
    frame = _value_frame(
        [
            ("o", "volunteer_tiers", "end", "", 42, None),
            ("o", "volunteer_tiers", "end", "2+ in 14 days", 1, None),
            ("o", "volunteer_tiers", "end", "2+ in 30 days", 1, None),
            ("o", "volunteer_tiers", "end", "1 in 30 days", 40, None),
            ("o", "volunteer_tiers", "end", "none in 30 days", 15, None),
        ]
    )
    got = _shown_of(frame, "cohort")
    assert got[("volunteer_tiers", "end", "2+ in 14 days")] == "<10"
    assert got[("volunteer_tiers", "end", "2+ in 30 days")] == "<10"
    assert "hidden" in (
        got[("volunteer_tiers", "end", "")],
        got[("volunteer_tiers", "end", "1 in 30 days")],
    )
    assert got[("volunteer_tiers", "end", "none in 30 days")] == "15"


def test_the_year_so_far_is_last_cycles_year_so_far_plus_this_cycle():
    """Cycles that follow each other in a year: text attempts "<10" this cycle, 44 this
    year, and 40 in the year so far the previous cycle's report showed gave back the 4.
    This year's text figure is hidden, and so is phone's (this cycle's phone count is
    hidden to protect the text cell, and 30 - 0 would give it back)."""
    now = _value_frame(
        [
            ("o", "contact", "cycle", "attempts", 34, None),
            ("o", "contact", "cycle", "attempts|channel=phone", 30, None),
            ("o", "contact", "cycle", "attempts|channel=text", 4, None),
            ("o", "contact", "year", "attempts|channel=phone", 50, None),
            ("o", "contact", "year", "attempts|channel=text", 44, None),
        ]
    )
    before = _value_frame(
        [
            ("o", "contact", "cycle", "attempts", 20, None),
            ("o", "contact", "cycle", "attempts|channel=phone", 20, None),
            ("o", "contact", "year", "attempts|channel=phone", 20, None),
            ("o", "contact", "year", "attempts|channel=text", 40, None),
        ]
    )
    alone = _shown_of(now, "funder")
    assert alone[("contact", "year", "attempts|channel=text")] == "44"  # (the hole)
    got = _shown_of(now, "funder", previous=[before])
    assert got[("contact", "cycle", "attempts|channel=text")] == "<10"
    assert got[("contact", "cycle", "attempts|channel=phone")] == "hidden"
    assert got[("contact", "year", "attempts|channel=text")] == "hidden"
    assert got[("contact", "year", "attempts|channel=phone")] == "hidden"
    # the organization's own report hides nothing
    own = _shown_of(now, "organization", previous=[before])
    assert own[("contact", "year", "attempts|channel=text")] == "44"
    # a previous cycle whose year so far does not lead to this one's ties nothing
    apart = before.assign(value=before["value"].where(before["period"] != "year", 7))
    assert (
        _shown_of(now, "funder", previous=[apart])[("contact", "year", "attempts|channel=text")]
        == "44"
    )


HISTORY_COHORT = """\
id: c
name: C
organizations:
  - id: org-a
    name: Org A
    consent: {cohort: [ladder, absorption], funder: [ladder]}
    measure_history:
      - {measure: ladder.active, date: 2026-10-20, proposed_by: Ana Quell, why: Meetings are
         where our leaders start, change: two meetings instead of three, cycle: c2}
      - {measure: absorption, date: 2026-10-21, proposed_by: Ana Quell, why: Our funder
         counts dues only, change: within 14 days, cycle: c2}
"""


def test_the_gallery_history_shows_rung_changes_and_keeps_the_why_from_funders(tmp_path):
    """A rung's change (ladder.active) never matched the shared "ladder", so a group's
    changed rung showed with no history; funders read why a group changed a measure."""
    from cyclebook.config import load_cohort
    from cyclebook.gallery import _history_block
    from cyclebook.privacy import allowed_metrics

    (tmp_path / "cohort.yml").write_text(HISTORY_COHORT)
    org = load_cohort(tmp_path).organizations[0]

    def text(audience: str) -> str:
        return _history_block(org, allowed_metrics(org, audience), audience).plain

    cohort = text("cohort")
    assert "ladder.active" in cohort and "two meetings instead of three" in cohort
    assert "Meetings are where our leaders start" in cohort
    assert "Our funder counts dues only" in cohort and "Absorption of new people" in cohort
    funder = text("funder")
    assert "ladder.active" in funder and "two meetings instead of three" in funder
    assert "Absorption" not in funder and "within 14 days" not in funder  # not shared
    assert "Why" not in funder and "Meetings are where" not in funder
    assert "Ana Quell" not in cohort + funder


def test_leaders_are_the_rungs_from_the_leader_rung_up():
    """With the leader rung below the top (organizer under captain), leaders 25 beside
    organizers 20 gave back the 5 captains shown "<10"."""
    frame = _value_frame(
        [
            ("o", "ladder", "end", "", 87, None),
            ("o", "ladder", "end", "supporter", 50, None),
            ("o", "ladder", "end", "member", 12, None),
            ("o", "ladder", "end", "organizer", 20, None),
            ("o", "ladder", "end", "captain", 5, None),
            ("o", "leaders", "end", "", 25, None),
        ]
    )
    rungs = {"o": ["supporter", "member", "organizer", "captain"]}
    got = _shown_of(frame, "cohort", ladders=rungs)
    assert got[("ladder", "end", "captain")] == "<10"
    assert "hidden" in (got[("leaders", "end", "")], got[("ladder", "end", "organizer")])


def test_the_contact_headline_is_its_conversations():
    """The contact headline is the conversations: hidden as "conversations" (tied to the
    year so far), it was shown as the headline and gave the hidden figure back."""
    now = _value_frame(
        [
            ("o", "contact", "cycle", "", 30, None),
            ("o", "contact", "cycle", "conversations", 30, None),
            ("o", "contact", "cycle", "conversations|channel=phone", 30, None),
            ("o", "contact", "year", "conversations|channel=phone", 35, None),
        ]
    )
    before = _value_frame(
        [
            ("o", "contact", "cycle", "conversations|channel=phone", 5, None),
            ("o", "contact", "year", "conversations|channel=phone", 5, None),
        ]
    )
    got = _shown_of(now, "funder", previous=[before])
    assert got[("contact", "cycle", "conversations")] == "hidden"
    assert got[("contact", "cycle", "")] == "hidden"


def test_each_cycles_decisions_follow_from_the_one_before():
    """Three cycles: the second's report hid its phone conversations (30: its year so
    far, 35, is the first's 5 shown "<10" plus them); the third's "Last cycle" column
    worked the second's figures out without the first, showed the 30, and 35 - 30 gave
    the 5 back. A cycle's figures as its report showed them follow from the chain."""
    c1 = _value_frame(
        [
            ("o", "contact", "cycle", "conversations|channel=phone", 5, None),
            ("o", "contact", "year", "conversations|channel=phone", 5, None),
        ]
    )
    c2 = _value_frame(
        [
            ("o", "contact", "cycle", "conversations|channel=phone", 30, None),
            ("o", "contact", "year", "conversations|channel=phone", 35, None),
        ]
    )
    c3 = _value_frame(
        [
            ("o", "contact", "cycle", "conversations|channel=phone", 40, None),
            ("o", "contact", "year", "conversations|channel=phone", 80, None),
        ]
    )
    cycle = ("contact", "cycle", "conversations|channel=phone")
    assert _shown_of(c2, "funder")[cycle] == "30"  # worked out alone
    assert _shown_of(c2, "funder", previous=[c1])[cycle] == "hidden"  # as its report did
    # the third cycle's own figures, worked out with the chain (newest first) or without
    # the first cycle: the chain holds, and a cycle without values starts it again
    assert _shown_of(c3, "funder", previous=[c2, c1])[cycle] == "40"
    assert _shown_of(c3, "funder", previous=[c2, c1.iloc[0:0]])[cycle] == "40"


def test_people_reached_this_year_are_no_sum():
    """People reached are counted once a year and once a cycle (no sum): tied as the
    year's attempts are, a small figure of the previous cycle hid this year's reach."""
    now = _value_frame(
        [
            ("o", "contact", "cycle", "reached|channel=phone", 30, None),
            ("o", "contact", "year", "reached|channel=phone", 32, None),
        ]
    )
    before = _value_frame([("o", "contact", "year", "reached|channel=phone", 4, None)])
    got = _shown_of(now, "funder", previous=[before])
    assert got[("contact", "year", "reached|channel=phone")] == "32"
    assert got[("contact", "cycle", "reached|channel=phone")] == "30"


def test_the_cohorts_and_the_funders_figures_are_decided_together(tmp_path):
    """Consent cohort [ladder], funder [conversion]: each page was safe alone, and a
    reader of both took 97 on the ladder (cohort) minus conversion "of 92" (funder): 5
    leaders, shown "<10" to the cohort. One organization's figures for the two outside
    audiences are now decided as one (each page still shows only what it may)."""
    from cyclebook.config import load_cohort
    from cyclebook.gallery import _mark_shared

    (tmp_path / "cohort.yml").write_text(
        "id: c\nname: C\norganizations:\n  - id: o\n    name: O\n"
        "    consent: {cohort: [ladder], funder: [conversion]}\n"
    )
    org = load_cohort(tmp_path).organizations[0]
    rows = _value_frame(
        [
            ("o", "ladder", "start", "", 97, None),
            ("o", "ladder", "start", "supporter", 50, None),
            ("o", "ladder", "start", "member", 30, None),
            ("o", "ladder", "start", "active", 12, None),
            ("o", "ladder", "start", "leader", 5, None),
            ("o", "conversion", "cycle", "", 15 / 92, 92),
            ("o", "conversion", "cycle", "supporter", 0.3, 50),
            ("o", "conversion", "cycle", "member", 0.0, 30),
            ("o", "conversion", "cycle", "active", 0.0, 12),
        ]
    )
    rungs = {"o": ["supporter", "member", "active", "leader"]}
    shown = {
        audience: _shown_of(_mark_shared(rows, org, audience), audience, ladders=rungs)
        for audience in ("cohort", "funder")
    }
    assert {k[0] for k in shown["cohort"]} == {"ladder"}  # each sees what it may
    assert {k[0] for k in shown["funder"]} == {"conversion"}
    assert shown["cohort"][("ladder", "start", "")] == "97"
    assert shown["cohort"][("ladder", "start", "leader")] == "<10"
    assert shown["funder"][("conversion", "cycle", "")] == "withheld"  # no "of 92"
    hidden = [
        r
        for r in ("supporter", "member", "active")
        if shown["cohort"][("ladder", "start", r)] == "hidden"
    ]
    assert len(hidden) == 1 and shown["funder"][("conversion", "cycle", hidden[0])] == "withheld"
