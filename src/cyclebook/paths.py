"""Where everything lives inside a cohort folder (see README, 'The cycles/ layout')."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

PHASES: tuple[str, ...] = ("sync", "share", "reflect", "improve")
NOTEBOOKS: dict[str, str] = {
    "sync": "1_sync.ipynb",
    "share": "2_share.ipynb",
    "reflect": "3_reflect.ipynb",
    "improve": "4_improve.ipynb",
    "cohort": "5_cohort.ipynb",
}
# The follow-up lists an organization's own share report writes (``<name>.csv``, see
# cyclebook.metrics.followup.LISTS for what each holds).
FOLLOWUP_LISTS: tuple[str, ...] = ("one_step", "potential_leaders", "newly_lapsed")


def repo_root() -> Path:
    """The checkout (notebooks/ and templates/ sit beside src/)."""
    return Path(__file__).resolve().parents[2]


def notebooks_dir() -> Path:
    return repo_root() / "notebooks"


def templates_dir() -> Path:
    return repo_root() / "templates"


@dataclass(frozen=True)
class CohortPaths:
    root: Path

    @classmethod
    def of(cls, cohort_dir: str | Path) -> CohortPaths:
        return cls(Path(cohort_dir).resolve())

    @property
    def cohort_file(self) -> Path:
        return self.root / "cohort.yml"

    @property
    def store(self) -> Path:
        return self.root / "store.duckdb"

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def lock(self) -> Path:
        return self.root / ".cyclebook.lock"

    def org_dir(self, org_id: str) -> Path:
        return self.root / "orgs" / org_id

    def exports(self, org_id: str) -> Path:
        return self.org_dir(org_id) / "exports"

    def followup(self, org_id: str, cycle: str) -> Path:
        """Follow-up lists (personal data): the organization's own folder, never HTML."""
        return self.org_dir(org_id) / "followup" / cycle

    def cycle_dir(self, cycle: str) -> Path:
        return self.root / cycle

    def cycle_file(self, cycle: str) -> Path:
        return self.cycle_dir(cycle) / "cycle.yml"

    def reflections(self, cycle: str) -> Path:
        return self.cycle_dir(cycle) / "reflections"

    def output(self, cycle: str) -> Path:
        return self.cycle_dir(cycle) / "output"

    def executed_notebook(self, cycle: str, org_id: str, phase: str) -> Path:
        return self.output(cycle) / "notebooks" / org_id / f"{phase}.ipynb"

    def report(self, cycle: str, org_id: str, phase: str, audience: str = "organization") -> Path:
        suffix = "" if audience == "organization" else f".{audience}"
        return self.output(cycle) / "reports" / org_id / f"{phase}{suffix}.html"

    def index(self, cycle: str) -> Path:
        return self.output(cycle) / "index.html"

    def manifest(self, cycle: str) -> Path:
        return self.output(cycle) / "manifest.json"

    def sync_error(self, org_id: str, run_id: str) -> Path:
        """DuckDB's own message of a sync that stopped on a record it did not foresee (it
        may quote a member: for data staff, never in a report)."""
        return self.root / ".cyclebook" / "errors" / f"sync-{org_id}-{run_id}.txt"

    def sync_errors(self, org_id: str) -> list[Path]:
        """The organization's :meth:`sync_error` files, by name (run ids are
        ``YYYYMMDDTHHMMSS-<hex>``: another group whose id starts with this one's is not
        matched)."""
        folder = self.root / ".cyclebook" / "errors"
        if not folder.is_dir():
            return []
        mine = re.compile(rf"sync-{re.escape(org_id)}-\d{{8}}T\d{{6}}-[0-9a-f]+\.txt")
        return sorted(p for p in folder.iterdir() if mine.fullmatch(p.name))

    def journal(self, cycle: str) -> Path:
        """Jobs started and finished since the manifest was last written (one JSON object
        a line): what an interrupted run leaves for the next one."""
        return self.output(cycle) / ".journal.jsonl"


def owned_dir(prefix: str, root: str | os.PathLike | None = None) -> str:
    """A new private folder ``<prefix><pid>-...`` under ``root`` (the machine's temporary
    folder when None), named after this process so that :func:`sweep_owned_dirs` can tell
    when its owner is gone."""
    import tempfile

    return tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=root)


def sweep_owned_dirs(root: str | os.PathLike, prefix: str) -> int:
    """Remove the folders ``<prefix><pid>-...`` (:func:`owned_dir`) under ``root`` whose
    process no longer exists (killed before it could remove them); returns how many."""
    import shutil

    removed = 0
    try:
        names = os.listdir(root)
    except OSError:
        return 0
    for name in names:
        owner = name.removeprefix(prefix).split("-", 1)[0]
        if not name.startswith(prefix) or not owner.isdigit():
            continue  # not ours, or from before folders were named after their owner
        try:
            os.kill(int(owner), 0)
            continue  # the owner still runs (or the pid was reused: keep it, to be safe)
        except ProcessLookupError:
            pass
        except PermissionError:
            continue  # another user's live process
        shutil.rmtree(os.path.join(root, name), ignore_errors=True)
        removed += 1
    return removed
