"""Settings from the environment (CYCLEBOOK_...): read where used, refused once with their
fix before a run, a sync or a validation starts, never a traceback in every report."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cyclebook import settings
from cyclebook.cli import main
from cyclebook.errors import SettingError

MISTYPED = [
    ("CYCLEBOOK_LOCK_TIMEOUT", "10m", "not a number of seconds"),
    ("CYCLEBOOK_LOCK_TIMEOUT", "nan", "not a number of seconds"),
    ("CYCLEBOOK_OTHER_PROGRAM_WAIT", "-1", "not a number of seconds"),
    ("CYCLEBOOK_MAX_EXPORT_BYTES", "lots", "not a size"),
    ("CYCLEBOOK_MAX_EXPORT_BYTES", "10 GBs", "not a size"),
    ("CYCLEBOOK_MAX_EXPORT_BYTES", "0", "not a size"),
    ("CYCLEBOOK_DUCKDB_THREADS", "0", "not a number of threads"),
    ("CYCLEBOOK_SYNC_MEMORY_LIMIT", "lots", "not a memory size"),
]


@pytest.mark.parametrize("command", ["run", "sync", "validate"])
@pytest.mark.parametrize(("name", "value", "problem"), MISTYPED)
def test_a_mistyped_setting_stops_before_anything_runs(
    tiny_cohort: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    name: str,
    value: str,
    problem: str,
) -> None:
    monkeypatch.setenv(name, value)
    assert main([command, str(tiny_cohort)]) == 2
    err = capsys.readouterr().err
    assert f"cyclebook: error: {name}={value!r}: {problem}" in err
    assert f"Fix: set {name} to" in err
    assert not (tiny_cohort / "store.duckdb").exists()
    assert not list(tiny_cohort.rglob("*.html"))


def test_the_threads_fix_says_what_unset_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset, a run divides the cores among the reports running side by side (README);
    the fix said DuckDB would then use one thread per core."""
    monkeypatch.setenv("CYCLEBOOK_DUCKDB_THREADS", "two")
    with pytest.raises(SettingError) as raised:
        settings.threads()
    assert raised.value.fix == (
        "set CYCLEBOOK_DUCKDB_THREADS to a whole number such as 2, or unset it (each report "
        "then gets its share of the cores)."
    )


def test_sizes_read_with_or_without_a_unit(monkeypatch: pytest.MonkeyPatch) -> None:
    for text, expected in [
        ("1000", 1000),
        ("1GB", 10**9),
        ("1.5 gb", 1_500_000_000),
        ("2GiB", 2 * 1024**3),
        ("500MB", 500_000_000),
        ("64kib", 65536),
    ]:
        monkeypatch.setenv("CYCLEBOOK_MAX_EXPORT_BYTES", text)
        assert settings.size_bytes("CYCLEBOOK_MAX_EXPORT_BYTES", 7) == expected, text
    monkeypatch.setenv("CYCLEBOOK_MAX_EXPORT_BYTES", "  ")
    assert settings.size_bytes("CYCLEBOOK_MAX_EXPORT_BYTES", 7) == 7


def test_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CYCLEBOOK_LOCK_TIMEOUT", "2.5")
    assert settings.seconds("CYCLEBOOK_LOCK_TIMEOUT", 600) == 2.5
    monkeypatch.setenv("CYCLEBOOK_LOCK_TIMEOUT", "0")
    assert settings.seconds("CYCLEBOOK_LOCK_TIMEOUT", 600) == 0
    for bad in ("inf", "ten", "-0.5"):
        monkeypatch.setenv("CYCLEBOOK_LOCK_TIMEOUT", bad)
        with pytest.raises(SettingError):
            settings.seconds("CYCLEBOOK_LOCK_TIMEOUT", 600)


def test_importing_the_store_reads_no_setting() -> None:
    """The store module is imported by every report's kernel: a mistyped setting made
    that import fail (ValueError), so every report failed with a traceback."""
    env = {"CYCLEBOOK_LOCK_TIMEOUT": "10m", "CYCLEBOOK_OTHER_PROGRAM_WAIT": "soon"}
    done = subprocess.run(
        [sys.executable, "-c", "import cyclebook.store, cyclebook.sync"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
