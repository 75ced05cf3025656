"""The sync's SQL helpers (stage.MACROS) on values checked by hand."""

from __future__ import annotations

import duckdb

from cyclebook.sync.stage import MACROS


def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/New_York'")
    for macro in MACROS:
        con.execute(macro)
    return con


def test_cb_ts_reads_padded_naive_offset_us_and_excel_dates():
    con = _con()
    values = [
        "2026-08-01 10:00:00",  # naive: the organization's time zone (EDT, -4)
        "  2026-08-01 10:00:00  ",  # padded: read once trimmed
        " 2026-08-01 ",  # a padded date the untrimmed cast refuses
        "\t2026-08-01T14:00:00Z",  # an offset, a tab before it
        "2026-01-15 10:00:00+02",  # another offset (winter: EST, -5)
        "08/01/2026",  # US date
        "46235",  # Excel serial day: 2026-08-01
        "",
        "   ",
        "soon",
        None,
    ]
    rows = con.execute(
        """SELECT strftime(cb_ts(v) AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M')
           FROM (SELECT unnest($v::VARCHAR[]) AS v, unnest(range(len($v))) AS i) ORDER BY i""",
        {"v": values},
    ).fetchall()
    assert [r[0] for r in rows] == [
        "2026-08-01 14:00",
        "2026-08-01 14:00",
        "2026-08-01 04:00",
        "2026-08-01 14:00",
        "2026-01-15 08:00",
        "2026-08-01 04:00",
        "2026-08-01 04:00",
        None,
        None,
        None,
        None,
    ]
