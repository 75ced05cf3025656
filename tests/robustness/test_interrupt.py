"""Interruptions: a run killed at any moment leaves nothing half-written, and the next
run completes; two runs on one cohort at once: the second is refused with a message."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cyclebook.paths import CohortPaths

from .procs import incomplete_files, kill_hard, leftovers, start, store_problem
from .reportset import write_small

pytestmark = pytest.mark.e2e

# When each kill comes, as (reports this run has written, then seconds more): at
# interpreter start-up and planning, then right after a report was written and a little
# later (inside the next notebook's cells, its render or the store's writes). Counted in
# reports, not seconds from the start, so every kill lands while the run still has work
# left however fast the machine (a run of the small cohort takes about 6 s: kills at
# fixed seconds mostly found it finished).
KILL_AT = ((0, 0.4), (0, 1.5), (1, 0.0), (1, 0.3), (2, 0.1), (1, 0.6), (3, 0.0), (2, 0.2))


def _wait_for_reports(root: Path, proc, since_ns: int, count: int, timeout: float = 300) -> None:
    """Until ``count`` reports written after ``since_ns`` exist, or the run ends."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        written = [
            p for p in root.glob("*/output/reports/*/*.html") if p.stat().st_mtime_ns >= since_ns
        ]
        if len(written) >= count:
            return
        time.sleep(0.01)


def _run_args(root: Path, cycle: str) -> list[str]:
    return ["run", str(root), "--cycle", cycle, "--workers", "2"]


def test_killed_at_any_moment_then_the_next_run_completes(tmp_path: Path) -> None:
    root = tmp_path / "cohort"
    cycle = write_small(root)
    paths = CohortPaths.of(root)
    problems: list[str] = []
    killed_while_running = 0
    for reports, delay in KILL_AT:
        started_ns = time.time_ns()
        proc = start(*_run_args(root, cycle))
        _wait_for_reports(root, proc, started_ns, reports)
        time.sleep(delay)
        if proc.poll() is not None:
            out, err = proc.communicate()
            assert proc.returncode == 0, f"run ended by itself with {proc.returncode}: {err}"
            continue
        killed_while_running += 1
        moment = f"{reports} report(s) + {delay} s"
        survivors = kill_hard(proc)
        if survivors:
            problems.append(f"after a kill at {moment}, still running: {survivors}")
        problems += [f"after a kill at {moment}: {p}" for p in incomplete_files(root)]
        broken = store_problem(root)
        if broken:
            problems.append(f"after a kill at {moment} the store does not open: {broken}")
    assert killed_while_running >= 6, "the run was too fast to be interrupted"

    proc = start(*_run_args(root, cycle))
    out, err = proc.communicate(timeout=1200)
    assert proc.returncode == 0, (
        f"the run after the kills failed ({proc.returncode}):\n{out}\n{err}"
    )
    assert not problems, "\n".join(problems)
    assert not leftovers(root), leftovers(root)
    assert not incomplete_files(root)
    assert store_problem(root) is None

    manifest = json.loads(paths.manifest(cycle).read_text())
    assert manifest["jobs"], manifest
    done = {"ok", "cached"}  # cached: an incremental run reused a finished report
    for job in manifest["jobs"]:
        assert job["status"] in done, job
        html = Path(job["output_html"])
        assert html.exists() and html.read_text().rstrip().endswith("</html>"), html
    reports = sorted((paths.output(cycle) / "reports").rglob("*.html"))
    assert len(reports) == len(manifest["jobs"])
    index = paths.index(cycle).read_text()
    assert sum(index.count(f'class="{status}"') for status in done) == len(manifest["jobs"])


