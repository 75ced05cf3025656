"""Pulling through Parsons: real Parsons, over real HTTP, against a local server that
answers as Action Network's and Mobilize's APIs do; the pulled pages are then synced
like any export. Parsons is optional: without it, a clear message."""

from __future__ import annotations

import copy
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from test_readers import AN_API_PERSON, MOBILIZE_PAGE

from cyclebook.cli import main
from cyclebook.config import load_cohort
from cyclebook.errors import ConfigError
from cyclebook.sync import parsons as pull_mod

# Parsons is a dev dependency: a missing one fails here, loudly, rather than skipping
pull_mod.require_parsons()


def _link(path: str) -> dict:
    return {"href": f"https://actionnetwork.org/api/v2/{path}"}


SECOND_PERSON = {
    "identifiers": ["action_network:p-2"],
    "created_date": "2025-03-02T15:00:00Z",
    "given_name": "Bo",
    "family_name": "Li",
    "email_addresses": [{"primary": True, "address": "bo@example.org", "status": "subscribed"}],
}
AN_DATA = {
    "people": [AN_API_PERSON, SECOND_PERSON],
    "events": [
        {
            "identifiers": ["action_network:e-9"],
            "title": "Tenant meeting",
            "start_date": "2025-04-05T18:00:00Z",
            "created_date": "2025-03-20T10:00:00Z",
        }
    ],
    "events/e-9/attendances": [
        {
            "identifiers": [f"action_network:a-{n}"],
            "created_date": "2025-04-01T10:00:00Z",
            "status": "accepted",
            "action_network:person_id": person,
            "action_network:event_id": "e-9",
        }
        for n, person in ((1, "p-1"), (2, "p-2"))
    ],
    "forms": [{"identifiers": ["action_network:f-1"], "title": "Sign up"}],
    "forms/f-1/submissions": [
        {
            "identifiers": ["action_network:s-1"],
            "created_date": "2025-07-01T10:00:00Z",
            "action_network:person_id": "p-2",
            "action_network:form_id": "f-1",
        }
    ],
    "donations": [
        {
            "identifiers": ["action_network:d-1"],
            "created_date": "2025-05-01T10:00:00Z",
            "amount": "25.50",
            "action_network:person_id": "p-1",
        }
    ],
    # a tag has no identifiers list in some answers: its id is its self link's end
    "tags": [{"name": "leader", "_links": {"self": _link("tags/t-1")}}],
    "tags/t-1/taggings": [
        {
            "created_date": "2025-06-01T10:00:00Z",
            "_links": {
                "self": _link("tags/t-1/taggings/g-1"),
                "osdi:tag": _link("tags/t-1"),
                "osdi:person": _link("people/p-1"),
            },
        }
    ],
    "petitions": [],
    "advocacy_campaigns": [],
}


class _Api(BaseHTTPRequestHandler):
    """Action Network under /api/v2/ (25 per page, an empty page after the last one, as
    Action Network answers), Mobilize under /v1/ (``next`` links)."""

    an_data: dict = AN_DATA
    mobilize_pages: list = []
    fail: dict = {}  # path -> HTTP status
    seen: list = []

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        self.seen.append((url.path, query, dict(self.headers)))
        for prefix, status in self.fail.items():
            if url.path.startswith(prefix):
                return self._send(status, {"error": "refused"})
        if url.path.startswith("/api/v2/"):
            if self.headers.get("OSDI-API-Token") != "an-token":
                return self._send(401, {"error": "API Key invalid"})
            name = url.path.removeprefix("/api/v2/")
            records = self.an_data[name]
            page = int(query.get("page", 1))
            chunk = records[(page - 1) * 25 : page * 25]
            collection = "osdi:" + name.rsplit("/", 1)[-1]
            return self._send(200, {"page": page, "_embedded": {collection: chunk}})
        if url.path.startswith("/v1/organizations/4242/attendances"):
            if self.headers.get("Authorization") != "Bearer mob-key":
                return self._send(401, {"error": {"detail": "Invalid token."}})
            n = int(query.get("page", 0))
            body = dict(self.mobilize_pages[n])
            more = n + 1 < len(self.mobilize_pages)
            body["next"] = (
                f"{self.base}/v1/organizations/4242/attendances?page={n + 1}" if more else None
            )
            return self._send(200, body)
        return self._send(404, {"error": "not found"})


