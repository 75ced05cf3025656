"""A sync holds the store only to compare and write: while it parses an organization's
exports, the cohort's other reports can read the store."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from test_readers import AN_CSV

from cyclebook import sync as sync_module
from cyclebook.errors import StoreError
from cyclebook.store import connect

SOURCES = "- {kind: action_network_csv, path: an}"


def _pause_while_parsing(monkeypatch, during) -> None:
    """Run ``during()`` once the exports are staged, before the store is written."""
    reader = sync_module.READERS["action_network_csv"]

    def paused(stage, src, files, org):
        reader(stage, src, files, org)
        during()

    monkeypatch.setitem(sync_module.READERS, "action_network_csv", paused)


def test_the_store_can_be_read_while_exports_are_parsed(make_cohort, monkeypatch):
    c = make_cohort(SOURCES)
    c.write("an/activists.csv", AN_CSV)
    c.sync()  # the store exists, with the organization's people
    people = c.query("SELECT count(*) FROM person")[0][0]
    assert people > 0
    c.write("an/activists-2.csv", AN_CSV.replace("@", "+2@"))  # a new export to read
    staged, release = threading.Event(), threading.Event()

    def during():
        staged.set()
        assert release.wait(30)

    _pause_while_parsing(monkeypatch, during)
    outcome: dict = {}
    worker = threading.Thread(target=lambda: outcome.update(result=c.sync()))
    worker.start()
    try:
        assert staged.wait(30)
        # a report reads the store while the sync is parsing (timeout: 1 s, not 600)
        with connect(c.root / "store.duckdb", timeout=1) as con:
            assert con.execute("SELECT count(*) FROM person").fetchone()[0] == people
    finally:
        release.set()
        worker.join(30)
    assert outcome["result"].status == "ok"
    assert outcome["result"].written["person_pii"] > 0  # the new emails were written


def test_a_sync_that_finished_meanwhile_is_not_overwritten(make_cohort, monkeypatch):
    c = make_cohort(SOURCES)
    c.write("an/activists.csv", AN_CSV)
    c.sync()
    c.write("an/activists-2.csv", AN_CSV.replace("@", "+2@"))
    runs_before = c.query("SELECT count(DISTINCT run_id) FROM sync_run")[0][0]
    state = {"inner": None}

    def during():
        if state["inner"] is None:  # another sync of the organization, start to end
            state["inner"] = "running"
            state["inner"] = sync_module.sync_org(c.root, c.org)

    _pause_while_parsing(monkeypatch, during)
    with pytest.raises(StoreError, match="another sync of this organization finished"):
        c.sync()
    assert state["inner"].status == "ok"
    # the inner sync's run stands; the outer one is recorded as failed, nothing else
    statuses = c.query(
        "SELECT status, count(DISTINCT run_id) FROM sync_run WHERE file IS NULL GROUP BY 1"
    )
    assert dict(statuses) == {"ok": runs_before + 1, "failed": 1}


def test_store_connections_draw_no_progress_bar(make_cohort):
    """DuckDB draws a progress bar on stderr for a query over two seconds (a widget in a
    kernel): in a report or a batch log it is noise, so store connections turn it off."""
    c = make_cohort(SOURCES)
    c.write("an/activists.csv", AN_CSV)
    c.sync()
    for write in (False, True):
        with connect(c.root / "store.duckdb", write=write) as con:
            setting = con.execute("SELECT current_setting('enable_progress_bar')").fetchone()
            assert setting == (False,)


def test_a_sync_spills_beside_the_store_and_cleans_up(make_cohort, monkeypatch):
    """Beyond its memory limit the private staging database spills to disk: into a
    folder of its own beside the store (not /tmp, often a small RAM disk), removed after."""
    c = make_cohort(SOURCES)
    c.write("an/activists.csv", AN_CSV)
    seen = {}

    reader = sync_module.READERS["action_network_csv"]

    def spying(stage, src, files, org):
        seen["dir"] = stage.con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
        # what DuckDB leaves there after spilling
        Path(seen["dir"]).mkdir(parents=True)
        (Path(seen["dir"]) / "duckdb_temp_storage-0.tmp").write_bytes(b"\0" * 1024)
        reader(stage, src, files, org)

    monkeypatch.setitem(sync_module.READERS, "action_network_csv", spying)
    assert c.sync().status == "ok"
    spill = c.root / ".cyclebook" / f"spill-{c.query('SELECT max(run_id) FROM sync_run')[0][0]}"
    assert seen["dir"] == str(spill)
    assert not spill.exists()


def test_a_temporary_table_named_as_a_store_table_does_not_hide_the_stores(tmp_path):
    """The sync opens the store on its own connection, which holds its temporary
    staging tables: the store's tables are told from them (store.table_names lists
    both). A temporary person_key there was taken for the store's, and a new store
    was made without one."""
    import duckdb

    from cyclebook.store import attached_for_write

    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE person_key (a INTEGER)")
    with attached_for_write(con, tmp_path / "store.duckdb"):
        made = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'cb_store' "
            "AND table_name = 'person_key'"
        ).fetchone()
    con.close()
    assert made == (1,)
