"""The large-organization benchmark runs every phase at a small size, all reports ok."""

from __future__ import annotations


def test_large_org_benchmark_small(tmp_path, capsys, benchmark_script):
    bench = benchmark_script("bench_large_org")
    code = bench.main(["--people", "2000", "--activities", "20000", "--workdir", str(tmp_path)])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0, "\n".join(out)
    assert any(line.startswith("cyclebook run:") and "8 ok" in line for line in out)
    # sync, share (3 audiences), reflect, improve, and the cohort page for 2 audiences
    assert sum(line.startswith("  share") for line in out) == 3
    assert out[-1].startswith("RESULT large_org seconds=") and "reports=8" in out[-1]
