"""Warm kernels: kernel processes forked from a process that has already imported what
the notebooks import.

Starting an IPython kernel the usual way starts a new Python, imports ipykernel, and
then the notebook's first cells import pandas, DuckDB, ibis and cyclebook: about 1.5 s
plus 2-4 s of imports for *every* report. A run instead starts one *zygote* process
that imports ipykernel and the modules the run's notebooks import (found by reading
their ``import`` statements), then waits. Each kernel is a ``fork()`` of the zygote
that becomes an ordinary ipykernel on the connection file jupyter_client wrote: a new
process with an empty namespace (nothing of one report reaches another), started in
tens of milliseconds with its imports already done.

* The zygote is single-threaded Python when it forks (native library threads such as
  OpenBLAS's and jemalloc's handle fork themselves), it never creates an IPython shell,
  and each child resets signals, stdio, working directory and environment to what
  jupyter_client asked for before creating its kernel.
* Modules that configure themselves for IPython when imported (ipywidgets' comm
  target, matplotlib's inline backend) are configured again in the child once its
  kernel exists.
* Kernels are killed by pid like any other (each is its own process group); the zygote
  reaps them. If the zygote is missing or refuses, jupyter_client starts the kernel the
  usual way. ``CYCLEBOOK_WARM_KERNELS=0`` turns warm kernels off.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ENV_SWITCH = "CYCLEBOOK_WARM_KERNELS"
PARENT_ENV = "CYCLEBOOK_ZYGOTE_PARENT"
# Imported first in the zygote: what every kernel needs, including what ipykernel imports
# while it initializes (its debugger alone, with debugpy, is 0.2 s).
BASE_PRELOAD = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.debugger",
    "IPython",
    "IPython.core.completerlib",
    "IPython.core.debugger",
    "IPython.core.oinspect",
    "IPython.utils.wildcard",
    "sqlite3",
    "tornado.gen",
    "tornado.locks",
    "tornado.queues",
    "pydoc",
)
# Never imported before a kernel exists (their import alone changes global state).
NEVER_PRELOAD = ("tqdm.auto", "tqdm.notebook")
# Imported by the first use of a preloaded package, not by its import (found by comparing
# sys.modules before and after each phase's cells): warmed when the package is preloaded.
FIRST_USE = {
    "pyarrow": ("pyarrow.dataset", "pyarrow.pandas_compat"),
    "pandas": ("pandas.io.formats.string", "pandas.io.formats.csvs", "pandas.core.methods.to_dict"),
    "ibis": (
        "ibis.backends.duckdb",
        "ibis.backends.duckdb.converter",
        "ibis.formats.pandas",
        "ibis.formats.pyarrow",
    ),
    "matplotlib": ("matplotlib.backends.backend_agg", "PIL.PngImagePlugin"),
    "cyclebook.metrics": ("cyclebook.metrics.followup", "cyclebook.rollup"),
    # every report reads its cohort's YAML files, decoded as "utf-8-sig"
    "cyclebook.config": ("encodings.utf_8_sig",),
}


def enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in {"0", "false", "no", "off"}


def notebook_imports(paths: Iterable[str | Path]) -> list[str]:
    """Modules imported by the notebooks' code cells, in first-seen order."""
    import nbformat

    found: dict[str, None] = {}
    for path in paths:
        with contextlib.suppress(Exception):
            nb = nbformat.read(str(path), as_version=4)
            for cell in nb.cells:
                if cell.cell_type != "code":
                    continue
                try:
                    tree = ast.parse(cell.source)
                except SyntaxError:
                    continue
                for node in ast.walk(tree):
                    if isinstance(node, ast.Import):
                        for alias in node.names:
                            found[alias.name] = None
                    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                        found[node.module] = None
                        for alias in node.names:  # from pkg import module
                            found[f"{node.module}.{alias.name}"] = None
    return [name for name in found if not name.startswith(NEVER_PRELOAD)]


# --------------------------------------------------------------------------- parent side


class Zygote:
    """The zygote process of one run (started by the runner, used by the workers)."""

    def __init__(self, preload: Iterable[str]) -> None:
        self.folder = tempfile.mkdtemp(prefix="cyclebook-zygote-")
        self.address = os.path.join(self.folder, "socket")
        env = dict(os.environ)
        env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        # the zygote compares its parent with this pid: a runner killed before the zygote
        # reached serve() must not leave it waiting forever under init
        env[PARENT_ENV] = str(os.getpid())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cyclebook.zygote", self.address, *preload],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # a Ctrl-C in the terminal is the runner's to handle
        )

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)


# --------------------------------------------------------------------------- worker side

_address: str | None = None


def use(address: str | None) -> None:
    """Called in each worker: where the run's zygote listens (None: no warm kernels)."""
    global _address
    _address = address


def address() -> str | None:
    return _address if enabled() else None


