"""Write the thin phase notebooks from one definition (run once by hand; the .ipynb files
are committed and edited in JupyterLab afterwards). Kept so the structure is reviewable."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]

PARAMS_ORG = '''# Parameters: Papermill replaces these values; the defaults run on the demo cohort.
cohort_dir: str = "../cycles/demo"  # folder that holds cohort.yml
cycle: str = "2026-c2"  # cycle folder under the cohort (holds cycle.yml)
org_id: str = "eastside-tenants"  # organization id from cohort.yml
audience: str = "organization"  # who reads this report: organization, cohort or funder'''

PARAMS_COHORT = '''# Parameters: Papermill replaces these values; the defaults run on the demo cohort.
cohort_dir: str = "../cycles/demo"  # folder that holds cohort.yml
cycle: str = "2026-c2"  # cycle folder under the cohort (holds cycle.yml)
audience: str = "cohort"  # who reads this report: organization, cohort or funder'''

PHASES = {
    "1_sync.ipynb": (
        "sync",
        "## Sync: what arrived from the group's tools\n\n"
        "This report shows which exports arrived from each tool, what was kept, what was "
        "rejected and why, and what is missing. Nothing a member typed is shown here.",
    ),
    "2_share.ipynb": (
        "share",
        "## Share: the group's own measures, for feedback\n\n"
        "The numbers below use the definitions the group chose. They celebrate the work "
        "and start a conversation; they do not rank people.",
    ),
    "3_reflect.ipynb": (
        "reflect",
        "## Reflect: what the group said about its measures\n\n"
        "In JupyterLab the form below records the group's reactions; in the report it shows "
        "what was recorded.",
    ),
    "4_improve.ipynb": (
        "improve",
        "## Improve: where the group could create and track data better\n\n"
        "Each finding says how many records it affects, which measure it weakens, and a "
        "practice that fixes it.",
    ),
}


def cell(source: str, *tags: str):
    made = new_code_cell(source)
    if tags:
        made.metadata["tags"] = list(tags)
    return made


def build(name: str, phase: str, intro: str, org_level: bool) -> None:
    cells = [new_markdown_cell(intro)]
    cells.append(cell(PARAMS_ORG if org_level else PARAMS_COHORT, "parameters"))
    org_arg = "org_id" if org_level else "None"
    cells.append(
        cell(
            f"from cyclebook.phases import load_context, show_card\n\n"
            f'ctx = load_context("{phase}", cohort_dir, cycle, {org_arg}, audience)\n'
            f"show_card(ctx)"
        )
    )
    cells.append(cell(f"from cyclebook.phases import {phase}\n\n{phase}.report(ctx)"))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["cyclebook"] = {"phase": phase}
    path = ROOT / "notebooks" / name
    if path.exists() and "--force" not in sys.argv:
        print(f"skip {path} (exists; pass --force to overwrite)")
        return
    nbformat.write(nb, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    for name, (phase, intro) in PHASES.items():
        build(name, phase, intro, org_level=True)
    build(
        "5_cohort.ipynb",
        "cohort",
        "## Cohort summary: the cycle across the cohort\n\n"
        "Every organization's status this cycle, the experiment card, and the measures "
        "groups agreed to share.",
        org_level=False,
    )
