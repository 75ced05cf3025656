"""The sync benchmark runs at a small size: every row read, none rejected."""

from __future__ import annotations


def test_sync_benchmark_small(tmp_path, capsys, benchmark_script):
    bench = benchmark_script("bench_sync")
    code = bench.main(["--people", "2000", "--activities", "20000", "--workdir", str(tmp_path)])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    synced = next(line for line in out if line.startswith("cyclebook sync:"))
    # 2,000 people + 20,000 activities + the lookups (40 events, 4 codes, 2 results, 3 types)
    assert "22,049 rows" in synced and synced.endswith("rejected 0")
    paged = next(line for line in out if "a Mobilize export of 1,000 attendances" in line)
    assert "in 40 pages)" in paged  # 25 records a page
    assert paged.endswith("rejected 0")
    lean = [line for line in out if line.startswith("(context) the least a sync could do")]
    assert len(lean) == 2 and "string ids" in lean[0] and "BIGINT ids" in lean[1]
    assert out[-1].startswith("RESULT sync ratio=") and "peak_mb=" in out[-1]


def test_sync_benchmark_times_a_fresh_store_in_a_reused_workdir(tmp_path, capsys, benchmark_script):
    bench = benchmark_script("bench_sync")
    args = ["--people", "200", "--activities", "2000", "--workdir", str(tmp_path)]
    for _ in range(2):
        assert bench.main(args) == 0
        out = capsys.readouterr().out.splitlines()
        # every export read and written again: not the earlier run's store left unchanged
        # (200 people + 2,000 activities + 10 events, 4 codes, 2 results, 3 types)
        assert any(line.startswith("cyclebook sync:") and "2,219 rows" in line for line in out)
        written = next(line for line in out if line.startswith("written: "))
        assert "'activity': 2000," in written and "'person': 200," in written
