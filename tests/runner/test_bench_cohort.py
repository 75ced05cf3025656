"""The cohort benchmark: its arithmetic by hand, and a run at a small size."""

from __future__ import annotations

import re

import pytest


def test_cells_budget_by_hand(benchmark_script):
    bench = benchmark_script("bench_cohort")
    manifest = {
        "jobs": [
            {"timings": {"cells": 1.0, "guard": 0.5}},
            {"timings": {"cells": 2.0}},
            {"timings": {"cells": 3.0}},
            {"timings": None},  # a cached job carries no timings
        ]
    }
    # cells 6 job-s; without them 10 - 6/2 = 7 s = 0.875x a floor of 8 s; 1.5x the floor
    # is 12 s, leaving (12 - 7) * 2 = 10 job-s, 2,500 ms for each of the 4 reports
    line = bench.cells_budget(manifest, full=10.0, floor=8.0, workers=2)
    assert "6.0 job-seconds in the kernels" in line
    assert "would take 7.0 s (0.88x the floor)" in line
    assert "leaves them 10.0 job-seconds (2500 ms a report)" in line
    # a run already above 1.5x without its cells leaves the cells nothing
    line = bench.cells_budget(manifest, full=20.0, floor=8.0, workers=2)
    assert "leaves them 0.0 job-seconds (0 ms a report)" in line


@pytest.mark.e2e
def test_cohort_benchmark_small(capsys, benchmark_script):
    bench = benchmark_script("bench_cohort")
    assert bench.main(["--orgs", "2", "--no-naive", "--live"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    # 2 organizations: sync, 3 shares, reflect and improve each, and 2 cohort summaries
    full = next(line for line in out if line.startswith("full run:"))
    assert "cyclebook: 14 report(s) in " in full and full.endswith(": 14 ok")
    rerun = next(line for line in out if line.startswith("unchanged rerun:"))
    assert "14 cached" in rerun
    floor = next(line for line in out if line.startswith("floor:"))
    assert "14 ok" in floor
    assert any(line.startswith("(context) the cells took ") for line in out)
    assert any(line.startswith("(context) the cells alone, ") for line in out)
    assert re.fullmatch(r"RESULT cohort speedup=n/a floor_ratio=\d+\.\d\d", out[-2])
    assert re.fullmatch(r"RESULT incremental ratio=\d\.\d{4}", out[-1])
