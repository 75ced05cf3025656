"""store.connect attaches the store to one DuckDB instance per process: each use must
still behave like a connection of its own (its own session, its transaction rolled back
if left open, the file released for other processes when it ends)."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from cyclebook import store
from cyclebook.errors import StoreError


@pytest.fixture
def path(tmp_path):
    path = tmp_path / "store.duckdb"
    with store.connect(path, write=True) as con:
        con.execute("CREATE TABLE t (n INTEGER)")
        con.execute("INSERT INTO t VALUES (1), (2)")
    return path


def _attached(path) -> list[str]:
    return [
        name
        for (name,) in store._INSTANCE.cursor()
        .execute("SELECT database_name FROM duckdb_databases() WHERE path = ?", [str(path)])
        .fetchall()
    ]


def test_the_store_is_the_current_database_and_is_detached_after(path):
    with store.connect(path) as con:
        assert con.execute("SELECT sum(n) FROM t").fetchone()[0] == 3
        assert len(_attached(path)) == 1
    assert _attached(path) == []


def test_another_process_can_write_once_a_write_use_has_ended(path):
    with store.connect(path, write=True) as con:
        con.execute("INSERT INTO t VALUES (3)")
    # DuckDB lets no other process open a file that a process has open for writing:
    # this fails if the file were still attached
    assert _write_from_another_process(path, 4) == 10  # 1 + 2 + 3 + 4: the write was kept
    with store.connect(path) as con:
        assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 4


def test_an_open_transaction_is_rolled_back_like_a_closed_connection(path):
    with store.connect(path, write=True) as con:
        con.execute("BEGIN TRANSACTION")
        con.execute("INSERT INTO t VALUES (100)")
    with store.connect(path, write=True) as con:
        con.execute("BEGIN TRANSACTION")
        con.execute("INSERT INTO t VALUES (200)")
        with pytest.raises(duckdb.Error):
            con.execute("SELECT no_such_column FROM t")  # an aborted transaction
    with store.connect(path) as con:
        assert con.execute("SELECT sum(n) FROM t").fetchone()[0] == 3


def test_each_use_is_a_session_of_its_own(path):
    with store.connect(path) as con:
        con.execute("CREATE TEMP VIEW mine AS SELECT 1 AS x")
        con.execute("SET TimeZone = 'Pacific/Auckland'")
    with store.connect(path) as con:
        assert con.execute(
            "SELECT count(*) FROM duckdb_views() WHERE view_name = 'mine'"
        ).fetchone() == (0,)
        assert con.execute("SELECT current_setting('TimeZone')").fetchone()[0] != (
            "Pacific/Auckland"
        )


def test_nested_reads_share_one_attachment(path):
    with store.connect(path) as outer:
        with store.connect(path) as inner:
            assert inner.execute("SELECT count(*) FROM t").fetchone()[0] == 2
            assert len(_attached(path)) == 1
        # the inner use ending does not detach what the outer one still reads
        assert outer.execute("SELECT count(*) FROM t").fetchone()[0] == 2
    assert _attached(path) == []


def test_table_names_are_the_current_stores_as_show_tables_lists_them(path, tmp_path):
    other = tmp_path / "other.duckdb"
    with store.connect(other, write=True) as con:
        con.execute("CREATE TABLE only_other (n INTEGER)")
    with store.connect(path) as con, store.connect(other) as other_con:
        con.execute("CREATE TEMP TABLE scratch (n INTEGER)")
        # the other store, attached to the same instance meanwhile, is not listed, nor
        # the other store's own schema tables; the connection's temporary table is
        names = store.table_names(con)
        assert "t" in names and "scratch" in names
        assert "only_other" not in names
        assert names == {name for (name,) in con.execute("SHOW TABLES").fetchall()}
        assert "only_other" in store.table_names(other_con)
        assert "t" not in store.table_names(other_con)


def test_writing_while_this_process_reads_the_same_store_is_refused(path):
    with store.connect(path) as con:
        store._INSTANCE.attach(con, path, read_only=True)  # a second reader: fine
        store._INSTANCE.detach(path)
        with pytest.raises(StoreError, match="opened for writing while this process"):
            store._INSTANCE.attach(con, path, read_only=False)
    assert _attached(path) == []


def test_a_large_query_spills_beside_the_store_not_into_the_working_directory(tmp_path):
    """Run in a fresh process: DuckDB fixes its spill folder at the first spill."""
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    path = tmp_path / "store.duckdb"
    code = (
        "import sys; from cyclebook import store\n"
        "with store.connect(sys.argv[1], write=True) as con:\n"
        "    con.execute(\"SET memory_limit = '64MB'\")\n"
        "    con.execute('SET threads = 1')\n"
        "    con.execute('SET preserve_insertion_order = false')\n"
        "    con.execute('CREATE TEMP TABLE big AS SELECT md5(range::VARCHAR) AS s, range AS i "
        "FROM range(1000000)')\n"
        "    con.execute('SELECT count(*) FROM (SELECT s, i FROM big ORDER BY s)').fetchall()\n"
        "    print(con.execute(\"SELECT current_setting('temp_directory')\").fetchone()[0])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=workdir,
    )
    assert out.stdout.strip() == str(path.resolve()) + ".tmp"
    assert not (workdir / ".tmp").exists()


def test_a_forked_child_opens_the_store_with_an_instance_of_its_own(path):
    import multiprocessing

    with store.connect(path) as con:
        assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 2
    parent_db = store._INSTANCE.db
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        assert pool.apply(_child_sum, (str(path),)) == (3, True)
    assert store._INSTANCE.db is parent_db  # the parent's instance is untouched


def _child_sum(path: str) -> tuple[int, bool]:
    parent_db = store._INSTANCE.db
    with store.connect(path, write=True) as con:
        total = con.execute("SELECT sum(n) FROM t").fetchone()[0]
    return total, store._INSTANCE.db is not parent_db


def test_a_failed_detach_closes_the_instance_so_the_file_is_released(path):
    with pytest.raises(duckdb.Error), store.connect(path, write=True) as con:
        con.execute("INSERT INTO t VALUES (5)")
        # the DETACH at the end will name a database that does not exist
        store._INSTANCE.attached[str(path.resolve())][0] = "cb_no_such_alias"
    assert store._INSTANCE.db is None and store._INSTANCE.attached == {}
    assert _write_from_another_process(path, 6) == 14
    with store.connect(path) as con:  # and the next use starts a fresh instance
        assert con.execute("SELECT sum(n) FROM t").fetchone()[0] == 14


def _write_from_another_process(path, value: int) -> int:
    """Insert ``value`` from another process (DuckDB lets none open a file a process has
    open for writing); the sum of ``t`` it then reads."""
    code = (
        "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
        "con.execute(f'INSERT INTO t VALUES ({sys.argv[2]})'); "
        "print(con.execute('SELECT sum(n) FROM t').fetchone()[0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), str(value)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip())


PREPARED_FOR_FORKS = """
import os, sys
import duckdb
from cyclebook import store

