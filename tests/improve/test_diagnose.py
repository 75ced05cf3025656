"""Improve diagnostics on a small hand-built store; every expected count worked out by hand
in the comments beside the rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from cyclebook.config import Organization, Rung, RungCondition
from cyclebook.improve import diagnose, findings_frame, improve_blocks
from cyclebook.store import connect, create_schema

UTC = dt.UTC
AS_OF = dt.datetime(2026, 9, 1, tzinfo=UTC)


def t(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(tzinfo=UTC)


PERSON = "INSERT INTO person (org_id, person_id, email_ok, sms_ok, match_key) VALUES (?,?,?,?,?)"
IDENTITY = "INSERT INTO identity (org_id, person_id, source, source_id) VALUES (?,?,?,?)"
EVENT = "INSERT INTO event (org_id, event_id, source, start_at) VALUES (?,?,?,?)"
ACTIVITY = """INSERT INTO activity (org_id, activity_id, person_id, source, type, occurred_at,
    recorded_at, attended, event_id, role, organizer_id, score) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"""


def build_store(path: Path) -> None:
    con = duckdb.connect(str(path))
    create_schema(con)
    a = "org-a"
    # people: p1+p2 share key k1, p3+p4+p5 share k2 -> 5 keyed, 3 extra records, 2 groups;
    # unknown permission: p2 (sms), p3 (both) -> 2 people; email unknown 1, sms unknown 2
    con.executemany(
        PERSON,
        [
            (a, "p1", True, True, "k1"),
            (a, "p2", True, None, "k1"),
            (a, "p3", None, None, "k2"),
            (a, "p4", True, True, "k2"),
            (a, "p5", True, True, "k2"),
            (a, "p6", True, False, None),
            ("org-b", "p1", None, None, "k1"),  # another org: never counted with org-a
        ],
    )
    con.execute(
        "INSERT INTO person_pii (org_id, person_id, email) VALUES ('org-a', 'p1', 'ana@x.org')"
    )
    # tools: action_network, mobilize, van (3); in one tool only: p2, p3, p5; in two: p1, p4
    # duplicates: 3 extra records by match_key + 2 extra Mobilize records of p5 = 5 of 6
    con.executemany(
        IDENTITY,
        [
            (a, "p1", "action_network", "an-1"),
            (a, "p1", "mobilize", "m-1"),
            (a, "p2", "action_network", "an-2"),
            (a, "p3", "van", "v-3"),
            (a, "p4", "action_network", "an-4"),
            (a, "p4", "van", "v-4"),
            (a, "p5", "mobilize", "m-5"),
            (a, "p5", "mobilize", "m-5b"),  # p5 twice in Mobilize
            (a, "p5", "mobilize", "m-5c"),  # ... three times: 2 extra records in one tool
            ("org-b", "p1", "van", "v-b1"),
        ],
    )
    # past events before 1 Sep: e1 (attendance marked), e2 (only a signup), e3 (nothing)
    con.executemany(
        EVENT,
        [
            (a, "e1", "mobilize", t("2026-08-01")),
            (a, "e2", "mobilize", t("2026-08-10")),
            (a, "e3", "mobilize", t("2026-08-20")),
            (a, "e4", "mobilize", t("2026-09-10")),  # future: not counted
            ("org-b", "e9", "mobilize", t("2026-08-01")),
        ],
    )
    # relational (attendance, one_on_one): a1, a3, a4, a5 -> 4; no organizer: a3, a4 -> 2
    # with recorded_at: a1 (1 d), a2 (15 d), a3 (0 d), a4 (19 d), a6 (8 d) -> 5; over 7 d: 3
    con.executemany(
        ACTIVITY,
        [
            (
                a,
                "a1",
                "p1",
                "mobilize",
                "attendance",
                t("2026-08-01"),
                t("2026-08-02"),
                True,
                "e1",
                None,
                "o1",
                None,
            ),
            (
                a,
                "a2",
                "p2",
                "mobilize",
                "signup",
                t("2026-08-05"),
                t("2026-08-20"),
                None,
                "e2",
                None,
                None,
                None,
            ),
            (
                a,
                "a3",
                "p3",
                "van",
                "one_on_one",
                t("2026-08-10"),
                t("2026-08-10"),
                None,
                None,
                None,
                None,
                None,
            ),
            (
                a,
                "a4",
                "p4",
                "van",
                "one_on_one",
                t("2026-08-11"),
                t("2026-08-30"),
                None,
                None,
                None,
                " ",
                None,
            ),
            (
                a,
                "a5",
                "p5",
                "mobilize",
                "attendance",
                t("2026-08-01"),
                None,
                False,
                "e1",
                "Host",
                "o2",
                None,
            ),
            (
                a,
                "a6",
                "p1",
                "action_network",
                "donation",
                t("2026-08-15"),
                t("2026-08-23"),
                None,
                None,
                None,
                None,
                None,
            ),
            (
                "org-b",
                "b1",
                "p1",
                "van",
                "assessment",
                t("2026-08-01"),
                t("2026-08-30"),
                None,
                None,
                None,
                None,
                5.0,
            ),
        ],
    )
    con.close()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "store.duckdb"
    build_store(path)
    return path


def test_counts_worked_by_hand(store: Path) -> None:
    org = Organization(id="org-a", name="Org A")  # default ladder
    with connect(store) as con:
        findings = diagnose(con, org, as_of=AS_OF)
    got = {f.key: (f.affected, f.total) for f in findings}
    assert got == {
        "match_rate": (3, 6),
        "attendance": (2, 3),
        "organizer": (2, 4),
        "entry_lag": (3, 5),
        "duplicates": (5, 6),
        "contact_fields": (2, 6),
        # default ladder has 7 conditions; only "assessed at leader level" has no data
        "untracked_types": (1, 7),
    }
    by_key = {f.key: f for f in findings}
    assert "median entry lag 8.0 days" in by_key["entry_lag"].detail
    assert by_key["duplicates"].detail == (
        "2 people with the same email or phone under several ids (3 extra records); "
        "1 person with several records in one tool (2 extra records)"
    )
    assert "email permission unknown: 1; text permission unknown: 2" in (
        by_key["contact_fields"].detail
    )
    assert "2 of 6 people matched" in by_key["match_rate"].detail
    assert "never recorded: assessment" in by_key["untracked_types"].detail
    # impact = weight x share: 0.9*5/6, 0.9*2/3, 0.7*3/5, 0.6*3/6, 0.5*2/4, 1.0*1/7, 0.4*2/6
    assert [f.key for f in findings] == [
        "duplicates",
        "attendance",
        "entry_lag",
        "match_rate",
        "organizer",
        "untracked_types",
        "contact_fields",
    ]
    assert findings[0].impact == pytest.approx(0.75)
    for f in findings:
        assert f.practice and f.weakens


def test_unreachable_rung_ranks_first_and_single_tool_is_not_applicable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.duckdb"
    con = duckdb.connect(str(path))
    create_schema(con)
    con.executemany(PERSON, [("c", "p1", True, True, None), ("c", "p2", True, True, None)])
    con.executemany(IDENTITY, [("c", "p1", "van", "1"), ("c", "p2", "van", "2")])
    con.executemany(
        ACTIVITY,
        [
            (
                "c",
                f"x{i}",
                "p1",
                "van",
                "attendance",
                t("2026-08-01"),
                None,
                True,
                None,
                None,
                "o",
                None,
            )
            for i in range(2)
        ],
    )
    con.close()
    ladder = [
        Rung(
            name="supporter", label="S", window_days=365, any_of=[RungCondition()], definition="any"
        ),
        Rung(
            name="member",
            label="M",
            window_days=180,
            definition="dues or codes",
            any_of=[
                RungCondition(activity_types=["donation"]),
                RungCondition(activity_types=["activist_code"], min_count=2),
            ],
        ),
        Rung(
            name="active",
            label="A",
            window_days=90,
            definition="2 meetings",
            any_of=[RungCondition(activity_types=["attendance"], min_count=2, attended_only=True)],
        ),
        Rung(
            name="leader",
            label="L",
            window_days=90,
            definition="1:1s or led",
            any_of=[
                RungCondition(activity_types=["one_on_one"], min_count=2),
                RungCondition(activity_types=["attendance"], roles=["host", "lead"]),
            ],
        ),
    ]
    org = Organization(id="c", name="C", ladder=ladder)
    with connect(path) as con:
        findings = diagnose(con, org, as_of=AS_OF)
    first = findings[0]
    assert first.key == "untracked_types"
    assert (first.affected, first.total) == (4, 6)
    assert first.impact == 1.0
    assert "activist_code, donation, one_on_one" in first.detail
    assert "no event host or lead role recorded" in first.detail
    assert "member, leader" in first.detail
    assert "one-on-one" in first.practice
    by_key = {f.key: f for f in findings}
    assert not by_key["match_rate"].applicable
    assert not by_key["attendance"].applicable  # no events at all
    frame = findings_frame(findings)
    assert "People found in only one tool" not in set(frame["Finding"])


def test_report_shows_counts_not_members(store: Path) -> None:
    org = Organization(id="org-a", name="Org A")
    with connect(store) as con:
        findings = diagnose(con, org, as_of=AS_OF)
    html = "".join(b.html for b in improve_blocks(findings))
    for value in ("ana@x.org", "an-1", "v-3", "p1", "k1", "o1"):
        assert value not in html
    assert "Data Entry Part" in html
    restricted = findings_frame(findings, "cohort")
    assert set(restricted["Records affected"]) == {"<10"}
    assert set(restricted["Share"]) == {"withheld"}


def test_network_counts_affiliates_but_not_across_them(store: Path) -> None:
    org = Organization(id="org-a", name="Org A")
    with connect(store) as con:
        findings = diagnose(con, org, as_of=AS_OF, include_affiliates=True, affiliates=["org-b"])
    got = {f.key: (f.affected, f.total) for f in findings}
    # org-b's p1 shares match key k1 with org-a's p1 and p2: a network overlap, not a
    # duplicate inside one group; its unknown permissions and unmarked event do count
    assert got["duplicates"] == (5, 7)
    assert got["contact_fields"] == (3, 7)
    assert got["attendance"] == (3, 4)
    assert got["untracked_types"] == (0, 7)  # org-b records an assessment at level 5
    # each member's records are counted (p1 is in both): said as records, not people,
    # beside the roll-up that counts people once
    units = {f.key: f.unit for f in findings}
    assert units["duplicates"] == units["contact_fields"] == "person records"
    with connect(store) as con:
        alone = {f.key: f.unit for f in diagnose(con, org, as_of=AS_OF)}
    assert alone["contact_fields"] == "people"


def test_attendance_marked_by_status_is_recorded(tmp_path: Path) -> None:
    """Action Network's and VAN's attendance say who came in the status (completed, no
    show) with no attended flag: the show rate read such an event as recorded, and this
    finding as not recorded."""
    path = tmp_path / "store.duckdb"
    con = duckdb.connect(str(path))
    create_schema(con)
    a = "org-a"
    con.executemany(EVENT, [(a, "e1", "van", t("2026-08-01")), (a, "e2", "van", t("2026-08-02"))])
    con.execute(
        """INSERT INTO activity (org_id, activity_id, person_id, source, type, occurred_at,
                                 status, event_id)
           VALUES (?, 'a1', 'p1', 'van', 'attendance', ?, 'completed', 'e1'),
                  (?, 'a2', 'p2', 'van', 'attendance', ?, 'registered', 'e2')""",
        [a, t("2026-08-01"), a, t("2026-08-02")],
    )
    con.close()
    with connect(path) as store:
        findings = diagnose(store, Organization(id=a, name="Org A"), as_of=AS_OF)
    attendance = next(f for f in findings if f.key == "attendance")
    assert (attendance.affected, attendance.total) == (1, 2)  # e2 only


def test_entries_recorded_before_they_happened_are_not_late(tmp_path: Path) -> None:
    """Mobilize registrations are recorded before their event: counted, the median
    entry lag read -10 days."""
    path = tmp_path / "store.duckdb"
    con = duckdb.connect(str(path))
    create_schema(con)
    a = "org-a"
    rows = [
        (a, f"r{i}", f"p{i}", "mobilize", "attendance", t("2026-08-20"), t("2026-08-10"))
        for i in range(4)
    ] + [
        (a, "o1", "p9", "van", "one_on_one", t("2026-08-01"), t("2026-08-17")),
        (a, "o2", "p9", "van", "one_on_one", t("2026-08-02"), t("2026-08-22")),
    ]
    con.executemany(
        """INSERT INTO activity (org_id, activity_id, person_id, source, type, occurred_at,
                                 recorded_at) VALUES (?,?,?,?,?,?,?)""",
        rows,
    )
    con.close()
    with connect(path) as store:
        findings = diagnose(store, Organization(id=a, name="Org A"), as_of=AS_OF)
    lag = next(f for f in findings if f.key == "entry_lag")
    assert (lag.affected, lag.total) == (2, 2)  # 16 and 20 days late; 4 ahead: not counted
    assert "median entry lag 18.0 days" in lag.detail


def test_every_activity_type_has_a_practice_that_reaches_the_ladder():
    """A rung over an untracked type gets a practice of its own ("Start recording
    'signup'." said nothing), and the practice makes the type appear in the data: "log
    doors as canvass results in VAN" for a rung over conversations gave it nothing to
    count (VAN canvasses arrive as contact attempts, which no rung counts)."""
    from cyclebook.config import ACTIVITY_TYPES
    from cyclebook.improve import TYPE_PRACTICES

    assert set(ACTIVITY_TYPES) <= set(TYPE_PRACTICES)
    for kind in ("conversation", "text"):
        assert "not on the ladder" in TYPE_PRACTICES[kind]
        assert "sheet the sync reads" in TYPE_PRACTICES[kind]
