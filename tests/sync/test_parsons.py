"""Parsons is optional: a clear message without it; pulled pages read like exports."""

from __future__ import annotations

import sys
import types

import pytest
from test_readers import MOBILIZE_PAGE

from cyclebook.config import load_cohort
from cyclebook.sync import parsons as pull_mod


def test_clear_message_when_parsons_is_missing(make_cohort, monkeypatch):
    monkeypatch.setitem(sys.modules, "parsons", None)  # import fails
    c = make_cohort("- {kind: mobilize, path: mobilize}")
    org = load_cohort(c.root).org("org")
    with pytest.raises(pull_mod.ParsonsMissingError) as info:
        pull_mod.pull(c.root, org, org.sources[0], api_key="k")
    text = str(info.value)
    assert "pip install 'cyclebook[parsons]'" in text and "exports folder" in text


def test_pulled_pages_sync_like_exports(make_cohort, monkeypatch):
    class FakeTable:
        def __init__(self, rows):
            self.rows = rows

        def to_dicts(self):
            return self.rows

    class MobilizeAmerica:
        def __init__(self, api_key=None):
            self.api_key = api_key

        def get_attendances(self, organization_id=None):
            return FakeTable(MOBILIZE_PAGE["data"])

    fake = types.ModuleType("parsons")
    fake.MobilizeAmerica = MobilizeAmerica
    monkeypatch.setitem(sys.modules, "parsons", fake)
    c = make_cohort("- {kind: mobilize, path: mobilize}")
    org = load_cohort(c.root).org("org")
    written = pull_mod.pull(c.root, org, org.sources[0], api_key="k", organization_id="1")
    assert len(written) == 1
    result = c.sync()
    assert result.rows_read == 2 and result.rows_rejected == 0
    assert c.query("SELECT count(*) FROM activity") == [(2,)]


def test_unsupported_kind(make_cohort):
    c = make_cohort("- {kind: van, path: van}")
    org = load_cohort(c.root).org("org")
    with pytest.raises(Exception, match="not supported"):
        pull_mod.pull(c.root, org, org.sources[0])
