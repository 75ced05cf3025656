"""The share phase, as shown in its notebook. (Backbone version: real, simple content.)"""

from __future__ import annotations

from cyclebook import display as d
from cyclebook.phases import PhaseContext


def report(ctx: PhaseContext) -> None:
    d.show(d.note("The share phase's full report is being built (see the issues)."))
