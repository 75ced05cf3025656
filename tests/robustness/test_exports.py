"""A very large or binary file named as an export is refused with a clear error that
names the file and the fix; only that organization's sync stops."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from cyclebook.paths import CohortPaths

from .hostile import parse
from .reportset import cyclebook_cmd, write_tiny

pytestmark = pytest.mark.e2e

CSV = "uuid,first_name,last_name,email,zip_code\n" + "".join(
    f"u-{n},F{n},L{n},p{n}@example.org,10001\n" for n in range(40)
)


def _cohort(tmp_path: Path, write_export) -> Path:
    root = tmp_path / "cohort"
    write_tiny(root)
    data = yaml.safe_load((root / "cohort.yml").read_text())
    for org in data["organizations"]:
        org["sources"] = [{"kind": "action_network_csv", "path": "an"}]
    (root / "cohort.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    paths = CohortPaths.of(root)
    for org_id in ("alpha", "beta"):
        target = paths.exports(org_id) / "an" / "activists.csv"
        target.parent.mkdir(parents=True)
        target.write_text(CSV)
    write_export(paths.exports("alpha") / "an" / "activists.csv")
    return root


def _sync(root: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*cyclebook_cmd(), "run", str(root), "--phase", "sync", "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **env},
    )


def _sparse(size: int):
    def write(path: Path) -> None:
        with open(path, "r+b") as handle:  # keeps the CSV header, the rest is a hole
            handle.truncate(size)

    return write


def _longer(path: Path) -> None:
    path.write_text(CSV * 3)


def _binary(path: Path) -> None:
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64)


@pytest.mark.parametrize(
    ("write_export", "env", "problem"),
    [
        (_longer, {"CYCLEBOOK_MAX_EXPORT_BYTES": "3000"}, "larger than the 3,000-byte"),
        (_binary, {}, "the file is binary, not CSV text"),
    ],
    ids=["over-a-set-limit", "binary"],
)
def test_refused_with_a_clear_error(tmp_path: Path, write_export, env, problem) -> None:
    root = _cohort(tmp_path, write_export)
    proc = _sync(root, **env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    failed = [line for line in proc.stdout.splitlines() if line.startswith("  FAILED")]
    assert len(failed) == 1 and "c1/alpha/sync/organization" in failed[0], proc.stdout
    assert problem in failed[0] and "an/activists.csv" in failed[0], failed[0]
    paths = CohortPaths.of(root)
    report = parse(paths.report("c1", "alpha", "sync").read_text()).text
    assert "This phase did not finish" in report and problem in report
    assert "Fix:" in report or "fix" in report.lower()
    assert "This phase did not finish" not in paths.report("c1", "beta", "sync").read_text()
    # nothing of the refused file reached the archive
    archived = (
        [p for p in (root / "archive").rglob("*") if p.is_file()]
        if (root / "archive").exists()
        else []
    )
    assert all(p.stat().st_size < 1024**2 for p in archived)


def test_default_limit_refuses_an_11_gib_file_before_reading_it(tmp_path: Path) -> None:
    """Through the sync engine directly: the CLI would spend a minute hashing the sparse
    file's zeros for the manifest (runner.input_hashes reads every export)."""
    from cyclebook.errors import ExportError
    from cyclebook.sync import sync_org

    root = _cohort(tmp_path, _sparse(11 * 1024**3))
    with pytest.raises(ExportError) as caught:
        sync_org(root, "alpha")
    # refused before hashing or reading it: no hash remembered, nothing archived
    assert not (root / ".cyclebook" / "sha256.json").exists()
    assert not (root / "archive").exists() or not any((root / "archive").rglob("*.csv"))
    message = str(caught.value)
    assert "an/activists.csv" in message and "[alpha]" in message
    assert "larger than the 10,737,418,240-byte limit" in message
    assert "Fix:" in message and "CYCLEBOOK_MAX_EXPORT_BYTES" in message
