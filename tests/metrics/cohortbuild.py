"""A small cohort folder (cohort.yml, two cycle cards) with a hand-built store."""

from __future__ import annotations

import textwrap
from pathlib import Path

from cyclebook.paths import CohortPaths

from .storebuild import StoreBuilder, at

COHORT_YML = """\
id: test
name: Test Cohort
organizations:
  - id: org
    name: Eastside <Tenants> & Co
    timezone: UTC
    consent:
      cohort: [ladder, active_base, new_people, absorption]
      funder: [active_base]
  - id: quiet-org
    name: Quiet Org
    timezone: UTC
"""

CYCLE_YML = {
    "c1": """\
id: c1
title: First look
how_might_we: ["How might we see our base?"]
hypothesis: If we look then we learn.
design: Share a first report.
start: 2026-01-19
end: 2026-03-02
""",
    "c2": """\
id: c2
title: From signers to organizers
previous: c1
how_might_we: ["How might we move people to a second action?"]
hypothesis: If we follow up then absorption rises.
design: Follow-up lists go to each group's folder.
metrics:
  - goal: New people stay with the group
    measure: absorption
    target: 0.4
    failure: Fewer than one in five new people take a second action
    failure_below: 0.2
  - goal: More leaders
    measure: leaders
    failure: Fewer leaders than last cycle
  - goal: Organizers feel the report is theirs
    measure: interviews with organizers
    failure: Nobody recognizes their work
start: 2026-03-02
end: 2026-04-13
""",
}


def make_cohort(root: Path) -> CohortPaths:
    """30 long-time supporters (some active, some lapsing), 12 new people (5 come back),
    3 leaders, events with attendance, a few volunteer shifts and contact attempts."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "cohort.yml").write_text(COHORT_YML)
    for cid, text in CYCLE_YML.items():
        (root / cid).mkdir(exist_ok=True)
        (root / cid / "cycle.yml").write_text(textwrap.dedent(text))
    paths = CohortPaths.of(root)
    b = StoreBuilder(paths.store)
    b.event("E1", "MEETING", at("2026-03-10"))
    b.event("E2", "CANVASS", at("2026-04-04"))
    b.event("E3", "CANVASS", at("2026-04-08"))
    for i in range(30):
        pid = b.person(
            f"old{i}",
            at("2025-05-01"),
            sources=("action_network", "mobilize") if i % 3 == 0 else ("action_network",),
        )
        b.act(pid, "signup", at("2025-12-20" if i < 6 else "2026-02-10"))  # 6 will lapse
        if i >= 6:
            b.act(
                pid,
                "attendance",
                at("2026-03-10"),
                event_id="E1",
                status="registered",
                attended=i % 4 != 0,
            )
        if i >= 20:
            b.act(pid, "attendance", at("2026-04-04"), event_id="E2", attended=True)
            b.act(pid, "attendance", at("2026-04-08"), event_id="E3", attended=True)
    for i in range(3):
        b.act(f"old{10 + i}", "one_on_one", at("2026-03-25"), organizer_id="staff1")
    for i in range(12):
        pid = b.person(f"new{i}", at("2026-03-05"), sources=("mobilize",))
        b.act(pid, "signup", at("2026-03-05"), source="mobilize")
        if i < 5:
            b.act(
                pid, "attendance", at("2026-03-10"), event_id="E1", attended=True, source="mobilize"
            )
    b.person("quiet", at("2025-01-01"), dnc=True)  # no activity, do not contact
    for i in range(40):
        b.attempt(
            f"old{i % 30}",
            ("door", "phone", "text")[i % 3],
            at("2026-03-03" if i < 20 else "2026-03-17"),
            conversation=i % 2 == 0,
            replied=(i % 2 == 0) if i % 3 == 2 else None,
        )
    b.build()
    return paths
