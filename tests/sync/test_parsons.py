"""Pulling through Parsons: real Parsons, over real HTTP, against a local server that
answers as Action Network's, Mobilize's, VAN's and Action Builder's APIs do; the pulled
pages and tables are then synced like any export. Parsons is optional: without it, a
clear message."""

from __future__ import annotations

import base64
import contextlib
import copy
import csv
import datetime as dt
import errno
import io
import json
import os
import sys
import threading
import time
import types
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import utc
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


def _fields(core: list[str], other: list[str] = ()) -> list[dict]:
    """A changed-entity resource's fields, as GET changedEntityExportJobs/fields answers."""
    return [
        {
            "fieldName": name,
            "fieldType": "T",
            "maxTextboxCharacters": None,
            "isCoreField": name in core,
            "availableValues": None,
        }
        for name in [*core, *other]
    ]


def _signup(signup_id: int, vanid: int, event_id: int, role: str, status: str) -> dict:
    """An event signup as VAN's GET /signups answers (Parsons' own test's shape)."""
    return {
        "eventSignupId": signup_id,
        "person": {"vanId": vanid, "firstName": "X", "lastName": "Y", "email": None},
        "event": {"eventId": event_id, "name": "Event", "shortName": "Ev"},
        "shift": {"eventShiftId": 19076, "name": "Default Shift"},
        "role": {"roleId": 263920, "name": role},
        "status": {"statusId": 2, "name": status},
        "location": None,
        "startTimeOverride": None,
        "endTimeOverride": None,
        "printedLists": None,
        "minivanExports": None,
        "supporterGroupId": None,
        "isOfflineSignup": False,
    }


VAN_DATA = {
    "resources": [
        "ActivistCodes",
        "ContactHistory",
        "Contacts",
        "ContactsActivistCodes",
        "ContactsOnlineForms",
        "Contributions",
    ],
    "fields": {
        # a field the reader does not read (Employer) is not asked for; one it does
        # not know among the core fields (ChangeTypeID) is not written
        "Contacts": _fields(
            ["VanID", "FirstName", "LastName", "DateCreated", "ChangeTypeID"],
            ["Email", "Phone", "Zip5", "Employer"],
        ),
        "ContactHistory": _fields(
            [
                "ContactsContactID",
                "VanID",
                "ResultID",
                "ContactTypeID",
                "DateCanvassed",
                "CanvassedBy",
                "InputTypeID",
            ]
        ),
        "ContactsActivistCodes": _fields(
            ["ContactsActivistCodeID", "VanID", "ActivistCodeID", "DateCreated", "DateCanvassed"]
        ),
        "Contributions": _fields(["ContributionID", "VanID", "Amount", "DateReceived"]),
    },
    "changed": {
        # 101 and 104 changed in the window; 102 and 103 did not, but rows name them
        "Contacts": [
            {
                "VanID": 101,
                "FirstName": "Fa",
                "LastName": "Un",
                "Email": "fa@example.org",
                "Phone": "617-555-0104",
                "Zip5": "02143",
                "DateCreated": "2025-01-02T09:00:00Z",
                "ChangeTypeID": 2,
                "Employer": "Acme",
            },
            {"VanID": 104, "FirstName": "Ho", "DateCreated": "2026-10-01T12:00:00Z"},
            {"VanID": 102, "FirstName": "Gi", "Zip5": "02144", "_changed": False},
            {"VanID": 103, "FirstName": "Ji", "Email": "ji@example.org", "_changed": False},
            {"VanID": 105, "FirstName": "Ko", "_changed": False},  # named by nothing
        ],
        "ContactHistory": [
            {
                "ContactsContactID": 9001,
                "VanID": 101,
                "ResultID": 14,
                "ContactTypeID": 82,
                "DateCanvassed": "2026-10-10T18:00:00-04:00",
                "CanvassedBy": 55,
                "InputTypeID": 11,
            },
            {
                "ContactsContactID": 9002,
                "VanID": 102,
                "ResultID": 1,
                "ContactTypeID": 2,
                "DateCanvassed": "2026-10-11T11:00:00-04:00",
                "CanvassedBy": 56,
            },
            {
                "ContactsContactID": 9003,
                "VanID": 101,
                "ResultID": 14,
                "ContactTypeID": 37,
                "DateCanvassed": "2026-10-12T19:00:00-04:00",
                "CanvassedBy": 57,
            },
        ],
        "ContactsActivistCodes": [
            {
                "ContactsActivistCodeID": 3001,
                "VanID": 101,
                "ActivistCodeID": 4001,
                "DateCreated": "2026-10-13T00:00:00Z",
                "DateCanvassed": "2026-10-12T20:00:00Z",
            }
        ],
        "Contributions": [
            {"ContributionID": 8001, "VanID": 104, "Amount": "25.00", "DateReceived": "2026-10-15"}
        ],
    },
    # VAN's REST names a result in `name`; `shortName` is a two-letter code
    "canvassResponses/resultCodes": [
        {"resultCodeId": 1, "name": "Not Home", "mediumName": "Not Home", "shortName": "NH"},
        {"resultCodeId": 14, "name": "Canvassed", "mediumName": "Canvassed", "shortName": "CA"},
    ],
    "canvassResponses/contactTypes": [
        {"contactTypeId": 2, "name": "Walk", "channelTypeName": "Walk"},
        {"contactTypeId": 37, "name": "SMS Text", "channelTypeName": "SMS"},
        {"contactTypeId": 82, "name": "One on One", "channelTypeName": "Walk"},
    ],
    "activistCodes": [
        {
            "activistCodeId": 4001,
            "type": "Volunteer",
            "name": "Member",
            "mediumName": "Member",
            "shortName": "Member",
            "description": "Dues-paying member",
            "scriptQuestion": None,
            "status": "Active",
        }
    ],
    "events": [
        {
            "eventId": 7,
            "name": "Members meeting",
            "shortName": "Meeting",
            "startDate": "2026-10-20T18:30:00-04:00",
            "endDate": "2026-10-20T20:00:00-04:00",
            "eventType": {"eventTypeId": 5, "name": "Meeting"},
            "createdDate": "2026-09-01T10:00:00Z",
        },
        {
            "eventId": 8,
            "name": "Canvass launch",
            "shortName": "Canvass",
            "startDate": "2026-11-05T10:00:00-05:00",
            "endDate": "2026-11-05T13:00:00-05:00",
            "eventType": {"eventTypeId": 6, "name": "Canvass"},
        },
        {  # an event nobody signed up for (Parsons' get_event_signups fails on it)
            "eventId": 9,
            "name": "Spring training",
            "shortName": "Training",
            "startDate": "2026-03-01T10:00:00-05:00",
            "endDate": "2026-03-01T12:00:00-05:00",
            "eventType": {"eventTypeId": 7, "name": "Training"},
        },
    ],
    "signups": {
        7: [
            _signup(4001, 101, 7, "Host", "Completed"),
            _signup(4002, 103, 7, "Volunteer", "No Show"),
        ],
        8: [_signup(4003, 101, 8, "Team Leader", "Scheduled")],
    },
}


def _ab_entity(n: int, **more) -> dict:
    return {
        "identifiers": [f"action_builder:ent-{n}"],
        "created_date": "2025-02-01T00:00:00Z",
        "modified_date": "2026-10-01T00:00:00Z",
        "action_builder:entity_type": "Person",
        "given_name": f"P{n}",
        "email_addresses": [{"address": f"p{n}@example.org", "status": "subscribed"}],
        **more,
    }


# 26 people and a worksite: two pages of 25 and the rest
AB_ENTITIES = [
    _ab_entity(
        1,
        **{
            "action_builder:latest_assessment": 4,
            "action_builder:latest_assessment_created_date": "2026-07-15T12:00:00Z",
        },
    ),
    *[_ab_entity(n) for n in range(2, 26)],
    {
        "identifiers": ["action_builder:ws-1"],
        "created_date": "2025-02-01T00:00:00Z",
        "action_builder:entity_type": "Worksite",
        "action_builder:name": "Main St Warehouse",
    },
    _ab_entity(
        26,
        **{
            "action_builder:latest_assessment": 2,
            "action_builder:latest_assessment_created_date": "2026-09-01T08:00:00Z",
        },
    ),
]


