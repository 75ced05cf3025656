"""Optional: pull a source straight from its API with Parsons (``pip install
'cyclebook[parsons]'``), writing files in the same format as the tool's exports.

Plain exports never need Parsons. The pulled files land in the organization's exports
folder, where :func:`cyclebook.sync.sync_org` reads (and archives) them like any export,
so what a report shows can always be traced to files, and a pull is reproducible from
the archive.

What is pulled:

* ``action_network_api``: people, events and each event's attendances, each form's
  submissions, donations, each tag's taggings, each petition's signatures and each
  letter campaign's outreaches, as API pages (``_embedded`` by collection), one folder
  per collection;
* ``mobilize``: the organization's attendances (each with its person, event and
  timeslot), as API pages (``data``);
* ``van`` (EveryAction / NGP VAN): the warehouse tables the VAN reader reads, as CSV
  files named after them, with the reader's column names: ``contactscontacts``,
  ``contactsactivistcodes``, ``contributions`` and ``persons`` from VAN's changed-entity
  export jobs (resources ContactHistory, ContactsActivistCodes, Contributions and
  Contacts), the people those rows name asked for by id in the Contacts job (so no
  activity is left without its person); the lookups ``results``, ``contacttypes`` and
  ``activistcodes``; ``events`` and each event's ``eventsignups``;
* ``action_builder``: the campaign's entities (people and the other entity types, with
  their latest assessment), as API pages (``_embedded``), which the Action Builder
  reader reads as it reads an export.

What cannot be pulled, and is read from the tool's exports instead:

* VAN's changed-entity jobs reach back 90 days: contact history, activist codes,
  contributions and people changed earlier than that come only from a VAN export of
  the warehouse tables (the pull says so each time). Events and the lookups are pulled
  whole, and so are the signups of every event (with ``--since``, of the events that
  start that day or later: VAN lists signups by event, with no date of change).
* Spoke: Parsons has no Spoke connector; the campaign's contacts and messages CSVs are
  downloaded from Spoke.
* ``action_network_csv`` (the activist report) and ``generic_csv`` (spreadsheets) are
  files, not APIs; an ``action_network_api`` source pulls the same people.

Where Parsons 6.1 falls short, the pull goes through its connectors' own requests:
``VAN.get_changed_entities`` reads only the first file of a job (VAN splits a large
export into several), waits without end and cannot ask for people by id, so the job is
run through the VAN connection with the same body, and each of its files read as it is
downloaded, once, through an ``APIConnector`` of its own (``Table.from_csv`` downloads a
file twice: its header when the Table is made, then its rows); ``VAN.get_event_signups``
fails on an event without signups (it unpacks columns of an empty table), so each
event's signups are read through the connection; ``ActionBuilder`` has no public method
that lists a campaign's entities, so its page reader (``_get_page``, the one its own
``_get_all_records`` uses) is. Parsons sets no timeout on any request, and an API that
never answered hung the pull: each connector's APIConnector has every request given
:data:`API_TIMEOUT`, and :data:`API_DEADLINE` for the whole of it, and
``MobilizeAmerica._request``, which calls requests itself, is replaced by its own steps
with them. Parsons' page loops (``VANConnector.get_request``'s ``nextPageLink``,
``MobilizeAmerica._request_paginate``'s ``next``, ``ActionNetwork.get_tags``) have no
end when an API never stops sending pages: the pull follows the pages itself (VAN's
through the same steps), and a page sent again, or more than :data:`MAX_PAGES` of one
list, fails it (Action Network's and Action Builder's pages, read by number, too).

Each organization has its own API key: ``CYCLEBOOK_<ORG>_AN_API_TOKEN``,
``CYCLEBOOK_<ORG>_MOBILIZE_API_KEY``, ``CYCLEBOOK_<ORG>_VAN_API_KEY`` and
``CYCLEBOOK_<ORG>_ACTION_BUILDER_API_TOKEN`` (the organization id in capitals, other
characters as ``_``). Parsons' own variables (``AN_API_TOKEN``,
``MOBILIZE_AMERICA_API_KEY``, ``VAN_API_KEY``, ``ACTION_BUILDER_API_TOKEN``) are used
only when a single organization of the cohort has a source of that kind: with several,
one key would file one group's members under every group.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import errno
import functools
import hashlib
import importlib
import io
import json
import os
import posixpath
import re
import shutil
import threading
import time
import urllib.parse
import uuid
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cyclebook.config import Cohort, Organization, Source, load_cohort
from cyclebook.errors import CyclebookError
from cyclebook.filehash import files_under
from cyclebook.paths import CohortPaths
from cyclebook.sync.readers import VAN_KNOWN, VAN_REQUIRED

SUPPORTED = {
    "action_network_api": "Action Network",
    "mobilize": "Mobilize",
    "van": "VAN",
    "action_builder": "Action Builder",
}
# the kinds no Parsons connector lists: what to do instead
NOT_PULLED = {
    "spoke": "Parsons has no Spoke connector: download the campaign's contacts and "
    "messages CSVs from Spoke (Data Exports) into this source's folder; they are read "
    "as they are",
    "action_network_csv": "an activist report is built and downloaded in Action Network "
    "(Reports); it is read as it is. To pull the same people from the API, add an "
    "action_network_api source",
    "generic_csv": "a spreadsheet is the group's own file, with no API to pull it from; "
    "it is read as it is",
}
PAGE = 500
# what an Action Network pull writes, a folder each (the collections its reader reads)
AN_COLLECTIONS = (
    "people",
    "events",
    "attendances",
    "submissions",
    "donations",
    "taggings",
    "signatures",
    "outreaches",
)
# the variable of each organization's own key, after CYCLEBOOK_<ORG>_
OWN_KEY = {
    "action_network_api": "AN_API_TOKEN",
    "mobilize": "MOBILIZE_API_KEY",
    "van": "VAN_API_KEY",
    "action_builder": "ACTION_BUILDER_API_TOKEN",
}
# Parsons' own variables: one key for the whole cohort
PARSONS_KEY = {
    "action_network_api": "AN_API_TOKEN",
    "mobilize": "MOBILIZE_AMERICA_API_KEY",
    "van": "VAN_API_KEY",
    "action_builder": "ACTION_BUILDER_API_TOKEN",
}
# where an organization finds its key
WHERE_KEY = {
    "action_network_api": "Action Network: Start Organizing > Details > API & Sync",
    "mobilize": "Mobilize: ask Mobilize support for an API key for the organization",
    "van": "VAN: an API key from the VAN administrator (or VAN support), for the "
    "database the source's van_database names, MyCampaign if unset",
    "action_builder": "Action Builder: an API token from Action Builder support, for "
    "the campaign the source names",
}

# VAN: the warehouse tables read from changed-entity export jobs, and their resource
VAN_CHANGED = {
    "contactscontacts": "ContactHistory",
    "contactsactivistcodes": "ContactsActivistCodes",
    "contributions": "Contributions",
    "persons": "Contacts",
}
# how far back a changed-entity job reaches (VAN: "must be in the last 90 days"; a day
# less, so a job is never refused for a few hours)
VAN_CHANGED_DAYS = 89
# a job's status is asked every this many seconds (Parsons' own rate), for at most
# VAN_JOB_WAIT seconds: a job VAN never finishes fails the pull then
VAN_POLL_SECONDS = 10.0
VAN_JOB_WAIT = 3600.0
# people asked for by id in one Contacts job (``requestedIds``). VAN documents no limit:
# its reference of POST /changedEntityExportJobs (docs.ngpvan.com/reference/
# changedentityexportjobs, the same at docs.everyaction.com) says only that requestedIds
# adds those ids to the job's records, and Parsons 6.1 never sends it. 5,000 is a guess
# that keeps a job's body small (some 50 KB of ids). A batch VAN refused would fail the
# VAN pull, as "the API answered HTTP <code>" or with the job's Error status and VAN's
# message. Changed here only: the pull asks in batches of this many.
VAN_REQUESTED_IDS = 5000
# a job's file: seconds to connect, and seconds with no byte arriving before the download
# is given up (not the whole download's time: a large file keeps arriving). Without
# them, a file host that stopped answering hung the pull for good.
VAN_FILE_TIMEOUT = (30.0, 300.0)
# every request to a tool's API (Parsons' own, through its connectors): seconds to
# connect, and seconds with no byte arriving before the request is given up. Parsons
# sets none, and an API that took the connection and never answered (or a proxy holding
# it) hung the pull for good. Two minutes is far beyond a page's usual second or two.
API_TIMEOUT = (30.0, 120.0)
# the most seconds one request to a tool's API may take in all, its answer read whole:
# API_TIMEOUT's counts only silence, and an answer trickling in (a byte now and then,
# through a failing proxy) held the pull for good. A page comes in seconds. (Not a VAN
# job's file: a large one takes long, and arrives as it is read.)
API_DEADLINE = 600.0
# the most pages of one list of a tool's API a pull reads (a collection, an event's
# attendances, VAN's events): 2.5 million records at 25 a page, Action Network's and
# Action Builder's most (VAN's and Mobilize's pages hold more). An API that sent pages
# without end (a next link always there, pages that never came back empty) had the
# pull write pages until the disk was full; a page sent again fails it at once.
MAX_PAGES = 100_000
# the order of a VAN pull's counts
VAN_TABLES_PULLED = (
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


class ParsonsMissingError(CyclebookError):
    """Parsons is not installed; exports still work without it."""


class PullError(CyclebookError):
    """A pull of one source of one organization failed (no key, the API refused it or
    could not be reached); the organization's exports folder is as it was."""