def test_second_run_at_once_is_refused_with_a_message(tmp_path: Path) -> None:
    root = tmp_path / "cohort"
    cycle = write_small(root)
    lock = CohortPaths.of(root).lock
    first = start(*_run_args(root, cycle))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if lock.exists() and f"pid {first.pid} " in lock.read_text():
                break
            assert first.poll() is None, first.communicate()
            time.sleep(0.05)
        else:
            pytest.fail("the first run never took the cohort's lock")
        started = time.monotonic()
        second = start(*_run_args(root, cycle), "--phase", "sync")
        out, err = second.communicate(timeout=120)
        assert first.poll() is None, "the first run ended before the second was checked"
        assert second.returncode == 2, (second.returncode, out, err)
        assert "another cyclebook run is using this cohort" in err, err
        assert "Fix: wait for it to finish" in err, err
        assert "Traceback" not in err
        assert time.monotonic() - started < 60
        out, err = first.communicate(timeout=1200)
        assert first.returncode == 0, (out, err)
    finally:
        if first.poll() is None:
            kill_hard(first)
    assert not leftovers(root)
    assert not incomplete_files(root)
    # the lock goes with its holder: a third run is not refused
    third = start(*_run_args(root, cycle), "--phase", "share", "--audience", "organization")
    out, err = third.communicate(timeout=600)
    assert third.returncode == 0, (out, err)


def test_ctrl_c_stops_cleanly_and_the_next_run_completes(tmp_path: Path) -> None:
    """Ctrl-C in a terminal: SIGINT to the run's whole process group. The run stops with
    exit code 130 and a message; what it finished is whole; the next run completes."""
    import os
    import signal

    root = tmp_path / "cohort"
    cycle = write_small(root)
    started_ns = time.time_ns()
    proc = start(*_run_args(root, cycle))
    try:
        # Ctrl-C as soon as the first report is written (not after a fixed time: the run
        # got fast enough to finish within one): the run is mid-way, with work done and
        # work left
        _wait_for_reports(root, proc, started_ns, 1)
        assert proc.poll() is not None or any(root.glob("*/output/reports/*/*.html")), (
            "no report after 300 s"
        )
        assert proc.poll() is None, "the run ended before Ctrl-C"
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            kill_hard(proc)
    assert proc.returncode == 130, (proc.returncode, out, err)
    assert "interrupted" in err and "Traceback" not in err, err
    assert not incomplete_files(root)
    assert store_problem(root) is None
    proc = start(*_run_args(root, cycle))
    out, err = proc.communicate(timeout=1200)
    assert proc.returncode == 0, f"the run after Ctrl-C failed:\n{out}\n{err}"
    assert not leftovers(root), leftovers(root)


def test_warm_kernel_zygote_goes_when_its_runner_is_killed(tmp_path: Path) -> None:
    """A runner killed right after starting its zygote (before the zygote's first look at
    its parent) must not leave the zygote running under init."""
    import subprocess
    import sys

    import psutil

    script = tmp_path / "runner.py"
    script.write_text(
        "import os\n"
        "from cyclebook.zygote import Zygote\n"
        "z = Zygote(['cyclebook.phases'])\n"
        "print(z.process.pid, flush=True)\n"
        "os._exit(0)\n"
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True
    )
    zygote = psutil.Process(int(out.stdout.split()[0]))
    try:
        zygote.wait(timeout=30)
    except psutil.TimeoutExpired:
        zygote.kill()
        pytest.fail("the zygote outlived its runner by 30 s")


