"""The guard benchmark runs at a small size and finds every value it plants."""

from __future__ import annotations


def test_guard_benchmark_small(tmp_path, capsys, benchmark_script):
    bench = benchmark_script("bench_guard")
    code = bench.main(["--people", "3000", "--repeat", "1", "--store", str(tmp_path / "s.duckdb")])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert "people read by the prefilter for an ordinary report: 0" in out
    assert "every planted value found: True" in out[-2]
    assert out[-1].startswith("RESULT guard seconds=") and out[-1].endswith("people=3000")
