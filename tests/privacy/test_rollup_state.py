"""A network roll-up reads the per-person state its members' own share reports kept
(``person_state``) while it is fresh, and computes it again when it is not: the same
figures either way. A planted change in the kept state shows which one was read."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from cyclebook.config import load_cohort, load_cycle
from cyclebook.metrics import compute_metrics
from cyclebook.rollup import compute_rollup
from cyclebook.store import SCHEMA_VERSION

from .cohortfix import make_cohort

MEMBERS = ("net", "net-a", "net-b")


@pytest.fixture
def network(tmp_path: Path):
    root = make_cohort(tmp_path / "cohort", metric_values=False)
    cohort = load_cohort(root)
    card, previous = load_cycle(root, "c2"), load_cycle(root, "c1")
    return root / "store.duckdb", cohort, card, previous


def _keep(store_path, cohort, card, previous, *, keep_state=True) -> None:
    for org_id in MEMBERS:
        compute_metrics(store_path, cohort.org(org_id), card, previous, keep_state=keep_state)


def _sql(store_path, query: str, params=()) -> list[tuple]:
    with duckdb.connect(str(store_path)) as con:
        return con.execute(query, list(params)).fetchall()


def test_each_member_keeps_its_state_beside_its_values(network) -> None:
    store_path, cohort, card, previous = network
    _keep(store_path, cohort, card, previous)
    # active at the end: 3 people in A and 2 in B (tests/privacy/test_rollup.py)
    rows = _sql(
        store_path,
        "SELECT org_id, count(*) FILTER (WHERE active_end) FROM person_state "
        "WHERE cycle = 'c2' GROUP BY ALL ORDER BY ALL",
    )
    assert dict(rows)["net-a"] == 3 and dict(rows)["net-b"] == 2
    keys = [k for (k,) in _sql(store_path, "SELECT key FROM meta WHERE key LIKE 'person_state/%'")]
    assert sorted(keys) == [f"person_state/c2/{org}" for org in MEMBERS]


def test_the_rollup_reads_the_kept_state_and_gives_the_same_figures(network) -> None:
    store_path, cohort, card, previous = network
    computed = compute_rollup(store_path, cohort, "net", card, previous).values.frame()
    _keep(store_path, cohort, card, previous)
    kept = compute_rollup(store_path, cohort, "net", card, previous).values.frame()
    assert kept.equals(computed)
    assert computed.loc[computed.metric == "active_base"].shape[0] > 0
    # planted: B's people no longer active at the end in the kept state. The roll-up reads
    # it: 4 people (3 in A, 2 in B, one of them in both) become A's 3
    _sql(store_path, "UPDATE person_state SET active_end = false WHERE org_id = 'net-b'")
    planted = compute_rollup(store_path, cohort, "net", card, previous)
    assert planted.value("active_base", "end") == 3


def test_a_sync_that_changed_rows_or_values_saved_without_it_makes_the_rollup_compute_again(
    network,
) -> None:
    store_path, cohort, card, previous = network
    _keep(store_path, cohort, card, previous)
    _sql(store_path, "UPDATE person_state SET active_end = false WHERE org_id = 'net-b'")

    def active_at_the_end() -> float | None:
        return compute_rollup(store_path, cohort, "net", card, previous).value("active_base", "end")

    assert active_at_the_end() == 3

    def sync_of_b(run_id: str) -> None:
        _sql(
            store_path,
            "INSERT INTO sync_run (org_id, run_id, started_at, finished_at, status) "
            "VALUES ('net-b', ?, ?, ?, 'ok')",
            [run_id, *[dt.datetime.now(dt.UTC)] * 2],
        )

    # a sync of B since, that stored the same rows (its export downloaded again): the
    # state it kept holds (the roll-up computed every member's state again)
    sync_of_b("same rows")
    assert active_at_the_end() == 3
    # one that changed a row of B's (a member's zip code): computed again
    _sql(
        store_path,
        "UPDATE person SET zip = '99999' WHERE org_id = 'net-b' "
        "AND person_id = (SELECT min(person_id) FROM person WHERE org_id = 'net-b')",
    )
    sync_of_b("changed")
    assert active_at_the_end() == 4
    # values saved again without the state (a report for another audience recomputing
    # them) take the old state away with them
    compute_metrics(store_path, cohort.org("net-b"), card, previous, keep_state=False)
    assert _sql(store_path, "SELECT count(*) FROM person_state WHERE org_id = 'net-b'") == [(0,)]
    assert _sql(store_path, "SELECT count(*) FROM meta WHERE key = 'person_state/c2/net-b'") == [
        (0,)
    ]


def test_changed_definitions_make_the_kept_state_stale(network) -> None:
    store_path, cohort, card, previous = network
    _keep(store_path, cohort, card, previous)
    _sql(store_path, "UPDATE person_state SET active_end = false WHERE org_id = 'net-b'")
    # B now counts activity over 180 days: what it kept was computed with 365
    changed = cohort.model_copy(
        update={
            "organizations": [
                org.model_copy(
                    update={"metrics": org.metrics.model_copy(update={"active_window_days": 180})}
                )
                if org.id == "net-b"
                else org
                for org in cohort.organizations
            ]
        }
    )
    rollup = compute_rollup(store_path, changed, "net", card, previous)
    assert rollup.value("active_base", "end") == 4


def test_only_members_of_a_network_keep_state(tmp_path: Path) -> None:
    from cyclebook.phases import load_context, share

    root = make_cohort(tmp_path / "cohort", metric_values=False)
    for org_id in ("net-a", "solo"):
        share.compute(load_context("share", str(root), "c2", org_id, "organization"))
    kept = _sql(root / "store.duckdb", "SELECT DISTINCT org_id FROM person_state")
    assert kept == [("net-a",)]


def test_a_store_made_before_person_state_gets_the_table(network) -> None:
    store_path, cohort, card, previous = network
    _sql(store_path, "DROP TABLE person_state")
    _sql(store_path, "UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    # a roll-up over the old store: nothing kept, so the state is computed
    assert (
        compute_rollup(store_path, cohort, "net", card, previous).value("active_base", "end") == 4
    )
    _keep(store_path, cohort, card, previous)
    assert _sql(store_path, "SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    assert _sql(store_path, "SELECT count(*) > 0 FROM person_state") == [(True,)]


def test_a_rollup_over_kept_states_is_one_query_of_the_store(network, monkeypatch) -> None:
    """Members that kept their state: the roll-up is SQL over the store's tables, with no
    ibis backend, no expression built or compiled and nothing remembered for it; a
    member whose state is not kept is computed by its engine, with the same figures."""
    from cyclebook import rollup as rollup_module
    from cyclebook.metrics import sqlcache

    store_path, cohort, card, previous = network
    computed = compute_rollup(store_path, cohort, "net", card, previous)
    _keep(store_path, cohort, card, previous)
    remembered = set(sqlcache.cache_folder(store_path).glob("*.sql"))

    def no_ibis(*args, **kwargs):
        raise AssertionError("an ibis backend was made for the roll-up")

    with monkeypatch.context() as patched:
        patched.setattr(rollup_module, "store_backend", no_ibis)
        kept = compute_rollup(store_path, cohort, "net", card, previous)
        # one member only: A's 3 (by hand, tests/privacy/test_rollup.py)
        alone = compute_rollup(store_path, cohort, "net", card, previous, members=["net", "net-a"])
    assert set(sqlcache.cache_folder(store_path).glob("*.sql")) == remembered
    assert kept.values.frame().equals(computed.values.frame())
    # by hand: active at the end, 3 in A and 2 in B, one person in both: 4
    assert kept.value("active_base", "end") == 4
    assert alone.value("active_base", "end") == 3
    # B's kept state stale (its definitions changed): B's engine computes it, A's is read
    _sql(store_path, "UPDATE meta SET value = 'stale' WHERE key = 'person_state/c2/net-b'")
    _sql(store_path, "UPDATE person_state SET active_end = false WHERE org_id = 'net-a'")
    made = []
    real_backend = rollup_module.store_backend

    def counted(*args, **kwargs):
        made.append(args)
        return real_backend(*args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(rollup_module, "store_backend", counted)
        mixed = compute_rollup(store_path, cohort, "net", card, previous)
    assert len(made) == 1
    # A's people no longer active at the end (as kept): B's 2, computed
    assert mixed.value("active_base", "end") == 2


def test_a_running_cycle_counts_the_events_before_its_own_now(network) -> None:
    """While the cycle runs, "events that have happened" ends now, another instant in
    every run: each run counts only the events before its own now."""
    store_path, cohort, card, previous = network
    _sql(store_path, "UPDATE activity SET status = 'registered' WHERE type = 'attendance'")

    def on(hour: int):
        now = dt.datetime(2026, 10, 1, hour, tzinfo=dt.UTC)
        return compute_rollup(store_path, cohort, "net", card, previous, now=now)

    # c2 runs from 14 September: by 1 October, 11:00 UTC, a1 (20th) and a3 (16th) in A
    # and b2 (20th) in B have come to their events; b1's of the 12th is before the cycle,
    # and its of 1 October at 12:00 has not happened yet
    first = on(11).values.get("show_rate", "cycle", "")
    assert (first.value, first.denominator) == (1.0, 3)
    later = on(20).values.get("show_rate", "cycle", "")
    assert (later.value, later.denominator) == (1.0, 4)  # and b1's of 1 October
