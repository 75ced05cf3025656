"""Compiled SQL, remembered across reports.

ibis turns an expression into SQL through several rewrite passes over its graph; for the
metric engine's ~20 queries that was about a quarter of an organization's share
computation on the benchmark cohort (0.12 of 0.48 CPU seconds, measured over 20 small
organizations), and it is the same work for every organization whose definitions and
cycle dates are the same. The SQL of an expression depends only on the
expression's structure, so it is kept under a *fingerprint* of that structure: one walk
over the graph (under a millisecond for the per-person state's 330 nodes) that encodes
every node's class and arguments, literals included.

The engine reads an organization's rows through per-engine temporary views
(:meth:`cyclebook.metrics.MetricEngine.table`), so its SQL names no organization and one
organization's compiled queries serve the next one with the same definitions.

Kept in memory and, per cohort, in ``<cohort>/.cyclebook/sql/<fingerprint>.sql``
(one file per query, written atomically; the fingerprint includes the versions of ibis,
sqlglot and this module, so an upgrade never reads old SQL). Anything the fingerprint
cannot encode faithfully (an argument of a type it does not know, scalar parameters)
is compiled the usual way and not remembered.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import hashlib
import json
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
from ibis.common.graph import Graph, Node

from cyclebook.yamlio import write_text_atomic

# bump when the encoding below changes meaning
FORMAT = "1"


class _Unknown(Exception):
    """An argument the fingerprint cannot encode: compile without the cache."""


def versions() -> str:
    import sqlglot

    return f"cyclebook-sql {FORMAT} ibis {ibis.__version__} sqlglot {sqlglot.__version__}"


_PLAIN = (str, int, float, bool, type(None), decimal.Decimal, dt.datetime, dt.date, dt.time)


def _encode(value: Any, index: dict[Node, int]) -> str:
    if isinstance(value, Node):
        return f"#{index[value]}"
    if isinstance(value, _PLAIN):
        # the type too: 1, 1.0 and True are equal in Python, not in SQL
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, dt.timedelta):
        return f"timedelta:{value!r}"
    if isinstance(value, tuple | list):
        return "(" + ",".join(_encode(v, index) for v in value) + ")"
    if isinstance(value, frozenset):
        return "{" + ",".join(sorted(_encode(v, index) for v in value)) + "}"
    if isinstance(value, dict):  # ibis's FrozenDict / FrozenOrderedDict keep their order
        items = (f"{_encode(k, index)}:{_encode(v, index)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    module = type(value).__module__
    if module.startswith("ibis.expr.datatypes") or module.startswith("ibis.expr.schema"):
        return repr(value)  # dataclass-like reprs: names, types, nullability, timezone
    if module.startswith("ibis.expr.operations.relations") and type(value).__name__ == "Namespace":
        return repr(value)
    if isinstance(value, ibis.BaseBackend):
        # a table's source: the SQL names the table, never the connection
        return f"backend:{value.name}"
    raise _Unknown(type(value))


def fingerprint(expr: ir.Expr) -> str | None:
    """A digest of the expression's whole structure, or None when some argument cannot
    be encoded faithfully."""
    graph = Graph.from_bfs(expr.op())
    index = {node: i for i, node in enumerate(graph)}
    # a self-reference (``.view()``) or join reference carries a number from a global
    # counter: only which references are the same one matters, so they are numbered in
    # the order they appear
    references: dict[tuple[str, int], int] = {}
    digest = hashlib.sha256(versions().encode())
    try:
        for node in graph:
            values = node.__args__
            if isinstance(node, ops.Reference):
                ref = (type(node).__name__, node.identifier)
                number = references.setdefault(ref, len(references))
                values = tuple(
                    number if name == "identifier" else value
                    for name, value in zip(node.__argnames__, values, strict=True)
                )
            args = ",".join(_encode(a, index) for a in values)
            digest.update(f"{type(node).__module__}.{type(node).__qualname__}({args});".encode())
    except _Unknown:
        return None
    return digest.hexdigest()


class SqlCache:
    """Fingerprint -> SQL, in memory and (when ``folder`` is given) on disk."""

    def __init__(self, folder: Path | None, dialect: str = "duckdb") -> None:
        self.folder = folder
        self.dialect = dialect  # part of every key: the SQL is one backend's
        self.memory: dict[str, str] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> str | None:
        sql = self.memory.get(key)
        if sql is None and self.folder is not None:
            with contextlib.suppress(OSError, UnicodeDecodeError):
                sql = (self.folder / f"{key}.sql").read_text(encoding="utf-8")
                self.memory[key] = sql
        return sql

    def put(self, key: str, sql: str) -> None:
        self.memory[key] = sql
        if self.folder is None:
            return
        # a cache: a full disk or a read-only cohort only loses the saving; concurrent
        # writers of one key write the same SQL, and the file appears whole
        with contextlib.suppress(OSError):
            write_text_atomic(self.folder / f"{key}.sql", sql)

    def get_json(self, key: str) -> Any:
        """A remembered JSON value (a query site's SQL and schema), or None."""
        text = self.get(key)
        if text is None:
            return None
        try:
            return json.loads(text)
        except ValueError:  # a damaged file: compile again
            return None

    def put_json(self, key: str, value: Any) -> None:
        self.put(key, json.dumps(value, sort_keys=True))

    def compile(self, compile_fn, expr: ir.Expr, **kwargs: Any) -> str:
        """``compile_fn(expr, **kwargs)`` (the backend's own compile), remembered when
        the call has no scalar parameters."""
        key = None
        if kwargs.get("params") is None and not kwargs.get("pretty"):
            structure = fingerprint(expr)
            if structure is not None:
                call = f"{structure} {self.dialect} limit={kwargs.get('limit')}"
                key = hashlib.sha256(call.encode()).hexdigest()
        if key is not None:
            sql = self.get(key)
            if sql is not None:
                self.hits += 1
                return sql
        self.misses += 1
        sql = compile_fn(expr, **kwargs)
        if key is not None:
            self.put(key, sql)
        return sql


def cache_folder(store_path: str | Path) -> Path:
    """Where a cohort's compiled SQL is kept: beside its other caches."""
    return Path(store_path).resolve().parent / ".cyclebook" / "sql"


def install(backend: ibis.BaseBackend, folder: Path | None) -> SqlCache:
    """Route the backend's SQL compilation (every ``to_pyarrow`` / ``execute``) through a
    cache. Returns the cache (also at ``backend._cyclebook_sql``)."""
    cache = backend.__dict__.get("_cyclebook_sql")
    if cache is None:
        cache = SqlCache(folder, dialect=backend.name)
        compile_fn = backend.compile
        backend.__dict__["_cyclebook_sql"] = cache

        def compile(expr, /, **kwargs):
            return cache.compile(compile_fn, expr, **kwargs)

        backend.compile = compile  # an instance attribute: this backend only
    return cache
