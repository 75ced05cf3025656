"""A sync bounded by its memory limit: spills to disk in a cohort's first sync, and
says how to give it more when even that is not enough."""

from __future__ import annotations

import pytest

from cyclebook.errors import CyclebookError, ResourceError
from cyclebook.sync import MEMORY_ENV, readers

ROSTER = """\
Member ID,First,Email,Meeting Date,Meeting
M1,Ana,ana@example.org,2026-08-12,Members meeting
M2,Ben,ben@example.org,2026-08-13,Members meeting
"""
SOURCE = """
- kind: generic_csv
  path: roster.csv
  activity_type: attendance
  columns:
    {person_id: Member ID, first_name: First, email: Email, occurred_at: Meeting Date,
     event: Meeting}
"""


@pytest.fixture
def heavy_reader(monkeypatch):
    """The spreadsheet reader, after making the sync's DuckDB hold ~150 MB in a TEMP table
    (more than the limit the tests set: DuckDB must write it to the spill folder)."""
    real = readers.READERS["generic_csv"]

    def reader(stage, source, files, org):
        stage.con.execute(
            "CREATE TEMP TABLE cb_ballast AS SELECT md5(CAST(i AS VARCHAR)) AS s "
            "FROM range(3000000) t(i)"
        )
        stage.con.execute("DROP TABLE cb_ballast")
        return real(stage, source, files, org)

    monkeypatch.setitem(readers.READERS, "generic_csv", reader)


def test_first_sync_of_a_cohort_can_spill(make_cohort, monkeypatch, heavy_reader):
    # the spill folder is <cohort>/.cyclebook/spill-<run>; DuckDB creates the folder but
    # not its parent, which a cohort's first sync has not made yet
    monkeypatch.setenv(MEMORY_ENV, "64MB")
    c = make_cohort(SOURCE)
    c.write("roster.csv", ROSTER)
    assert not (c.root / ".cyclebook").exists()
    result = c.sync()
    assert (result.status, result.rows_read, result.rows_rejected) == ("ok", 2, 0)
    assert list((c.root / ".cyclebook").glob("spill-*")) == []  # removed afterwards


def test_out_of_memory_names_the_limit_and_the_fix(make_cohort, monkeypatch, heavy_reader):
    monkeypatch.setenv(MEMORY_ENV, "2MB")
    c = make_cohort(SOURCE)
    c.write("roster.csv", ROSTER)
    with pytest.raises(ResourceError) as caught:
        c.sync()
    message = str(caught.value)
    assert message.startswith("org: the sync needed more memory than its 2MB limit")
    assert f"Fix: set {MEMORY_ENV} higher" in message
    # the failure is recorded, and the store holds nothing of the organization
    assert c.query("SELECT status FROM sync_run") == [("failed",)]
    assert c.query("SELECT count(*) FROM person") == [(0,)]


def test_a_limit_that_is_not_a_size_is_refused(make_cohort, monkeypatch):
    monkeypatch.setenv(MEMORY_ENV, "lots")
    c = make_cohort(SOURCE)
    c.write("roster.csv", ROSTER)
    with pytest.raises(CyclebookError, match=f"{MEMORY_ENV}='lots' is not a memory size"):
        c.sync()
