"""Saved metric values: replace per (cycle, organization), read back, previous cycles."""

from __future__ import annotations

import pytest

from cyclebook.config import Organization
from cyclebook.errors import StoreError
from cyclebook.metrics import (
    METRICS,
    MetricResults,
    previous_values,
    read_results,
    read_values,
    save_values,
)
from cyclebook.metrics.values import explained, headline_period, redefinitions


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
    # read as rows: the values the frame gives, missing denominators and all
    framed = read_values(builder.path, org_ids=["org"], cycles=["c1"])
    assert prev["c1"].values == MetricResults.from_frame("c1", "org", framed).values
    assert prev["c1"].get("absorption", "cycle").denominator == 12
    assert prev["c1"].get("active_base", "end").denominator is None
    assert previous_values(builder.path, "org", []) == {}
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


def _absorption(days: int) -> MetricResults:
    res = results("c1", "org", 40)
    res.values = [v for v in res.values if v.metric != "absorption"]
    res.rate("absorption", "cycle", "", 3, 12, f"within {days} days")
    res.rate("absorption", "cycle", "source=mobilize", 1, 2, "a breakdown")
    return res


def test_values_computed_again_under_another_definition_are_recorded(builder):
    """A hand edit of absorption_days rewrote c1's figures and nothing recorded it."""
    builder.build()
    assert redefinitions(builder.path, "c1", "org") == {}
    save_values(builder.path, _absorption(42))
    save_values(builder.path, _absorption(42))  # computed again alike: nothing to say
    assert redefinitions(builder.path, "c1", "org") == {}
    save_values(builder.path, _absorption(14))
    assert redefinitions(builder.path, "c1", "org") == {
        "absorption": ("within 42 days", "within 14 days")
    }
    # a third definition: the figures were first saved under 42 days
    save_values(builder.path, _absorption(7))
    assert redefinitions(builder.path, "c1", "org") == {
        "absorption": ("within 42 days", "within 7 days")
    }
    assert redefinitions(builder.path, "c2", "org") == {}  # per cycle and organization
    save_values(builder.path, _absorption(42))  # the edit undone
    assert redefinitions(builder.path, "c1", "org") == {}


def test_a_definition_reworded_by_cyclebook_is_no_edit(builder):
    """Definitions are compared as text, and a release of cyclebook may word one better
    (the ladder's now says cancelled sign-ups are not activity): with the organization's
    settings unchanged, every past cycle recomputed was reported as edited by hand."""
    from cyclebook.metrics.values import definition_settings

    builder.build()
    same = definition_settings(_org([]))
    # values saved by an earlier cyclebook kept no settings: no edit can be told apart
    save_values(builder.path, _absorption(42))
    save_values(builder.path, _absorption(21), settings=same)
    assert redefinitions(builder.path, "c1", "org") == {}
    save_values(builder.path, _absorption(14), settings=same)  # the words, not the settings
    assert redefinitions(builder.path, "c1", "org") == {}
    edited = definition_settings(
        Organization.model_validate({"id": "org", "name": "Org", "metrics": {"absorption_days": 7}})
    )
    assert edited != same
    save_values(builder.path, _absorption(7), settings=edited)
    assert redefinitions(builder.path, "c1", "org") == {
        "absorption": ("within 14 days", "within 7 days")
    }
    # saved again under the same settings: still recorded (the run warns until it is)
    save_values(builder.path, _absorption(7), settings=edited)
    assert redefinitions(builder.path, "c1", "org") == {
        "absorption": ("within 14 days", "within 7 days")
    }
    # the edit undone: the settings change back, the words are the first ones again
    save_values(builder.path, _absorption(14), settings=same)
    assert redefinitions(builder.path, "c1", "org") == {}


def _org(history: list[dict]) -> Organization:
    return Organization.model_validate({"id": "org", "name": "Org", "measure_history": history})


def _change(measure: str, **extra) -> dict:
    return {
        "measure": measure,
        "date": "2026-09-10",
        "proposed_by": "Lee",
        "why": "Meetings every two weeks.",
        "change": "A second action within 14 days, not 42.",
        **extra,
    }


def test_what_the_measure_history_explains():
    cycles = ["c1", "c2", "c3"]
    assert not explained(_org([]), "c1", cycles, "absorption")
    # adopted from c2: explains c2 and c3, and c1 only when it cannot be undone
    undoable = _change("absorption", cycle="c2", replaced={"settings": {"absorption_days": 42}})
    assert [explained(_org([undoable]), c, cycles, "absorption") for c in cycles] == [
        False,
        True,
        True,
    ]
    assert explained(_org([_change("absorption", cycle="c2")]), "c1", cycles, "absorption")
    assert explained(_org([_change("absorption")]), "c1", cycles, "absorption")
    # another measure's change, or one not adopted, explains nothing
    assert not explained(_org([_change("leaders")]), "c1", cycles, "absorption")
    proposed = _change("absorption", status="proposed")
    assert not explained(_org([proposed]), "c3", cycles, "absorption")
    # a rung's change explains the measures that count rungs
    assert explained(_org([_change("ladder.active")]), "c1", cycles, "leaders")


def test_results_from_rows_are_the_results_from_their_frame():
    """Saved values read as rows give what the frame of the same rows gives: a missing
    or NaN value and denominator read None; a missing definition reads ''."""
    import math

    import pandas as pd

    from cyclebook.metrics.values import MetricResults

    rows = [
        ("absorption", "cycle", "", 0.25, 8.0, "Second action within 42 days."),
        ("active_base", "end", "", 32.0, None, "365 days"),
        ("retention", "cycle", "", math.nan, None, "Active again."),
    ]
    frame = pd.DataFrame(
        rows, columns=["metric", "period", "dimension", "value", "denominator", "definition"]
    )
    got = MetricResults.from_rows("c2", "org", rows)
    assert got == MetricResults.from_frame("c2", "org", frame)
    assert [(v.value, v.denominator) for v in got.values] == [
        (0.25, 8.0),
        (32.0, None),
        (None, None),
    ]
    missing = MetricResults.from_rows("c2", "org", [("leaders", "end", "", 3.0, None, None)])
    assert missing.values[0].definition == ""
