"""Report tables: the HTML cells and their plain-text twin show the same texts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cyclebook import display as d


def test_table_cells_and_plain_twin_show_the_same_texts() -> None:
    frame = pd.DataFrame(
        {
            "Measure": ["Active base", "Leaders", None],
            "People": [1234, 5, 12],
            "Share": [0.5, np.nan, 0.25],
            "Group": pd.array(["A & B", pd.NA, "<c>"], dtype="string"),
        }
    )
    block = d.table(frame, "Caption <1>", formats={"Share": "{:.0%}"})
    assert block.plain == (
        "Caption <1>\n"
        "Measure      People  Share  Group\n"
        "Active base   1,234    50%  A & B\n"
        "Leaders           5      –  –\n"
        "–                12    25%  <c>"
    )
    assert "<caption>Caption &lt;1&gt;</caption>" in block.html
    cells = block.html.split("<tbody>")[1]
    assert cells == (
        "<tr><td>Active base</td><td>1,234</td><td>50%</td><td>A &amp; B</td></tr>"
        "<tr><td>Leaders</td><td>5</td><td>–</td><td>–</td></tr>"
        "<tr><td>–</td><td>12</td><td>25%</td><td>&lt;c&gt;</td></tr>"
        "</tbody></table></div>"
    )


def test_empty_table_says_so_in_both() -> None:
    block = d.table(pd.DataFrame({"A": [], "B": []}), "Nothing yet")
    assert block.plain == "Nothing yet\n(no rows)"
    assert '<td colspan="2">No rows.</td>' in block.html


def test_index_becomes_the_first_column() -> None:
    frame = pd.DataFrame({"n": [3, 40]}, index=pd.Index(["x", "yy"], name="key"))
    assert d.table(frame, "By key", index=True).plain == "By key\nkey   n\nx     3\nyy   40"


def test_text_table_is_the_table_of_a_frame_of_its_texts():
    """A table of text rows shows exactly what the table of a frame of them shows: the
    same escaped cells, "–" for a missing one, numbers-like text to the right, and "No
    rows." when there is none."""
    header = ["Measure", "Value"]
    rows = [("Active <base>", "1,234"), ("New people", "<10"), ("Retention", None)]
    frame = pd.DataFrame(rows, columns=header)
    got, want = d.text_table(header, rows, "Figures"), d.table(frame, "Figures")
    assert (got.html, got.plain) == (want.html, want.plain)
    assert "<td>–</td>" in got.html and "Active &lt;base&gt;" in got.html
    empty = d.text_table(header, [], "None")
    assert empty.html == d.table(pd.DataFrame([], columns=header), "None").html
    assert "No rows." in empty.html
