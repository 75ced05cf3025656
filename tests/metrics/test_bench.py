"""The benchmark script runs at a small size and its two ladders agree."""

from __future__ import annotations

import importlib.util

from cyclebook.paths import repo_root


def test_benchmark_small(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        "bench_metrics", repo_root() / "benchmarks" / "bench_metrics.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    code = bench.main(
        [
            "--people",
            "3000",
            "--activities",
            "30000",
            "--attempts",
            "3000",
            "--events",
            "200",
            "--repeat",
            "1",
            "--store",
            str(tmp_path / "bench.duckdb"),
        ]
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert "ladder results identical: True" in out
    assert out[-1].startswith("RESULT metrics ratio=") and "peak_mb=" in out[-1]
