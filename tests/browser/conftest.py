from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from robustness.reportset import ReportSet, build

from .chromium import CHROMIUM_ARGS, chromium_path


@pytest.fixture(scope="session")
def reportset(tmp_path_factory: pytest.TempPathFactory) -> ReportSet:
    return build(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def browser_context() -> Iterator[object]:
    """Headless Debian Chromium with a fresh profile. Missing browser = failure, not skip."""
    executable = chromium_path()
    if executable is None:
        wanted = os.environ.get("CYCLEBOOK_CHROMIUM") or "/usr/bin/chromium"
        pytest.fail(
            f"Chromium is missing (looked for {wanted}): the browser tests cannot "
            "run. Fix: bash scripts/install-test-deps.sh (installs Debian's chromium).",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - dev extra missing
        pytest.fail(
            f"playwright is not installed ({exc}). Fix: .venv/bin/pip install -e '.[dev]' "
            "(never `playwright install`: the tests use Debian's chromium).",
            pytrace=False,
        )
    profile = Path(tempfile.mkdtemp(prefix="cyclebook-chromium-"))
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(profile),
                executable_path=executable,
                headless=True,
                args=CHROMIUM_ARGS,
                offline=False,
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
