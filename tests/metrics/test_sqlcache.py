"""The compiled-SQL cache: what makes two queries the same, and that a remembered query
gives each organization its own values."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys

import ibis
import pyarrow as pa

from cyclebook.metrics import compute_metrics, sqlcache

from .storebuild import make_card, make_org, two_organizations

C1 = make_card("c1", "2026-01-19", "2026-03-02")
C2 = make_card("c2", "2026-03-02", "2026-04-13", previous="c1")

ACTIVITY = ibis.table(
    {"org_id": "string", "person_id": "string", "n": "int64", "at": "timestamp('UTC')"},
    name="activity",
)


def _query(t=ACTIVITY, *, since=dt.datetime(2026, 3, 2, tzinfo=dt.UTC), at_least=2):
    t = t.filter(t.at >= since)
    per = t.group_by("person_id").aggregate(n=t.n.sum())
    return per.filter(per.n >= at_least)


def test_same_structure_same_fingerprint_any_difference_another():
    key = sqlcache.fingerprint(_query())
    assert key is not None and len(key) == 64
    assert sqlcache.fingerprint(_query()) == key  # built again, from scratch

    # a self-join's references carry numbers from a global counter: only their pattern
    # counts (the same reference twice, or two different ones)
    def self_join():
        left, right = _query().view(), _query().view()
        return left.join(right, left.person_id == right.person_id)

    assert sqlcache.fingerprint(self_join()) == sqlcache.fingerprint(self_join())
    one = _query().view()
    assert sqlcache.fingerprint(one.join(one, "person_id")) != sqlcache.fingerprint(self_join())
    others = [
        _query(since=dt.datetime(2026, 3, 3, tzinfo=dt.UTC)),  # another date
        _query(at_least=3),  # another threshold
        _query(at_least=2.0),  # 2.0 is not 2 in SQL
        _query(ibis.table(ACTIVITY.schema(), name="activity_2")),  # another table
        _query().select("person_id"),  # one more node
    ]
    keys = {sqlcache.fingerprint(q) for q in others}
    assert key not in keys and len(keys) == len(others)


def test_a_query_over_in_memory_data_is_never_remembered():
    wanted = ibis.memtable(pa.table({"wid": ["p1", "p2"]}))
    joined = ACTIVITY.join(wanted, ACTIVITY.person_id == wanted.wid)
    assert sqlcache.fingerprint(joined) is None


def test_the_cache_hands_back_what_was_compiled(tmp_path):
    calls = []

    def compile_fn(expr, **kwargs):
        calls.append(expr)
        return f"SELECT {len(calls)}"

    folder = tmp_path / "sql"
    first = sqlcache.SqlCache(folder)
    assert first.compile(compile_fn, _query()) == "SELECT 1"
    assert first.compile(compile_fn, _query()) == "SELECT 1"  # from memory
    # another process (a new cache object) reads the file
    second = sqlcache.SqlCache(folder)
    assert second.compile(compile_fn, _query()) == "SELECT 1"
    assert (first.hits, first.misses, second.hits, second.misses) == (1, 1, 1, 0)
    # scalar parameters or a limit are part of the call: not served from the cache
    assert second.compile(compile_fn, _query(), params={"p": 1}) == "SELECT 2"
    assert second.compile(compile_fn, _query(), limit=10) == "SELECT 3"
    assert second.compile(compile_fn, _query(), limit=10) == "SELECT 3"
    assert len(calls) == 3
    # another backend's SQL is its own
    assert sqlcache.SqlCache(folder, dialect="postgres").compile(compile_fn, _query()) == (
        "SELECT 4"
    )
    assert [p.name for p in folder.iterdir()] and not list(folder.glob(".*"))


def test_one_organizations_sql_serves_the_next_with_its_own_values(tmp_path):
    (tmp_path / "shared").mkdir()
    store = tmp_path / "shared" / "store.duckdb"
    two_organizations(store)
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(store, alone / "store.duckdb")  # the same data, an empty cache

    org_a, org_b = make_org(id="org-a"), make_org(id="org-b")
    res_a = compute_metrics(store, org_a, C2, C1, save=False)
    folder = sqlcache.cache_folder(store)
    remembered = sorted(folder.glob("*.sql"))
    assert len(remembered) >= 15
    # the SQL names no organization (each engine reads through its own views)
    texts = "\n".join(p.read_text() for p in remembered)
    assert "org-a" not in texts and "org-b" not in texts

    res_b = compute_metrics(store, org_b, C2, C1, save=False)
    assert sorted(folder.glob("*.sql")) == remembered  # nothing new was compiled
    fresh_b = compute_metrics(alone / "store.duckdb", org_b, C2, C1, save=False)
    assert res_b.frame().equals(fresh_b.frame())

    # by hand: org-b has one new person (Q1), on the supporter rung at the end
    assert res_b.get("new_people", "cycle", "").value == 1
    assert res_b.get("ladder", "end", "supporter").value == 1
    assert res_b.get("ladder", "end", "member").value == 0
    # org-a: P2 new; P1 and P2 members at the end, nobody on the supporter rung
    assert res_a.get("new_people", "cycle", "").value == 1
    assert res_a.get("ladder", "end", "member").value == 2
    assert res_a.get("ladder", "end", "supporter").value == 0


def test_other_definitions_compile_their_own_sql(tmp_path):
    store = tmp_path / "store.duckdb"
    two_organizations(store)
    compute_metrics(store, make_org(id="org-a"), C2, C1, save=False)
    before = set(sqlcache.cache_folder(store).glob("*.sql"))
    # org-b counts only signups as qualifying activity: the active-base queries differ
    own = make_org(id="org-b", metrics={"qualifying_types": ["signup"]})
    res = compute_metrics(store, own, C2, C1, save=False)
    after = set(sqlcache.cache_folder(store).glob("*.sql"))
    assert after > before
    assert res.get("active_base", "end", "").value == 1  # Q1's signup


def test_follow_up_lists_leave_no_person_in_the_cache(tmp_path):
    store = tmp_path / "store.duckdb"
    two_organizations(store)
    compute_metrics(
        store, make_org(id="org-a"), C2, C1, save=False, followup_dir=tmp_path / "followup"
    )
    texts = "\n".join(p.read_text() for p in sqlcache.cache_folder(store).glob("*.sql"))
    # the lists' queries are remembered too: they join a registered table of ids, and
    # the ids themselves never enter the SQL
    assert '"cb0_wanted"' in texts
    assert "P1" not in texts and "P2" not in texts


def test_the_kernels_zygote_parses_the_result_types_remembered_queries_name(tmp_path):
    """A remembered query's entry names its result types as text, which ibis parses once
    per process: parsed in the zygote before the forks, no kernel parses them again."""
    store = tmp_path / "store.duckdb"
    two_organizations(store)
    compute_metrics(store, make_org(id="org-a"), C2, C1, keep_state=True)
    entries = sorted(str(p) for p in sqlcache.cache_folder(store).glob("plan-*.sql"))
    probe = (
        "import json, sys\n"
        "from ibis.expr.datatypes.parse import parse\n"
        "from cyclebook import zygote\n"
        "from cyclebook.metrics import engine\n"
        "zygote._warm()\n"
        "before = parse.cache_info().misses\n"
        "names = [t for f in sys.argv[1:] for _, t in json.load(open(f))['schema']]\n"
        "engine._schema_of([[str(i), t] for i, t in enumerate(names)])\n"
        "print(len(set(names)), parse.cache_info().misses - before)"
    )
    done = subprocess.run([sys.executable, "-c", probe, *entries], capture_output=True, text=True)
    kinds, parsed = done.stdout.split()
    assert int(kinds) >= 4 and parsed == "0", done.stderr


def test_the_kernels_zygote_imports_the_converter_results_are_read_with():
    """A kernel's first follow-up list (read as Arrow, converted to ibis's types) imported
    ibis's DuckDB converter in every share report: the zygote imports it before the forks."""
    probe = (
        "import sys\n"
        "from cyclebook import zygote\n"
        "from cyclebook.metrics import engine\n"
        "before = 'ibis.backends.duckdb.converter' in sys.modules\n"
        "zygote._warm()\n"
        "print(before, 'ibis.backends.duckdb.converter' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.split() == ["False", "True"], done.stderr


def test_a_summary_runs_as_a_statement_with_the_same_result(tmp_path):
    """A metric's few rows come from a statement's result, without the relation (and its
    second parse and bind) a list of people is read through: the same Arrow table, the
    same types, none (and no warning) when nothing matches."""
    import duckdb

    from cyclebook.metrics import engine

    con = duckdb.connect()
    con.execute("CREATE TABLE t (k VARCHAR, seen TIMESTAMPTZ, n BIGINT)")
    con.execute(
        "INSERT INTO t VALUES ('a', '2026-03-02 10:00:00+00', 2), ('a', NULL, 3), "
        "('b', '2026-03-03 10:00:00+00', NULL)"
    )
    backend = ibis.duckdb.from_connection(con)
    t = backend.table("t")

    def build(where):
        def built():
            rows = t.filter(where(t))
            return rows.group_by("k").aggregate(last=rows.seen.max(), n=rows.n.sum()), {}

        return built

    for where, rows in ((lambda r: r.k != "c", 2), (lambda r: r.k == "c", 0)):
        summary = engine.remembered(backend, None, build(where), None, few_rows=True)
        relation = engine.remembered(backend, None, build(where), None)
        assert summary.equals(relation) and summary.schema == relation.schema
        assert summary.num_rows == rows
    by_key = engine.remembered(backend, None, build(lambda r: r.k != "c"), None, few_rows=True)
    rows = sorted(by_key.to_pylist(), key=lambda row: row["k"])
    assert [(row["k"], row["n"], row["last"].isoformat()[:19]) for row in rows] == [
        ("a", 5, "2026-03-02T10:00:00"),
        ("b", None, "2026-03-03T10:00:00"),
    ]
