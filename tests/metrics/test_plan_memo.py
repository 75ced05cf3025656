"""Remembered query sites: an engine whose definitions were seen before runs their SQL
without building a single ibis expression, and gets its own organization's values."""

from __future__ import annotations

import json
import shutil

import pytest

from cyclebook.metrics import MetricEngine, compute_metrics, sqlcache

from .storebuild import StoreBuilder, at, make_card, make_org, two_organizations

C1 = make_card("c1", "2026-01-19", "2026-03-02")
C2 = make_card("c2", "2026-03-02", "2026-04-13", previous="c1")


def _store(path) -> None:
    """:func:`two_organizations`, and one more person in each: P3 (org-a) with one
    signup in c1 only; Q3 (org-b) with a signup in c1 and another in c2 (retained, and a
    member at the end: two activities in 180 days). Each knocked on a door in c2 (an
    organization without contact attempts runs no contact query)."""
    two_organizations(path)
    a = StoreBuilder(path, "org-a")
    a.person("P3", at("2026-01-20"))
    a.act("P3", "signup", at("2026-01-20"))
    a.attempt("P3", "door", at("2026-03-05"), conversation=True)
    a.build()
    b = StoreBuilder(path, "org-b")
    b.person("Q3", at("2026-02-01"))
    b.act("Q3", "signup", at("2026-02-01"))
    b.act("Q3", "signup", at("2026-03-20"))
    b.attempt("Q3", "door", at("2026-03-06"))
    b.build()


def _plans(store) -> dict[str, dict]:
    folder = sqlcache.cache_folder(store)
    return {p.name: json.loads(p.read_text()) for p in folder.glob("plan-*.sql")}


@pytest.fixture
def stores(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "alone").mkdir()
    shared = tmp_path / "shared" / "store.duckdb"
    _store(shared)
    alone = tmp_path / "alone" / "store.duckdb"
    shutil.copy(shared, alone)  # the same data, nothing remembered
    return shared, alone


def test_a_second_organization_runs_remembered_sql_only(stores, monkeypatch):
    shared, alone = stores
    compute_metrics(shared, make_org(id="org-a"), C2, C1, save=False)
    plans = _plans(shared)
    # every query site: transitions, base, new people, one-on-ones, show rate, volunteer
    # tiers, whether there is any contact attempt, contact by nothing, channel, week, week
    # and channel, the year by channel; and both temporary tables: the state and the
    # cycle's contacts
    assert len(plans) == 14
    temps = [p for p in plans.values() if p["sql"].startswith("CREATE TEMP TABLE")]
    assert len(temps) == 2

    fresh_b = compute_metrics(alone, make_org(id="org-b"), C2, C1, save=False)

    # org-b with the same definitions: no expression is built (every build path starts
    # by asking for a table or a temporary table as ibis sees it)
    def no_build(*args, **kwargs):
        raise AssertionError("an ibis expression was built")

    monkeypatch.setattr(MetricEngine, "table", no_build)
    monkeypatch.setattr(MetricEngine, "made", no_build)
    res_b = compute_metrics(shared, make_org(id="org-b"), C2, C1, save=False)
    assert _plans(shared) == plans  # nothing new remembered
    assert res_b.frame().equals(fresh_b.frame())
    # by hand: Q1 is new (supporter at the end), Q3 retained and a member at the end
    assert res_b.get("new_people", "cycle", "").value == 1
    assert res_b.get("ladder", "end", "supporter").value == 1
    assert res_b.get("ladder", "end", "member").value == 1
    assert res_b.get("retention", "cycle", "").value == 1.0  # Q3: 1 of 1
    assert res_b.get("active_base", "end", "").value == 2  # Q1, Q3
    assert res_b.get("contact", "cycle", "attempts").value == 1  # Q3's knock


