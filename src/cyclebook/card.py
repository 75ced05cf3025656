"""A cycle card's metric against its goal and failure line, the same in every report.

A rate's ``target`` and ``failure_below`` are fractions from 0 to 1 (checked when the
card is read, :class:`cyclebook.config.CardMetric`) and every table shows them as the
percent the result is shown in: the card read "Target 0.45" beside "Result 72%".
"""

from __future__ import annotations

from cyclebook.config import RATE_METRICS

__all__ = ["is_rate", "fmt_target"]


def is_rate(measure: str) -> bool:
    """Is the measure's headline a rate (a share of people from 0 to 1)?"""
    return measure in RATE_METRICS


def fmt_target(measure: str, number: float | None) -> str:
    """A target or numeric failure line as the tables show it: "45%" for a rate, "5"
    for a count, "–" for none."""
    if number is None:
        return "–"
    if is_rate(measure):
        return f"{round(number * 100, 6):g}%"
    return f"{number:g}"
