"""The guard's prefilter folds names and streets in SQL only where DuckDB folds them as
the guard's Python rules do: checked for every character of the Basic Multilingual
Plane, so a name the exact rules would find is never filtered out before them."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from cyclebook.privacy import (
    _address_tokens,
    _head,
    _sql_foldable,
    _sql_head,
    _sql_tokens,
    _tokens,
    scan_html,
)

from .conftest import render, write_people

# every character except surrogates and controls, inside and at the edge of a token
CHARACTERS = [
    chr(c) for c in range(0x20, 0x10000) if not (0xD800 <= c < 0xE000 or 0x7F <= c < 0xA0)
]


def _folded_in_sql(values: list[str], *, address: bool) -> list[tuple[str, bool, str]]:
    con = duckdb.connect()
    con.register("t", pa.table({"x": values}))
    head = _sql_head(_sql_tokens("x"), address=address)
    return con.execute(f"SELECT x, {_sql_foldable('x')}, {head} FROM t").fetchall()


@pytest.mark.parametrize("address", [False, True], ids=["name", "street"])
def test_sql_folds_as_python_wherever_it_claims_to(address):
    values = [f"{c}b{c}c De{c}la Street" for c in CHARACTERS]
    rows = _folded_in_sql(values, address=address)
    python = (
        (lambda v: _head(_address_tokens(_tokens(v)))) if address else (lambda v: _head(_tokens(v)))
    )
    wrong = [(v, head, python(v)) for v, foldable, head in rows if foldable and head != python(v)]
    assert wrong == []
    foldable = {v[0] for v, ok, _ in rows if ok}
    # the rule is not vacuous: ASCII and accented Latin letters are folded in SQL...
    assert {"a", "Z", "7", "é", "Ñ", "ü", "Å", "'"} <= foldable
    # ...and what DuckDB folds differently from Python is left to Python
    assert not {"ß", "Ø", "ı", "ς", "Ж", "李", "\u0301", "\u2019"} & foldable


@pytest.mark.parametrize(
    ("last", "planted"),
    [
        ("Weiß", "Anna Weiss"),  # casefold turns ß into ss; SQL's lower does not
        ("Weiß", "Anna Weiß"),
        ("Ｋｌｅｉｎｅｒ", "Anna Kleiner"),  # fullwidth letters
        ("Παπαδόπουλος", "Anna Παπαδοπουλος"),
        ("Ørsted", "Anna Ørsted"),
        ("Nun\u0303ez", "Anna Nuñez"),  # a combining tilde
        ("O’Brien", "Anna O'Brien"),
        ("Núñez", "Anna NUNEZ"),
        ("Van der Berg", "Anna van der Berg"),
    ],
)
def test_names_python_must_fold_are_still_found(tmp_path, last, planted):
    store = tmp_path / "store.duckdb"
    write_people(
        store,
        [
            ("org-a", "p1", "Anna", last, None, None, None),
            ("org-a", "p2", "Anna", "Smith", None, None, None),
        ],
    )
    leaks = scan_html(render([("html", f"<p>{planted} came.</p>")]), store, ["org-a"], allow=[])
    assert [leak.kind for leak in leaks] == ["name"]


@pytest.mark.parametrize(
    ("address", "planted"),
    [
        ("12 Straße des 17. Juni, Berlin", "12 Strasse des 17. Juni"),
        ("4 Rue de l’Église, Lyon", "4 rue de l'Eglise"),
        ("77 North Main Street\nApt 2", "77 N Main St"),
        ("9 Ｍａｉｎ Road, Town", "9 Main Rd"),
    ],
)
def test_streets_python_must_fold_are_still_found(tmp_path, address, planted):
    store = tmp_path / "store.duckdb"
    write_people(store, [("org-a", "p1", None, None, None, None, address)])
    leaks = scan_html(render([("html", f"<p>Lives at {planted}.</p>")]), store, ["org-a"], allow=[])
    assert [leak.kind for leak in leaks] == ["address"]
