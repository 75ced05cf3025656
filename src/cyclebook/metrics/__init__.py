"""Metrics of DESIGN.md, defined once as ibis expressions and driven by each
organization's own ladder and settings (cohort.yml).

Public entry points:

* :func:`compute_metrics` — compute (and save) one organization's cycle,
* :func:`read_values` / :func:`read_results` / :func:`previous_values` — saved values
  for comparisons, cohort summaries, the gallery and network roll-ups,
* :class:`MetricEngine` — the expressions themselves, on any ibis backend.
"""

from cyclebook.metrics.engine import MetricEngine, compute_metrics
from cyclebook.metrics.values import (
    METRICS,
    MetricResults,
    MetricValue,
    previous_values,
    read_results,
    read_values,
    save_values,
)

__all__ = [
    "METRICS",
    "MetricEngine",
    "MetricResults",
    "MetricValue",
    "compute_metrics",
    "previous_values",
    "read_results",
    "read_values",
    "save_values",
]
