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
    # the groups' reflections too: a demo in a folder of its own reflected on nothing
    template = Path(__file__).parents[1] / "cycles" / "demo" / "2026-c1" / "reflections"
    copied = demo / "2026-c1" / "reflections"
    assert sorted(p.name for p in copied.iterdir()) == [
        "eastside-tenants.yml",
        "riverside-workers.yml",
    ]
    for path in copied.iterdir():
        assert path.read_bytes() == (template / path.name).read_bytes()
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


def _mtimes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_never_writes_over_a_cohorts_own_exports(tmp_path):
    """`cyclebook demo` pointed at a real cohort deleted its organizations' exports (one
    never synced is kept nowhere else) and wrote made-up people in their place."""
    from cyclebook.cli import main

    root = tmp_path / "real"
    (root / "orgs" / "eastside" / "exports" / "an").mkdir(parents=True)
    (root / "cohort.yml").write_text(
        "id: real\nname: Real\norganizations:\n"
        "  - id: westside\n    name: Westside\n    sources:\n      - {kind: spoke, path: spoke}\n"
        "  - id: eastside\n    name: Eastside\n    sources:\n"
        "      - {kind: action_network_csv, path: an}\n"
    )
    own = root / "orgs" / "eastside" / "exports" / "an" / "march.csv"
    own.write_text("uuid,email\nu1,member@example.org\n")
    assert main(["demo", str(root)]) == 2
    assert own.read_text() == "uuid,email\nu1,member@example.org\n"
    # refused before anything was written, for any organization
    assert [p.name for p in (root / "orgs").rglob("*") if p.is_file()] == ["march.csv"]


def test_a_second_demo_writes_nothing_and_an_edited_export_is_kept(tmp_path):
    root = tmp_path / "cohort"
    generate_demo(root, scale=SCALE, orgs=["harbor-youth", "eastside-tenants"])
    before = _mtimes(root / "orgs")
    generate_demo(root, scale=SCALE, orgs=["harbor-youth", "eastside-tenants"])
    assert _mtimes(root / "orgs") == before  # the same bytes were there: not rewritten
    generate_demo(root, scale=SCALE * 2, orgs=["harbor-youth"])  # a new scale: rewritten
    after = _mtimes(root / "orgs")
    roster = "harbor-youth/exports/roster.csv"
    assert after[roster] != before[roster]
    assert {k: v for k, v in after.items() if "eastside" in k} == {
        k: v for k, v in before.items() if "eastside" in k
    }
    # an export someone edited is theirs now: the demo does not write over it
    (root / "orgs" / roster).write_text("Member ID\nedited by hand\n")
    with pytest.raises(Exception, match="the demo did not write this export"):
        generate_demo(root, scale=SCALE, orgs=["harbor-youth"])
    assert (root / "orgs" / roster).read_text() == "Member ID\nedited by hand\n"
