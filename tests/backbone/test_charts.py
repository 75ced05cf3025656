"""The reports' SVG charts: round ticks, bars and points where the numbers put them
(geometry worked out by hand below), escaped labels, and alt text always."""

from __future__ import annotations

import re

import pytest

from cyclebook import charts
from cyclebook import display as d


def _rects(svg: str) -> list[dict[str, float]]:
    found = re.findall(r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"', svg)
    return [dict(zip("xywh", map(float, r), strict=True)) for r in found]


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0, 36, [0, 10, 20, 30, 40]),  # a fifth of 36 is 7.2: the step is 10
        (-6, 12, [-10, -5, 0, 5, 10, 15]),  # 18/5 = 3.6: step 5, from below -6 to above 12
        (0, 1200, [0, 250, 500, 750, 1000, 1250]),  # 240 → 2.5 × 100
        (0, 3, [0, 1, 2, 3]),  # 0.6 would be 0.5 or 1: people come whole, so 1
        (0, 0, [0, 1]),  # nothing to show still draws an axis
    ],
)
def test_ticks_are_round_and_cover_the_values(low, high, expected) -> None:
    assert charts.ticks(low, high) == expected


def test_ticks_may_be_fractions_when_asked() -> None:
    assert charts.ticks(0, 0.6, whole=False) == pytest.approx([0, 0.2, 0.4, 0.6])


def test_horizontal_bars_are_as_long_as_their_values() -> None:
    drawn = charts.hbars(["a", "bb"], [30, 10], axis_label="people", alt="a 30, bb 10")
    # ticks 0..30; labels are short so the left margin is its minimum, 60; the right margin
    # fits the longest value label, two digits of 0.64 em at 13 px: 12 + 16.64 = 28.64; the
    # plot is 480 - 60 - 28.64 = 391.36 wide, and 10 of 30 is a third of it, 130.45
    bars = _rects(drawn.svg)
    assert [bar["x"] for bar in bars] == [60.0, 60.0]
    assert [bar["w"] for bar in bars] == [391.4, 130.5]
    assert bars[0]["y"] < bars[1]["y"]  # the first label on top
    assert ">30</text>" in drawn.svg and ">10</text>" in drawn.svg and ">people</text>" in drawn.svg


def test_notes_replace_the_numbers_beside_the_bars() -> None:
    drawn = charts.hbars(
        ["Member", "Leader"], [40, 0], notes=["40", "<10"], axis_label="n", alt="x"
    )
    assert ">&lt;10</text>" in drawn.svg and "<10<" not in drawn.svg


def test_negative_bars_hang_below_the_zero_line() -> None:
    drawn = charts.bars(
        ["new", "lapsed"],
        [charts.Series("people", [12, -6], "#000")],
        colors=["#0a0", "#a00"],
        axis_label="people",
        alt="12 new, 6 lapsed",
    )
    # ticks -10..15; no legend, so the plot runs from y=10 to y=184 (230 - 46):
    # y(v) = 184 - 174 (v + 10) / 25, so y(0) = 114.4, y(12) = 30.88, y(-6) = 156.16
    new, lapsed = _rects(drawn.svg)
    assert (new["y"], new["h"]) == (30.9, 83.5)
    assert (lapsed["y"], lapsed["h"]) == (114.4, 41.8)
    assert 'fill="#0a0"' in drawn.svg and 'fill="#a00"' in drawn.svg
    assert 'y1="114.4" x2="470.0" y2="114.4" stroke="#555"' in drawn.svg  # the zero line


def test_grouped_bars_have_a_legend_and_sit_side_by_side() -> None:
    drawn = charts.bars(
        ["r1", "r2"],
        [charts.Series("start", [1, 2], "#111"), charts.Series("end", [3, 4], "#222")],
        axis_label="people",
        alt="x",
    )
    start_key, end_key, *bars = _rects(drawn.svg)
    assert start_key["w"] == end_key["w"] == 10
    assert ">start</text>" in drawn.svg and ">end</text>" in drawn.svg
    # ticks 0..4, left margin 30 + one digit (0.64 × 13 = 8.32) = 38.32, two bands of
    # (470 - 38.32) / 2 = 215.84, bars 0.7 of a band split in two (75.544) from 0.15 of it
    # in (38.32 + 32.376 = 70.696); the plot spans y 30 (legend) to 184, so a bar of 1 is
    # 154 / 4 = 38.5 tall
    assert [(b["x"], b["h"]) for b in bars] == [
        (70.7, 38.5),
        (146.2, 115.5),
        (286.5, 77.0),
        (362.1, 154.0),
    ]


def test_line_points_sit_at_their_values() -> None:
    drawn = charts.lines(
        [1, 2, 3], [charts.Series("phone", [0, 5, 10], "#123")], x_label="w", y_label="c", alt="x"
    )
    # ticks 0..10; with a legend the plot runs from y=30 to y=204 (250 - 46)
    ys = [float(y) for y in re.findall(r'<circle cx="[\d.]+" cy="([\d.]+)"', drawn.svg)]
    assert ys == [204.0, 117.0, 30.0]
    xs = [float(x) for x in re.findall(r'<circle cx="([\d.]+)"', drawn.svg)]
    assert xs[1] - xs[0] == pytest.approx(xs[2] - xs[1], abs=0.1)


def test_labels_are_escaped_and_long_ones_cut_with_the_whole_label_kept() -> None:
    long = "A rung whose name goes on and on <b>&"
    drawn = charts.bars(
        ["<b>x</b>", long, "c", "d", "e"],
        [charts.Series("n", [1, 2, 3, 4, 5], "#000")],
        axis_label="n",
        alt='say "x"',
    )
    assert "<b>" not in drawn.svg and "&lt;b&gt;x&lt;/b&gt;" in drawn.svg
    assert (
        "…" in drawn.svg and "A rung whose name goes on and on &lt;b&gt;&amp;</title>" in drawn.svg
    )
    assert 'aria-label="say &quot;x&quot;"' in drawn.svg


def test_a_long_category_label_wraps_onto_a_second_line() -> None:
    drawn = charts.bars(
        ["a", "Active member", "c", "d", "Active member of the union"],
        [charts.Series("n", [1, 2, 3, 4, 5], "#000")],
        axis_label="n",
        alt="x",
    )
    # five bands of (470 - 38.32) / 5 = 86.336 px, 82.336 for a label (6.33 em at 13 px):
    # "Active member" is 7.94 em, so it wraps; "member of the union" is cut after
    # "member of" (5.68 em, 6.30 with the ellipsis). The second and fifth labels are
    # centred at 38.32 + 86.336 × 1.5 = 167.8 and × 4.5 = 426.8
    assert '">Active</tspan><tspan x="167.8" dy="15">member</tspan></text>' in drawn.svg
    assert '">Active</tspan><tspan x="426.8" dy="15">member of…</tspan></text>' in drawn.svg
    assert "<title>Active member of the union</title>" in drawn.svg


def test_every_chart_needs_alt_text() -> None:
    with pytest.raises(ValueError, match="alt text"):
        charts.hbars(["a"], [1], axis_label="n", alt=" ")


def test_a_chart_block_is_a_figure_with_its_words() -> None:
    drawn = charts.hbars(["a"], [1], axis_label="n", alt="One bar: a is 1")
    block = d.chart(drawn, caption="A & B")
    assert block.html.startswith('<figure class="cb-figure"><svg ')
    assert block.html.endswith("<figcaption>A &amp; B</figcaption></figure>")
    assert 'role="img" aria-label="One bar: a is 1"' in block.html
    assert block.plain == "[figure] One bar: a is 1"
