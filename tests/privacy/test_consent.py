"""Consent: an organization shares with the cohort and funders only what it agreed to."""

from __future__ import annotations

import pytest

from cyclebook.config import Cohort, Consent, Organization
from cyclebook.errors import CyclebookError
from cyclebook.privacy import allowed_metrics, guard_org_ids, is_allowed

ORG = Organization(
    id="eastside",
    name="Eastside <b>Tenants</b>",
    consent=Consent(cohort=["ladder", "absorption"], funder=["active_base"]),
)


def test_organization_sees_everything():
    assert allowed_metrics(ORG, "organization") is None
    assert is_allowed(ORG, "organization", "lapsed")


def test_cohort_and_funder_see_only_what_was_agreed():
    assert allowed_metrics(ORG, "cohort") == {"ladder", "absorption"}
    assert allowed_metrics(ORG, "funder") == {"active_base"}
    assert not is_allowed(ORG, "funder", "ladder")
    assert not is_allowed(ORG, "cohort", "active_base")


def test_no_consent_means_nothing_shared():
    org = Organization(id="quiet", name="Quiet")
    assert allowed_metrics(org, "cohort") == set()
    assert allowed_metrics(org, "funder") == set()


def test_unknown_audience_is_refused():
    with pytest.raises(CyclebookError, match="unknown audience"):
        allowed_metrics(ORG, "everyone")


def test_guard_org_ids_cover_affiliates():
    cohort = Cohort(
        id="c",
        name="C",
        organizations=[
            Organization(id="net", name="Net"),
            Organization(id="net-a", name="A", parent="net"),
            Organization(id="net-b", name="B", parent="net"),
            Organization(id="solo", name="Solo"),
        ],
    )
    assert guard_org_ids(cohort, "net") == ["net", "net-a", "net-b"]
    assert guard_org_ids(cohort, "solo") == ["solo"]
    assert guard_org_ids(cohort, None) == ["net", "net-a", "net-b", "solo"]
