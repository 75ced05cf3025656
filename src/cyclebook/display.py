"""Report building blocks for phase notebooks: headings, text, tables and figures.

Everything here escapes text that people typed (organization names, reflections, tags),
puts alt text on every figure, and gives every table a header row and caption, so the
rendered HTML is readable offline, on a phone, and by a screen reader. Output bundles are
``text/html`` plus a plain-text fallback, never widgets (they render nothing in static HTML).
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from IPython.display import HTML, display

__all__ = [
    "esc",
    "heading",
    "paragraph",
    "bullets",
    "note",
    "table",
    "chart",
    "figure",
    "definition_list",
    "show",
]


def esc(value: Any) -> str:
    """Escape any value for HTML (quotes included)."""
    return html.escape("" if value is None else str(value), quote=True)


class Block:
    """A piece of report HTML with a plain-text twin (for JupyterLab and nbval)."""

    def __init__(self, html_text: str, plain: str) -> None:
        self.html = html_text
        self.plain = plain

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.plain

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": self.html, "text/plain": self.plain}


def join(*blocks: Block) -> Block:
    """Blocks as one: their HTML in order, their plain text one paragraph each."""
    return Block(
        "".join(block.html for block in blocks), "\n\n".join(block.plain for block in blocks)
    )


def show(*blocks: Block) -> None:
    """Display the blocks as one output.

    Each output is a message from the kernel that the runner decodes and validates
    against the notebook schema (about 1.5 ms in all); a report section of twenty
    headings, paragraphs and tables is one output instead of twenty.
    """
    if blocks:
        display(join(*blocks))


def heading(text: str, level: int = 2) -> Block:
    level = min(max(level, 2), 6)  # h1 is the report title in the template
    return Block(f"<h{level}>{esc(text)}</h{level}>", f"{'#' * level} {text}")


def paragraph(text: str, *, css_class: str | None = None) -> Block:
    cls = f' class="{esc(css_class)}"' if css_class else ""
    return Block(f"<p{cls}>{esc(text)}</p>", str(text))


def bullets(items: Iterable[Any], *, empty: str = "(none recorded)") -> Block:
    """A bulleted list; an item of several lines keeps its line breaks (escaped text and
    ``<br>``; in plain text its further lines are indented under the bullet)."""
    items = [str(item) for item in items]
    if not items:
        return Block(f'<p class="cb-empty">{esc(empty)}</p>', empty)
    body = "".join(
        f"<li>{'<br>'.join(esc(line) for line in item.splitlines())}</li>" for item in items
    )
    plain = "\n".join("- " + "\n  ".join(item.splitlines()) for item in items)
    return Block(f"<ul>{body}</ul>", plain)


def note(text: str, *, kind: str = "info") -> Block:
    """A call-out box: kind is info, warning or error."""
    kind = kind if kind in {"info", "warning", "error"} else "info"
    role = ' role="alert"' if kind == "error" else ""
    return Block(f'<div class="cb-note cb-note-{kind}"{role}>{esc(text)}</div>', f"[{kind}] {text}")


def definition_list(pairs: Sequence[tuple[str, Any]]) -> Block:
    body = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in pairs)
    return Block(f'<dl class="cb-dl">{body}</dl>', "\n".join(f"{k}: {v}" for k, v in pairs))


# a plain-text column of these is aligned to the right, as numbers are
_NUMBER = re.compile(r"[+\-−]?[\d.,]+%?|–|<10")


def _format_cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _missing(value: Any) -> bool:
    # what pd.isna says of a scalar, without its dispatch (a report builds ~2,000 cells)
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and value != value)
    )


def _cell_text(value: Any, spec: str | None) -> str:
    if _missing(value):
        return "–"
    return spec.format(value) if spec is not None else _format_cell(value)


def table(
    frame: pd.DataFrame,
    caption: str,
    *,
    index: bool = False,
    formats: dict[str, str] | None = None,
) -> Block:
    """An accessible HTML table: caption, <th scope="col">, escaped cells.

    The plain-text twin shows the same texts as the HTML, in aligned columns (numbers to
    the right). Built from each column's values as Python objects: pandas' row iterator
    and ``to_string`` cost ~3 ms a table, and a share report shows about eight."""
    formats = formats or {}
    frame = frame.reset_index() if index else frame
    names = [str(col) for col in frame.columns]
    columns = [
        [_cell_text(value, formats.get(col)) for value in frame.iloc[:, i].tolist()]
        for i, col in enumerate(frame.columns)
    ]
    return _table_block(names, columns, caption)


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], caption: str) -> Block:
    """:func:`table` of rows whose cells are all text, without a frame (a cohort summary
    shows one such table per organization: building each frame cost ~3 ms)."""
    names = [str(name) for name in header]
    columns = [[_cell_text(row[i], None) for row in rows] for i in range(len(names))]
    return _table_block(names, columns, caption)


def _table_block(names: list[str], columns: list[list[str]], caption: str) -> Block:
    """The table's HTML and plain text from its column names and cell texts."""
    rows = list(zip(*columns, strict=True)) if columns else []
    head = "".join(f'<th scope="col">{esc(name)}</th>' for name in names)
    body = "".join("<tr>" + "".join(f"<td>{esc(t)}</td>" for t in row) + "</tr>" for row in rows)
    if not rows:
        body = f'<tr><td colspan="{max(len(names), 1)}">No rows.</td></tr>'
    html_text = (
        f'<div class="cb-table-wrap"><table class="cb-table"><caption>{esc(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )
    return Block(
        html_text, f"{caption}\n{_plain_table(names, columns)}" if rows else f"{caption}\n(no rows)"
    )


def _plain_table(names: list[str], columns: list[list[str]]) -> str:
    """Aligned text columns: a column whose values all look like numbers to the right."""
    lines = []
    for name, texts in zip(names, columns, strict=True):
        width = max(len(name), *(len(t) for t in texts))
        numeric = all(_NUMBER.fullmatch(t) for t in texts)
        pad = str.rjust if numeric else str.ljust
        lines.append([pad(name, width), *(pad(t, width) for t in texts)])
    return "\n".join("  ".join(row).rstrip() for row in zip(*lines, strict=True))


def chart(drawn: Any, caption: str | None = None) -> Block:
    """A chart from :mod:`cyclebook.charts` (inline SVG that carries its own alt text)."""
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return Block(f'<figure class="cb-figure">{drawn.svg}{cap}</figure>', f"[figure] {drawn.alt}")


def figure(fig: Any, alt: str, caption: str | None = None, *, dpi: int = 96) -> Block:
    """A matplotlib figure as an inline PNG with alt text and a caption; closes the figure.

    For notebooks of one's own; the reports draw with :func:`chart` (far cheaper).

    ``alt`` should say what the chart shows in words, for people who don't read charts.
    """
    import matplotlib.pyplot as plt

    if not alt or not alt.strip():
        raise ValueError("every figure needs alt text that says what it shows")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    html_text = (
        f'<figure class="cb-figure"><img src="data:image/png;base64,{data}" alt="{esc(alt)}" '
        f'style="max-width:100%;height:auto">{cap}</figure>'
    )
    return Block(html_text, f"[figure] {alt}")


def raw_html(html_text: str, plain: str) -> Block:
    """For trusted, already-escaped HTML built by cyclebook itself."""
    return Block(html_text, plain)


HTML = HTML  # re-exported for notebooks that need it
