"""A hand-made cohort folder: cohort.yml with a network, two cycle cards, and a store
whose people carry planted personal values."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import duckdb
import pandas as pd

from cyclebook import store

UTC = dt.UTC

COHORT_YML = """\
id: test
name: Test Cohort
facilitators: [Matt Rivera]
organizations:
  - id: net
    name: The <b>Network</b> & Friends
    consent:
      cohort: [active_base, leaders, new_people]
      funder: [active_base]
  - id: net-a
    name: Affiliate A
    parent: net
    consent:
      cohort: [active_base, leaders, new_people, ladder]
      funder: [active_base]
      gallery_note: We count <i>leaders</i> because they hold the base together.
  - id: net-b
    name: Affiliate B
    parent: net
    consent:
      cohort: [active_base, new_people]
      funder: []
  - id: solo
    name: Solo <script>alert(1)</script> Center
    ladder:
      - {name: supporter, label: Supporter, window_days: 365, any_of: [{min_count: 1}],
         definition: Anyone who did anything this year.}
      - {name: leader, label: Block captain, window_days: 90,
         any_of: [{activity_types: [one_on_one]}],
         definition: Held a one-on-one in the last 90 days.}
    measure_history:
      - {measure: ladder, date: 2026-08-01, proposed_by: Rae, why: captains run the blocks,
         change: added the block captain rung}
    consent:
      cohort: [ladder, absorption, show_rate, one_on_ones]
      funder: [absorption]
      gallery_note: Captains are the heart of our work.
  - id: quiet
    name: Quiet Group
"""

PREVIOUS_CARD = """\
id: c1
title: First cycle
how_might_we:
  - How might we start?
hypothesis: If we start then we learn.
design: Simple.
start: 2026-08-03
end: 2026-09-14
"""

CARD = """\
id: c2
title: Second cycle
previous: c1
how_might_we:
  - How might we grow?
hypothesis: If we follow up then we learn.
design: Follow-up lists.
accountable: [Matt Rivera]
metrics:
  - {goal: New people stay, measure: absorption, failure: Absorption falls}
