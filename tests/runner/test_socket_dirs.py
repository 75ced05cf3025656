"""Kernel socket folders left by killed workers are removed by the next run."""

from __future__ import annotations

import os
import subprocess
import sys

from cyclebook.kernel import SOCKET_DIR_PREFIX, sweep_socket_dirs


def test_only_the_folders_of_dead_owners_are_removed(tmp_path):
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = int(finished.stdout)  # a process that has exited
    names = {
        "dead": f"{SOCKET_DIR_PREFIX}{dead}-abc",
        "alive": f"{SOCKET_DIR_PREFIX}{os.getpid()}-def",
        "old_style": f"{SOCKET_DIR_PREFIX}x1y2z3",
        "other": "someone-elses-dir",
    }
    for name in names.values():
        (tmp_path / name).mkdir()
        (tmp_path / name / "kernel-1").write_text("")
    assert sweep_socket_dirs(str(tmp_path)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [names["alive"], names["old_style"], names["other"]]
    )