path = sys.argv[1]
threads = lambda: len(os.listdir('/proc/self/task'))
before = threads()
assert store.prepare_for_fork()
assert threads() == before, 'a thread was started before the forks'
assert not store.prepare_for_fork()  # made once
prepared = store._INSTANCE.db
spare = store._INSTANCE.spare[1]
own = store.private_instance()  # the parent's own: a new one, the spare is kept
assert own is not spare and store._INSTANCE.spare[1] is spare
own.close()
results = []
for _ in range(2):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        inherited = store._INSTANCE.db is prepared
        with store.connect(path) as con:
            total = con.execute('SELECT sum(n) FROM t').fetchone()[0]
            setting = con.execute("SELECT current_setting('threads')").fetchone()[0]
            io_threads = con.execute("SELECT current_setting('async_threads')").fetchone()[0]
        usual = duckdb.connect().execute("SELECT current_setting('threads')").fetchone()[0]
        first, second = store.private_instance(), store.private_instance()
        spare_threads = first.execute("SELECT current_setting('threads')").fetchone()[0]
        spare_io = first.execute("SELECT current_setting('async_threads')").fetchone()[0]
        os.write(write, repr((inherited, total, setting == usual,
                              store._INSTANCE.for_forks, first is spare, second is not spare,
                              spare_threads == usual, io_threads, spare_io)).encode())
        os._exit(0)
    os.close(write)
    results.append(os.read(read, 1000).decode())
    os.waitpid(pid, 0)
print(results, store._INSTANCE.for_forks, threads() == before)
"""


def test_an_instance_prepared_for_forks_serves_each_child(path):
    """The kernel zygote makes the DuckDB instance before it forks: with no thread (a
    lock held by one at the fork would stay held in the child), and each child uses its
    copy, given DuckDB's usual threads, while the parent never touches it. No async
    (remote I/O) threads in the child: starting them would flush the allocators."""
    done = subprocess.run(
        [sys.executable, "-c", PREPARED_FOR_FORKS, str(path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    child = "(True, 3, True, False, True, True, True, 0, 0)"
    assert done.stdout.split("]")[0] + "]" == str([child] * 2)
    assert done.stdout.strip().endswith("True True")


SPARE_WITH_SETUP = """
import os, sys
from cyclebook import store, zygote
from cyclebook.sync.stage import STAGE_SETUP

# a setup that fails when run twice on one instance (its table exists then)
setup = "CREATE TEMP TABLE made (n INTEGER); INSERT INTO made VALUES (1)"
threads = lambda: len(os.listdir('/proc/self/task'))
before = threads()
assert store.prepare_for_fork(setup)
assert threads() == before, 'the setup started a thread before the forks'
results = []
for wanted in (setup, "CREATE TEMP TABLE other (n INTEGER)"):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        first, second = store.private_instance(wanted), store.private_instance(wanted)
        tables = lambda con: sorted(r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall())
        os.write(write, repr((first is store._INSTANCE.db, tables(first), tables(second),
                              first.execute("SELECT count(*) FROM made").fetchone()[0]))
                 .encode())
        os._exit(0)
    os.close(write)
    results.append(os.read(read, 1000).decode())
    os.waitpid(pid, 0)
