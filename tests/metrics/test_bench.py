"""The benchmark script runs at a small size and its two ladders agree."""

from __future__ import annotations


def test_benchmark_small(tmp_path, capsys, benchmark_script):
    bench = benchmark_script("bench_metrics")
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
