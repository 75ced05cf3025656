"""The demo generator: deterministic bytes, every source present, planted messiness."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cyclebook.config import load_cohort
from cyclebook.demo import generate_demo

SCALE = 0.03


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo") / "cohort"
    generate_demo(root, scale=SCALE)
    return root


def test_same_bytes_every_time(demo, tmp_path):
    again = tmp_path / "again"
    generate_demo(again, scale=SCALE)
    assert _digest(demo / "orgs") == _digest(again / "orgs")
    other = tmp_path / "other-seed"
    generate_demo(other, scale=SCALE, seed=7, orgs=["harbor-youth"])
    roster = "harbor-youth/exports/roster.csv"
    assert _digest(other / "orgs")[roster] != _digest(demo / "orgs")[roster]


def test_copies_the_demo_configuration_and_writes_every_source(demo):
    assert (demo / "cohort.yml").exists()
    assert (demo / "2026-c1" / "cycle.yml").exists() and (demo / "2026-c2" / "cycle.yml").exists()
    cohort = load_cohort(demo)
    for org in cohort.organizations:
        for source in org.sources:
            target = demo / "orgs" / org.id / "exports" / source.path
            assert target.exists(), target
            files = [target] if target.is_file() else [p for p in target.rglob("*") if p.is_file()]
            assert files and all(f.stat().st_size > 0 for f in files), target


def test_planted_messiness(demo):
    orgs = demo / "orgs"
    an = sorted((orgs / "eastside-tenants/exports/action_network").glob("*.csv"))
    assert [p.name for p in an] == ["activists-2026-09-10.csv", "activists-2026-11-15.csv"]
    assert an[0].read_bytes().startswith(b"\xef\xbb\xbf")  # byte-order mark
    newer = an[1].read_text()
    header = newer.splitlines()[0]
    assert newer.count(header) == 2  # a repeated header line
    assert "Building" in header  # custom field columns
    roster = (orgs / "harbor-youth/exports/roster.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        roster.decode("utf-8")  # Windows-1252
    assert roster.rstrip().endswith(b",,,,,,,,")  # blank trailing rows
    text = roster.decode("cp1252")
    assert any(part.isdigit() and len(part) == 5 for part in text.replace("\r\n", ",").split(","))


def test_sizes_scale_with_a_minimum(demo):
    persons = (demo / "orgs/harbor-youth/exports/roster.csv").read_bytes().decode("cp1252")
    ids = {line.split(",")[0] for line in persons.splitlines()[1:] if line.strip(",")}
    assert len(ids) >= 30  # 300 * 0.03 = 9 -> the minimum of about 40 people applies


@pytest.mark.e2e
def test_demo_syncs_cleanly(demo):
    from cyclebook.store import connect
    from cyclebook.sync import sync_cohort

    results = sync_cohort(demo)
    assert {k: r.status for k, r in results.items()} == {k: "ok" for k in results}
    with connect(demo / "store.duckdb") as con:
        per_org = dict(con.execute("SELECT org_id, count(*) FROM person GROUP BY 1").fetchall())
        shared = con.execute(
            """SELECT count(*) FROM (SELECT match_key FROM person
               WHERE org_id LIKE 'state-power-%' GROUP BY 1
               HAVING count(DISTINCT org_id) > 1)"""
        ).fetchone()[0]
        types = {r[0] for r in con.execute("SELECT DISTINCT type FROM activity").fetchall()}
    assert set(per_org) == set(results)
    assert shared > 0  # members of two affiliates, counted once by match_key
    assert {"attendance", "one_on_one", "assessment", "donation", "activist_code"} <= types