class ForkedKernel:
    """A ``subprocess.Popen`` look-alike for a kernel forked by the zygote."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.stdin = self.stdout = self.stderr = None
        self._killed = False
        self._fd: int | None = None
        with contextlib.suppress(OSError, AttributeError):
            self._fd = os.pidfd_open(pid)

    def _gone(self, timeout: float = 0.0) -> bool:
        if self.returncode is not None:
            return True
        if self._fd is not None:
            import select

            readable, _, _ = select.select([self._fd], [], [], timeout)
            dead = bool(readable)
        else:
            try:
                os.kill(self.pid, 0)
                dead = False
            except ProcessLookupError:
                dead = True
        if dead:
            self.returncode = -signal.SIGKILL  # the zygote reaps it; the code is not known
            self.close()
        return dead

    def poll(self) -> int | None:
        # After SIGKILL the end is a matter of milliseconds: wait for it here rather than
        # in jupyter_client's 0.1 s polling loop.
        return self.returncode if self._gone(0.5 if self._killed else 0.0) else None

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._gone(0.05):
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.returncode is not None:
            return
        try:
            os.killpg(self.pid, signum)  # the kernel and anything it started
        except ProcessLookupError:
            return
        except OSError:
            os.kill(self.pid, signum)
        self._killed = self._killed or signum == signal.SIGKILL

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def spawn(cmd: list[str], env: dict[str, str] | None, cwd: str | None) -> ForkedKernel | None:
    """Ask the zygote for a kernel running ``cmd``; None when it cannot (then start the
    kernel the usual way)."""
    where = address()
    if where is None or not _is_ipykernel(cmd):
        return None
    env = dict(env or os.environ)
    env["JPY_PARENT_PID"] = str(os.getpid())  # what jupyter_client's launcher would set
    request = {"argv": cmd[2:], "env": env, "cwd": str(cwd or os.getcwd())}
    request["argv"][0] = "ipykernel_launcher"
    deadline = time.monotonic() + 10  # the zygote may not be listening yet
    while not os.path.exists(where) and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(120)  # the zygote may still be importing
            conn.connect(where)
            conn.sendall(json.dumps(request).encode() + b"\n")
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = conn.recv(4096)
                if not chunk:
                    break
                reply += chunk
        pid = int(json.loads(reply)["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return ForkedKernel(pid)


def _is_ipykernel(cmd: list[str]) -> bool:
    return (
        len(cmd) >= 3
        and os.path.realpath(cmd[0]) == os.path.realpath(sys.executable)
        and cmd[1] == "-m"
        and cmd[2] == "ipykernel_launcher"
    )


# --------------------------------------------------------------------------- zygote side


def _become_kernel(request: dict[str, Any], listener: socket.socket) -> None:
    """In the forked child: turn into the kernel jupyter_client asked for."""
    try:
        listener.close()
        os.setsid()
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(2, 1)  # low-level output goes where a kernel's would: the terminal
        os.close(devnull)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = list(request["argv"])
        if "numpy" in sys.modules:  # a fork copies the random state; reseed like a new process
            sys.modules["numpy"].random.seed()
        from ipykernel.kernelapp import IPKernelApp

        app = IPKernelApp.instance()
        # trait defaults read the environment when ipykernel was imported (in the zygote)
        app.parent_handle = int(os.environ.get("JPY_PARENT_PID") or 0)
        app.initialize(sys.argv[1:])
        _configure_for_ipython()
        app.start()
    except BaseException:  # noqa: BLE001 - a child must never return into the zygote loop
        import traceback

        traceback.print_exc()
        os._exit(1)
    os._exit(0)


def _configure_for_ipython() -> None:
    """Redo what preloaded modules do at import time when IPython is running."""
    widgets = sys.modules.get("ipywidgets")
    if widgets is not None:
        with contextlib.suppress(Exception):
            widgets._handle_ipython()
    inline = sys.modules.get("matplotlib_inline.backend_inline")
    if inline is not None:
        with contextlib.suppress(Exception):
            inline._enable_matplotlib_integration()


def _warm() -> None:
    """Warm what the first use in every kernel would otherwise pay again: the modules a
    preloaded package imports on first use (:data:`FIRST_USE`), the digest of the metric
    code, ibis's SQL compiler (dispatch tables, sqlglot's dialect; about 0.15 s per
    kernel that computes metrics) and its DuckDB backend, DuckDB's process-wide set-up
    and a first query on the instance the kernels inherit, and a first read of a cohort
    (:func:`cyclebook.config.warm_up`). A forked kernel pays a page fault for each page
    it writes first (its copy of the zygote's, or a new zeroed one); what runs here
    once is not run again, and its pages are not written again, in every kernel.
    No connection stays open and no thread runs when the forks begin."""
    import importlib

    for package, modules in FIRST_USE.items():
        if package in sys.modules:
            for name in modules:
                with contextlib.suppress(Exception):
                    importlib.import_module(name)
    store = sys.modules.get("cyclebook.store")
    shared = False
    if store is not None:
        # the DuckDB instance every kernel's store connections use, made once here,
        # without threads, and copied into each kernel by the fork (see
        # store.prepare_for_fork): 20-30 ms less in every kernel; and the one a sync
        # parses exports in, its macros and staging tables made (~25 ms less a sync)
        stage = sys.modules.get("cyclebook.sync.stage")
        with contextlib.suppress(Exception):
            shared = store.prepare_for_fork(stage.STAGE_SETUP if stage is not None else "")
    if "duckdb" in sys.modules and not shared:
        # A first DuckDB instance in a process costs ~29 ms, later ones ~11-16 ms: the
        # difference is set-up DuckDB keeps for the process. Opened and closed here, its
        # worker threads are joined before any fork; each kernel opens its own instance.
        with contextlib.suppress(Exception):
            import duckdb

            duckdb.connect().close()
    if shared and "pandas" in sys.modules:
        # the metrics engine's results, read as Arrow and converted to pandas (without
        # Arrow's thread pool here: no thread may run at the fork)
        with contextlib.suppress(Exception), store.session() as con:
            con.sql(store._WARM_QUERY).to_arrow_table().to_pandas(use_threads=False)
    config = sys.modules.get("cyclebook.config")
    if config is not None:
        with contextlib.suppress(Exception):
            config.warm_up()  # the first read of a cohort (YAML, the models' checks)
    engine = sys.modules.get("cyclebook.metrics.engine")
    if engine is not None:
        with contextlib.suppress(Exception):
            engine._code_digest()  # the run's code does not change while it runs
        with contextlib.suppress(Exception):
            engine.warm_types()
    if "ibis" not in sys.modules:
        return
    with contextlib.suppress(Exception):
        import ibis

        a = ibis.table(
            {
                "org_id": "string",
                "person_id": "string",
                "type": "string",
                "occurred_at": "timestamp('UTC')",
                "amount": "float64",
                "attended": "boolean",
            },
            name="activity",
        )
        p = ibis.table(
            {"org_id": "string", "person_id": "string", "first_seen_at": "timestamp('UTC')"},
            name="person",
        )
        w = ibis.window(group_by=a.person_id, order_by=a.occurred_at)
        e = (
            a.filter(a.org_id == "x", a.occurred_at < ibis.timestamp("2026-01-01T00:00:00Z"))
            .mutate(rn=ibis.row_number().over(w), n=a.amount.sum().over(w))
            .join(p, ["org_id", "person_id"])
            .group_by(["type", a.occurred_at.truncate("W").name("week")])
            .aggregate(
                n=lambda t: t.person_id.nunique(),
                s=lambda t: t.amount.sum(),
                c=lambda t: t.attended.ifelse(1, 0).sum(),
            )
        )
        ibis.to_sql(e.union(e).order_by("week").limit(10), dialect="duckdb")
        # the backend's module attribute: found through the installed packages' entry
        # points on first access (~6 ms), then kept on the module
        _ = ibis.duckdb


def _gone(where: str) -> None:
    """The runner died without closing us (SIGKILL): remove our socket folder and exit."""
    import shutil

    gc.unfreeze()  # a normal exit: let finalizers see every object (nanobind counts them)
    shutil.rmtree(os.path.dirname(where), ignore_errors=True)


def serve(where: str, preload: list[str]) -> None:
    import importlib

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped as they exit
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # debugpy checks, when imported, whether Python runs with frozen modules; the kernels
    # never run the debugger in a batch run, so the check's warning is noise here.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    # Listen first: requests wait in the backlog while the imports run.
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(where)
    listener.listen(64)
    parent = int(os.environ.pop(PARENT_ENV, "0") or 0) or os.getppid()
    for name in [*BASE_PRELOAD, *preload]:
        if os.getppid() != parent:  # the runner was killed while we imported: go too
            return _gone(where)
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    _warm()
    # What the kernels inherit is long-lived: out of the garbage collector's sight. The
    # heap holds pandas, ibis and IPython (millions of objects); otherwise the
    # first full collection in every kernel walks all of it (0.1 s and more per report)
    # and touches every page, undoing the fork's sharing.
    gc.collect()
    gc.freeze()
    listener.settimeout(1.0)
    while True:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            if os.getppid() != parent:  # the runner is gone
                return _gone(where)
            continue
        with conn:
            conn.settimeout(30)
            data = b""
            try:
                while not data.endswith(b"\n"):
                    chunk = conn.recv(1 << 16)
                    if not chunk:
                        break
                    data += chunk
                request = json.loads(data)
            except (OSError, ValueError):
                continue
            pid = os.fork()
            if pid == 0:
                conn.close()
                _become_kernel(request, listener)
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2:])