start: 2026-09-14
end: 2026-10-26
"""

# A person in both affiliates: same match key, different person ids.
SHARED_KEY = "mk-shared"

# person rows: org, person_id, first_seen, match_key, pii (first, last, email, phone)
PEOPLE = [
    (
        "net-a",
        "a1",
        "2026-01-01",
        "mk-1",
        ("Ayodele", "Quarshie", "ayo@example.org", "555-310-0001"),
    ),
    ("net-a", "a2", "2026-01-01", "mk-2", ("Bettina", "Vasquez-Oduya", "bv@example.org", None)),
    (
        "net-a",
        "a3",
        "2026-09-15",
        SHARED_KEY,
        ("Cyprian", "Wojcik", "cw@example.org", "(555) 310-0003"),
    ),
    (
        "net-b",
        "b1",
        "2026-09-10",
        SHARED_KEY,
        ("Cyprian", "Wojcik", "cw@example.org", "555 310 0003"),
    ),
    ("net-b", "b2", "2026-09-20", "mk-4", ("Delphine", "Marchetti", "dm@example.org", None)),
    (
        "solo",
        "s1",
        "2026-09-16",
        "mk-5",
        ("Esperanza", "Thistlewood", "et@example.org", "555-310-0005"),
    ),
    ("solo", "s2", "2026-09-16", "mk-6", ("Fintan", "Okafor", "fo@example.org", None)),
]

# activity rows: org, person_id, type, day, extra
ACTIVITIES = [
    ("net-a", "a1", "attendance", "2026-09-20", {"attended": True}),
    ("net-a", "a2", "attendance", "2026-06-01", {"attended": True}),
    ("net-a", "a3", "attendance", "2026-09-16", {"attended": True}),
    ("net-a", "a3", "one_on_one", "2026-09-20", {}),
    ("net-b", "b1", "attendance", "2026-09-12", {"attended": True}),
    ("net-b", "b1", "attendance", "2026-10-01", {"attended": True}),
    ("net-b", "b2", "attendance", "2026-09-20", {"attended": True}),
    ("solo", "s1", "attendance", "2026-09-17", {"attended": True}),
    ("solo", "s1", "one_on_one", "2026-09-30", {}),
    ("solo", "s2", "signup", "2026-09-17", {}),
]

SOURCE_IDS = [
    ("net-a", "a1", "action_network", "7f3e2a10-1b2c-4d5e-8f90-a1b2c3d4e5f6"),
    ("net-b", "b2", "van", "40918273"),
    ("solo", "s1", "mobilize", "mob-55501234"),
]

# planted values that must never appear in any report
PLANTED_VALUES = [
    "Quarshie",
    "Vasquez-Oduya",
    "Wojcik",
    "Marchetti",
    "Thistlewood",
    "ayo@example.org",
    "cw@example.org",
    "555-310-0001",
    "310-0003",
    "7f3e2a10-1b2c-4d5e-8f90-a1b2c3d4e5f6",
    "40918273",
    "mob-55501234",
]

# metric values already computed for c2 (cycle, org, metric, period, dimension, value, den)
METRIC_VALUES = [
    ("net-a", "active_base", "end", "", 240, None),
    ("net-a", "active_base", "start", "", 210, None),
    ("net-a", "leaders", "end", "", 7, None),
    ("net-a", "new_people", "cycle", "", 31, None),
    ("net-a", "lapsed", "cycle", "", 12, None),  # not consented to anyone
    ("net-a", "ladder", "end", "", 240, None),
    ("net-a", "ladder", "end", "supporter", 150, None),
    ("net-a", "ladder", "end", "member", 60, None),
    ("net-a", "ladder", "end", "active", 25, None),
    ("net-a", "ladder", "end", "leader", 5, None),
    ("net-b", "active_base", "end", "", 88, None),
    ("net-b", "new_people", "cycle", "", 4, None),
    ("net-b", "leaders", "end", "", 3, None),  # not consented to the cohort
    ("solo", "absorption", "cycle", "", 0.5, 40),
    ("solo", "absorption", "cycle", "source=mobilize", 0.25, 8),
    ("solo", "show_rate", "cycle", "", 0.8, 50),
    ("solo", "one_on_ones", "cycle", "", 23, None),
    ("solo", "active_base", "end", "", 310, None),  # not consented
    ("quiet", "active_base", "end", "", 999, None),  # consents to nothing
]

_ids = itertools.count(1)


def _at(day: str, hour: int = 12) -> dt.datetime:
    d = dt.date.fromisoformat(day)
    return dt.datetime(d.year, d.month, d.day, hour, tzinfo=UTC)


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    if not rows:
        return
    cols = [r[1] for r in con.execute(f"PRAGMA table_info('{table}')").fetchall()]
    frame = pd.DataFrame(rows)
    for col in cols:
        if col not in frame.columns:
            frame[col] = None
    con.register("_rows", frame[cols])
    con.execute(f"INSERT INTO {table} SELECT * FROM _rows")
    con.unregister("_rows")


def make_cohort(root: Path, *, metric_values: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "cohort.yml").write_text(COHORT_YML)
    for cycle, text in (("c1", PREVIOUS_CARD), ("c2", CARD)):
        (root / cycle).mkdir(exist_ok=True)
        (root / cycle / "cycle.yml").write_text(text)
    con = duckdb.connect(str(root / "store.duckdb"))
    try:
        store.create_schema(con)
        for org_id in ("net", "net-a", "net-b", "solo", "quiet"):
            parent = "net" if org_id.startswith("net-") else None
            con.execute("INSERT INTO organization VALUES (?, ?, ?)", [org_id, org_id, parent])
        person, pii, identity, activity = [], [], [], []
        for org_id, pid, first_seen, key, (first, last, email, phone) in PEOPLE:
            person.append(
                dict(org_id=org_id, person_id=pid, first_seen_at=_at(first_seen), match_key=key)
            )
            pii.append(
                dict(
                    org_id=org_id,
                    person_id=pid,
                    first_name=first,
                    last_name=last,
                    email=email,
                    phone=phone,
                    address="77 Quillfeather Lane, Springfield",
                )
            )
        for org_id, pid, source, source_id in SOURCE_IDS:
            identity.append(dict(org_id=org_id, person_id=pid, source=source, source_id=source_id))
        for org_id, pid, kind, day, extra in ACTIVITIES:
            n = next(_ids)
            activity.append(
                dict(
                    org_id=org_id,
                    activity_id=f"act{n}",
                    person_id=pid,
                    source="mobilize",
                    type=kind,
                    occurred_at=_at(day),
                    **extra,
                )
            )
        _insert(con, "person", person)
        _insert(con, "person_pii", pii)
        _insert(con, "identity", identity)
        _insert(con, "activity", activity)
        _insert(
            con,
            "sync_run",
            [
                dict(
                    org_id=org_id,
                    run_id=f"r-{org_id}",
                    started_at=_at("2026-10-20"),
                    finished_at=_at("2026-10-20", 13),
                    status="ok",
                )
                for org_id in ("net-a", "net-b", "solo")
            ],
        )
        if metric_values:
            _insert(
                con,
                "metric_value",
                [
                    dict(
                        cycle="c2",
                        org_id=org_id,
                        metric=metric,
                        period=period,
                        dimension=dim,
                        value=value,
                        denominator=den,
                        suppressed=False,
                        definition=f"definition of {metric}",
                    )
                    for org_id, metric, period, dim, value, den in METRIC_VALUES
                ],
            )
    finally:
        con.close()
    return root
