"""One small cohort run through the real runner, shared by the browser and report tests.

Every kind of report is produced: sync, share (organization, cohort, funder), reflect,
improve, the cohort summary (cohort, funder) and the cycle index. The cohort is the demo
cohort at ``scale=0.02`` when the demo generator and the sync engine are in the package;
otherwise the backbone's tiny two-organization cohort (``CYCLEBOOK_QA_COHORT=tiny|demo``
forces one). One organization's name carries markup, so escaping is seen in a browser.

The run happens once per pytest session: the first caller builds it under the session's
base temporary folder, later callers (the other test folder) reuse it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from cyclebook.paths import CohortPaths, repo_root

# Markup, Markdown, Jinja and shell in one organization's name: must show as plain text.
MARKED_NAME = '<b>Beta</b> & "Workers" *em* {{ 7*7 }}'

TINY_COHORT = """\
id: tiny
name: Tiny Test Cohort
organizations:
  - id: alpha
    name: Alpha Tenants
    consent: {cohort: [active_base, new_people], funder: [active_base]}
  - id: beta
    name: '<b>Beta</b> & "Workers" *em* {{ 7*7 }}'
"""

TINY_CYCLE = """\
id: c1
title: First cycle
how_might_we:
  - How might we test the spine?
hypothesis: If we run it, then we will learn.
design: Two organizations, no exports.
metrics:
  - {goal: Reports exist, measure: reports, failure: No report}
accountable: [Tester]
start: 2026-08-03
end: 2026-09-14
"""

TINY_REFLECTION = """\
org_id: alpha
cycle: c1
versions:
  - saved_at: '2026-09-10T18:30:00Z'
    author: Tester
    participants: [Organizer]
    metrics:
      - {metric: absorption, reaction: keep, why: It showed the follow-up gap.}
    stories: [A tenant who came to one meeting now chairs her building's committee.]
    learnings: [Follow-up within two weeks doubled second actions.]
"""

REPORT_KINDS = (
    "sync",
    "share",
    "share.cohort",
    "share.funder",
    "reflect",
    "improve",
    "cohort.cohort",
    "cohort.funder",
)


@dataclass
class ReportSet:
    root: Path
    cycle: str
    kind: str  # "demo" or "tiny"
    exit_code: int
    output: str
    reports: dict[str, list[Path]] = field(default_factory=dict)

    @property
    def index(self) -> Path:
        return CohortPaths.of(self.root).index(self.cycle)

    def all_pages(self) -> list[Path]:
        return [self.index, *(p for paths in self.reports.values() for p in paths)]


def demo_available() -> bool:
    wanted = os.environ.get("CYCLEBOOK_QA_COHORT", "auto")
    if wanted in {"tiny", "demo"}:
        return wanted == "demo"
    try:
        return (
            importlib.util.find_spec("cyclebook.sync") is not None
            and importlib.util.find_spec("cyclebook.demo") is not None
        )
    except ImportError:
        return False


def write_tiny(root: Path) -> str:
    (root / "c1" / "reflections").mkdir(parents=True)
    (root / "cohort.yml").write_text(TINY_COHORT)
    (root / "c1" / "cycle.yml").write_text(TINY_CYCLE)
    (root / "c1" / "reflections" / "alpha.yml").write_text(TINY_REFLECTION)
    return "c1"


def write_demo(root: Path) -> str:
    from cyclebook.config import list_cycles
    from cyclebook.demo import generate_demo

    shutil.copytree(
        repo_root() / "cycles" / "demo",
        root,
        ignore=shutil.ignore_patterns("orgs", "archive", "output", "store.duckdb*", "*.lock"),
    )
    cohort_yml = root / "cohort.yml"
    text = cohort_yml.read_text()
    # the second organization's name carries markup (quoted for YAML)
    second = [line for line in text.splitlines() if line.startswith("    name: ")][1]
    cohort_yml.write_text(text.replace(second, f"    name: '{MARKED_NAME}'", 1))
    generate_demo(root, scale=0.02)
    return list_cycles(root)[-1]


def cyclebook_cmd() -> list[str]:
    import sys

    return [sys.executable, "-m", "cyclebook.cli"]


def build(base: Path) -> ReportSet:
    """Run every phase of the latest cycle once under ``base`` (reused when already run)."""
    import subprocess

    kind = "demo" if demo_available() else "tiny"
    root = base / f"reportset-{kind}"
    done = base / f"reportset-{kind}.done"
    if not done.exists():
        if root.exists():
            shutil.rmtree(root)
        cycle = write_demo(root) if kind == "demo" else write_tiny(root)
        proc = subprocess.run(
            [*cyclebook_cmd(), "run", str(root), "--cycle", cycle, "--workers", "2"],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        done.write_text(f"{cycle}\n{proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    cycle, code, output = done.read_text().split("\n", 2)
    paths = CohortPaths.of(root)
    reports: dict[str, list[Path]] = {}
    reports_dir = paths.output(cycle) / "reports"
    for report_kind in REPORT_KINDS:
        reports[report_kind] = sorted(reports_dir.glob(f"*/{report_kind}.html"))
    return ReportSet(
        root=root, cycle=cycle, kind=kind, exit_code=int(code), output=output, reports=reports
    )


def describe(reportset: ReportSet) -> str:
    return textwrap.shorten(reportset.output, 3000)


def write_small(root: Path) -> str:
    """A two-organization cohort for tests that run many times: the demo's Eastside
    Tenants and Harbor Youth (with generated exports) when the sync engine is in, else
    the tiny cohort."""
    if not demo_available():
        return write_tiny(root)
    import yaml

    from cyclebook.config import list_cycles
    from cyclebook.demo import generate_demo

    template = repo_root() / "cycles" / "demo"
    data = yaml.safe_load((template / "cohort.yml").read_text())
    data["organizations"] = [
        org for org in data["organizations"] if org["id"] in {"eastside-tenants", "harbor-youth"}
    ]
    root.mkdir(parents=True, exist_ok=True)
    (root / "cohort.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    for card in template.glob("*/cycle.yml"):
        (root / card.parent.name).mkdir(exist_ok=True)
        shutil.copyfile(card, root / card.parent.name / "cycle.yml")
    generate_demo(root, scale=0.02)
    return list_cycles(root)[-1]
