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
