from __future__ import annotations

import textwrap
from pathlib import Path

import pytest


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def demo_copy(demo_config: Path) -> Path:
    """The committed demo cohort's configuration (no exports) in a temporary folder."""
    return demo_config