@dataclass
class PullResult:
    org_id: str
    kind: str
    path: str
    counts: dict[str, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    # why the pull failed (its message, then its fix), and the fix alone
    error: str | None = None
    fix: str | None = None
    # what the pull could not bring (read from the tool's exports instead)
    notes: list[str] = field(default_factory=list)
    # the source is of a kind no Parsons connector lists: why, and what to do instead
    not_pulled: str | None = None


def require_parsons() -> Any:
    try:
        with warnings.catch_warnings():
            # Parsons warns on import that `pip install parsons` installs only its core:
            # the core is all the Action Network and Mobilize connectors need
            warnings.filterwarnings("ignore", message=".*pip install parsons", category=Warning)
            return importlib.import_module("parsons")
    except ImportError as exc:
        raise ParsonsMissingError(
            "pulling from the tools' APIs needs Parsons, which is not installed",
            fix="install the optional extra: pip install 'cyclebook[parsons]' -- or download "
            "the exports from each tool and put them in the organization's exports folder "
            "(no Parsons needed).",
        ) from exc


def key_variable(org_id: str, kind: str) -> str:
    """The environment variable holding one organization's API key for ``kind``."""
    return f"CYCLEBOOK_{re.sub(r'[^A-Z0-9]', '_', org_id.upper())}_{OWN_KEY[kind]}"


def api_key(cohort: Cohort, org: Organization, kind: str, environ: Mapping[str, str]) -> str:
    """The organization's own key, else Parsons' variable when no other organization
    of the cohort pulls from the same tool."""
    own = key_variable(org.id, kind)
    if environ.get(own, "").strip():
        return environ[own].strip()
    users = [o.id for o in cohort.organizations if any(s.kind == kind for s in o.sources)]
    shared = environ.get(PARSONS_KEY[kind], "").strip()
    if shared and users == [org.id]:
        return shared
    tool = SUPPORTED[kind]
    if shared:
        raise PullError(
            f"{org.id}: no {tool} key of its own ({own} is not set); {PARSONS_KEY[kind]} is "
            f"set, but {len(users)} organizations of the cohort use {tool}, and one key "
            "would file one group's members under every group",
            fix=f"set {own} to this organization's {tool} API key.",
        )
    raise PullError(
        f"{org.id}: no {tool} API key ({own} is not set)",
        fix=f"set {own} to the organization's {tool} API key ({WHERE_KEY[kind]}).",
    )


def _records(table: Any) -> list[dict]:
    """A Parsons Table (or any iterable of dicts) as a list of plain dicts."""
    if hasattr(table, "to_dicts"):
        return list(table.to_dicts())
    return [dict(row) for row in table]


def _osdi_id(record: Mapping[str, Any]) -> str | None:
    """An Action Network record's own id: its ``action_network:`` identifier, else the
    last part of its self link."""
    for identifier in record.get("identifiers") or []:
        if isinstance(identifier, str) and identifier.startswith("action_network:"):
            return identifier.removeprefix("action_network:")
    href = ((record.get("_links") or {}).get("self") or {}).get("href") or ""
    return href.rstrip("/").rsplit("/", 1)[-1] or None


class _PageWriter:
    """Records of one collection written as pages of :data:`PAGE` into the staging
    folder as they arrive: a million people are never all held in memory."""

    def __init__(self, staging: Path, rel_stem: str, wrap) -> None:
        self.staging, self.rel_stem, self.wrap = staging, rel_stem, wrap
        self.buffer: list[dict] = []
        self.count = 0
        self.written: list[str] = []

    def add(self, records: list[dict]) -> None:
        self.buffer.extend(records)
        self.count += len(records)
        while len(self.buffer) >= PAGE:
            self._flush(self.buffer[:PAGE])
            del self.buffer[:PAGE]

    def close(self) -> None:
        if self.buffer:
            self._flush(self.buffer)
            self.buffer = []

    def discard(self) -> None:
        """A failed pull's last records, dropped unwritten."""
        self.buffer = []

    def _flush(self, records: list[dict]) -> None:
        rel = f"{self.rel_stem}-{len(self.written) + 1:04d}.json"
        target = self.staging / rel
        text = json.dumps(self.wrap(records), default=str, ensure_ascii=False)
        with _writing(target, self.staging):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        self.written.append(rel)


def _disk_problem(exc: OSError, where: Path, disk: Path | None = None) -> tuple[str, str]:
    """What an OSError writing at ``where`` means, in words, and its fix; ``disk``, a
    lasting folder on the same disk (``where``'s own folder if not given)."""
    said = f"{exc.strerror or exc}"
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return (
            f"the disk is full ({said})",
            f"make room on the disk that holds {disk or where.parent}, then pull again.",
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return (
            f"permission denied ({said})",
            f"let the user running cyclebook write to {where.parent} (check the owner and "
            "permissions of the cohort folder, or run cyclebook as the user who owns it), "
            "then pull again.",
        )
    if exc.errno == errno.EROFS:
        return (
            f"the disk is read-only ({said})",
            "keep the cohort folder on a disk that can be written to, then pull again.",
        )
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):
        # (the file in the way is the path itself or a folder's name above it)
        blocker = next((p for p in (where, *where.parents) if p.exists() and not p.is_dir()), where)
        return (
            f"a file is in the way where the pull needs a folder ({said})",
            f"move or rename {blocker} (the pull writes a folder of pages there), then pull again.",
        )
    return said, f"correct what the system reports at {where}, then pull again."


@contextlib.contextmanager
def _writing(target: Path, staging: Path) -> Iterator[None]:
    """An OSError while a pulled page is written into the staging folder said as what
    it is (a full disk, a folder that may not be written, a file in the way), at the
    path where it happened, with its fix: it was taken for an API's failure, and the
    pull said to check the network."""
    try:
        yield
    except OSError as exc:
        where = Path(exc.filename) if exc.filename else target
        # (the staging folder goes when the pull fails: its parent is named instead)
        reason, fix = _disk_problem(exc, where, staging.parent)
        raise PullError(
            f"the pulled files could not be written at {where}: {reason}; nothing of the "
            "pull was kept",
            fix=fix,
        ) from exc


class _PageWalk:
    """The pages of one list of a tool's API (``what``), as they are read: a page read
    before, sent again (its link followed again, or the same records again), or more
    than :data:`MAX_PAGES` pages fail the pull. An API that never stopped sending pages
    had the pull write them until the disk was full."""

    def __init__(self, tool: str, what: str) -> None:
        self.tool, self.what = tool, what
        self.pages = 1  # (the first, read before any next link)
        self.links: set[str] = set()
        self.digests: dict[bytes, int] = {}  # a page's records (their digest) -> its number

    def follow(self, link: str) -> None:
        """The next page's ``link``, before it is read."""
        if link in self.links:
            url = urllib.parse.urlsplit(link)
            raise PullError(
                f"{self.tool}'s API sent as the next page of {self.what} a page it had sent "
                f"before ({url.netloc}{url.path}, after {self.pages:,} pages): its pages "
                "would never end",
                fix=self._fix_repeat(),
            )
        self.links.add(link)
        self._count()

    def page(self, number: int, records: list) -> None:
        """Page ``number`` of a list read by page number (until a page comes back empty),
        its ``records`` not empty, before they are written."""
        digest = hashlib.sha256(json.dumps(records, sort_keys=True, default=str).encode()).digest()
        if (earlier := self.digests.get(digest)) is not None:
            raise PullError(
                f"{self.tool}'s API answered page {number:,} of {self.what} with the same "
                f"records as page {earlier:,} (it may not take the page asked for): its "
                "pages would never end",
                fix=self._fix_repeat(),
            )
        self.digests[digest] = number
        if number > 1:
            self._count()

    def _count(self) -> None:
        self.pages += 1
        if self.pages > MAX_PAGES:
            raise PullError(
                f"{self.tool}'s API had more than {MAX_PAGES:,} pages of {self.what}, the "
                "most a pull reads of one list (an API sending pages without end would "
                "fill the disk)",
                fix="if the organization truly holds that many, download the export from "
                f"{self.tool} into the source's folder instead, or pull with --since "
                "YYYY-MM-DD (only what changed); otherwise pull again later, and if it "
                f"happens again, report it to {self.tool}'s support.",
            )

    def _fix_repeat(self) -> str:
        return (
            f"pull again later; if it happens again, {self.tool}'s API is at fault: report "
            f"it to {self.tool}'s support (quote this message), and meanwhile download the "
            "export from the tool into the source's folder."
        )


def _an_pages(fetch, what: str, **kwargs) -> Iterator[list[dict]]:
    """One Action Network list (``what``), page by page (25 records each, Action
    Network's most), through the Parsons method ``fetch``: until a page comes back
    empty, a page sent again failing the pull, and more than MAX_PAGES."""
    walk = _PageWalk("Action Network", what)
    page = 1
    while True:
        response = fetch(page=page, per_page=25, **kwargs)
        records = next(iter((response.get("_embedded") or {}).values()), [])
        if not records:
            return
        walk.page(page, records)
        yield records
        page += 1


def _pull_action_network(
    parsons: Any, token: str, since: dt.date | None, staging: Path, stamp: str
) -> dict[str, _PageWriter]:
    an = _timed(parsons.ActionNetwork(api_token=token), "Action Network")
    # (Action Network's OData filter: only records changed since a date)
    changed = f"modified_date gt '{since.isoformat()}'" if since else None
    writers: dict[str, _PageWriter] = {}

    def writer(name: str) -> _PageWriter:
        if name not in writers:
            wrap = lambda recs: {"_embedded": {f"osdi:{name}": recs}}  # noqa: E731
            writers[name] = _PageWriter(staging, f"{name}/{name}-parsons-{stamp}", wrap)
        return writers[name]

    def collect(name: str, fetch, what: str | None = None, **kwargs) -> None:
        for records in _an_pages(fetch, what or name, **kwargs):
            writer(name).add(records)

    def ids_of(fetch, what: str) -> list[str]:
        return [i for records in _an_pages(fetch, what) for r in records if (i := _osdi_id(r))]

    for name in AN_COLLECTIONS:  # every collection counted, those pulled empty too
        writer(name)
    collect("people", an.get_people, filter=changed)
    # every event, changed or not: an attendance is dated by its event's start
    events: list[str] = []
    for records in _an_pages(an.get_events, "events"):
        writer("events").add(records)
        events += [i for r in records if (i := _osdi_id(r))]
    for event in events:
        fetch = functools.partial(an.get_event_attendances, event)
        collect("attendances", fetch, f"the attendances of event {event}", filter=changed)
    for form in ids_of(an.get_forms, "forms"):
        fetch = functools.partial(an.get_form_submissions, form)
        collect("submissions", fetch, f"the submissions of form {form}", filter=changed)
    collect("donations", an.get_donations, filter=changed)
    # (Parsons' get_tags reads every page in a loop of its own, without end if the API
    # never sends an empty page: its page reader, which that loop uses, is used here)
    if callable(getattr(an, "_get_page", None)):
        tags = ids_of(functools.partial(an._get_page, "tags"), "tags")
    else:  # (not Parsons 6.1's: its own loop, stopped after as many tags as MAX_PAGES)
        tags = [i for r in _records(an.get_tags(limit=MAX_PAGES * 25)) if (i := _osdi_id(r))]
    for tag in tags:
        fetch = functools.partial(an.get_taggings, tag)
        collect("taggings", fetch, f"the taggings of tag {tag}", filter=changed)
    for petition in ids_of(an.get_petitions, "petitions"):
        fetch = functools.partial(an.get_petition_signatures, petition)
        collect("signatures", fetch, f"the signatures of petition {petition}", filter=changed)
    for campaign in ids_of(an.get_advocacy_campaigns, "advocacy campaigns"):
        fetch = functools.partial(an.get_advocacy_campaign_outreaches, campaign)
        collect(
            "outreaches", fetch, f"the outreaches of advocacy campaign {campaign}", filter=changed
        )
    return writers


def _pull_mobilize(
    parsons: Any, key: str, source: Source, since: dt.date | None, staging: Path, stamp: str
) -> dict[str, _PageWriter]:
    mobilize = _mobilize_timed(parsons.MobilizeAmerica(api_key=key))
    wrap = lambda recs: {"count": len(recs), "next": None, "data": recs}  # noqa: E731
    writer = _PageWriter(staging, f"attendances-parsons-{stamp}", wrap)
    # the request of Parsons' get_attendances, its pages followed here (as its
    # _request_paginate does, which holds every page until the last, and follows `next`
    # without end): each written as it arrives, a link sent again failing the pull, and
    # more than MAX_PAGES
    timestamp = importlib.import_module("parsons.utilities.datetime").date_to_timestamp
    url = f"{mobilize.uri}organizations/{source.mobilize_organization_id}/attendances"
    args = {"updated_since": timestamp(since.isoformat()) if since else None}
    walk = _PageWalk("Mobilize", "attendances")
    answer = mobilize._request(url, args=args, auth=True).json()
    writer.add(answer.get("data") or [])
    while link := answer.get("next"):
        walk.follow(link)
        answer = mobilize._request(link, auth=True).json()
        writer.add(answer.get("data") or [])
    return {"attendances": writer}


class _CsvWriter:
    """The rows of one VAN table written as they arrive into one CSV file in the
    staging folder (``<table>/<table>-parsons-<stamp>.csv``), with the reader's column
    names; no file for a table without rows."""

    def __init__(self, staging: Path, table: str, stamp: str, columns: list[str]) -> None:
        self.staging, self.columns = staging, columns
        self.rel = f"{table}/{table}-parsons-{stamp}.csv"
        self.count = 0
        self.written: list[str] = []
        self._file = None
        self._csv = None

    def add(self, row: Mapping[str, Any]) -> None:
        target = self.staging / self.rel
        with _writing(target, self.staging):
            if self._file is None:
                target.parent.mkdir(parents=True, exist_ok=True)
                self._file = target.open("w", encoding="utf-8", newline="")
                self._csv = csv.writer(self._file)
                self._csv.writerow(self.columns)
                self.written.append(self.rel)
            self._csv.writerow(["" if row.get(c) is None else str(row[c]) for c in self.columns])
        self.count += 1

    def close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            with _writing(self.staging / self.rel, self.staging):
                file.close()  # (the rows still buffered are written: the disk may be full)

    def discard(self) -> None:
        """A failed pull's file, closed; what it could not write is moot (the staging
        folder is removed)."""
        if self._file is not None:
            file, self._file = self._file, None
            with contextlib.suppress(OSError):
                file.close()


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# the stamp in a pulled file's name (``people-parsons-<stamp>-0001.json``): the pull's
# time in UTC to the microsecond; an earlier version's, to the second, has no fraction
PULL_STAMP = re.compile(r"-parsons-(\d{8}T\d{6})(?:\.(\d{6}))?Z")


def _pull_stamp(dest: Path, started: dt.datetime) -> str:
    """The stamp naming a pull's files: the time it started, or a microsecond after the
    newest stamp already in the source's folder when that is not earlier (two pulls in
    one instant, a clock set back). A pull never takes a name an earlier pull wrote (it
    would replace that file, and what the file held would be lost), and its names sort
    after the earlier pulls': among exports synced together, a later name is the newer
    export (:func:`cyclebook.sync.discover_files`)."""
    newest = None
    for rel, _ in files_under(dest) if dest.is_dir() else []:
        if found := PULL_STAMP.search(posixpath.basename(rel)):
            at = dt.datetime.strptime(found[1], "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
            # a stamp to the second stands for any instant of it ("...T150405Z" sorts
            # after "...T150405.999999Z")
            at += dt.timedelta(microseconds=int(found[2]) if found[2] else 999_999)
            newest = at if newest is None else max(newest, at)
    at = started.astimezone(dt.UTC)
    if newest is not None and at <= newest:
        at = newest + dt.timedelta(microseconds=1)
    return at.strftime("%Y%m%dT%H%M%S.%fZ")


def _timed(connector: Any, tool: str) -> Any:
    """``connector`` with every request of its Parsons APIConnector (``api``) given
    :data:`API_TIMEOUT` (the APIConnector passes a request's keyword arguments on to
    requests, and sets no timeout of its own) and :data:`API_DEADLINE`."""
    api = getattr(connector, "api", None)
    request = getattr(api, "request", None)
    if request is None:  # (Parsons 6.1's connectors all have one)
        raise PullError(
            f"this version of Parsons has no {tool} connection whose requests can be given "
            "a timeout (a stalled API would hang the pull)",
            fix="install Parsons 6.1 (pip install 'parsons[ngpvan]==6.1.0'), or download the "
            "export from the tool into the source's folder.",
        )
    timeout = API_TIMEOUT
    base = getattr(api, "uri", "") or ""

    def timed_request(url, req_type, **kwargs):
        kwargs.setdefault("timeout", timeout)
        asked = f"{req_type} {urllib.parse.urljoin(base, url)}"
        return _within_deadline(tool, asked, lambda: request(url, req_type, **kwargs))

    api.request = timed_request
    return connector


def _within_deadline(tool: str, asked: str, send) -> Any:
    """What ``send()`` (one request, its answer read whole, as requests does unless
    asked to stream) returns, or raises; a PullError if it took more than
    :data:`API_DEADLINE` seconds in all. The request is sent from a thread of its own:
    requests has no limit on a request's whole time, and its read timeout counts only
    silence. One given up on is left reading (a daemon thread: it ends with the
    command at the latest); its answer is never used."""
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["answer"] = send()
        except Exception as exc:  # (raised again where the request was made)
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="cyclebook-pull-request", daemon=True).start()
    if not done.wait(API_DEADLINE):
        method, _, url = asked.partition(" ")
        where = urllib.parse.urlsplit(url)
        raise PullError(
            f"{tool}'s API was still sending its answer after {API_DEADLINE:g} seconds "
            f"({method} {where.netloc}{where.path}), too slowly to wait for; nothing of this "
            "source was kept",
            fix=_stall_fix(tool),
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["answer"]


def _mobilize_timed(mobilize: Any) -> Any:
    """Parsons' MobilizeAmerica with its requests given :data:`API_TIMEOUT` and
    :data:`API_DEADLINE`. It has no connection object: its ``_request`` calls requests
    itself, without a timeout, so that method is replaced by the same steps (Parsons
    6.1's) with them."""
    if not callable(getattr(mobilize, "_request", None)):
        raise PullError(
            "this version of Parsons has no Mobilize request that can be given a timeout "
            "(a stalled API would hang the pull)",
            fix="install Parsons 6.1 (pip install 'parsons[ngpvan]==6.1.0'), or download the "
            "attendances from Mobilize into the source's folder.",
        )
    requests = importlib.import_module("requests")  # (Parsons' dependency)
    timeout = API_TIMEOUT

    def timed_request(url, req_type="GET", post_data=None, args=None, auth=False):
        headers = {"Authorization": f"Bearer {mobilize.api_key}"} if auth else None
        response = _within_deadline(
            "Mobilize",
            f"{req_type} {url}",
            lambda: requests.request(
                req_type, url, json=post_data, params=args, headers=headers, timeout=timeout
            ),
        )
        response.raise_for_status()
        # (Parsons raised a ValueError with the whole error in it, which may echo what
        # was asked about: the error's words alone are quoted)
        if "error" in response.json():
            where = urllib.parse.urlsplit(response.url)
            said = _api_words(response)
            raise PullError(
                f"Mobilize answered with an error (HTTP {response.status_code}, {req_type} "
                f"{where.netloc}{where.path})"
                + (f': Mobilize says "{said}"' if said else ", without saying what"),
                fix=_refused_fix("Mobilize"),
            )
        return response

    mobilize._request = timed_request
    return mobilize


def _van_paged(connection: Any) -> Any:
    """Parsons' VAN connection with its list reader (``get_request``, which every VAN
    method the pull uses calls) replaced by the same steps (Parsons 6.1's) with each
    page's ``nextPageLink`` checked: a link sent again, or more than MAX_PAGES pages,
    fails the pull. Parsons' follows the links without end."""
    api = getattr(connection, "api", None)
    if not all(
        callable(getattr(api, name, None))
        for name in ("get_request", "data_parse", "next_page_check_url")
    ):
        raise PullError(
            "this version of Parsons has no VAN connection whose pages can be checked (an "
            "API sending pages without end would fill the disk)",
            fix="install Parsons 6.1 (pip install 'parsons[ngpvan]==6.1.0'), or export the "
            "warehouse tables from VAN into the source's folder.",
        )
    pagination_key = getattr(connection, "pagination_key", None) or "nextPageLink"

    def get_request(endpoint: str, **kwargs):
        params = kwargs.get("params") or {}
        what = f"the signups of event {params['eventId']}" if "eventId" in params else endpoint
        walk = _PageWalk("VAN", what)
        answer = api.get_request(url=connection.uri + endpoint, **kwargs)
        data = api.data_parse(answer)
        # (a next page's link holds the query: it is not sent again)
        page_kwargs = {k: v for k, v in kwargs.items() if k != "params"}
        while isinstance(answer, dict) and api.next_page_check_url(answer):
            link = answer[pagination_key]
            walk.follow(link)
            answer = api.get_request(url=link, **page_kwargs)
            data.extend(api.data_parse(answer))
        return data

    connection.get_request = get_request
    return connection


def _van_connector(parsons: Any) -> Any:
    try:
        return parsons.VAN
    except ImportError as exc:  # Parsons' VAN connector imports suds, its ngpvan extra
        raise PullError(
            "pulling VAN needs Parsons' VAN connector, which needs Parsons' ngpvan extra "
            "(the suds package), not installed",
            fix="install the optional extra again: pip install 'cyclebook[parsons]' (it "
            "brings parsons[ngpvan]) -- or export the warehouse tables from VAN into the "
            "source's folder (no Parsons needed).",
        ) from exc


def _van_job(van: Any, resource: str, body: dict) -> tuple[int, list[str]]:
    """Run one changed-entity export job through Parsons' VAN connection, as
    ``VAN.get_changed_entities`` does, and return its number and the download address
    of every file of it (Parsons' method reads only the first)."""
    job = van.connection.post_request("changedEntityExportJobs", json=body)
    job_id = job["exportJobId"]
    deadline = time.monotonic() + VAN_JOB_WAIT
    while True:
        status = van.connection.get_request(f"changedEntityExportJobs/{job_id}")
        state = status.get("jobStatus")
        if state == "Complete":
            return job_id, [f["downloadUrl"] for f in status.get("files") or []]
        if state not in ("Pending", "InProcess"):
            raise PullError(
                f"VAN's export job {job_id} of {resource} ended with status {state!r}: "
                f"{status.get('message') or 'no message'}"
                + (f" (code {status['code']})" if status.get("code") else ""),
                fix="pull again later; if it persists, ask VAN support about the job "
                "(give its number), or export the warehouse tables from VAN instead.",
            )
        if time.monotonic() > deadline:
            raise PullError(
                f"VAN's export job {job_id} of {resource} was not done after "
                + (
                    f"{VAN_JOB_WAIT / 60:g} minutes"
                    if VAN_JOB_WAIT >= 60
                    else f"{VAN_JOB_WAIT:g} seconds"
                )
                + f" (status {state})",
                fix="pull again later, when VAN is less busy, or export the warehouse "
                "tables from VAN instead.",
            )
        time.sleep(VAN_POLL_SECONDS)


def _named(names: list[str], noun: str) -> str:
    """'resultid field', 'vanid, resultid fields'"""
    return f"{', '.join(names)} {noun}{'s' if len(names) > 1 else ''}"


def _van_rows(
    url: str, table: str, resource: str, job_id: int, expected: list[str]
) -> Iterator[dict[str, str]]:
    """The rows of one file of a changed-entity job, each keyed by its column's name in
    lower case, read as they are downloaded, once: through a Parsons APIConnector of its
    own, without the VAN key (the address is signed, and the file host is not VAN).
    Parsons' ``Table.from_csv`` downloaded each file twice: once for its header when the
    Table is made, then again for the rows.

    A file without one of the ``expected`` columns (those VAN's fields list named, in
    lower case) is refused: its rows would be written with that column empty."""
    from urllib3.exceptions import ReadTimeoutError  # (Parsons' requests depends on it)

    connector = importlib.import_module("parsons.utilities.api_connector").APIConnector(url)
    try:
        response = connector.request(
            url, "GET", stream=True, raise_on_error=False, timeout=VAN_FILE_TIMEOUT
        )
    except Exception as exc:
        # (the file's own timeouts, not the API's: said here, where they are known)
        if stalled := _stalled_api(exc):
            raise _stalled(resource, job_id, connect=stalled == "connect") from exc
        raise
    with response:
        if response.status_code >= 400:
            raise PullError(
                f"VAN's export file of {resource} could not be downloaded "
                f"(HTTP {response.status_code})",
                # (each pull runs new jobs: how long VAN keeps a job's files, which its
                # reference gives as 20 days on one page and 24 hours on another, is moot)
                fix="pull again: a pull runs new export jobs, with files of their own.",
            )
        response.raw.decode_content = True  # (a gzip-encoded answer, unpacked)
        # (read to its end, urllib3 closes the answer, and TextIOWrapper then fails on
        # a "closed file" instead of ending)
        response.raw.auto_close = False
        rows = csv.reader(io.TextIOWrapper(response.raw, encoding="utf-8-sig", newline=""))
        try:
            header = [h.strip().lower() for h in next(rows, ())]
        except ReadTimeoutError as exc:
            raise _stalled(resource, job_id) from exc
        # (a file without even a header holds no row to write wrong)
        if header and (absent := [c for c in expected if c not in header]):
            raise PullError(
                f"VAN's export file of {resource} (job {job_id}) has no "
                f"{_named(absent, 'column')}, which VAN's fields list of {resource} "
                f"names: the {table} table would be written with "
                + ("it" if len(absent) == 1 else "them")
                + " empty",
                fix=f"export the {table} table from the VAN warehouse into the source's "
                "folder instead, or ask VAN support about the job (give its number).",
            )
        try:
            for row in rows:
                yield dict(zip(header, row, strict=False))
        except ReadTimeoutError as exc:  # (urllib3's: the rows are read from the raw answer)
            raise _stalled(resource, job_id) from exc


def _stalled(resource: str, job_id: int, connect: bool = False) -> PullError:
    return PullError(
        f"VAN's export file of {resource} (job {job_id}) "
        + (
            f"could not be reached: no connection after {VAN_FILE_TIMEOUT[0]:g} seconds"
            if connect
            else f"stopped arriving: no data for {VAN_FILE_TIMEOUT[1]:g} seconds"
        ),
        fix="pull again: a pull runs new export jobs, with files of their own; if it stalls "
        "again, check this computer's network connection (a VPN, proxy or firewall can hold "
        "a connection without answering).",
    )


def _pull_van(
    parsons: Any,
    key: str,
    source: Source,
    since: dt.date | None,
    staging: Path,
    stamp: str,
    writers: dict,
    notes: list[str],
) -> None:
    van = _van_connector(parsons)(api_key=key, db=source.van_database or "MyCampaign")
    _van_paged(_timed(van.connection, "VAN"))
    oldest = _today() - dt.timedelta(days=VAN_CHANGED_DAYS)
    changed_from = max(since, oldest) if since else oldest
    if changed_from > (since or dt.date.min):
        notes.append(
            "VAN's changed-entity export reaches back 90 days: contact history, activist "
            f"codes, contributions and people changed before {changed_from.isoformat()} "
            "were not pulled; for them, export the warehouse tables from VAN "
            "(contactscontacts, contactsactivistcodes, contributions, persons) into this "
            "source's folder"
        )
    resources = set(van.get_changed_entity_resources())
    referenced: set[str] = set()

    def table_writer(table: str, columns: list[str]) -> _CsvWriter:
        writers[table] = _CsvWriter(staging, table, stamp, columns)
        return writers[table]

    @functools.cache
    def fields_of(table: str) -> dict[str, dict]:
        """The fields VAN's changed-entity resource of ``table`` has, by their name in
        lower case (the reader's names are the warehouse's, in lower case)."""
        resource = VAN_CHANGED[table]
        return {
            str(f["fieldName"]).lower(): f
            for f in _records(van.get_changed_entity_resource_fields(resource))
        }

    def columns(table: str) -> list[str]:
        """The reader's columns of ``table`` that VAN's resource has (a column written
        empty would hide another: the reader takes zip5 before zip)."""
        return [name for name in fields_of(table) if name in VAN_KNOWN[table]]

    def changed(table: str, requested_ids: list | None = None) -> Iterator[dict]:
        """The rows of ``table``'s changed-entity resource, the core fields and the
        reader's others, keyed by their names in lower case."""
        resource = VAN_CHANGED[table]
        fields = fields_of(table)
        body = {
            "dateChangedFrom": f"{changed_from.isoformat()}T00:00:00Z",
            "dateChangedTo": None,
            "resourceType": resource,
            "requestedFields": [
                f["fieldName"]
                for name, f in fields.items()
                if name in VAN_KNOWN[table] and not f.get("isCoreField")
            ]
            or None,
            "requestedCustomFieldIds": None,
            "fileSizeKbLimit": 100000,
            "includeInactive": False,
        }
        if requested_ids:
            body["requestedIds"] = requested_ids
        job_id, urls = _van_job(van, resource, body)
        for url in urls:
            yield from _van_rows(url, table, resource, job_id, columns(table))

    def unavailable(table: str) -> bool:
        if VAN_CHANGED[table] in resources:
            return False
        notes.append(
            f"{table} not pulled: the API key has no access to VAN's changed-entity "
            f"resource {VAN_CHANGED[table]} (ask VAN support for it, or export the "
            f"{table} table from the VAN warehouse)"
            + (
                "; the sync rejects the pulled rows of people no other export lists"
                if table == "persons"
                else ""
            )
        )
        return True

    available = [table for table in VAN_CHANGED if not unavailable(table)]
    # every field list checked before any job runs (a job may take an hour): a resource
    # without a field the reader needs (its names are taken to be the warehouse's, but
    # for capitals) refuses the pull, naming each such field, rather than write a table
    # the reader rejects or reads wrong
    lacking = {
        table: absent
        for table in available
        if (absent := [c for c in VAN_REQUIRED[table] if c not in fields_of(table)])
    }
    if lacking:
        raise PullError(
            "; ".join(
                f"VAN's changed-entity export of {VAN_CHANGED[table]} has no "
                f"{_named(absent, 'field')}, which the VAN reader needs in its {table} table"
                for table, absent in lacking.items()
            ),
            fix=f"export the {' and '.join(lacking)} table{'s' if len(lacking) > 1 else ''} "
            "from the VAN warehouse into the source's folder instead (or ask VAN support to "
            "give the API key these fields).",
        )

    for table in ("contactscontacts", "contactsactivistcodes", "contributions"):
        if table not in available:
            continue
        out = table_writer(table, columns(table))
        for row in changed(table):
            out.add(row)
            if row.get("vanid"):
                referenced.add(str(row["vanid"]).strip())

    # the lookups, whole: VAN's REST names a result code in `name` (Canvassed, Not
    # Home), which the warehouse's results table has as resultshortname; its shortName
    # is a two-letter code (CA, NH)
    out = table_writer("results", ["resultid", "resultshortname"])
    for r in _records(van.get_canvass_responses_result_codes()):
        out.add({"resultid": r.get("resultCodeId"), "resultshortname": r.get("name")})
    out = table_writer("contacttypes", ["contacttypeid", "contacttypename"])
    for r in _records(van.get_canvass_responses_contact_types()):
        out.add({"contacttypeid": r.get("contactTypeId"), "contacttypename": r.get("name")})
    out = table_writer(
        "activistcodes",
        ["activistcodeid", "activistcodename", "activistcodetype", "activistcodedescription"],
    )
    for r in _records(van.get_activist_codes()):
        out.add(
            {
                "activistcodeid": r.get("activistCodeId"),
                "activistcodename": r.get("name"),
                "activistcodetype": r.get("type"),
                "activistcodedescription": r.get("description"),
            }
        )

    # every event (a signup is dated by its event), and the signups of each; with
    # --since, of the events that start on that day or later
    events = table_writer(
        "events",
        [
            "eventid",
            "eventname",
            "eventtypeid",
            "eventtypename",
            "dateoffsetbegin",
            "dateoffsetend",
        ],
    )
    signups = table_writer(
        "eventsignups",
        [
            "eventsignupid",
            "vanid",
            "eventid",
            "eventshiftid",
            "eventroleid",
            "eventrolename",
            "eventstatusid",
            "eventstatusname",
            "datecreated",
            "datemodified",
        ],
    )
    for e in _records(van.get_events(expand_fields=[])):
        kind = e.get("eventType") or {}
        events.add(
            {
                "eventid": e.get("eventId"),
                "eventname": e.get("name"),
                "eventtypeid": kind.get("eventTypeId"),
                "eventtypename": kind.get("name"),
                "dateoffsetbegin": e.get("startDate"),
                "dateoffsetend": e.get("endDate"),
            }
        )
        if since and str(e.get("startDate") or "")[:10] < since.isoformat():
            continue
        for r in van.connection.get_request("signups", params={"eventId": e.get("eventId")}):
            vanid = (r.get("person") or {}).get("vanId")
            signups.add(
                {
                    "eventsignupid": r.get("eventSignupId"),
                    "vanid": vanid,
                    "eventid": (r.get("event") or {}).get("eventId", e.get("eventId")),
                    "eventshiftid": (r.get("shift") or {}).get("eventShiftId"),
                    "eventroleid": (r.get("role") or {}).get("roleId"),
                    "eventrolename": (r.get("role") or {}).get("name"),
                    "eventstatusid": (r.get("status") or {}).get("statusId"),
                    "eventstatusname": (r.get("status") or {}).get("name"),
                    "datecreated": r.get("dateCreated"),
                    "datemodified": r.get("dateModified"),
                }
            )
            if vanid is not None:
                referenced.add(str(vanid))

    # the people: those changed, then those the rows above name that were not (an
    # activity whose person is in no export is rejected by the sync)
    if "persons" not in available:
        return
    persons = table_writer("persons", columns("persons"))
    listed: set[str] = set()

    def add_people(rows: Iterator[dict]) -> None:
        for row in rows:
            vanid = str(row.get("vanid") or "").strip()
            if vanid and vanid not in listed:
                listed.add(vanid)
                persons.add(row)

    add_people(changed("persons"))
    wanted = sorted(referenced - listed, key=lambda v: (len(v), v))
    for start in range(0, len(wanted), VAN_REQUESTED_IDS):
        chunk = wanted[start : start + VAN_REQUESTED_IDS]
        add_people(changed("persons", [int(v) if v.isdigit() else v for v in chunk]))
    if unlisted := referenced - listed:
        notes.append(
            f"{len(unlisted)} people named by the pulled contacts, codes, contributions or "
            "signups were not in VAN's people export: the sync rejects their rows as of "
            "a person not found unless another export lists them (export the persons "
            "table from the VAN warehouse)"
        )


def _pull_action_builder(
    parsons: Any, key: str, source: Source, since: dt.date | None, staging: Path, stamp: str
) -> dict[str, _PageWriter]:
    ab = _timed(
        parsons.ActionBuilder(
            api_token=key,
            subdomain=source.action_builder_subdomain,
            campaign=source.action_builder_campaign,
        ),
        "Action Builder",
    )
    if not hasattr(ab, "_get_page"):  # Parsons 6.1's page reader; not a public method
        raise PullError(
            "this version of Parsons cannot list an Action Builder campaign's entities",
            fix="install Parsons 6.1 (pip install 'parsons[ngpvan]==6.1.0'), or download "
            "the entities from Action Builder into the source's folder.",
        )
    changed = f"modified_date gt '{since.isoformat()}'" if since else None
    wrap = lambda recs: {"_embedded": {"osdi:people": recs}}  # noqa: E731
    writer = _PageWriter(staging, f"people-parsons-{stamp}", wrap)
    walk = _PageWalk("Action Builder", "the campaign's entities")
    page = 1
    while True:  # 25 a page, Action Builder's most, until a page comes back empty
        response = ab._get_page(None, "people", page, per_page=25, filter=changed)
        records = (response.get("_embedded") or {}).get("osdi:people") or []
        if not records:
            return {"people": writer}
        walk.page(page, records)
        writer.add(records)
        page += 1


def pull(
    cohort_dir: str | Path,
    org: Organization,
    source: Source,
    *,
    key: str,
    since: dt.date | None = None,
) -> PullResult:
    """Pull one source of one organization through Parsons into its exports folder.

    Every page is written to a private folder first and moved into the source's folder
    only when the whole pull succeeded: a pull that fails leaves the folder as it was
    (a half pull would be synced as a complete export). Returns what was written."""
    if source.kind not in SUPPORTED:
        raise PullError(
            f"{org.id}: the {source.kind} source '{source.path}' cannot be pulled: "
            f"{NOT_PULLED[source.kind]}",
            fix=f"export the files from the tool instead (Parsons pulls: {', '.join(SUPPORTED)}).",
        )
    if source.kind == "mobilize" and source.mobilize_organization_id is None:
        raise PullError(
            f"{org.id}: the Mobilize source '{source.path}' has no mobilize_organization_id",
            fix="add `mobilize_organization_id: <number>` to this source in cohort.yml (the "
            "number in the organization's Mobilize address, mobilize.us/<slug>/ > Settings).",
        )
    if source.kind == "action_builder":
        unset = [
            name
            for name in ("action_builder_subdomain", "action_builder_campaign")
            if not getattr(source, name)
        ]
        if unset:
            raise PullError(
                f"{org.id}: the Action Builder source '{source.path}' has no "
                + " and no ".join(unset),
                fix="add them to this source in cohort.yml: `action_builder_subdomain: "
                "<name>` (the part of the address before .actionbuilder.org) and "
                "`action_builder_campaign: <id>` (the 36-character id in the campaign's "
                "address).",
            )
    parsons = require_parsons()
    paths = CohortPaths.of(cohort_dir)
    tool = SUPPORTED[source.kind]
    dest = paths.exports(org.id) / source.path
    if dest.is_file():
        raise PullError(
            f"{org.id}: the {tool} source's path '{source.path}' names a file; a pull writes "
            "a folder of pages",
            fix="give this source a folder as its path in cohort.yml (for example "
            f"'{Path(source.path).stem}').",
        )
    started = _now()
    stamp = _pull_stamp(dest, started)
    # beside the cohort, never under exports/ (the sync reads every file there)
    staging = paths.root / ".cyclebook" / "tmp" / f"pull-{org.id}-{uuid.uuid4().hex[:8]}"
    writers: dict = {}
    notes: list[str] = []
    try:
        try:
            if source.kind == "action_network_api":
                writers = _pull_action_network(parsons, key, since, staging, stamp)
            elif source.kind == "mobilize":
                writers = _pull_mobilize(parsons, key, source, since, staging, stamp)
            elif source.kind == "van":
                _pull_van(parsons, key, source, since, staging, stamp, writers, notes)
                order = {name: n for n, name in enumerate(VAN_TABLES_PULLED)}
                writers = dict(sorted(writers.items(), key=lambda kv: order[kv[0]]))
            else:
                writers = _pull_action_builder(parsons, key, source, since, staging, stamp)
            # the last pages; a VAN table's file is open while it is written
            for w in writers.values():
                w.close()
        except PullError as exc:
            raise PullError(
                f"{org.id}: pulling {tool} ('{source.path}') failed: {exc.message}", fix=exc.fix
            ) from exc
        except CyclebookError:
            raise
        except Exception as exc:  # requests' and Parsons' errors, whatever their class
            raise _api_error(org, source, tool, exc) from exc
        finally:
            # (a failed pull's: closing them had written its last pages, and a full disk
            # then raised past the failure's own message)
            for w in writers.values():
                w.discard()
        # named again if another pull of the source wrote into its folder meanwhile
        final_stamp = _pull_stamp(dest, started)
        written: list[Path] = []
        made: list[Path] = []  # the folders the pull made
        try:
            for rel in [rel for w in writers.values() for rel in w.written]:
                final = dest / rel.replace(f"-parsons-{stamp}", f"-parsons-{final_stamp}")
                made += [d for d in (final.parent, *final.parent.parents) if not d.exists()]
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / rel, final)
                written.append(final)
        except OSError as exc:
            # what was moved already goes again: half a pull would be synced as a whole
            for final in written:
                final.unlink(missing_ok=True)
            for folder in sorted(made, key=lambda d: len(d.parts), reverse=True):
                with contextlib.suppress(OSError):
                    folder.rmdir()
            where = Path(exc.filename) if exc.filename else dest
            reason, fix = _disk_problem(exc, where)
            raise PullError(
                f"{org.id}: the {tool} pull ('{source.path}') could not be written into "
                f"{where}: {reason}; nothing of it was kept",
                fix=fix,
            ) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    counts = {name: w.count for name, w in writers.items()}
    return PullResult(org.id, source.kind, source.path, counts, written, notes=notes)


def _request_named(exc: BaseException) -> str:
    """The request an error of requests (or urllib3) was about, as 'GET host/path' (no
    query: it may hold a filter; never a body), found on it or the errors it wraps; ''
    when none says."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        error = todo.pop(0)
        if id(error) in seen:
            continue
        seen.add(id(error))
        request = getattr(error, "request", None)
        if request is not None and getattr(request, "url", None):
            url = urllib.parse.urlsplit(request.url)
            return f"{request.method} {url.netloc}{url.path}"
        pool = getattr(error, "pool", None)  # urllib3's: its host and port, maybe a path
        if getattr(pool, "host", None):
            port = f":{pool.port}" if getattr(pool, "port", None) else ""
            path = urllib.parse.urlsplit(getattr(error, "url", None) or "").path
            return f"{pool.host}{port}{path}"
        todo += [
            e
            for e in (*error.args, error.__cause__, error.__context__)
            if isinstance(e, BaseException)
        ]
    return ""


def _stalled_api(exc: Exception) -> str | None:
    """'connect' or 'read' when ``exc`` is a request given up after its timeout (no
    connection; no byte arriving), else None."""
    try:
        exceptions = importlib.import_module("requests.exceptions")
        urllib3_exceptions = importlib.import_module("urllib3.exceptions")
    except ImportError:
        return None
    if isinstance(exc, exceptions.ConnectTimeout):
        return "connect"
    if isinstance(exc, exceptions.ReadTimeout | urllib3_exceptions.ReadTimeoutError):
        return "read"
    # (an answer's body that stops arriving: requests raises its ConnectionError with
    # urllib3's ReadTimeoutError inside)
    if isinstance(exc, exceptions.ConnectionError) and any(
        isinstance(a, urllib3_exceptions.ReadTimeoutError) for a in exc.args
    ):
        return "read"
    return None


# the fields of an API's error answer that hold its words: Action Network's and Action
# Builder's {"error": "..."}, Mobilize's {"error": {"detail": "..."}} or its fields'
# errors ({"error": {"<field>": ["..."]}}), and {"detail": ...}, {"message": ...},
# {"errors": [...]} as other APIs answer. Nothing else of a body is quoted: it may echo
# what was asked about, a member's details included
ERROR_FIELDS = ("error", "errors", "detail", "message")
# within one of them: the fields of one error's words
ERROR_WORDS = ("detail", "message", "text", "error", "title")
# the most of a tool's words quoted
ERROR_CHARS = 300


def _van_refusal(response: Any) -> str:
    """VAN's own explanation of a request it refused: the text of each error its body
    lists (``{"errors": [{"code", "text", "properties", "referenceCode"}]}``), with its
    code and the properties it names, each at most ERROR_CHARS characters. Only these:
    the body describes the request, and nothing else of it is quoted."""
    try:
        body = response.json()
    except ValueError:
        return ""
    errors = body.get("errors") if isinstance(body, dict) else None
    said = []
    for error in errors if isinstance(errors, list) else []:
        if not isinstance(error, dict):
            continue

        def clean(value: Any) -> str:
            text = " ".join(value.split()) if isinstance(value, str) else ""
            return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 3] + "..."

        text = clean(error.get("text"))
        properties = [p for p in map(clean, error.get("properties") or []) if p]
        details = [
            f"code {code}" if (code := clean(error.get("code"))) else "",
            f"about {', '.join(properties)}" if properties else "",
            f"reference {ref}" if (ref := clean(error.get("referenceCode"))) else "",
        ]
        details = "; ".join(d for d in details if d)
        if text:
            said.append(f'"{text}"' + (f" ({details})" if details else ""))
        else:
            said.append(f"(no text{'; ' + details if details else ''})")
    return "; ".join(said[:5])


def _api_words(response: Any) -> str:
    """A tool's own words in its error answer (its JSON body's :data:`ERROR_FIELDS`:
    strings, lists of them, an error's :data:`ERROR_WORDS`, a field's errors as
    "<field>: <words>"), at most ERROR_CHARS characters; '' when it says none."""
    try:
        body = response.json()
    except ValueError:
        return ""
    said: list[str] = []

    def words(value: Any, field: str = "", depth: int = 0) -> None:
        if depth > 3 or len(said) >= 5:
            return
        if isinstance(value, str):
            if text := " ".join(value.split()):
                said.append(f"{field}: {text}" if field else text)
        elif isinstance(value, list):
            for item in value:
                words(item, field, depth + 1)
        elif isinstance(value, dict):
            if found := [value[k] for k in ERROR_WORDS if k in value]:
                for item in found:
                    words(item, field, depth + 1)
            elif not field:  # (its fields' errors: each a message, or a list of them)
                for name, item in value.items():
                    if isinstance(item, str) or (
                        isinstance(item, list) and all(isinstance(i, str) for i in item)
                    ):
                        words(item, str(name), depth + 1)

    for name in ERROR_FIELDS if isinstance(body, dict) else ():
        if name in body:
            words(body[name])
    text = "; ".join(said)
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 3] + "..."


def _refused(
    what: str,
    org: Organization,
    source: Source,
    tool: str,
    exc: Exception,
    response: Any,
    status: int,
) -> PullError:
    """A request the API refused (HTTP 4xx): the request, the tool's own words, and the
    fix that fits the status."""
    request = _request_named(exc)
    on = f", {request}" if request else ""
    if source.kind == "van":
        said = _van_refusal(response) if response is not None else ""
        says = f": VAN says {said}" if said else ""
    else:
        said = _api_words(response) if response is not None else ""
        says = f': {tool} says "{said}"' if said else ""
    if status in (401, 403):
        return PullError(
            f"{what}: the API refused the key (HTTP {status}{on}){says}",
            fix=f"check {key_variable(org.id, source.kind)}: it must be this organization's "
            f"own {tool} API key, still active"
            + (
                f", for its {source.van_database or 'MyCampaign'} database (van_database in "
                "cohort.yml names the database; unset, MyCampaign)"
                if source.kind == "van"
                else ""
            )
            + (
                ". A key refused only on some requests lacks the permission to read them: "
                f"ask for that permission where the key comes from ({WHERE_KEY[source.kind]})."
                if status == 403
                else "."
            ),
        )
    if status == 404:
        if source.kind == "mobilize":
            fix = (
                f"check mobilize_organization_id in cohort.yml ({source.mobilize_organization_id}"
                "): the number in the organization's Mobilize address (mobilize.us/<slug>/ > "
                "Settings), of the organization the key is for."
            )
        elif source.kind == "action_builder":
            fix = (
                "check action_builder_subdomain in cohort.yml "
                f"({source.action_builder_subdomain}: the part of the address before "
                ".actionbuilder.org) and action_builder_campaign "
                f"({source.action_builder_campaign}: the 36-character id in the campaign's "
                "address), of the campaign the key is for."
            )
        else:
            fix = (
                "a record listed a moment before may have been deleted meanwhile: pull again; "
                "if it happens again, report it to cyclebook's maintainers (quote the request)"
                ", and meanwhile download the export from the tool into the source's folder."
            )
        return PullError(f"{what}: the API has no such address (HTTP 404{on}){says}", fix=fix)
    if status == 429:
        wait = str(getattr(response, "headers", {}).get("Retry-After") or "").strip()
        return PullError(
            f"{what}: {tool}'s API refused more requests for now (HTTP 429, too many "
            f"requests{on}){says}",
            fix=(f"wait {wait} seconds ({tool} asks so)" if wait.isdigit() else "wait a while")
            + f", then pull again: {tool} limits how many requests a key makes in a while. If "
            "it happens each time, pull one organization at a time (--org), or ask "
            f"{tool}'s support about the key's limit.",
        )
    if status == 400 and source.kind == "van":
        return PullError(
            f"{what}: VAN refused a request as invalid (HTTP 400{on})"
            + (says or ", without saying why"),
            fix="pulling again sends the same request: if VAN's words name the database or "
            "the key's access, check van_database in cohort.yml or ask VAN support (quote "
            "VAN's words); otherwise report them to cyclebook's maintainers. Meanwhile, "
            "export the warehouse tables from VAN into the source's folder.",
        )
    return PullError(
        f"{what}: {tool} refused a request (HTTP {status}{on})" + (says or ", without saying why"),
        fix=_refused_fix(tool),
    )


def _refused_fix(tool: str) -> str:
    return (
        f"pulling again sends the same request: if {tool}'s words name a setting of the "
        "source in cohort.yml or the key's access, correct it; otherwise report them to "
        "cyclebook's maintainers. Meanwhile, download the export from the tool into the "
        "source's folder."
    )


def _stall_fix(tool: str) -> str:
    return (
        f"pull again later ({tool}'s API may be down or slow: see its status page); if it "
        "stalls again, check this computer's network connection (a VPN, proxy or firewall "
        "can hold a connection without answering). Meanwhile, the export downloaded from "
        "the tool into the source's folder is read as usual."
    )


def _api_error(org: Organization, source: Source, tool: str, exc: Exception) -> PullError:
    what = f"{org.id}: pulling {tool} ('{source.path}') failed"
    if stalled := _stalled_api(exc):
        request = _request_named(exc)
        on = f" ({request})" if request else ""
        return PullError(
            f"{what}: {tool}'s API "
            + (
                f"could not be reached: no connection after {API_TIMEOUT[0]:g} seconds{on}"
                if stalled == "connect"
                else f"stopped answering: nothing came for {API_TIMEOUT[1]:g} seconds{on}"
            )
            + "; nothing of this source was kept",
            fix=_stall_fix(tool),
        )
    # Parsons' own connector raises a new HTTPError without the response, its code
    # written in the message ("Code: 401; URL: ..."), from requests' error, which has it
    response = getattr(exc, "response", None)
    if response is None:
        response = getattr(exc.__cause__, "response", None)
    status = getattr(response, "status_code", None)
    if status is None:
        code = re.match(r"Code: (\d{3})\b", str(exc))
        status = int(code.group(1)) if code else None
    if status is not None and 400 <= status < 500:
        return _refused(what, org, source, tool, exc, response, status)
    if status is not None:
        return PullError(
            f"{what}: the API answered HTTP {status}",
            fix="try again later; if it persists, download the export from the tool instead.",
        )
    first = (str(exc).splitlines() or [""])[0][:200]
    return PullError(
        f"{what} ({type(exc).__name__}: {first})",
        fix="check the network connection and try again, or download the export from the "
        "tool and put it in the organization's exports folder.",
    )


def pull_cohort(
    cohort_dir: str | Path,
    orgs: list[str] | None = None,
    *,
    since: dt.date | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[PullResult]:
    """Pull every source of the chosen organizations that Parsons can list (Action
    Network API, Mobilize, VAN, Action Builder); the others come back as results saying
    why they cannot be pulled (``not_pulled``) and what to export instead.

    One source's failure never stops the others: its result carries the error."""
    environ = os.environ if environ is None else environ
    cohort = load_cohort(cohort_dir)
    known = [o.id for o in cohort.organizations]
    unknown = [o for o in orgs or [] if o not in known]
    if unknown:
        raise CyclebookError(
            f"--org {', '.join(unknown)}: no such organization in cohort.yml",
            fix=f"use one of: {', '.join(known)}.",
        )
    chosen = [o for o in cohort.organizations if not orgs or o.id in orgs]
    sources = [(o, s) for o in chosen for s in o.sources if s.kind in SUPPORTED]
    skipped = [
        PullResult(o.id, s.kind, s.path, not_pulled=NOT_PULLED[s.kind])
        for o in chosen
        for s in o.sources
        if s.kind not in SUPPORTED
    ]
    if not sources:
        said = "".join(f"\n  - {r.org_id}: {r.kind} '{r.path}': {r.not_pulled}" for r in skipped)
        raise CyclebookError(
            "no source to pull: Parsons pulls "
            + ", ".join(SUPPORTED)
            + " sources, and "
            + ("these organizations have" if orgs else "cohort.yml has")
            + " none"
            + (f"; their sources are read from the tools' exports:{said}" if said else ""),
            fix="add such a source to the organization in cohort.yml, or export the files "
            "from the tool.",
        )
    require_parsons()  # once, before any key is read: the fix is the same for all
    results = []
    for org, source in sources:
        try:
            key = api_key(cohort, org, source.kind, environ)
            results.append(pull(cohort_dir, org, source, key=key, since=since))
        except CyclebookError as exc:
            results.append(
                PullResult(org.id, source.kind, source.path, error=str(exc), fix=exc.fix)
            )
    return results + skipped
