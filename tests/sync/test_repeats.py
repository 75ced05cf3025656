"""merge._repeats: how many staged rows repeat a key an earlier row has."""

from __future__ import annotations

import duckdb

from cyclebook.sync.merge import _repeats


def test_repeats_counts_every_row_after_the_first_of_its_key():
    con = duckdb.connect()
    con.execute("CREATE TABLE t (k VARCHAR)")
    # a x3, b x1, c x2, NULL x2 (NULL keys repeat too: hash(NULL) is one value)
    con.execute("INSERT INTO t VALUES ('a'), ('b'), ('a'), ('c'), ('a'), ('c'), (NULL), (NULL)")
    assert _repeats(con, "t", "k") == (8, 4)
    assert _repeats(con, "(SELECT DISTINCT k FROM t)", "k") == (4, 0)
    assert _repeats(con, "(SELECT * FROM t WHERE false)", "k") == (0, 0)
