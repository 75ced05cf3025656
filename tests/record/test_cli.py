from __future__ import annotations

from pathlib import Path

import pytest

from cyclebook.cli import main
from cyclebook.config import load_cycle


def test_next_cycle_command(cohort: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["next-cycle", str(cohort), "2026-c2", "2026-c3", "--start", "2026-11-02"]) == 0
    assert "started 2026-c3" in capsys.readouterr().out
    card = load_cycle(cohort, "2026-c3")
    assert str(card.start) == "2026-11-02" and card.previous == "2026-c2"
    # a second time is refused with a fix, not a traceback
    assert main(["next-cycle", str(cohort), "2026-c2", "2026-c3"]) != 0
    err = capsys.readouterr().err
    assert "already exists" in err and "Fix:" in err


def test_next_cycle_bad_date(cohort: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["next-cycle", str(cohort), "2026-c2", "2026-c3", "--start", "next monday"])
    assert "YYYY-MM-DD" in capsys.readouterr().err
    assert not (cohort / "2026-c3").exists()