def test_remembered_entries_hold_sql_schema_and_what_they_read(stores):
    shared, _ = stores
    compute_metrics(
        shared,
        make_org(id="org-a"),
        C2,
        C1,
        save=False,
        followup_dir=shared.parent / "followup",
    )
    plans = list(_plans(shared).values())
    for plan in plans:
        assert set(plan) == {"sql", "schema", "views", "temps"}
        assert plan["schema"] and all(len(column) == 2 for column in plan["schema"])
    texts = "\n".join(plan["sql"] for plan in plans)
    # the SQL names the engine's views, never an organization or a person
    assert '"cb0_activity"' in texts and '"cb0_state"' in texts
    for name in ("org-a", "org-b", "P1", "P2", "Q1", "FirstP1", "P1@example.org"):
        assert name not in texts
    # a query over the state says so: an engine with nothing made yet makes it first
    reads_state = [p for p in plans if '"cb0_state"' in p["sql"] and "CREATE" not in p["sql"]]
    assert reads_state and all(p["temps"] == ["state"] for p in reads_state)
    state = next(p for p in plans if p["sql"].startswith('CREATE TEMP TABLE "cb0_state"'))
    assert {"activity", "person"} <= set(state["views"])


def test_a_damaged_entry_is_built_again(stores):
    shared, alone = stores
    org = make_org(id="org-a")
    first = compute_metrics(shared, org, C2, C1, save=False)
    for path in sqlcache.cache_folder(shared).glob("plan-*.sql"):
        path.write_text('{"sql": "SELECT')  # a file cut short
    again = compute_metrics(shared, org, C2, C1, save=False)
    assert again.frame().equals(first.frame())
    assert all(plan["sql"] for plan in _plans(shared).values())  # written whole again
    assert first.frame().equals(compute_metrics(alone, org, C2, C1, save=False).frame())


@pytest.mark.parametrize(
    "change",
    [
        {"previous": None},  # no retention: the state has no previous-cycle column
        {"org": {"timezone": "America/Los_Angeles"}},
        {"org": {"metrics": {"qualifying_types": ["donation"]}}},
        {"card": make_card("c2", "2026-03-09", "2026-04-20", previous="c1")},
    ],
    ids=["no-previous", "timezone", "qualifying", "dates"],
)
def test_other_definitions_are_not_served_another_definitions_sql(stores, change):
    shared, alone = stores
    compute_metrics(shared, make_org(id="org-a"), C2, C1, save=False)
    before = set(_plans(shared))
    org = make_org(id="org-b", **change.get("org", {}))
    card = change.get("card", C2)
    previous = change.get("previous", C1)
    remembered = compute_metrics(shared, org, card, previous, save=False)
    assert set(_plans(shared)) > before
    fresh = compute_metrics(alone, org, card, previous, save=False)
    assert remembered.frame().equals(fresh.frame())


def test_a_running_cycle_reads_the_moving_present_from_one_remembered_query(tmp_path, monkeypatch):
    """While a cycle runs, "events that have happened" ends now, a different instant in
    every report. The show rate's SQL reads that instant from the engine's clock table,
    so one remembered query serves every report of the day (as a literal, each report
    built and remembered a new one) and each still counts only the events before its own
    now. (A running cycle is measured as of its day: a new day is new SQL, once.)"""
    store = tmp_path / "store.duckdb"
    b = StoreBuilder(store, "org-a")
    for pid in "ABC":
        b.person(pid, at("2026-01-01"))
    b.event("E1", "MEETING", at("2026-03-10"))
    b.event("E2", "MEETING", at("2026-03-20", 14))
    b.act("A", "attendance", at("2026-03-10"), event_id="E1", status="registered", attended=True)
    b.act(
        "B", "attendance", at("2026-03-20", 14), event_id="E2", status="registered", attended=False
    )
    b.act("C", "attendance", at("2026-03-20", 14), event_id="E2", status="completed")
    b.build()
    org = make_org(id="org-a")

    def on(hour: int):
        return compute_metrics(store, org, C2, C1, save=False, now=at("2026-03-20", hour))

    # 20 March, 09:00: only E1 has happened (A came: 1 of 1)
    first = on(9)
    assert (
        first.get("show_rate", "cycle", "").value,
        first.get("show_rate", "cycle", "").denominator,
    ) == (1.0, 1)
    plans = _plans(store)

    def no_build(*args, **kwargs):
        raise AssertionError("an ibis expression was built")

    monkeypatch.setattr(MetricEngine, "table", no_build)
    monkeypatch.setattr(MetricEngine, "made", no_build)
    # 20 March, 18:00: E2 too (A and C came, B did not: 2 of 3), from the remembered SQL
    later = on(18)
    rate = later.get("show_rate", "cycle", "")
    assert (rate.value, rate.denominator) == (pytest.approx(2 / 3), 3)
    assert _plans(store) == plans  # nothing new remembered