class _Api(BaseHTTPRequestHandler):
    """Action Network under /api/v2/ (25 per page, an empty page after the last one, as
    Action Network answers), Mobilize under /v1/ (``next`` links), VAN under /v4/
    (``items`` pages with a ``nextPageLink``; changed-entity jobs polled until Complete,
    their files under /files/), Action Builder under /ab/<subdomain>/api/rest/v1/."""

    an_data: dict = AN_DATA
    mobilize_pages: list = []
    van: dict = {}
    ab_entities: list = []
    # path (or "POST <path>") -> HTTP status, or (status, body), or (status, body, headers)
    fail: dict = {}
    stall: dict = {}  # a job file's path -> seconds it stops after its first line
    # path -> "silent" (the request read, never answered) or "body" (the headers sent,
    # then nothing), until the test ends
    hang: dict = {}
    # path -> how many times its pages are sent again: Action Network's and Action
    # Builder's first page whatever page is asked for, Mobilize's and VAN's next link
    # the page just sent; then the path is answered as usual (a pull without a guard
    # ends, with the pages read twice, rather than hang the tests)
    repeat: dict = {}
    # path -> (seconds, count): its answer's first `count` bytes sent one at a time,
    # `seconds` apart (an answer trickling in)
    trickle: dict = {}
    release: threading.Event
    seen: list = []
    posted: list = []

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        path = urllib.parse.urlsplit(self.path).path
        slowly = next((t for p, t in self.trickle.items() if path.startswith(p)), None)
        if slowly:  # (its first bytes one at a time, never silent for long)
            seconds, count = slowly
            for byte in data[:count]:
                if self.release.is_set():
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(seconds)
            data = data[count:]
        with contextlib.suppress(OSError):  # (the client may have given up)
            self.wfile.write(data)

    def _failed_or_hung(self, path: str) -> bool:
        """Answered as ``fail`` or ``hang`` say for ``path`` (their keys: the start of a
        path, or of "POST <path>"): True if so."""
        asked = (path, f"{self.command} {path}")
        for prefix, status in self.fail.items():
            if any(a.startswith(prefix) for a in asked):
                status, body, *headers = status if isinstance(status, tuple) else (status, None)
                if isinstance(body, str):  # (not JSON)
                    data = body.encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                else:
                    self._send(status, body or {"error": "refused"}, *headers)
                return True
        hang = next(
            (how for key, how in self.hang.items() if any(a.startswith(key) for a in asked)),
            None,
        )
        if hang == "body":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"items": [')
            self.wfile.flush()
        if hang:
            self.release.wait(60)
            self.close_connection = True
            return True
        return False

    def _repeated(self, path: str) -> bool:
        """Whether ``path`` is to be answered with a page sent before (``repeat``)."""
        for prefix, left in self.repeat.items():
            if path.startswith(prefix) and left > 0:
                self.repeat[prefix] = left - 1
                return True
        return False

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.posted.append((url.path, body))
        if self._failed_or_hung(url.path):
            return None
        if url.path == "/v4/changedEntityExportJobs":
            if not self._van_key():
                return self._send(401, {"errors": [{"code": "UNAUTHORIZED"}]})
            jobs = self.van["jobs"]
            job_id = 2170181229 + len(jobs)
            error = self.van.get("errors", {}).get(body["resourceType"])
            jobs[job_id] = {"body": body, "polls": 0, "error": error}
            return self._send(
                201, {"exportJobId": job_id, "jobStatus": "Pending", "files": [], **body}
            )
        return self._send(404, {"error": "not found"})

    def _van_key(self) -> bool:
        # HTTP basic: the application name (Parsons sends "default") and key|database
        expected = base64.b64encode(b"default:van-key|1").decode()
        return self.headers.get("Authorization") == f"Basic {expected}"

    def _van_get(self, path: str, query: dict):
        if path.startswith("/v4/changedEntityExportJobs/resources"):
            return self._send(200, self.van["resources"])
        if path.startswith("/v4/changedEntityExportJobs/fields/"):
            return self._send(200, self.van["fields"][path.rsplit("/", 1)[-1]])
        if path.startswith("/v4/changedEntityExportJobs/"):
            job_id = int(path.rsplit("/", 1)[-1])
            job = self.van["jobs"][job_id]
            job["polls"] += 1
            status = {"dateChangedFrom": job["body"]["dateChangedFrom"], "code": None}
            if job.get("error"):
                return self._send(
                    200, {**status, "jobStatus": "Error", "message": job["error"], "files": []}
                )
            if job["polls"] < 3 or self.van.get("never_done"):  # Pending, InProcess, Complete
                state = "Pending" if job["polls"] == 1 else "InProcess"
                return self._send(200, {**status, "jobStatus": state, "files": []})
            names = [f"{job_id}-{n}" for n in range(len(self._van_files(job_id)))]
            files = [
                {"downloadUrl": f"{self.base}/files/{name}.csv", "dateExpired": "2027-01-01"}
                for name in names
            ]
            message = "Finished processing export job"
            return self._send(
                200, {**status, "jobStatus": "Complete", "files": files, "message": message}
            )
        if path in ("/v4/canvassResponses/resultCodes", "/v4/canvassResponses/contactTypes"):
            return self._send(200, self.van[path.removeprefix("/v4/")])
        if path in ("/v4/activistCodes", "/v4/events", "/v4/signups"):
            name = path.removeprefix("/v4/")
            records = self.van[name]
            if name == "signups":
                records = records.get(int(query["eventId"]), [])
            skip, top = int(query.get("$skip", 0)), int(query.get("$top", 50))
            top = min(top, self.van.get("page_max", 200))
            more = skip + top < len(records)
            after = {**query, "$top": top, "$skip": skip + top}
            if self._repeated(path):  # the link of the page just sent
                more, after = True, {**query, "$top": top, "$skip": skip}
            after = urllib.parse.urlencode(after)
            return self._send(
                200,
                {
                    "items": records[skip : skip + top],
                    "nextPageLink": f"{self.base}{path}?{after}" if more else None,
                    "count": len(records),
                },
            )
        return self._send(404, {"error": "not found"})

    def _van_files(self, job_id: int) -> list[str]:
        """A job's CSV files: the core fields and the requested ones, in the fields'
        order, split into files of ``file_rows`` records (VAN splits a large export)."""
        body = self.van["jobs"][job_id]["body"]
        resource = body["resourceType"]
        requested = body["requestedFields"] or []
        header = [
            f["fieldName"]
            for f in self.van["fields"][resource]
            if f["isCoreField"] or f["fieldName"] in requested
        ]
        rows = [r for r in self.van["changed"][resource] if r.get("_changed", True)]
        rows += [
            r
            for r in self.van["changed"][resource]
            if not r.get("_changed", True) and r["VanID"] in (body.get("requestedIds") or [])
        ]
        n = self.van.get("file_rows", 1000)
        renamed = self.van.get("file_header_renames", {})  # a file's column named otherwise
        files = []
        for start in range(0, max(len(rows), 1), n):
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow([renamed.get(h, h) for h in header])
            for r in rows[start : start + n]:
                writer.writerow([r.get(h, "") for h in header])
            files.append(out.getvalue())
        return files

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        self.seen.append((url.path, query, dict(self.headers)))
        if self._failed_or_hung(url.path):
            return None
        if url.path.startswith("/files/"):  # a job's file: a signed address, no key
            job_id, n = url.path.removeprefix("/files/").removesuffix(".csv").split("-")
            data = self._van_files(int(job_id))[int(n)].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            stall = next((s for p, s in self.stall.items() if url.path.startswith(p)), 0)
            if stall:  # the header line, then nothing for a while (a stalled file host)
                first = data.index(b"\n") + 1
                self.wfile.write(data[:first])
                self.wfile.flush()
                time.sleep(stall)
                data = data[first:]
            with contextlib.suppress(OSError):  # (the client may have given up)
                self.wfile.write(data)
            return None
        if url.path.startswith("/v4/"):
            if not self._van_key():
                return self._send(401, {"errors": [{"code": "UNAUTHORIZED"}]})
            return self._van_get(url.path, query)
        if url.path.startswith("/ab/"):
            if self.headers.get("OSDI-API-Token") != "ab-token":
                return self._send(401, {"error": "unauthorized"})
            page, per_page = int(query.get("page", 1)), int(query.get("per_page", 25))
            if self._repeated(url.path):
                page = 1
            chunk = self.ab_entities[(page - 1) * per_page : page * per_page]
            pages = -(-len(self.ab_entities) // per_page)
            return self._send(
                200,
                {
                    "total_pages": pages,
                    "per_page": per_page,
                    "page": page,
                    "total_records": len(self.ab_entities),
                    "_links": {"self": {"href": f"{self.base}{url.path}"}},
                    "_embedded": {"osdi:people": chunk},
                },
            )
        if url.path.startswith("/api/v2/"):
            if self.headers.get("OSDI-API-Token") != "an-token":
                return self._send(401, {"error": "API Key invalid"})
            name = url.path.removeprefix("/api/v2/")
            records = self.an_data[name]
            page = int(query.get("page", 1))
            if self._repeated(url.path):
                page = 1
            chunk = records[(page - 1) * 25 : page * 25]
            collection = "osdi:" + name.rsplit("/", 1)[-1]
            return self._send(200, {"page": page, "_embedded": {collection: chunk}})
        if url.path.startswith("/v1/organizations/4242/attendances"):
            if self.headers.get("Authorization") != "Bearer mob-key":
                return self._send(401, {"error": {"detail": "Invalid token."}})
            n = int(query.get("page", 0))
            body = dict(self.mobilize_pages[n])
            more = n + 1 < len(self.mobilize_pages)
            if self._repeated(url.path):  # the link of the page just sent
                more, n = True, n - 1
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
    release = threading.Event()  # the hung requests' end
    handler = type(
        "Handler",
        (_Api,),
        {
            "base": base,
            "seen": [],
            "fail": {},
            "stall": {},
            "hang": {},
            "repeat": {},
            "trickle": {},
            "release": release,
            "posted": [],
        },
    )
    handler.mobilize_pages = [MOBILIZE_PAGE, _second_mobilize_page()]
    handler.van = {**copy.deepcopy(VAN_DATA), "jobs": {}}
    handler.ab_entities = copy.deepcopy(AB_ENTITIES)
    server.RequestHandlerClass = handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    import parsons.action_builder.action_builder as ab
    import parsons.action_network.action_network as an
    import parsons.mobilize_america.ma as ma
    import parsons.ngpvan.van_connector as van

    monkeypatch.setattr(an, "API_URL", f"{base}/api/v2")
    monkeypatch.setattr(ma, "MA_URI", f"{base}/v1/")
    monkeypatch.setattr(van, "URI", f"{base}/v4/")
    monkeypatch.setattr(ab, "API_URL", f"{base}/ab/{{subdomain}}/api/rest/v1")
    monkeypatch.setattr(pull_mod, "VAN_POLL_SECONDS", 0)
    try:
        yield handler
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join()


def _second_mobilize_page() -> dict:
    page = copy.deepcopy(MOBILIZE_PAGE)
    page["data"] = [page["data"][0]]
    page["data"][0].update(id=13, status="REGISTERED", attended=None)
    page["data"][0]["timeslot"] = {"id": 772, "start_date": 1780150000, "end_date": 1780157200}
    return page


KEYS = {
    "CYCLEBOOK_ORG_AN_API_TOKEN": "an-token",
    "CYCLEBOOK_ORG_MOBILIZE_API_KEY": "mob-key",
    "CYCLEBOOK_ORG_VAN_API_KEY": "van-key",
    "CYCLEBOOK_ORG_ACTION_BUILDER_API_TOKEN": "ab-token",
}

AN_SOURCE = "- {kind: action_network_api, path: an}"
MOBILIZE_SOURCE = "- {kind: mobilize, path: mobilize, mobilize_organization_id: 4242}"
VAN_SOURCE = "- {kind: van, path: van}"


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


def test_mobilize_since_asks_for_the_attendances_updated_since_that_day(make_cohort, api):
    """--since: Mobilize's first page is asked for those updated since that day's start
    (UTC, as a Unix time, as Parsons' get_attendances asks); the next pages by their
    links, as Mobilize gives them, with the organization's key."""
    c = make_cohort(MOBILIZE_SOURCE)
    (result,) = pull_mod.pull_cohort(c.root, since=dt.date(2026, 1, 2), environ=KEYS)
    assert result.error is None
    asked = [(path, q, h["Authorization"]) for path, q, h in api.seen]
    path = "/v1/organizations/4242/attendances"
    assert asked == [
        (path, {"updated_since": "1767312000"}, "Bearer mob-key"),  # 2026-01-02T00:00Z
        (path, {"page": "1"}, "Bearer mob-key"),
    ]


def test_two_pulls_in_the_same_instant_keep_both(make_cohort, api, monkeypatch):
    """A second pull in the same instant (the clock held still) is named after the
    first, not over it: its files once took the first's names, and a --since pull
    (only what changed) replaced the full one, the rest of it lost. Later pulls sort
    later by name, which the sync takes as the newer export."""
    instant = dt.datetime(2026, 12, 7, 15, 4, 5, 123456, tzinfo=dt.UTC)
    monkeypatch.setattr(pull_mod, "_now", lambda: instant)
    c = make_cohort("- {kind: mobilize, path: mobilize, mobilize_organization_id: 4242}")
    (full,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    # then only what changed: attendance 12, confirmed now (same modified_date: only the
    # files' order says which is newer)
    changed = copy.deepcopy(MOBILIZE_PAGE)
    changed["data"] = [changed["data"][1]]
    changed["data"][0]["status"] = "CONFIRMED"
    api.mobilize_pages = [changed]
    (since,) = pull_mod.pull_cohort(c.root, since=dt.date(2026, 12, 1), environ=KEYS)
    assert (full.error, since.error) == (None, None)
    names = sorted(p.name for p in (c.exports / "mobilize").iterdir())
    assert names == [
        "attendances-parsons-20261207T150405.123456Z-0001.json",
        "attendances-parsons-20261207T150405.123457Z-0001.json",
    ]
    assert [p.name for p in full.files] == names[:1]
    assert [p.name for p in since.files] == names[1:]
    kept = json.loads((c.exports / "mobilize" / names[0]).read_text())
    assert [a["id"] for a in kept["data"]] == [11, 12, 13]

    result = c.sync()
    assert (result.rows_read, result.rows_rejected) == (4, 0)
    assert c.query("SELECT activity_id, status FROM activity ORDER BY 1") == [
        ("mobilize:att:11", "confirmed"),
        ("mobilize:att:12", "confirmed"),  # the later pull's
        ("mobilize:att:13", "registered"),
    ]


def test_a_pull_is_named_after_the_pulls_before_it(make_cohort, api, monkeypatch):
    """A clock set back, or a file of an earlier version (named to the second, which
    stands for any instant of it), does not make a pull's files sort before the ones
    already pulled."""
    c = make_cohort("- {kind: mobilize, path: mobilize, mobilize_organization_id: 4242}")
    c.write("mobilize/attendances-parsons-20261207T150405Z-0001.json", {"data": []})
    c.write("mobilize/attendances-parsons-20261207T150404.999999Z-0001.json", {"data": []})
    clock = [dt.datetime(2026, 12, 7, 15, 4, 5, 500000, tzinfo=dt.UTC)]
    monkeypatch.setattr(pull_mod, "_now", lambda: clock[0])
    (result,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert [p.name for p in result.files] == [
        "attendances-parsons-20261207T150406.000000Z-0001.json"
    ]
    assert sorted(p.name for p in (c.exports / "mobilize").iterdir())[-1] == result.files[0].name
    clock[0] = dt.datetime(2026, 12, 8, 9, 0, tzinfo=dt.UTC)  # later: the pull's own time
    (later,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert [p.name for p in later.files] == [
        "attendances-parsons-20261208T090000.000000Z-0001.json"
    ]


def test_a_pull_finishing_after_another_of_the_same_instant_keeps_both(
    make_cohort, api, monkeypatch
):
    """Two pulls of one source at once (two terminals), started in the same instant:
    the one that finishes second finds the other's files under its names, and is named
    after them instead of replacing them."""
    instant = dt.datetime(2026, 12, 7, 15, 4, 5, tzinfo=dt.UTC)
    monkeypatch.setattr(pull_mod, "_now", lambda: instant)
    c = make_cohort("- {kind: mobilize, path: mobilize, mobilize_organization_id: 4242}")
    other = c.exports / "mobilize" / "attendances-parsons-20261207T150405.000000Z-0001.json"
    pull_mobilize = pull_mod._pull_mobilize

    def the_other_finishes_first(*args):
        writers = pull_mobilize(*args)
        other.parent.mkdir(parents=True)
        other.write_text('{"data": [], "other": true}')
        return writers

    monkeypatch.setattr(pull_mod, "_pull_mobilize", the_other_finishes_first)
    (result,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert json.loads(other.read_text()) == {"data": [], "other": True}
    assert [p.name for p in result.files] == [
        "attendances-parsons-20261207T150405.000001Z-0001.json"
    ]
    assert result.counts == {"attendances": 3}
    assert len(json.loads(result.files[0].read_text())["data"]) == 3


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
    assert "refused the key (HTTP 401, GET " in refused
    assert "CYCLEBOOK_ORG_MOBILIZE_API_KEY" in refused
    missing = results["second-org", "action_network_api"].error
    assert "CYCLEBOOK_SECOND_ORG_AN_API_TOKEN is not set" in missing
    assert not (c.root / "orgs" / "org" / "exports" / "mobilize").exists()
    assert not (c.root / "orgs" / "second-org").exists()


def test_a_pull_that_cannot_be_written_keeps_nothing_and_the_others_pull(make_cohort, api):
    """A file where the pull writes a folder (taggings, after five folders were written):
    the pages moved already go again, the failure names the file and the fix, and the
    next source still pulls. (The error had stopped the command, the rest unpulled, half
    the pull left in the folder.)"""
    c = make_cohort(
        "- {kind: action_network_api, path: an}\n"
        "- {kind: mobilize, path: mobilize, mobilize_organization_id: 4242}"
    )
    in_the_way = c.write("an/taggings", "a file of the group's, not a folder")
    an, mobilize = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert an.error == (
        f"org: the Action Network pull ('an') could not be written into {in_the_way}: a file "
        "is in the way where the pull needs a folder (File exists); nothing of it was kept\n"
        f"  Fix: move or rename {in_the_way} (the pull writes a folder of pages there), then "
        "pull again."
    )
    assert [p.name for p in (c.exports / "an").rglob("*")] == ["taggings"]  # as it was
    assert in_the_way.read_text() == "a file of the group's, not a folder"
    assert mobilize.error is None and mobilize.counts == {"attendances": 3}


def test_a_failure_part_way_writes_nothing(make_cohort, api):
    c = make_cohort("- {kind: action_network_api, path: an}")
    api.fail = {"/api/v2/forms/f-1/submissions": 500}
    (result,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert "the API answered HTTP 500" in result.error
    assert not (c.exports / "an").exists()  # the people pulled before it were not kept
    api.fail = {}
    (refused,) = pull_mod.pull_cohort(c.root, environ={"CYCLEBOOK_ORG_AN_API_TOKEN": "old"})
    assert "refused the key (HTTP 401, GET " in refused.error  # Parsons' connector's own error
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


def test_cli_pull_counts_the_failed_apart_and_names_each_with_its_fix(
    make_cohort, api, monkeypatch, capsys
):
    """Of three sources, one pulls and two fail (no Mobilize id; no VAN key): the one
    still pulls, the summary counts it alone as pulled, names the failed ones with their
    fix, and the exit code is 1. (It said "3 source(s) pulled, 2 failed".)"""
    c = make_cohort(
        "- {kind: action_network_api, path: an}\n"
        "- {kind: mobilize, path: mobilize}\n"  # no Mobilize id
        "- {kind: van, path: van}"  # no VAN key
    )
    monkeypatch.setenv("CYCLEBOOK_ORG_AN_API_TOKEN", "an-token")
    monkeypatch.setenv("CYCLEBOOK_ORG_MOBILIZE_API_KEY", "mob-key")
    monkeypatch.delenv("VAN_API_KEY", raising=False)
    monkeypatch.delenv("CYCLEBOOK_ORG_VAN_API_KEY", raising=False)
    assert main(["pull", str(c.root)]) == 1
    mobilize_fix = (
        "add `mobilize_organization_id: <number>` to this source in cohort.yml (the number "
        "in the organization's Mobilize address, mobilize.us/<slug>/ > Settings)."
    )
    van_fix = (
        "set CYCLEBOOK_ORG_VAN_API_KEY to the organization's VAN API key (VAN: an API key "
        "from the VAN administrator (or VAN support), for the database the source's "
        "van_database names, MyCampaign if unset)."
    )
    assert capsys.readouterr().out.splitlines() == [
        "pulled     org: action_network_api into exports/an (people 2, events 1, "
        "attendances 2, submissions 1, donations 1, taggings 1, signatures 0, outreaches 0; "
        "6 file(s))",
        "failed     org: the Mobilize source 'mobilize' has no mobilize_organization_id",
        f"  Fix: {mobilize_fix}",
        "failed     org: no VAN API key (CYCLEBOOK_ORG_VAN_API_KEY is not set)",
        f"  Fix: {van_fix}",
        "cyclebook: 1 source(s) pulled, 2 failed; run `cyclebook run COHORT` (or `sync`) to "
        "read what was pulled",
        f"  failed org: mobilize 'mobilize'. Fix: {mobilize_fix}",
        f"  failed org: van 'van'. Fix: {van_fix}",
    ]
    assert len(list((c.exports / "an").rglob("*.json"))) == 6
    assert not (c.exports / "mobilize").exists() and not (c.exports / "van").exists()

    # nothing pulled: no advice to read it
    only = make_cohort("- {kind: mobilize, path: mobilize}")
    assert main(["pull", str(only.root)]) == 1
    assert capsys.readouterr().out.splitlines()[-2:] == [
        "cyclebook: 0 source(s) pulled, 1 failed",
        f"  failed org: mobilize 'mobilize'. Fix: {mobilize_fix}",
    ]


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
    c = make_cohort("- {kind: spoke, path: spoke}")
    org = load_cohort(c.root).org("org")
    with pytest.raises(pull_mod.PullError, match="Parsons has no Spoke connector"):
        pull_mod.pull(c.root, org, org.sources[0], key="k")


# ---------------------------------------------------------------- VAN

VAN_TABLES = (
    "persons",
    "contactscontacts",
    "contactsactivistcodes",
    "contributions",
    "events",
    "eventsignups",
    "results",
    "contacttypes",
    "activistcodes",
)
TODAY = dt.date(2026, 12, 7)  # VAN's changed-entity window: 89 days back, 2026-09-09


@pytest.fixture
def today(monkeypatch):
    monkeypatch.setattr(pull_mod, "_today", lambda: TODAY)


def test_van_pull_syncs_every_table(make_cohort, api, today):
    """VAN's tables as the VAN reader reads them: changed-entity jobs (polled, several
    files each), the people the rows name asked for by id, the lookups, events and their
    signups; then synced, each row as a warehouse export's would be."""
    api.van["file_rows"] = 2  # VAN splits a large export into files: here of two rows
    api.van["page_max"] = 2  # and lists in pages, here of two (Parsons follows the link)
    c = make_cohort("- {kind: van, path: van}")
    (result,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert result.error is None
    assert result.counts == {
        "persons": 4,
        "contactscontacts": 3,
        "contactsactivistcodes": 1,
        "contributions": 1,
        "events": 3,
        "eventsignups": 3,
        "results": 2,
        "contacttypes": 3,
        "activistcodes": 1,
    }
    # one file a table, named after it (the reader knows a table by its file name)
    names = sorted(p.relative_to(c.exports / "van").as_posix() for p in result.files)
    assert [n.split("/")[0] for n in names] == sorted(VAN_TABLES)
    assert all(
        n.startswith(f"{t}/{t}-parsons-2") and n.endswith("Z.csv")
        for n, t in zip(names, sorted(VAN_TABLES), strict=True)
    )
    assert result.notes == [
        "VAN's changed-entity export reaches back 90 days: contact history, activist codes, "
        "contributions and people changed before 2026-09-09 were not pulled; for them, "
        "export the warehouse tables from VAN (contactscontacts, contactsactivistcodes, "
        "contributions, persons) into this source's folder"
    ]
    # the jobs: Parsons' body, the reader's other fields asked for, then the people the
    # rows name that did not change (102, 103) asked for by id; each polled to Complete
    jobs = [body for path, body in api.posted if path == "/v4/changedEntityExportJobs"]
    assert [(b["resourceType"], b["requestedFields"], b.get("requestedIds")) for b in jobs] == [
        ("ContactHistory", None, None),
        ("ContactsActivistCodes", None, None),
        ("Contributions", None, None),
        ("Contacts", ["Email", "Phone", "Zip5"], None),
        ("Contacts", ["Email", "Phone", "Zip5"], [102, 103]),
    ]
    assert {b["dateChangedFrom"] for b in jobs} == {"2026-09-09T00:00:00Z"}
    assert [job["polls"] for job in api.van["jobs"].values()] == [3, 3, 3, 3, 3]
    # every file of a job was read (Parsons' get_changed_entities reads the first only),
    # and once (Parsons' Table.from_csv downloaded each twice: its header, then its rows)
    downloads = sorted(path for path, _, _ in api.seen if path.startswith("/files/"))
    assert downloads == [
        "/files/2170181229-0.csv",
        "/files/2170181229-1.csv",
        "/files/2170181230-0.csv",
        "/files/2170181231-0.csv",
        "/files/2170181232-0.csv",
        "/files/2170181233-0.csv",
        "/files/2170181233-1.csv",
    ]
    # the key went with every API request, never with a file's signed address
    auth = {path: h.get("Authorization") for path, _, h in api.seen}
    assert all(auth[p] for p in auth if p.startswith("/v4/"))
    assert not any(auth[p] for p in auth if p.startswith("/files/"))
    # events in pages of two; the signups of each event, the one without any too
    events = [q.get("$skip") for path, q, _ in api.seen if path == "/v4/events"]
    assert events == [None, "2"]
    assert [q["eventId"] for path, q, _ in api.seen if path == "/v4/signups"] == ["7", "8", "9"]
    # the people's table: the reader's columns VAN has, in the fields' order
    (people,) = [p.read_text() for p in result.files if p.parent.name == "persons"]
    assert people.splitlines() == [
        "vanid,firstname,lastname,datecreated,email,phone,zip5",
        "101,Fa,Un,2025-01-02T09:00:00Z,fa@example.org,617-555-0104,02143",
        "104,Ho,,2026-10-01T12:00:00Z,,,",
        "102,Gi,,,,,02144",
        "103,Ji,,,ji@example.org,,",
    ]

    result = c.sync()
    assert result.rows_rejected == 0, c.rejects()
    assert c.query(
        """SELECT i.source_id, p.email, p.phone, s.zip FROM identity i
           JOIN person_pii p USING (org_id, person_id) JOIN person s USING (org_id, person_id)
           ORDER BY 1"""
    ) == [
        ("101", "fa@example.org", "+16175550104", "02143"),
        ("102", None, None, "02144"),
        ("103", "ji@example.org", None, None),
        ("104", None, None, None),
    ]
    assert c.query(
        """SELECT a.activity_id, i.source_id, a.type, a.status, a.attended, a.role
           FROM activity a JOIN identity i USING (org_id, person_id) ORDER BY 1"""
    ) == [
        ("van:ac:3001", "101", "activist_code", None, None, None),
        ("van:cc:9001", "101", "one_on_one", None, None, None),
        ("van:ct:8001", "104", "donation", None, None, None),
        ("van:es:4001", "101", "attendance", "completed", True, "host"),
        ("van:es:4002", "103", "attendance", "no_show", False, "attendee"),
        ("van:es:4003", "101", "attendance", "registered", None, "lead"),
    ]
    assert c.query(
        f"""SELECT activity_id, result, amount, organizer_id, event_id, {utc("occurred_at")}
            FROM activity ORDER BY 1"""
    ) == [
        ("van:ac:3001", "Member", None, None, None, "2026-10-12 20:00"),
        ("van:cc:9001", "Canvassed", None, "van:55", None, "2026-10-10 22:00"),
        ("van:ct:8001", None, 25.0, None, None, "2026-10-15 04:00"),
        ("van:es:4001", None, None, None, "van:7", "2026-10-20 22:30"),
        ("van:es:4002", None, None, None, "van:7", "2026-10-20 22:30"),
        ("van:es:4003", None, None, None, "van:8", "2026-11-05 15:00"),
    ]
    # the result is VAN's name of it (Not Home), not its two-letter code (NH)
    assert c.query(
        """SELECT a.attempt_id, i.source_id, a.channel, a.result, a.conversation,
                  a.organizer_id FROM contact_attempt a JOIN identity i USING (org_id, person_id)
           ORDER BY 1"""
    ) == [
        ("van:cc:9002", "102", "door", "Not Home", False, "van:56"),
        ("van:cc:9003", "101", "text", "Canvassed", True, "van:57"),
    ]
    assert c.query("SELECT event_id, title, event_type FROM event ORDER BY 1") == [
        ("van:7", "Members meeting", "meeting"),
        ("van:8", "Canvass launch", "canvass"),
        ("van:9", "Spring training", "training"),
    ]


def test_van_asks_for_the_people_by_id_in_batches(make_cohort, api, today, monkeypatch):
    """The people the rows name that did not change are asked for in batches of
    VAN_REQUESTED_IDS (VAN documents no limit: the constant is the one place to change),
    in their ids' order; each batch is a job of its own."""
    monkeypatch.setattr(pull_mod, "VAN_REQUESTED_IDS", 1)
    c = make_cohort("- {kind: van, path: van}")
    (result,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert result.error is None and result.counts["persons"] == 4
    jobs = [body for path, body in api.posted if path == "/v4/changedEntityExportJobs"]
    asked = [b.get("requestedIds") for b in jobs if b["resourceType"] == "Contacts"]
    assert asked == [None, [102], [103]]


def test_van_since_and_what_the_key_cannot_export(make_cohort, api, today):
    """--since within VAN's 90 days is asked as it is, and only the events starting
    then or later have their signups read; earlier, the 90 days are asked and the pull
    says what it could not bring. A resource the key has no access to is said too."""
    api.van["resources"].remove("Contributions")
    c = make_cohort("- {kind: van, path: van}")
    (result,) = pull_mod.pull_cohort(c.root, since=dt.date(2026, 11, 1), environ=KEYS)
    assert result.error is None
    assert "contributions" not in result.counts and result.counts["events"] == 3
    assert result.counts["eventsignups"] == 1
    assert [q["eventId"] for path, q, _ in api.seen if path == "/v4/signups"] == ["8"]
    jobs = [body for path, body in api.posted if path == "/v4/changedEntityExportJobs"]
    assert {b["dateChangedFrom"] for b in jobs} == {"2026-11-01T00:00:00Z"}
    assert "Contributions" not in {b["resourceType"] for b in jobs}
    assert result.notes == [
        "contributions not pulled: the API key has no access to VAN's changed-entity "
        "resource Contributions (ask VAN support for it, or export the contributions table "
        "from the VAN warehouse)"
    ]
    api.posted.clear()
    (earlier,) = pull_mod.pull_cohort(c.root, since=dt.date(2026, 1, 2), environ=KEYS)
    jobs = [body for path, body in api.posted if path == "/v4/changedEntityExportJobs"]
    assert {b["dateChangedFrom"] for b in jobs} == {"2026-09-09T00:00:00Z"}
    assert "changed before 2026-09-09 were not pulled" in earlier.notes[0]


def test_van_failures_write_nothing_and_say_how_to_fix(make_cohort, api, today, monkeypatch):
    c = make_cohort("- {kind: van, path: van}")
    api.van["errors"] = {"ContactsActivistCodes": "Export failed"}
    (failed,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert failed.error == (
        "org: pulling VAN ('van') failed: VAN's export job 2170181230 of "
        "ContactsActivistCodes ended with status 'Error': Export failed\n"
        "  Fix: pull again later; if it persists, ask VAN support about the job (give its "
        "number), or export the warehouse tables from VAN instead."
    )
    assert not (c.exports / "van").exists()  # the contact history pulled before it: gone
    assert not list((c.root / ".cyclebook" / "tmp").glob("pull-*"))

    # a field the reader needs missing from two resources' field lists: both named, in
    # one refusal, before any job ran (a job may take an hour)
    api.van["errors"] = {}
    api.posted.clear()
    for resource, name in (("ContactHistory", "ResultID"), ("Contacts", "VanID")):
        fields = api.van["fields"][resource]
        api.van["fields"][resource] = [f for f in fields if f["fieldName"] != name]
    (missing,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert missing.error == (
        "org: pulling VAN ('van') failed: VAN's changed-entity export of ContactHistory has "
        "no resultid field, which the VAN reader needs in its contactscontacts table; VAN's "
        "changed-entity export of Contacts has no vanid field, which the VAN reader needs "
        "in its persons table\n"
        "  Fix: export the contactscontacts and persons tables from the VAN warehouse into "
        "the source's folder instead (or ask VAN support to give the API key these fields)."
    )
    assert api.posted == []
    assert not (c.exports / "van").exists()

    # a file without a column its resource's fields list names: refused, not written
    # with the column empty
    api.van["fields"] = copy.deepcopy(VAN_DATA["fields"])
    api.van["file_header_renames"] = {"DateCanvassed": "DateOfContact"}
    (renamed,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert renamed.error == (
        "org: pulling VAN ('van') failed: VAN's export file of ContactHistory (job "
        "2170181231) has no datecanvassed column, which VAN's fields list of ContactHistory "
        "names: the contactscontacts table would be written with it empty\n"
        "  Fix: export the contactscontacts table from the VAN warehouse into the source's "
        "folder instead, or ask VAN support about the job (give its number)."
    )
    assert not (c.exports / "van").exists()
    api.van["file_header_renames"] = {}

    api.van["fields"] = copy.deepcopy(VAN_DATA["fields"])
    api.fail = {"/files/2170181232-": 403}  # a job's file refused (expired, say)
    (expired,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert "VAN's export file of ContactHistory could not be downloaded (HTTP 403)" in expired.error
    assert "Fix: pull again: a pull runs new export jobs, with files of their own" in expired.error
    api.fail = {}

    # a file host that stops sending: given up after the read timeout (it hung the pull)
    monkeypatch.setattr(pull_mod, "VAN_FILE_TIMEOUT", (5.0, 0.3))
    api.stall = {"/files/": 1.5}
    (stalled,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert stalled.error == (
        "org: pulling VAN ('van') failed: VAN's export file of ContactHistory (job "
        "2170181233) stopped arriving: no data for 0.3 seconds\n"
        "  Fix: pull again: a pull runs new export jobs, with files of their own; if it "
        "stalls again, check this computer's network connection (a VPN, proxy or firewall "
        "can hold a connection without answering)."
    )
    assert not (c.exports / "van").exists()
    api.stall = {}
    # one that takes the request and never answers: the file's read timeout, said as
    # the file's (not the API's two minutes)
    api.hang = {"/files/": "silent"}
    (silent,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert silent.error.startswith(
        "org: pulling VAN ('van') failed: VAN's export file of ContactHistory (job "
        "2170181234) stopped arriving: no data for 0.3 seconds\n"
    )
    assert not (c.exports / "van").exists()
    api.hang = {}

    (refused,) = pull_mod.pull_cohort(c.root, environ={"CYCLEBOOK_ORG_VAN_API_KEY": "old"})
    assert "the API refused the key (HTTP 401, GET " in refused.error
    assert "/v4/changedEntityExportJobs/resources): VAN says (no text; code UNAUTHORIZED)\n" in (
        refused.error
    )
    assert "check CYCLEBOOK_ORG_VAN_API_KEY" in refused.error
    assert "for its MyCampaign database" in refused.error
    assert not (c.exports / "van").exists()


def test_van_needs_parsons_ngpvan_extra(make_cohort, monkeypatch):
    import parsons

    monkeypatch.delattr(parsons, "VAN", raising=False)  # (Parsons keeps it once imported)
    monkeypatch.setitem(sys.modules, "parsons.ngpvan.van", None)  # suds missing, say
    c = make_cohort("- {kind: van, path: van}")
    (result,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert "needs Parsons' ngpvan extra (the suds package), not installed" in result.error
    assert "pip install 'cyclebook[parsons]'" in result.error
    assert not (c.exports / "van").exists()


# ---------------------------------------------------------------- Action Builder

AB_SOURCE = (
    "- kind: action_builder\n  path: ab\n  action_builder_subdomain: tenants-union\n"
    "  action_builder_campaign: 1f2e3d4c-0000-4000-8000-00000000abcd"
)


def test_action_builder_pull_syncs_the_entities(make_cohort, api):
    c = make_cohort(AB_SOURCE)
    (result,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert result.error is None and result.counts == {"people": 27}
    assert [p.relative_to(c.exports).parent.as_posix() for p in result.files] == ["ab"]
    asked = [(path, q.get("page"), q.get("filter")) for path, q, _ in api.seen]
    people = "/ab/tenants-union/api/rest/v1/campaigns/1f2e3d4c-0000-4000-8000-00000000abcd/people"
    assert asked == [(people, "1", None), (people, "2", None), (people, "3", None)]
    assert {h["OSDI-API-Token"] for _, _, h in api.seen} == {"ab-token"}

    result = c.sync()
    assert (result.rows_read, result.rows_rejected) == (27, 0)
    assert result.files[0].notes == [
        "1 entities are not people (Worksite: 1) and were not read; if a type names people, "
        "list it in this source's entity_types in cohort.yml (now: Person)"
    ]
    assert c.query("SELECT count(*), count(DISTINCT source_id) FROM identity") == [(26, 26)]
    assessments = f"SELECT activity_id, type, score, {utc('occurred_at')} FROM activity ORDER BY 1"
    assert c.query(assessments) == [
        ("ab:assess:ent-1:20260715120000", "assessment", 4.0, "2026-07-15 12:00"),
        ("ab:assess:ent-26:20260901080000", "assessment", 2.0, "2026-09-01 08:00"),
    ]

    api.seen.clear()
    pull_mod.pull_cohort(c.root, since=dt.date(2026, 11, 1), environ=KEYS)
    assert {q.get("filter") for _, q, _ in api.seen} == {"modified_date gt '2026-11-01'"}


def test_action_builder_pull_needs_its_campaign(make_cohort, api):
    c = make_cohort("- {kind: action_builder, path: ab, action_builder_subdomain: tu}")
    (result,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert "the Action Builder source 'ab' has no action_builder_campaign" in result.error
    assert "`action_builder_campaign: <id>`" in result.error
    assert api.seen == []
    bad = make_cohort("- {kind: mobilize, path: m, van_database: MyVoters}")
    with pytest.raises(ConfigError, match="'van_database' applies to VAN sources"):
        load_cohort(bad.root)


# ---------------------------------------------------------------- what cannot be pulled


def test_cli_says_what_cannot_be_pulled_and_that_the_export_works(
    make_cohort, api, today, monkeypatch, capsys
):
    c = make_cohort(
        "- {kind: van, path: van}\n- {kind: spoke, path: spoke}\n"
        "- {kind: action_network_csv, path: an.csv}"
    )
    monkeypatch.setenv("VAN_API_KEY", "van-key")  # Parsons' own: one organization has VAN
    assert main(["pull", str(c.root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "pulled     org: van into exports/van (persons 4, contactscontacts 3, "
        "contactsactivistcodes 1, contributions 1, events 3, eventsignups 3, results 2, "
        "contacttypes 3, activistcodes 1; 9 file(s))",
        "note       org: VAN's changed-entity export reaches back 90 days: contact history, "
        "activist codes, contributions and people changed before 2026-09-09 were not pulled; "
        "for them, export the warehouse tables from VAN (contactscontacts, "
        "contactsactivistcodes, contributions, persons) into this source's folder",
        "not pulled org: spoke 'spoke': Parsons has no Spoke connector: download the "
        "campaign's contacts and messages CSVs from Spoke (Data Exports) into this source's "
        "folder; they are read as they are (exports/spoke)",
        "not pulled org: action_network_csv 'an.csv': an activist report is built and "
        "downloaded in Action Network (Reports); it is read as it is. To pull the same "
        "people from the API, add an action_network_api source (exports/an.csv)",
        "cyclebook: 1 source(s) pulled, 0 failed, 2 read from exports only; run "
        "`cyclebook run COHORT` (or `sync`) to read what was pulled",
    ]
    only = make_cohort("- {kind: spoke, path: spoke}")
    assert main(["pull", str(only.root)]) == 2
    err = capsys.readouterr().err
    assert "no source to pull: Parsons pulls action_network_api, mobilize, van, " in err
    assert "org: spoke 'spoke': Parsons has no Spoke connector" in err


# ---------------------------------------------------------------- stalls, refusals, a full disk


def _failed_plainly(c, result, path: str) -> None:
    """A failed pull: nothing written into the source's folder, no staging left."""
    assert result.counts == {} and result.files == []
    assert not (c.exports / path).exists()
    assert not list((c.root / ".cyclebook" / "tmp").glob("pull-*"))


STALL_FIX = (
    "pull again later ({tool}'s API may be down or slow: see its status page); if it "
    "stalls again, check this computer's network connection (a VPN, proxy or firewall can "
    "hold a connection without answering). Meanwhile, the export downloaded from the tool "
    "into the source's folder is read as usual."
)


@pytest.mark.parametrize(
    ("sources", "tool", "path", "hang", "request_named"),
    [
        pytest.param(
            "- {kind: action_network_api, path: an}",
            "Action Network",
            "/api/v2/forms",  # after people, events and their attendances came
            "silent",
            "GET {host}/api/v2/forms",
            id="action-network-page",
        ),
        pytest.param(
            "- {kind: mobilize, path: mobilize, mobilize_organization_id: 4242}",
            "Mobilize",
            "/v1/organizations/4242/attendances",
            "body",  # (urllib3 names only the host of a body that stops arriving)
            "{host}",
            id="mobilize-page-body",
        ),
        pytest.param(
            "- {kind: van, path: van}",
            "VAN",
            "/v4/changedEntityExportJobs/2170181229",  # the first job's status
            "silent",
            "GET {host}/v4/changedEntityExportJobs/2170181229",
            id="van-job-polling",
        ),
        pytest.param(
            "- {kind: van, path: van}",
            "VAN",
            "POST /v4/changedEntityExportJobs",  # the job asked for
            "silent",
            "POST {host}/v4/changedEntityExportJobs",
            id="van-job-start",
        ),
        pytest.param(
            AB_SOURCE,
            "Action Builder",
            "/ab/",
            "silent",
            "GET {host}/ab/tenants-union/api/rest/v1/campaigns/"
            "1f2e3d4c-0000-4000-8000-00000000abcd/people",
            id="action-builder-page",
        ),
    ],
)
def test_a_stalled_api_fails_the_pull_within_the_timeout(
    make_cohort, api, today, monkeypatch, sources, tool, path, hang, request_named
):
    """An API that takes the request and never answers (or stops in the middle of its
    answer) fails that source's pull after API_TIMEOUT's read seconds, naming the tool,
    the request and what to do; the server would have held the pull for a minute (it
    hung for good: Parsons sets no timeout)."""
    monkeypatch.setattr(pull_mod, "API_TIMEOUT", (5.0, 0.5))
    api.hang = {path: hang}
    c = make_cohort(sources)
    started = time.monotonic()
    (result,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    took = time.monotonic() - started
    assert took < 4, took  # (0.5 s of silence, once: a request is not retried)
    source_path = sources.split("path: ")[1].split(",")[0].split("\n")[0].rstrip("}")
    host = api.base.removeprefix("http://")
    assert result.error == (
        f"org: pulling {tool} ('{source_path}') failed: {tool}'s API stopped answering: "
        f"nothing came for 0.5 seconds ({request_named.format(host=host)}); nothing of this "
        f"source was kept\n  Fix: {STALL_FIX.format(tool=tool)}"
    )
    assert result.fix == STALL_FIX.format(tool=tool)
    _failed_plainly(c, result, source_path)


@pytest.mark.parametrize(
    ("sources", "tool", "path"),
    [
        pytest.param(AN_SOURCE, "Action Network", "/api/v2/people", id="action-network"),
        pytest.param(
            MOBILIZE_SOURCE, "Mobilize", "/v1/organizations/4242/attendances", id="mobilize"
        ),
        pytest.param(VAN_SOURCE, "VAN", "/v4/events", id="van"),
        pytest.param(
            AB_SOURCE,
            "Action Builder",
            "/ab/tenants-union/api/rest/v1/campaigns/1f2e3d4c-0000-4000-8000-00000000abcd/people",
            id="action-builder",
        ),
    ],
)
def test_an_answer_trickling_in_fails_the_pull_after_the_deadline(
    make_cohort, api, today, monkeypatch, sources, tool, path
):
    """An answer that keeps arriving, a byte every 0.05 seconds (never silent for the
    read timeout), is given up after API_DEADLINE seconds in all (here 1), naming the
    tool, the request and what to do. It held the pull as long as it trickled (here
    five seconds; a byte a minute held it for good)."""
    monkeypatch.setattr(pull_mod, "API_DEADLINE", 1.0)
    api.trickle = {path: (0.05, 100)}
    c = make_cohort(sources)
    started = time.monotonic()
    (result,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    took = time.monotonic() - started
    assert took < 4, took
    source_path = {"Action Network": "an", "Mobilize": "mobilize", "VAN": "van"}.get(tool, "ab")
    host = api.base.removeprefix("http://")
    assert result.error == (
        f"org: pulling {tool} ('{source_path}') failed: {tool}'s API was still sending its "
        f"answer after 1 seconds (GET {host}{path}), too slowly to wait for; nothing of this "
        f"source was kept\n  Fix: {STALL_FIX.format(tool=tool)}"
    )
    _failed_plainly(c, result, source_path)


def test_an_api_that_takes_no_connection_fails_after_the_connect_timeout(
    make_cohort, api, monkeypatch
):
    """A host whose connection queue is full (the kernel drops the connection's first
    packet, as a firewall that drops it does): given up after API_TIMEOUT's connect
    seconds, and said so."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    held = []
    try:
        for _ in range(8):  # fill the queue: a connection that waits is the proof
            conn = socket.socket()
            conn.settimeout(0.3)
            held.append(conn)
            try:
                conn.connect(("127.0.0.1", port))
            except TimeoutError:
                break
        else:
            pytest.skip("this system's TCP stack takes every connection: no connect stall")
        import parsons.mobilize_america.ma as ma

        monkeypatch.setattr(ma, "MA_URI", f"http://127.0.0.1:{port}/v1/")
        monkeypatch.setattr(pull_mod, "API_TIMEOUT", (0.5, 5.0))
        c = make_cohort("- {kind: mobilize, path: mobilize, mobilize_organization_id: 4242}")
        started = time.monotonic()
        (result,) = pull_mod.pull_cohort(c.root, environ=KEYS)
        assert time.monotonic() - started < 4
    finally:
        for conn in held:
            conn.close()
        listener.close()
    assert result.error == (
        "org: pulling Mobilize ('mobilize') failed: Mobilize's API could not be reached: no "
        f"connection after 0.5 seconds (GET 127.0.0.1:{port}/v1/organizations/4242/"
        "attendances); nothing of this source was kept\n"
        f"  Fix: {STALL_FIX.format(tool='Mobilize')}"
    )
    _failed_plainly(c, result, "mobilize")


def test_a_van_job_that_never_finishes_fails_after_the_wait(make_cohort, api, today, monkeypatch):
    """A job VAN keeps Pending or InProcess: its polling ends after VAN_JOB_WAIT (an
    hour; here 0.3 seconds), the job named."""
    monkeypatch.setattr(pull_mod, "VAN_JOB_WAIT", 0.3)
    monkeypatch.setattr(pull_mod, "VAN_POLL_SECONDS", 0.05)
    api.van["never_done"] = True
    c = make_cohort("- {kind: van, path: van}")
    started = time.monotonic()
    (result,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert time.monotonic() - started < 4
    assert result.error == (
        "org: pulling VAN ('van') failed: VAN's export job 2170181229 of ContactHistory was "
        "not done after 0.3 seconds (status InProcess)\n"
        "  Fix: pull again later, when VAN is less busy, or export the warehouse tables from "
        "VAN instead."
    )
    assert api.van["jobs"][2170181229]["polls"] >= 3  # (polled on, then given up)
    _failed_plainly(c, result, "van")


VAN_400_FIX = (
    "pulling again sends the same request: if VAN's words name the database or the key's "
    "access, check van_database in cohort.yml or ask VAN support (quote VAN's words); "
    "otherwise report them to cyclebook's maintainers. Meanwhile, export the warehouse "
    "tables from VAN into the source's folder."
)


def test_van_bad_request_quotes_vans_own_error_text(make_cohort, api, today):
    """VAN's HTTP 400 lists its errors in its body: the failure quotes each one's text,
    code, properties and reference (and nothing else of the body). It said only "the API
    answered HTTP 400", with "try again later", which cannot help."""
    body = {
        "errors": [
            {
                "code": "INVALID_PARAMETER",
                "text": "The 'dateChangedFrom' parameter must be within the last 90 days.",
                "properties": ["dateChangedFrom"],
                "hint": "echoing fa@example.org",  # (not quoted: not one of VAN's words)
            },
            {"code": "TOO_MANY_IDS", "text": "Too many\n requestedIds.", "referenceCode": "7F-1"},
        ]
    }
    api.fail = {"POST /v4/changedEntityExportJobs": (400, body)}
    c = make_cohort("- {kind: van, path: van}")
    (result,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    host = api.base.removeprefix("http://")
    assert result.error == (
        "org: pulling VAN ('van') failed: VAN refused a request as invalid (HTTP 400, POST "
        f"{host}/v4/changedEntityExportJobs): VAN says \"The 'dateChangedFrom' parameter "
        'must be within the last 90 days." (code INVALID_PARAMETER; about dateChangedFrom); '
        '"Too many requestedIds." (code TOO_MANY_IDS; reference 7F-1)\n'
        f"  Fix: {VAN_400_FIX}"
    )
    _failed_plainly(c, result, "van")

    # a 400 on a list (the events), its body not JSON: said without VAN's words
    api.fail = {"/v4/events": (400, "<html>Bad Request</html>")}
    (result,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert result.error == (
        "org: pulling VAN ('van') failed: VAN refused a request as invalid (HTTP 400, GET "
        f"{host}/v4/events), without saying why\n  Fix: {VAN_400_FIX}"
    )
    _failed_plainly(c, result, "van")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full: no real full disk")
def test_a_full_disk_while_staging_says_so_and_the_others_pull(
    make_cohort, api, today, monkeypatch, capsys
):
    """The disk fills while a VAN table is written into the staging folder (here the
    table's file is /dev/full, whose every write fails with ENOSPC, as a full disk's
    does): the failure says the disk is full, where, and the fix; the next source still
    pulls, and the summary counts the failure (exit code 1). It was said as an API
    failure ("check the network"), or, as the table's last rows are written when its file
    is closed, escaped as an OSError that stopped the command, the rest unpulled."""
    monkeypatch.setattr(pull_mod, "_now", lambda: dt.datetime(2026, 12, 7, 15, 4, 5, tzinfo=dt.UTC))
    names = iter(["bbbbbbbb", "cccccccc"])
    monkeypatch.setattr(
        pull_mod, "uuid", types.SimpleNamespace(uuid4=lambda: uuid.UUID(next(names) * 4))
    )
    c = make_cohort(
        "- {kind: van, path: van}\n"
        "- {kind: mobilize, path: mobilize, mobilize_organization_id: 4242}"
    )
    staged = (
        c.root
        / ".cyclebook/tmp/pull-org-bbbbbbbb/contactscontacts"
        / "contactscontacts-parsons-20261207T150405.000000Z.csv"
    )
    staged.parent.mkdir(parents=True)
    staged.symlink_to("/dev/full")
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    assert main(["pull", str(c.root)]) == 1
    fix = f"make room on the disk that holds {c.root / '.cyclebook' / 'tmp'}, then pull again."
    assert capsys.readouterr().out.splitlines() == [
        f"failed     org: pulling VAN ('van') failed: the pulled files could not be written at "
        f"{staged}: the disk is full (No space left on device); nothing of the pull was kept",
        f"  Fix: {fix}",
        "pulled     org: mobilize into exports/mobilize (attendances 3; 1 file(s))",
        "cyclebook: 1 source(s) pulled, 1 failed; run `cyclebook run COHORT` (or `sync`) to "
        "read what was pulled",
        f"  failed org: van 'van'. Fix: {fix}",
    ]
    assert not (c.exports / "van").exists()
    assert not list((c.root / ".cyclebook" / "tmp").glob("pull-*"))
    assert len(list((c.exports / "mobilize").iterdir())) == 1


def test_a_file_where_the_staging_folder_goes_is_named(make_cohort, api):
    """A file named .cyclebook/tmp (where every pull stages its pages): the failure names
    it as in the way, not the network."""
    c = make_cohort("- {kind: action_network_api, path: an}")
    in_the_way = c.root / ".cyclebook" / "tmp"
    in_the_way.parent.mkdir(parents=True)
    in_the_way.write_text("not a folder")
    (result,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert result.error.startswith(
        "org: pulling Action Network ('an') failed: the pulled files could not be written at "
        f"{in_the_way}/pull-org-"
    )
    assert result.error.endswith(
        ": a file is in the way where the pull needs a folder (Not a directory); nothing of "
        f"the pull was kept\n  Fix: move or rename {in_the_way} (the pull writes a folder of "
        "pages there), then pull again."
    )
    assert in_the_way.read_text() == "not a folder"
    assert not (c.exports / "an").exists()


def test_a_folder_the_pull_may_not_write_or_a_read_only_disk_is_named(tmp_path):
    """(Tests run as root here, where no folder refuses a write: the errors as the system
    gives them.)"""
    where = tmp_path / "tmp" / "pull-org-1" / "people"
    denied = OSError(errno.EACCES, "Permission denied", str(where))
    assert pull_mod._disk_problem(denied, where) == (
        "permission denied (Permission denied)",
        f"let the user running cyclebook write to {where.parent} (check the owner and "
        "permissions of the cohort folder, or run cyclebook as the user who owns it), then "
        "pull again.",
    )
    read_only = OSError(errno.EROFS, "Read-only file system", str(where))
    assert pull_mod._disk_problem(read_only, where) == (
        "the disk is read-only (Read-only file system)",
        "keep the cohort folder on a disk that can be written to, then pull again.",
    )
    quota = OSError(errno.EDQUOT, "Disk quota exceeded")
    assert pull_mod._disk_problem(quota, where, tmp_path) == (
        "the disk is full (Disk quota exceeded)",
        f"make room on the disk that holds {tmp_path}, then pull again.",
    )


def test_a_parsons_whose_van_pages_cannot_be_checked_is_refused_before_any_request(
    make_cohort, api, monkeypatch
):
    """A Parsons whose VAN connection has no page check of Parsons 6.1's: the pull says
    so and asks nothing, rather than follow pages it cannot check."""
    from parsons.utilities.api_connector import APIConnector

    monkeypatch.delattr(APIConnector, "next_page_check_url")
    c = make_cohort(VAN_SOURCE)
    (result,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert result.error == (
        "org: pulling VAN ('van') failed: this version of Parsons has no VAN connection whose "
        "pages can be checked (an API sending pages without end would fill the disk)\n  Fix: "
        "install Parsons 6.1 (pip install 'parsons[ngpvan]==6.1.0'), or export the warehouse "
        "tables from VAN into the source's folder."
    )
    assert api.seen == []
    _failed_plainly(c, result, "van")


def test_a_parsons_without_a_connection_to_time_is_refused_before_any_request(
    make_cohort, api, monkeypatch
):
    """A Parsons whose connector has no APIConnector (not 6.1's): the pull says so and
    asks nothing, rather than make requests that could hang for good."""
    import parsons

    class OtherActionNetwork(parsons.ActionNetwork):
        def __init__(self, api_token=None):
            super().__init__(api_token=api_token)
            del self.api

    monkeypatch.setattr(parsons, "ActionNetwork", OtherActionNetwork)
    c = make_cohort("- {kind: action_network_api, path: an}")
    (result,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert result.error == (
        "org: pulling Action Network ('an') failed: this version of Parsons has no Action "
        "Network connection whose requests can be given a timeout (a stalled API would hang "
        "the pull)\n  Fix: install Parsons 6.1 (pip install 'parsons[ngpvan]==6.1.0'), or "
        "download the export from the tool into the source's folder."
    )
    assert api.seen == []
    _failed_plainly(c, result, "an")


# ---------------------------------------------------------------- pages without end


def _repeat_fix(tool: str) -> str:
    return (
        f"pull again later; if it happens again, {tool}'s API is at fault: report it to "
        f"{tool}'s support (quote this message), and meanwhile download the export from the "
        "tool into the source's folder."
    )


@pytest.mark.parametrize(
    ("sources", "tool", "path", "said"),
    [
        pytest.param(
            AN_SOURCE,
            "Action Network",
            "/api/v2/people",
            "answered page 2 of people with the same records as page 1 (it may not take the "
            "page asked for)",
            id="action-network-people",
        ),
        pytest.param(  # (Parsons' get_tags reads its pages in a loop of its own)
            AN_SOURCE,
            "Action Network",
            "/api/v2/tags",
            "answered page 2 of tags with the same records as page 1 (it may not take the "
            "page asked for)",
            id="action-network-tags",
        ),
        pytest.param(
            AN_SOURCE,
            "Action Network",
            "/api/v2/events/e-9/attendances",
            "answered page 2 of the attendances of event e-9 with the same records as page 1 "
            "(it may not take the page asked for)",
            id="action-network-attendances",
        ),
        pytest.param(
            MOBILIZE_SOURCE,
            "Mobilize",
            "/v1/organizations/4242/attendances",
            "sent as the next page of attendances a page it had sent before "
            "({host}/v1/organizations/4242/attendances, after 2 pages)",
            id="mobilize",
        ),
        pytest.param(
            VAN_SOURCE,
            "VAN",
            "/v4/events",
            "sent as the next page of events a page it had sent before ({host}/v4/events, "
            "after 2 pages)",
            id="van-events",
        ),
        pytest.param(
            VAN_SOURCE,
            "VAN",
            "/v4/signups",
            "sent as the next page of the signups of event 7 a page it had sent before "
            "({host}/v4/signups, after 2 pages)",
            id="van-signups",
        ),
        pytest.param(
            AB_SOURCE,
            "Action Builder",
            "/ab/",
            "answered page 2 of the campaign's entities with the same records as page 1 (it "
            "may not take the page asked for)",
            id="action-builder",
        ),
    ],
)
def test_a_page_sent_again_fails_the_pull(make_cohort, api, today, sources, tool, path, said):
    """An API that sends a page again (its next link the page just read, or the same
    records whatever page is asked for) fails that source's pull at the first page sent
    again, naming the list, the tool and the fix; nothing of it is kept. The pull read
    such pages without end, writing them until the disk was full. (The server sends 20
    pages again, then answers as usual: a pull without the check ends, pages doubled.)"""
    api.repeat = {path: 20}
    c = make_cohort(sources)
    (result,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    source_path = {"Action Network": "an", "Mobilize": "mobilize", "VAN": "van"}.get(tool, "ab")
    host = api.base.removeprefix("http://")
    assert result.error == (
        f"org: pulling {tool} ('{source_path}') failed: {tool}'s API "
        + said.format(host=host)
        + f": its pages would never end\n  Fix: {_repeat_fix(tool)}"
    )
    assert api.repeat[path] == 18  # (the first page, and the one sent again)
    _failed_plainly(c, result, source_path)


def _cap_fix(tool: str) -> str:
    return (
        f"if the organization truly holds that many, download the export from {tool} into "
        "the source's folder instead, or pull with --since YYYY-MM-DD (only what changed); "
        f"otherwise pull again later, and if it happens again, report it to {tool}'s "
        "support."
    )


def test_more_pages_than_the_most_a_pull_reads_fail_the_pull(make_cohort, api, today, monkeypatch):
    """A list of more than MAX_PAGES pages (here 2), each new, fails that source's pull
    with what to do: an API sending new pages without end had the pull write them until
    the disk was full. At the most, the pull ends."""
    monkeypatch.setattr(pull_mod, "MAX_PAGES", 2)
    host_people = [
        {"identifiers": [f"action_network:p-{n}"], "created_date": "2025-03-01T15:00:00Z"}
        for n in range(100, 151)  # 51: three pages of 25
    ]
    api.an_data = {**AN_DATA, "people": host_people}
    third = _second_mobilize_page()
    third["data"][0]["id"] = 14
    api.mobilize_pages = [MOBILIZE_PAGE, _second_mobilize_page(), third]
    api.van["page_max"] = 1  # three events: three pages
    api.ab_entities = [_ab_entity(n) for n in range(1, 52)]  # three pages of 25
    c = make_cohort(f"{AN_SOURCE}\n{MOBILIZE_SOURCE}\n{VAN_SOURCE}\n{AB_SOURCE}")
    results = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert [r.error for r in results] == [
        f"org: pulling {tool} ('{path}') failed: {tool}'s API had more than 2 pages of "
        f"{what}, the most a pull reads of one list (an API sending pages without end "
        f"would fill the disk)\n  Fix: {_cap_fix(tool)}"
        for tool, path, what in [
            ("Action Network", "an", "people"),
            ("Mobilize", "mobilize", "attendances"),
            ("VAN", "van", "events"),
            ("Action Builder", "ab", "the campaign's entities"),
        ]
    ]
    for result, path in zip(results, ("an", "mobilize", "van", "ab"), strict=True):
        _failed_plainly(c, result, path)

    # at the most, the pull ends: two pages each
    api.an_data = {**AN_DATA, "people": host_people[:50]}
    api.mobilize_pages = api.mobilize_pages[:2]
    api.van["events"] = api.van["events"][:2]
    api.ab_entities = api.ab_entities[:50]
    results = pull_mod.pull_cohort(c.root, environ=KEYS)
    assert [r.error for r in results] == [None] * 4
    assert [
        r.counts[name]
        for r, name in zip(results, ("people", "attendances", "events", "people"), strict=True)
    ] == [50, 3, 2, 50]


def test_cli_a_page_sent_again_fails_one_source_and_the_others_pull(
    make_cohort, api, monkeypatch, capsys
):
    """Action Network sending its first page again fails that source alone: Mobilize
    still pulls, the summary counts one failed with its fix, and the exit code is 1."""
    api.repeat = {"/api/v2/people": 20}
    c = make_cohort(f"{AN_SOURCE}\n{MOBILIZE_SOURCE}")
    monkeypatch.setenv("CYCLEBOOK_ORG_AN_API_TOKEN", "an-token")
    monkeypatch.setenv("CYCLEBOOK_ORG_MOBILIZE_API_KEY", "mob-key")
    assert main(["pull", str(c.root)]) == 1
    fix = _repeat_fix("Action Network")
    assert capsys.readouterr().out.splitlines() == [
        "failed     org: pulling Action Network ('an') failed: Action Network's API answered "
        "page 2 of people with the same records as page 1 (it may not take the page asked "
        "for): its pages would never end",
        f"  Fix: {fix}",
        "pulled     org: mobilize into exports/mobilize (attendances 3; 1 file(s))",
        "cyclebook: 1 source(s) pulled, 1 failed; run `cyclebook run COHORT` (or `sync`) to "
        "read what was pulled",
        f"  failed org: action_network_api 'an'. Fix: {fix}",
    ]
    assert not (c.exports / "an").exists()
    assert len(list((c.exports / "mobilize").rglob("*.json"))) == 1


# ---------------------------------------------------------------- a tool's own words

OTHER_4XX_FIX = (
    "pulling again sends the same request: if {tool}'s words name a setting of the source "
    "in cohort.yml or the key's access, correct it; otherwise report them to cyclebook's "
    "maintainers. Meanwhile, download the export from the tool into the source's folder."
)
GONE_FIX = (
    "a record listed a moment before may have been deleted meanwhile: pull again; if it "
    "happens again, report it to cyclebook's maintainers (quote the request), and meanwhile "
    "download the export from the tool into the source's folder."
)
LONG_WORDS = "The filter " + "is far too long " * 30  # 491 characters


@pytest.mark.parametrize(
    ("sources", "fail", "said", "fix"),
    [
        pytest.param(  # a body echoing a member: only the error's words are quoted
            AN_SOURCE,
            {
                "/api/v2/people": (
                    403,
                    {"error": "API key lacks  access\nto people", "email": "fa@example.org"},
                )
            },
            "the API refused the key (HTTP 403, GET {host}/api/v2/people): Action Network "
            'says "API key lacks access to people"',
            "check CYCLEBOOK_ORG_AN_API_TOKEN: it must be this organization's own Action "
            "Network API key, still active. A key refused only on some requests lacks the "
            "permission to read them: ask for that permission where the key comes from "
            "(Action Network: Start Organizing > Details > API & Sync).",
            id="action-network-403",
        ),
        pytest.param(  # longer than 300 characters: cut
            AN_SOURCE,
            {"/api/v2/donations": (400, {"error": LONG_WORDS, "request": {"page": 1}})},
            "Action Network refused a request (HTTP 400, GET {host}/api/v2/donations): Action "
            f'Network says "{LONG_WORDS[:297]}..."',
            OTHER_4XX_FIX.format(tool="Action Network"),
            id="action-network-400-long",
        ),
        pytest.param(
            AN_SOURCE,
            {"/api/v2/events/e-9/attendances": (404, {"error": "Couldn't find event"})},
            "the API has no such address (HTTP 404, GET {host}/api/v2/events/e-9/attendances): "
            'Action Network says "Couldn\'t find event"',
            GONE_FIX,
            id="action-network-404",
        ),
        pytest.param(
            AN_SOURCE,
            {"/api/v2/people": (429, {"error": "Too many requests", "retry": "later"})},
            "Action Network's API refused more requests for now (HTTP 429, too many requests, "
            'GET {host}/api/v2/people): Action Network says "Too many requests"',
            "wait a while, then pull again: Action Network limits how many requests a key "
            "makes in a while. If it happens each time, pull one organization at a time "
            "(--org), or ask Action Network's support about the key's limit.",
            id="action-network-429",
        ),
        pytest.param(
            MOBILIZE_SOURCE,
            {"/v1/organizations/4242/attendances": (404, {"error": {"detail": "Not found."}})},
            "the API has no such address (HTTP 404, GET {host}/v1/organizations/4242/"
            'attendances): Mobilize says "Not found."',
            "check mobilize_organization_id in cohort.yml (4242): the number in the "
            "organization's Mobilize address (mobilize.us/<slug>/ > Settings), of the "
            "organization the key is for.",
            id="mobilize-404",
        ),
        pytest.param(  # its fields' errors, each named
            MOBILIZE_SOURCE,
            {
                "/v1/organizations/4242/attendances": (
                    400,
                    {
                        "error": {
                            "updated_since": ["Enter a whole number.", "Must be in the past."],
                            "person": {"email": "fa@example.org"},  # (not an error's words)
                        }
                    },
                )
            },
            "Mobilize refused a request (HTTP 400, GET {host}/v1/organizations/4242/"
            'attendances): Mobilize says "updated_since: Enter a whole number.; '
            'updated_since: Must be in the past."',
            OTHER_4XX_FIX.format(tool="Mobilize"),
            id="mobilize-400-fields",
        ),
        pytest.param(  # an error in an answer of HTTP 200 (Parsons checks for it)
            MOBILIZE_SOURCE,
            {
                "/v1/organizations/4242/attendances": (
                    200,
                    {"error": {"detail": "Organization inactive"}, "data": [{"id": 5}]},
                )
            },
            "Mobilize answered with an error (HTTP 200, GET {host}/v1/organizations/4242/"
            'attendances): Mobilize says "Organization inactive"',
            OTHER_4XX_FIX.format(tool="Mobilize"),
            id="mobilize-200-error",
        ),
        pytest.param(
            MOBILIZE_SOURCE,
            {"/v1/organizations/4242/attendances": (401, {"detail": "Invalid token."})},
            "the API refused the key (HTTP 401, GET {host}/v1/organizations/4242/attendances)"
            ': Mobilize says "Invalid token."',
            "check CYCLEBOOK_ORG_MOBILIZE_API_KEY: it must be this organization's own "
            "Mobilize API key, still active.",
            id="mobilize-401",
        ),
        pytest.param(
            VAN_SOURCE,
            {
                "/v4/changedEntityExportJobs/resources": (
                    429,
                    {"errors": [{"code": "TOO_MANY_REQUESTS", "text": "Rate limit exceeded"}]},
                    {"Retry-After": "120"},
                )
            },
            "VAN's API refused more requests for now (HTTP 429, too many requests, GET {host}/"
            'v4/changedEntityExportJobs/resources): VAN says "Rate limit exceeded" (code '
            "TOO_MANY_REQUESTS)",
            "wait 120 seconds (VAN asks so), then pull again: VAN limits how many requests a "
            "key makes in a while. If it happens each time, pull one organization at a time "
            "(--org), or ask VAN's support about the key's limit.",
            id="van-429",
        ),
        pytest.param(
            VAN_SOURCE,
            {"/v4/events": (403, {"errors": [{"code": "FORBIDDEN", "text": "No access"}]})},
            'the API refused the key (HTTP 403, GET {host}/v4/events): VAN says "No access" '
            "(code FORBIDDEN)",
            "check CYCLEBOOK_ORG_VAN_API_KEY: it must be this organization's own VAN API key, "
            "still active, for its MyCampaign database (van_database in cohort.yml names the "
            "database; unset, MyCampaign). A key refused only on some requests lacks the "
            "permission to read them: ask for that permission where the key comes from (VAN: "
            "an API key from the VAN administrator (or VAN support), for the database the "
            "source's van_database names, MyCampaign if unset).",
            id="van-403",
        ),
        pytest.param(  # each error's text cut at 300 characters
            VAN_SOURCE,
            {
                "/v4/events": (
                    409,
                    {
                        "errors": [
                            {"code": "CONFLICT", "text": LONG_WORDS, "hint": "fa@example.org"}
                        ]
                    },
                )
            },
            "VAN refused a request (HTTP 409, GET {host}/v4/events): VAN says "
            f'"{LONG_WORDS[:297]}..." (code CONFLICT)',
            OTHER_4XX_FIX.format(tool="VAN"),
            id="van-409-long",
        ),
        pytest.param(
            AB_SOURCE,
            {"/ab/": (404, {"error": "Campaign not found"})},
            "the API has no such address (HTTP 404, GET {host}/ab/tenants-union/api/rest/v1/"
            "campaigns/1f2e3d4c-0000-4000-8000-00000000abcd/people): Action Builder says "
            '"Campaign not found"',
            "check action_builder_subdomain in cohort.yml (tenants-union: the part of the "
            "address before .actionbuilder.org) and action_builder_campaign "
            "(1f2e3d4c-0000-4000-8000-00000000abcd: the 36-character id in the campaign's "
            "address), of the campaign the key is for.",
            id="action-builder-404",
        ),
        pytest.param(  # no words of its own (not JSON)
            AB_SOURCE,
            {"/ab/": (422, "<html>Unprocessable</html>")},
            "Action Builder refused a request (HTTP 422, GET {host}/ab/tenants-union/api/rest/"
            "v1/campaigns/1f2e3d4c-0000-4000-8000-00000000abcd/people), without saying why",
            OTHER_4XX_FIX.format(tool="Action Builder"),
            id="action-builder-422-not-json",
        ),
    ],
)
def test_a_refused_request_quotes_the_tools_words_with_a_fix_for_its_status(
    make_cohort, api, today, sources, fail, said, fix
):
    """An API's HTTP 4xx: the failure names the request and quotes the tool's own words
    (its error fields only, at most 300 characters: the body may echo a member), with
    the fix the status calls for (the key and its permissions, the id in cohort.yml, a
    rate limit). It said "the API answered HTTP <code>" with "try again later"."""
    api.fail = fail
    c = make_cohort(sources)
    (result,) = pull_mod.pull_cohort(c.root, environ=KEYS)
    tool = pull_mod.SUPPORTED[result.kind]
    host = api.base.removeprefix("http://")
    assert result.error == (
        f"org: pulling {tool} ('{result.path}') failed: {said.format(host=host)}\n  Fix: {fix}"
    )
    assert "fa@example.org" not in result.error
    _failed_plainly(c, result, result.path)
