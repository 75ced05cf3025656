"""Start ``cyclebook`` as a real process and stop it hard, the way a facilitator's
laptop does (lid closed, terminal killed): SIGKILL to its whole process group.

Only processes this test started are ever signalled, by their ids.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil

from .reportset import cyclebook_cmd


def start(
    *args: str, command: list[str] | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """The run as a terminal starts it. A shell that runs the test suite in the background
    ignores SIGINT, and a child inherits an ignored signal (a handled one is reset to the
    default): the run would never see the Ctrl-C the tests send. So the suite's own
    SIGINT is a handled one while the child starts. ``command``: what runs instead of
    ``cyclebook`` (given ``args``)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(
            [*(command or cyclebook_cmd()), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, killed as one
        )
    finally:
        signal.signal(signal.SIGINT, previous)


def kill_hard(proc: subprocess.Popen, grace: float = 15.0) -> list[str]:
    """SIGKILL the run's process group. Returns the processes that outlived it (kernels
    start in sessions of their own) after ``grace`` seconds; those are then killed too."""
    descendants: list[psutil.Process] = []
    try:
        os.killpg(proc.pid, signal.SIGSTOP)  # freeze it: nothing new starts while we look
        descendants = psutil.Process(proc.pid).children(recursive=True)
    except (ProcessLookupError, psutil.NoSuchProcess):
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    # not communicate(): a survivor in its own session may still hold the output pipes
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
    deadline = time.monotonic() + grace
    alive = [p for p in descendants if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    while alive and time.monotonic() < deadline:
        time.sleep(0.25)
        alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    survivors = []
    for p in alive:
        try:
            survivors.append(" ".join(p.cmdline())[:120])
            p.kill()
        except psutil.NoSuchProcess:
            pass
    return survivors


def incomplete_files(root: Path) -> list[str]:
    """Reports, manifests, indexes and notebooks that are not whole."""
    import nbformat

    problems = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or is_leftover(path):
            continue
        try:
            if path.suffix == ".html":
                text = path.read_text(encoding="utf-8")
                if not text.rstrip().endswith("</html>"):
                    problems.append(f"{path}: HTML does not end with </html> ({len(text)} chars)")
            elif path.suffix == ".json":
                json.loads(path.read_text(encoding="utf-8"))
            elif path.suffix == ".ipynb":
                nbformat.read(str(path), as_version=4)
        except Exception as exc:
            problems.append(f"{path}: {type(exc).__name__}: {str(exc)[:200]}")
    return problems


def is_leftover(path: Path) -> bool:
    name = path.name
    return ".partial" in name or name.endswith(".tmp") or name.endswith(".part")


def leftovers(root: Path) -> list[str]:
    return [str(p) for p in sorted(root.rglob("*")) if p.is_file() and is_leftover(p)]


def store_problem(root: Path) -> str | None:
    """None when the store is absent or opens and answers; else what went wrong."""
    import duckdb

    store = root / "store.duckdb"
    if not store.exists():
        return None
    try:
        con = duckdb.connect(str(store), read_only=True)
        try:
            con.execute("select count(*) from information_schema.tables").fetchone()
            for (table,) in con.execute(
                "select table_name from information_schema.tables where table_schema='main'"
            ).fetchall():
                con.execute(f'select count(*) from "{table}"').fetchone()
        finally:
            con.close()
    except Exception as exc:
        return f"{store}: {type(exc).__name__}: {str(exc)[:300]}"
    return None
