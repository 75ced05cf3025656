"""A small store with planted personal values, and HTML rendered the way reports are."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbconvert import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from cyclebook.store import connect

# org_id, person_id, first, last, email, phone, address
PLANTED = [
    (
        "org-a",
        "a1",
        "Maria",
        "Okonkwo",
        "maria.okonkwo@example.org",
        "(555) 201-3344",
        "123 Main Street, Springfield, IL 62701",
    ),
    ("org-a", "a2", "José", "Núñez", "jnunez@example.net", "+1 555 777 8899", None),
    ("org-a", "a3", "Sam", "Young", "sam@example.com", None, None),
    ("org-a", "a4", "Lee", "Rivera", None, None, None),
    ("org-b", "b1", "Tamsin", "Featherstonehaugh", "tf@example.org", "555.404.1212", None),
]
# org_id, person_id, source, source_id
IDENTITIES = [
    ("org-a", "a1", "action_network", "d91b4b2e-7c1a-4e0f-9a57-0c2f3d4e5f60"),
    ("org-a", "a2", "van", "10234567"),
    ("org-b", "b1", "mobilize", "88112233"),
]


def write_people(store: Path, pii: list[tuple], identities: list[tuple] = ()) -> None:
    with connect(store, write=True) as con:
        if not pii:
            return
        con.executemany(
            "INSERT INTO person_pii (org_id, person_id, first_name, last_name, email, phone,"
            " address) VALUES (?, ?, ?, ?, ?, ?, ?)",
            pii,
        )
        if identities:
            con.executemany(
                "INSERT INTO identity (org_id, person_id, source, source_id) VALUES (?, ?, ?, ?)",
                list(identities),
            )


@pytest.fixture
def pii_store(tmp_path: Path) -> Path:
    store = tmp_path / "store.duckdb"
    write_people(store, PLANTED, IDENTITIES)
    return store


def render(cells: list[tuple[str, str]]) -> str:
    """HTML as nbconvert renders a report; each cell is (kind, content): ``md`` is
    markdown, ``html`` is a code cell whose output is that HTML, ``text`` a code cell
    printing plain text."""
    nb_cells = []
    for kind, content in cells:
        if kind == "md":
            nb_cells.append(new_markdown_cell(content))
        elif kind == "html":
            cell = new_code_cell("report(ctx)")
            cell.outputs = [
                new_output("display_data", data={"text/html": content, "text/plain": "(report)"})
            ]
            nb_cells.append(cell)
        else:
            cell = new_code_cell("print(summary)")
            cell.outputs = [new_output("stream", name="stdout", text=content)]
            nb_cells.append(cell)
    nb = new_notebook(cells=nb_cells)
    nbformat.validate(nb)
    body, _ = HTMLExporter().from_notebook_node(nb)
    return body
