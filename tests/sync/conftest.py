from __future__ import annotations

import json
import textwrap
from pathlib import Path

import duckdb
import pytest

from cyclebook.sync import sync_org


class Cohort:
    """A one-organization cohort in a temporary folder, with helpers to write exports."""

    def __init__(self, root: Path, sources_yaml: str, extra_org_yaml: str = "") -> None:
        self.root = root
        self.org = "org"
        root.mkdir(parents=True, exist_ok=True)
        (root / "cohort.yml").write_text(
            "id: t\nname: Test cohort\norganizations:\n"
            "  - id: org\n    name: Test Org\n    timezone: America/New_York\n"
            "    sources:\n"
            + textwrap.indent(textwrap.dedent(sources_yaml).strip() + "\n", "      ")
            + extra_org_yaml
        )

    @property
    def exports(self) -> Path:
        return self.root / "orgs" / self.org / "exports"

    def write(
        self, rel: str, content: str | bytes | dict | list, *, encoding: str = "utf-8"
    ) -> Path:
        path = self.exports / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, dict | list):
            content = json.dumps(content)
        if isinstance(content, str):
            content = textwrap.dedent(content).lstrip("\n").encode(encoding)
        path.write_bytes(content)
        return path

    def sync(self, **kw):
        return sync_org(self.root, self.org, **kw)

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        con = duckdb.connect(str(self.root / "store.duckdb"), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def table(self, name: str, columns: str = "*", order: str = "1") -> list[tuple]:
        return self.query(f"SELECT {columns} FROM {name} ORDER BY {order}")

    def rejects(self) -> list[tuple]:
        return self.query(
            "SELECT file, line, column_name, reason FROM rejected_row ORDER BY file, line, reason"
        )


def utc(column: str) -> str:
    """SQL that renders a TIMESTAMPTZ as 'YYYY-MM-DD HH:MM' in UTC (no pytz needed)."""
    return f"strftime({column} AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M')"


@pytest.fixture
def make_cohort(tmp_path: Path):
    counter = {"n": 0}

    def make(sources_yaml: str, extra_org_yaml: str = "") -> Cohort:
        counter["n"] += 1
        return Cohort(tmp_path / f"c{counter['n']}", sources_yaml, extra_org_yaml)

    return make
