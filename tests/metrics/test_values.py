"""Saved metric values: replace per (cycle, organization), read back, previous cycles."""

from __future__ import annotations

import pytest

from cyclebook.errors import StoreError
from cyclebook.metrics import (
    METRICS,
    MetricResults,
    previous_values,
    read_results,
    read_values,
    save_values,
)
from cyclebook.metrics.values import headline_period


def results(cycle: str, org: str, base: float) -> MetricResults:
    res = MetricResults(cycle, org)
    res.add("active_base", "start", "", base - 5, None, "365 days")
    res.add("active_base", "end", "", base, None, "365 days")
    res.rate("absorption", "cycle", "", 3, 12, "42 days")
    res.rate("retention", "cycle", "", 0, 0, "no one last cycle")
    res.add("ladder", "end", "member", 7, None, "2+ in 180 days")
    return res


def test_save_replace_and_read(builder):
    builder.build()
    save_values(builder.path, results("c1", "org", 40))
    save_values(builder.path, results("c2", "org", 50))
    save_values(builder.path, results("c2", "other", 9))
    save_values(builder.path, results("c2", "org", 55))  # recomputed: replaces
    frame = read_values(builder.path, org_ids=["org"], cycles=["c2"])
    assert len(frame) == 5
    again = read_results(builder.path, "c2", "org")
    assert again.value("active_base", "end") == 55
    absorption = again.headline("absorption")
    assert absorption.value == pytest.approx(0.25) and absorption.numerator == 3
    assert again.get("retention").value is None  # a rate over nobody is unknown, not 0
    heads = read_values(builder.path, metrics=["active_base"], headline_only=True)
    assert sorted(zip(heads.cycle, heads.org_id, heads.period, strict=True)) == [
        ("c1", "org", "end"),
        ("c1", "org", "start"),
        ("c2", "org", "end"),
        ("c2", "org", "start"),
        ("c2", "other", "end"),
        ("c2", "other", "start"),
    ]
    assert read_values(builder.path, org_ids=[]).empty
    prev = previous_values(builder.path, "org", ["c1", "c0"])
    assert set(prev) == {"c1"} and prev["c1"].headline("active_base").value == 40
    assert read_results(builder.path, "c0", "org") is None


def test_unknown_metric_key_is_refused():
    with pytest.raises(ValueError, match="unknown metric"):
        MetricResults("c", "o").add("activeBase", "end", "", 1)


def test_headline_periods_cover_every_metric():
    assert {headline_period(m) for m in METRICS} == {"end", "cycle"}
    assert headline_period("leaders") == "end" and headline_period("absorption") == "cycle"


def test_reading_a_missing_store_says_how_to_fix(tmp_path):
    with pytest.raises(StoreError, match="run the sync phase first"):
        read_values(tmp_path / "nope.duckdb")