def test_ctrl_c_after_the_work_is_done_keeps_the_exit_status(tmp_path: Path) -> None:
    """A Ctrl-C that arrives after the command's work is over (while the interpreter
    shuts down) changes nothing: the command's own exit status, no KeyboardInterrupt
    traceback."""
    import subprocess
    import sys

    script = (
        "import atexit, os, signal\n"
        "import cyclebook.cli as cli\n"
        "cli.main = lambda: 3\n"  # the work: done, with status 3
        # what a late Ctrl-C looks like: SIGINT during interpreter shutdown
        "atexit.register(lambda: os.kill(os.getpid(), signal.SIGINT))\n"
        "cli.entry()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3, (done.returncode, done.stderr)
    assert "KeyboardInterrupt" not in done.stderr


def test_a_ctrl_c_inside_a_duckdb_query_is_an_interruption(monkeypatch, capsys) -> None:
    """DuckDB turns a Ctrl-C during a query into an exception of its own: the command
    ended in its traceback with exit 1, and a sync recorded it as a failed sync."""
    import duckdb

    from cyclebook import cli

    def stopped(args):
        raise duckdb.InterruptException("Query interrupted")

    for command in ("run", "sync"):
        monkeypatch.setattr(cli, f"cmd_{command}", stopped)
        assert cli.main([command, "cohort"]) == 130
        assert "cyclebook: interrupted; " in capsys.readouterr().err


def test_one_organizations_unexpected_error_does_not_stop_the_cohorts_sync(
    tmp_path: Path, monkeypatch
) -> None:
    from cyclebook import sync

    root = tmp_path / "c"
    root.mkdir()
    (root / "cohort.yml").write_text(
        "id: c\nname: C\norganizations:\n"
        "  - {id: a, name: A, sources: [{kind: action_network_csv, path: an}]}\n"
        "  - {id: b, name: B, sources: [{kind: action_network_csv, path: an}]}\n"
    )
    seen = []

    def sync_org(cohort_dir, org, **kwargs):
        seen.append(org.id)
        if org.id == "a":
            raise FileNotFoundError("orgs/a/exports/an/activists.csv")  # deleted meanwhile
        return sync.SyncResult(org.id, "ok")

    monkeypatch.setattr(sync, "sync_org", sync_org)
    results = sync.sync_cohort(root)
    assert seen == ["a", "b"]
    assert results["a"].status == "failed" and "FileNotFoundError" in results["a"].error
    assert results["b"].status == "ok"


def test_workers_go_when_their_runner_is_killed(tmp_path: Path) -> None:
    """A worker's parent is the fork server, not the runner: killed outright, the runner
    left its workers (and the fork server) waiting for work for good."""
    import subprocess
    import sys

    import psutil

    script = tmp_path / "runner.py"
    script.write_text(
        "import os\n"
        "from cyclebook import runner\n"
        "if __name__ == '__main__':\n"
        "    pool = runner._pool(2)\n"
        "    pids = [pool.submit(os.getpid).result(timeout=60) for _ in range(4)]\n"
        "    print(*sorted(set(pids)), flush=True)\n"
        "    os._exit(0)  # as if killed: no shutdown of the pool\n"
    )
    printed = tmp_path / "pids.txt"
    with open(printed, "w") as handle:  # (a pipe would stay open as long as any child)
        subprocess.run([sys.executable, str(script)], stdout=handle, timeout=120, check=True)
    workers = [psutil.Process(int(pid)) for pid in printed.read_text().split()]
    assert workers
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except psutil.TimeoutExpired:
            worker.kill()
            pytest.fail("a worker outlived its runner by 30 s")


def _fork_server(run_pid: int):
    """The run's fork server (a child of the runner), or None."""
    import psutil

    try:
        children = psutil.Process(run_pid).children()
    except psutil.NoSuchProcess:
        return None
    for child in children:
        try:
            if "multiprocessing.forkserver" in " ".join(child.cmdline()):
                return child
        except psutil.NoSuchProcess:
            continue
    return None


def _moment_came(server, moment: str) -> bool:
    import psutil

    try:
        if moment == "runner starting the fork server":
            # the runner is held 3 s inside the fork server's start (SLOW_FORK_SERVER_START)
            return time.time() - server.create_time() > 0.5
        if moment == "fork server importing":
            # past its first instants (the runner starts it with Ctrl-C ignored), and
            # importing a module that takes seconds (see SLOW_PRELOAD)
            return time.time() - server.create_time() > 0.5
        return bool(server.children())
    except psutil.NoSuchProcess:
        return False


# The `cyclebook` command, its fork server importing one more module, which takes 3 s
# (as cold imports from a slow disk do): a Ctrl-C then comes while the fork server
# imports, and while the runner waits for it to fork the first worker.
SLOW_PRELOAD = (
    "import sys\n"
    "from cyclebook import runner\n"
    "runner.WORKER_PRELOAD.insert(0, 'slow_preload_for_tests')\n"
    "from cyclebook.cli import entry\n"
    "entry()\n"
)


# The `cyclebook` command, its runner held 3 s just after it has started the fork
# server, while Ctrl-C is set aside for it (as a loaded machine can hold it): a Ctrl-C
# there was lost, and the run went on to the end with exit code 0 (seen in CI).
SLOW_FORK_SERVER_START = (
    "import time\n"
    "import multiprocessing.forkserver as forkserver\n"
    "started = forkserver.ForkServer.ensure_running\n"
    "def held(self):\n"
    "    running = self._forkserver_pid is not None\n"
    "    started(self)\n"
    "    if not running:\n"
    "        time.sleep(3)\n"
    "forkserver.ForkServer.ensure_running = held\n"
    "from cyclebook.cli import entry\n"
    "entry()\n"
)


def _in_group(pgid: int) -> list[str]:
    """Processes still in the run's process group (the fork server, its workers)."""
    import os

    import psutil

    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if process.pid != pgid and os.getpgid(process.pid) == pgid:
                found.append(" ".join(process.info["cmdline"] or [])[:120])
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return found


@pytest.mark.parametrize(
    "moment", ["fork server importing", "runner starting the fork server", "first worker forked"]
)
def test_ctrl_c_while_the_workers_start_ends_with_a_message(tmp_path: Path, moment: str) -> None:
    """Ctrl-C while the fork server imported its modules killed it with a
    KeyboardInterrupt traceback; one while it forked the workers left a worker the pool
    did not know of: the command never ended (the worker and the fork server kept its
    output open), or a worker failed on the pool's removed semaphores (a SemLock
    FileNotFoundError traceback). Each moment is found by what the run's processes are
    doing, not by time. The run ends with exit code 130 and one line: what finished,
    what did not, and the command to finish."""
    import os
    import signal
    import sys

    root = tmp_path / "cohort"
    cycle = write_small(root)
    command, env = None, None
    if moment == "runner starting the fork server":
        command = [sys.executable, "-c", SLOW_FORK_SERVER_START]
    if moment == "fork server importing":
        modules = tmp_path / "modules"
        modules.mkdir()
        (modules / "slow_preload_for_tests.py").write_text("import time\ntime.sleep(3)\n")
        command = [sys.executable, "-c", SLOW_PRELOAD]
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(modules), os.environ.get("PYTHONPATH")])
            ),
        }
    proc = start(*_run_args(root, cycle), command=command, env=env)
    try:
        deadline = time.monotonic() + 300
        server = None
        while time.monotonic() < deadline and proc.poll() is None:
            server = server or _fork_server(proc.pid)
            if server is not None and _moment_came(server, moment):
                break
            time.sleep(0.002)
        assert proc.poll() is None, "the run ended before Ctrl-C"
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            kill_hard(proc)
    assert proc.returncode == 130, (proc.returncode, out, err)
    assert "Traceback" not in err and "Error" not in err, err
    said = [line for line in err.splitlines() if line.startswith("cyclebook: interrupted; ")]
    assert len(said) == 1, err
    assert " of 14 report(s) finished and are kept" in said[0], said
    assert "none is left half-written" in said[0]
    assert said[0].endswith(
        f"Fix: run `cyclebook run {root} --cycle {cycle} --workers 2` again to finish (the "
        "finished reports are reused)."
    ), said
    deadline = time.monotonic() + 15
    while _in_group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _in_group(proc.pid) == [], "left running after the run ended"
    assert not incomplete_files(root)
    assert store_problem(root) is None