print(results)
# the kernel zygote gives the spare the sync's macros and staging tables
store._INSTANCE.db = store._INSTANCE.spare = None
zygote._warm()
print(store._INSTANCE.spare[2] == STAGE_SETUP)
"""


def test_the_spare_instance_is_given_its_setup_before_the_fork():
    """A kernel's sync takes the spare instance the zygote made before the fork, with the
    sync's macros and staging tables made there (~25 ms less a sync): the child does not
    run them again (here, a table made twice would fail), runs another setup it is
    asked for, and an instance made in the child is given the setup too."""
    done = subprocess.run([sys.executable, "-c", SPARE_WITH_SETUP], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        str(
            [
                "(False, ['made'], ['made'], 1)",
                "(False, ['made', 'other'], ['other'], 1)",
            ]
        ),
        "True",
    ]


def test_no_instance_is_prepared_over_one_in_use(path):
    with store.connect(path) as con:
        assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 2
    assert not store.prepare_for_fork()
    assert not store._INSTANCE.for_forks


def test_another_program_holding_the_store_is_named_not_a_traceback(path, monkeypatch):
    """A data staffer's DuckDB session has the store open (read-only): cyclebook waits a
    little, then says which program keeps it out, instead of ending in DuckDB's
    IOException; reading beside it still works."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            f"con = duckdb.connect({str(path)!r}, read_only=True)\n"
            "print('open', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        monkeypatch.setenv("CYCLEBOOK_OTHER_PROGRAM_WAIT", "0.3")
        with pytest.raises(StoreError) as caught, store.connect(path, write=True):
            pass
        message = str(caught.value)
        assert "the store is open in another program" in message
        assert f"(PID {holder.pid})" in message and "close the store in that program" in message
        with store.connect(path) as con:  # a reader beside a read-only program: fine
            assert con.execute("SELECT sum(n) FROM t").fetchone()[0] == 3
        # the sync's own attach says the same
        with (
            store.session() as mem,
            pytest.raises(StoreError, match="another program"),
            store.attached_for_write(mem, path),
        ):
            pass
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()
    with store.connect(path, write=True) as con:  # released: writing works again
        con.execute("INSERT INTO t VALUES (3)")


def _schema(con) -> tuple[list, list, list, list]:
    here = "schema_name = 'main' AND database_name = current_database()"
    return (
        con.execute(
            "SELECT table_name, column_index, column_name, data_type, is_nullable, "
            f"column_default FROM duckdb_columns() WHERE {here} ORDER BY ALL"
        ).fetchall(),
        con.execute(
            "SELECT table_name, constraint_type, constraint_column_names "
            f"FROM duckdb_constraints() WHERE {here} ORDER BY ALL"
        ).fetchall(),
        con.execute(
            f"SELECT table_name, sql FROM duckdb_tables() WHERE {here} ORDER BY 1"
        ).fetchall(),
        con.execute("SELECT * FROM meta ORDER BY ALL").fetchall(),
    )


def test_a_new_store_is_made_as_the_migrations_leave_an_older_one():
    # a new store's tables are made in one call, without the migrations' steps: its
    # tables, columns, keys and compression, and its schema version, are those a store
    # that went through them has
    new = duckdb.connect()
    store.create_schema(new)
    migrated = duckdb.connect()
    migrated.execute("CREATE TABLE cb_older (n INTEGER)")  # not new: every step runs
    store.create_schema(migrated)
    migrated.execute("DROP TABLE cb_older")
    assert _schema(new) == _schema(migrated)
    assert ("schema_version", str(store.SCHEMA_VERSION)) in _schema(new)[3]
    assert {name for name, _ in _schema(new)[2]} == set(store.SCHEMA)


def test_the_warm_up_query_groups_ranks_and_joins():
    """prepare_for_fork runs _WARM_QUERY once on the kernels' instance (its errors are
    not shown there): it must run, and does what a report's queries do. range(200) in 7
    groups of i % 7: groups 0-3 hold 29 rows, 4-6 hold 28; the two first of each."""
    con = duckdb.connect()
    rows = con.execute(f"SELECT grp, n, total, labels, rank FROM ({store._WARM_QUERY})").fetchall()
    assert len(rows) == 14
    assert [(grp, n, labels, rank) for grp, n, _, labels, rank in rows[:2]] == [
        (0, 29, 29, 1),
        (0, 29, 29, 2),
    ]
    assert rows[0][2] == 1.5 * sum(range(0, 200, 7))  # 1.5 * 2842
    assert [(grp, n) for grp, n, *_ in rows[-2:]] == [(6, 28), (6, 28)]