@pytest.fixture
def api(monkeypatch):
    """The local API, and Parsons pointed at it (its base URLs are module constants)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    handler = type("Handler", (_Api,), {"base": base, "seen": [], "fail": {}})
    handler.mobilize_pages = [MOBILIZE_PAGE, _second_mobilize_page()]
    server.RequestHandlerClass = handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    import parsons.action_network.action_network as an
    import parsons.mobilize_america.ma as ma

    monkeypatch.setattr(an, "API_URL", f"{base}/api/v2")
    monkeypatch.setattr(ma, "MA_URI", f"{base}/v1/")
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _second_mobilize_page() -> dict:
    page = copy.deepcopy(MOBILIZE_PAGE)
    page["data"] = [page["data"][0]]
    page["data"][0].update(id=13, status="REGISTERED", attended=None)
    page["data"][0]["timeslot"] = {"id": 772, "start_date": 1780150000, "end_date": 1780157200}
    return page


KEYS = {"CYCLEBOOK_ORG_AN_API_TOKEN": "an-token", "CYCLEBOOK_ORG_MOBILIZE_API_KEY": "mob-key"}


def test_action_network_pull_syncs_every_collection(make_cohort, api):
    c = make_cohort("- {kind: action_network_api, path: an}")
    results = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert [r.error for r in results] == [None]
    assert results[0].counts == {
        "people": 2,
        "events": 1,
        "attendances": 2,
        "submissions": 1,
        "donations": 1,
        "taggings": 1,
        "signatures": 0,
        "outreaches": 0,
    }
    # one page per non-empty collection, in its own folder, named by the pull's time
    folders = sorted(p.parent.name for p in results[0].files)
    assert folders == ["attendances", "donations", "events", "people", "submissions", "taggings"]
    assert all("-parsons-" in p.name for p in results[0].files)
    assert not list((c.root / ".cyclebook" / "tmp").glob("pull-*"))  # staging removed
    # every request carried the organization's own token
    assert {h["OSDI-API-Token"] for _, _, h in api.seen} == {"an-token"}

    result = c.sync()
    assert result.rows_read == 8 and result.rows_rejected == 0  # 2 + 1 + 2 + 1 + 1 + 1
    assert c.query("SELECT source_id FROM identity ORDER BY 1") == [("p-1",), ("p-2",)]
    acts = c.query("SELECT activity_id, type, person_id IS NOT NULL FROM activity ORDER BY 1")
    assert [a[:2] for a in acts] == [
        ("an:attendances:a-1", "attendance"),
        ("an:attendances:a-2", "attendance"),
        ("an:donations:d-1", "donation"),
        ("an:submissions:s-1", "submission"),
        ("an:taggings:g-1", "tagging"),
    ]
    # the attendances are dated by their event's start, which the events page gave
    assert c.query(
        "SELECT DISTINCT strftime(occurred_at AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M') "
        "FROM activity WHERE type = 'attendance'"
    ) == [("2025-04-05 18:00",)]


def test_a_large_collection_is_pulled_page_by_page(make_cohort, api, monkeypatch):
    """60 people come in three pages of Action Network's 25 (and an empty one); they are
    written as pages of PAGE records as they arrive (here 40: a page of 40, one of 20)."""
    people = [
        {
            "identifiers": [f"action_network:p-{n}"],
            "created_date": "2025-03-01T15:00:00Z",
            "email_addresses": [{"primary": True, "address": f"m{n}@example.org"}],
        }
        for n in range(100, 160)
    ]
    api.an_data = {**AN_DATA, "people": people}
    monkeypatch.setattr(pull_mod, "PAGE", 40)
    c = make_cohort("- {kind: action_network_api, path: an}")
    (result,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert result.counts["people"] == 60
    pages = [q.get("page") for path, q, _ in api.seen if path == "/api/v2/people"]
    assert pages == ["1", "2", "3", "4"]
    files = sorted(p for p in result.files if p.parent.name == "people")
    sizes = [len(json.loads(p.read_text())["_embedded"]["osdi:people"]) for p in files]
    assert sizes == [40, 20]
    c.sync()
    assert c.query("SELECT count(*) FROM identity") == [(60,)]


def test_pull_since_asks_only_for_changed_records(make_cohort, api):
    c = make_cohort("- {kind: action_network_api, path: an}")
    import datetime as dt

    pull_mod.pull_cohort(c.root, since=dt.date(2026, 1, 2), environ=KEYS)
    filters = {path: q.get("filter") for path, q, _ in api.seen}
    changed = "modified_date gt '2026-01-02'"
    assert filters["/api/v2/people"] == changed
    assert filters["/api/v2/events/e-9/attendances"] == changed
    assert filters["/api/v2/donations"] == changed
    assert filters["/api/v2/events"] is None  # every event: attendances are dated by it


def test_mobilize_pull_follows_pages_and_syncs(make_cohort, api):
    c = make_cohort("- {kind: mobilize, path: mobilize, mobilize_organization_id: 4242}")
    results = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert [r.error for r in results] == [None]
    assert results[0].counts == {"attendances": 3}  # two pages: 2 + 1
    assert len(results[0].files) == 1  # written as one page of up to 500
    result = c.sync()
    assert result.rows_read == 3 and result.rows_rejected == 0
    assert c.query("SELECT activity_id, status FROM activity ORDER BY 1") == [
        ("mobilize:att:11", "confirmed"),
        ("mobilize:att:12", "cancelled"),
        ("mobilize:att:13", "registered"),
    ]


def test_one_source_failing_does_not_stop_the_others(make_cohort, api):
    """Two organizations: one has no key of its own, one is refused by the API, and a
    third source pulls; each failure names the variable to set, and leaves its folder
    as it was."""
    c = make_cohort(
        "- {kind: action_network_api, path: an}\n"
        "- {kind: mobilize, path: mobilize, mobilize_organization_id: 4242}",
        "  - id: second-org\n    name: Second\n    sources:\n"
        "      - {kind: action_network_api, path: an}\n",
    )
    environ = {"CYCLEBOOK_ORG_AN_API_TOKEN": "an-token", "CYCLEBOOK_ORG_MOBILIZE_API_KEY": "bad"}
    results = {(r.org_id, r.kind): r for r in pull_mod.pull_cohort(c.root, environ=environ)}
    assert results["org", "action_network_api"].error is None
    refused = results["org", "mobilize"].error
    assert "refused the key (HTTP 401)" in refused
    assert "CYCLEBOOK_ORG_MOBILIZE_API_KEY" in refused
    missing = results["second-org", "action_network_api"].error
    assert "CYCLEBOOK_SECOND_ORG_AN_API_TOKEN is not set" in missing
    assert not (c.root / "orgs" / "org" / "exports" / "mobilize").exists()
    assert not (c.root / "orgs" / "second-org").exists()


def test_a_failure_part_way_writes_nothing(make_cohort, api):
    c = make_cohort("- {kind: action_network_api, path: an}")
    api.fail = {"/api/v2/forms/f-1/submissions": 500}
    (result,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert "the API answered HTTP 500" in result.error
    assert not (c.exports / "an").exists()  # the people pulled before it were not kept
    api.fail = {}
    (refused,) = pull_mod.pull_cohort(c.root, environ={"CYCLEBOOK_ORG_AN_API_TOKEN": "old"})
    assert "refused the key (HTTP 401)" in refused.error  # Parsons' connector's own error
    assert "check CYCLEBOOK_ORG_AN_API_TOKEN" in refused.error


def test_parsons_key_for_the_whole_cohort_only_with_one_user(make_cohort, api):
    one = make_cohort("- {kind: action_network_api, path: an}")
    (result,) = pull_mod.pull_cohort(one.root, environ={"AN_API_TOKEN": "an-token"})
    assert result.error is None and result.counts["people"] == 2
    two = make_cohort(
        "- {kind: action_network_api, path: an}",
        "  - id: other\n    name: Other\n    sources:\n"
        "      - {kind: action_network_api, path: an}\n",
    )
    results = pull_mod.pull_cohort(two.root, environ={"AN_API_TOKEN": "an-token"})
    assert all(
        "one key would file one group's members under every group" in r.error for r in results
    )
    assert not (two.exports / "an").exists()


def test_cli_pull_prints_each_source_and_exits_non_zero_on_failure(
    make_cohort, api, monkeypatch, capsys
):
    c = make_cohort(
        "- {kind: action_network_api, path: an}\n"
        "- {kind: mobilize, path: mobilize}"  # no Mobilize id: fails, the other pulls
    )
    monkeypatch.setenv("CYCLEBOOK_ORG_AN_API_TOKEN", "an-token")
    monkeypatch.setenv("CYCLEBOOK_ORG_MOBILIZE_API_KEY", "mob-key")
    assert main(["pull", str(c.root)]) == 1
    out = capsys.readouterr().out
    assert "pulled     org: action_network_api into exports/an (people 2, events 1" in out
    assert (
        "failed     org: org: the Mobilize source 'mobilize' has no mobilize_organization_id" in out
    )
    assert "Fix: add `mobilize_organization_id: <number>`" in out
    assert out.rstrip().endswith(
        "cyclebook: 2 source(s) pulled, 1 failed; "
        "run `cyclebook run COHORT` (or `sync`) to read them"
    )


def test_mobilize_id_belongs_to_mobilize_sources(make_cohort):
    c = make_cohort("- {kind: van, path: van, mobilize_organization_id: 4242}")
    with pytest.raises(ConfigError, match="'mobilize_organization_id' applies to Mobilize sources"):
        load_cohort(c.root)


def test_clear_message_when_parsons_is_missing(make_cohort, monkeypatch):
    monkeypatch.setitem(sys.modules, "parsons", None)  # import fails
    c = make_cohort("- {kind: mobilize, path: mobilize, mobilize_organization_id: 1}")
    with pytest.raises(pull_mod.ParsonsMissingError) as info:
        pull_mod.pull_cohort(c.root, environ=KEYS)
    text = str(info.value)
    assert "pip install 'cyclebook[parsons]'" in text and "exports folder" in text


def test_unsupported_kind(make_cohort):
    c = make_cohort("- {kind: van, path: van}")
    org = load_cohort(c.root).org("org")
    with pytest.raises(pull_mod.PullError, match="not supported"):
        pull_mod.pull(c.root, org, org.sources[0], key="k")
