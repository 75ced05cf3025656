from __future__ import annotations

import hashlib
import json
import re
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

    def key(self, value: str) -> str:
        """The stored key of an email or phone a tool names a person by (a Spoke cell):
        its salted hash (store.personal_key_sql), worked out here by hand."""
        ((salt,),) = self.query("SELECT value FROM meta WHERE key = 'match_salt'")
        return "hash:" + hashlib.sha256(f"{salt}:key:{value}".encode()).hexdigest()[:32]

    def texter(self, name: str) -> str:
        """The organizer id of a Spoke texter named ``name`` (lowercased, first and last
        name), worked out here by hand: the first 12 hex digits of the name's MD5, hashed
        with the salt (store.salted_digest_sql)."""
        ((salt,),) = self.query("SELECT value FROM meta WHERE key = 'match_salt'")
        digest = hashlib.md5(name.encode()).hexdigest()[:12]
        return "spoke:texter:s" + hashlib.sha256(f"{salt}:a:{digest}".encode()).hexdigest()[:24]

    def unkeyed(self, sql: str, params: list | None = None) -> list[tuple]:
        """The rows of ``sql`` with each hashed key written as the email or phone it is
        the hash of (one of the people's), sorted by their text (the keys' order is the
        hashes')."""
        values = {
            self.key(v): v
            for row in self.query("SELECT email, phone FROM person_pii")
            for v in row
            if v is not None
        }

        def shown(v):
            if not isinstance(v, str):
                return v
            return re.sub(r"hash:[0-9a-f]{32}", lambda m: values.get(m.group(0), m.group(0)), v)

        rows = [tuple(shown(v) for v in row) for row in self.query(sql, params)]
        return sorted(rows, key=lambda row: tuple(str(v) for v in row))

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
