"""The store's big tables carry no PRIMARY KEY; stores made with one are rebuilt."""

from __future__ import annotations

import duckdb

from cyclebook.store import UNINDEXED_KEYS, connect


def test_old_store_with_primary_keys_is_rebuilt_without_them(tmp_path):
    path = tmp_path / "store.duckdb"
    old = duckdb.connect(str(path))
    # the person table as earlier versions created it
    old.execute(
        """CREATE TABLE person (org_id VARCHAR NOT NULL, person_id VARCHAR NOT NULL,
           first_seen_at TIMESTAMPTZ, zip VARCHAR, state VARCHAR, email_ok BOOLEAN,
           sms_ok BOOLEAN, do_not_contact BOOLEAN, match_key VARCHAR,
           PRIMARY KEY (org_id, person_id))"""
    )
    old.execute("INSERT INTO person (org_id, person_id, zip) VALUES ('o', 'p1', '02139')")
    old.close()
    with connect(path, write=True) as con:
        keys = con.execute(
            "SELECT table_name FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'"
        ).fetchall()
        assert not {k[0] for k in keys} & set(UNINDEXED_KEYS)
        assert con.execute("SELECT org_id, person_id, zip FROM person").fetchall() == [
            ("o", "p1", "02139")
        ]
        # still the canonical columns, in order
        columns = [r[0] for r in con.execute("DESCRIBE person").fetchall()]
        assert columns[:3] == ["org_id", "person_id", "first_seen_at"]
        assert len(columns) == 9
    # a second open finds nothing to rebuild and keeps the row
    with connect(path, write=True) as con:
        assert con.execute("SELECT count(*) FROM person").fetchone() == (1,)
