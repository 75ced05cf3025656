"""The top-level ``cyclebook --help``."""

from __future__ import annotations

import argparse

from cyclebook.cli import build_parser


def test_top_level_help_describes_the_commands() -> None:
    """It read "The ``cyclebook`` command." (the module docstring's title, with its
    reStructuredText quotes): it says what cyclebook does and what each command is for."""
    parser = build_parser()
    description = parser.description or ""
    assert "``" not in description and "The ``cyclebook`` command" not in description
    assert description.startswith("Learning-cycle reports for a cohort of organizing groups")
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name in commands:
        assert f'"{name}"' in description, name


class _Interrupted(KeyboardInterrupt):
    def describe(self) -> str:
        return "3 of 5 report(s) finished and are kept"


def _interrupted(monkeypatch, capsys, argv: list[str]) -> tuple[int, str]:
    from cyclebook import cli

    def stopped(args):
        raise _Interrupted

    monkeypatch.setattr(cli, "cmd_run", stopped)
    code = cli.main(argv)
    return code, capsys.readouterr().err


def test_an_interrupted_run_says_the_command_that_finishes_it(monkeypatch, capsys) -> None:
    code, err = _interrupted(monkeypatch, capsys, ["run", "cycles/demo", "--cycle", "2026-c2"])
    assert code == 130
    assert err == (
        "cyclebook: interrupted; 3 of 5 report(s) finished and are kept. Fix: run "
        "`cyclebook run cycles/demo --cycle 2026-c2` again to finish (the finished reports "
        "are reused).\n"
    )


def test_an_interrupted_forced_run_does_not_claim_its_reports_are_reused(
    monkeypatch, capsys
) -> None:
    """`--force` runs every report again: the finished ones of the interrupted run too."""
    code, err = _interrupted(monkeypatch, capsys, ["run", "cycles/demo", "--force"])
    assert code == 130
    assert "reused" not in err
    assert "`cyclebook run cycles/demo --force` again to finish (with --force every report" in err
