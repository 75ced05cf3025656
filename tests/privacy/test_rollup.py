"""Network roll-ups: a person active in two affiliates is counted once; sums add up;
rates are recomputed; consent decides which members a shared roll-up includes."""

from __future__ import annotations

from pathlib import Path

import pytest

from cyclebook.config import load_cohort, load_cycle
from cyclebook.errors import ConfigError
from cyclebook.metrics import compute_metrics
from cyclebook.rollup import (
    compute_rollup,
    members_for,
    network_ids,
    network_members,
    rollup_for_audience,
)

from .cohortfix import make_cohort


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory) -> Path:
    return make_cohort(tmp_path_factory.mktemp("rollup") / "cohort", metric_values=False)


@pytest.fixture(scope="module")
def loaded(cohort_dir):
    return load_cohort(cohort_dir), load_cycle(cohort_dir, "c2"), load_cycle(cohort_dir, "c1")


def test_networks_and_members(loaded):
    cohort, _, _ = loaded
    assert network_ids(cohort) == ["net"]
    assert [o.id for o in network_members(cohort, "net")] == ["net", "net-a", "net-b"]
    with pytest.raises(ConfigError, match="no affiliates"):
        network_members(cohort, "solo")


def test_a_shared_person_is_counted_once(cohort_dir, loaded):
    cohort, card, previous = loaded
    store = cohort_dir / "store.duckdb"
    rollup = compute_rollup(store, cohort, "net", card, previous)
    by_org = {
        org: compute_metrics(store, cohort.org(org), card, previous, save=False)
        for org in ("net-a", "net-b")
    }
    # each affiliate counts the shared person: 3 + 2 = 5 people, but they are 4
    assert by_org["net-a"].value("active_base", "end") == 3
    assert by_org["net-b"].value("active_base", "end") == 2
    assert rollup.value("active_base", "end") == 4
    assert rollup.value("active_base", "end", "in_two_or_more_members") == 1
    # new to affiliate A in the cycle, but the network knew them (via B) before it began
    assert by_org["net-a"].value("new_people", "cycle") == 1
    assert by_org["net-b"].value("new_people", "cycle") == 1
    assert rollup.value("new_people", "cycle") == 1
    # a leader in A by A's rule is a leader of the network, once
    assert rollup.value("leaders", "end") == 1
    assert rollup.value("leader_ratio", "end") == pytest.approx(1 / 4)
    assert rollup.values.get("leader_ratio", "end").denominator == 4
    # the one new person did one thing: not absorbed
    assert rollup.value("absorption", "cycle") == 0
    # sums add up
    assert rollup.value("one_on_ones", "cycle") == 1
    assert rollup.members == ["net", "net-a", "net-b"]


def test_roll_up_of_some_members(cohort_dir, loaded):
    cohort, card, previous = loaded
    rollup = compute_rollup(
        cohort_dir / "store.duckdb", cohort, "net", card, previous, members=["net", "net-a"]
    )
    assert rollup.value("active_base", "end") == 3


def test_consent_decides_members(loaded):
    cohort, _, _ = loaded
    # B shares its active base with the cohort but not with funders, and the network
    # shows its active base to both: B is left out of both roll-ups (no subtraction)
    assert members_for(cohort, "net", "active_base", "cohort") == (["net", "net-a"], ["net-b"])
    assert members_for(cohort, "net", "active_base", "funder") == (["net", "net-a"], ["net-b"])
    # new people: the network shows them to the cohort only, so B's consent decides
    assert members_for(cohort, "net", "new_people", "cohort") == (["net", "net-a", "net-b"], [])
    # B did not agree to show leaders to the cohort
    assert members_for(cohort, "net", "leaders", "cohort") == (["net", "net-a"], ["net-b"])
    # the network itself did not agree to show leaders to funders: nothing at all
    assert members_for(cohort, "net", "leaders", "funder") == ([], ["net", "net-a", "net-b"])
    assert members_for(cohort, "net", "leaders", "organization") == (
        ["net", "net-a", "net-b"],
        [],
    )


def test_rollup_for_audience_only_consented_metrics(cohort_dir, loaded):
    cohort, card, previous = loaded
    out = rollup_for_audience(cohort_dir / "store.duckdb", cohort, "net", card, previous, "cohort")
    assert set(out) == {"active_base", "leaders", "new_people"}
    rollup, left_out = out["leaders"]
    assert left_out == ["net-b"]
    assert rollup.members == ["net", "net-a"]
    # without B: 3 people (4 with B, see test_a_shared_person_is_counted_once)
    assert out["active_base"][0].value("active_base", "end") == 3
    # every roll-up of the page over the same members: B, which does not share leaders,
    # is left out of new people too (55 new over three members beside absorption "of
    # 50" over two gave the third's count back)
    assert out["new_people"][0].members == ["net", "net-a"]
    assert out["new_people"][1] == ["net-b"]
    funder = rollup_for_audience(
        cohort_dir / "store.duckdb", cohort, "net", card, previous, "funder"
    )
    assert set(funder) == {"active_base"}
    assert funder["active_base"][1] == ["net-b"]
    # the same figures on both pages: nothing to subtract
    assert funder["active_base"][0].values.frame().equals(out["active_base"][0].values.frame())
