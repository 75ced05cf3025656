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
  timeslot), as API pages (``data``).

Each organization has its own API key: ``CYCLEBOOK_<ORG>_AN_API_TOKEN`` and
``CYCLEBOOK_<ORG>_MOBILIZE_API_KEY`` (the organization id in capitals, other characters
as ``_``). Parsons' own variables (``AN_API_TOKEN``, ``MOBILIZE_AMERICA_API_KEY``) are
used only when a single organization of the cohort has a source of that kind: with
several, one key would file one group's members under every group.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import json
import os
import re
import shutil
import uuid
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cyclebook.config import Cohort, Organization, Source, load_cohort
from cyclebook.errors import CyclebookError
from cyclebook.paths import CohortPaths

SUPPORTED = {"action_network_api": "Action Network", "mobilize": "Mobilize"}
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
OWN_KEY = {"action_network_api": "AN_API_TOKEN", "mobilize": "MOBILIZE_API_KEY"}
# Parsons' own variables: one key for the whole cohort
PARSONS_KEY = {"action_network_api": "AN_API_TOKEN", "mobilize": "MOBILIZE_AMERICA_API_KEY"}


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
    error: str | None = None


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
        fix=f"set {own} to the organization's {tool} API key "
        + (
            "(Action Network: Start Organizing > Details > API & Sync)."
            if kind == "action_network_api"
            else "(Mobilize: ask Mobilize support for an API key for the organization)."
        ),
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

    def _flush(self, records: list[dict]) -> None:
        rel = f"{self.rel_stem}-{len(self.written) + 1:04d}.json"
        target = self.staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.wrap(records), default=str, ensure_ascii=False)
        target.write_text(text, encoding="utf-8")
        self.written.append(rel)


def _an_pages(fetch, **kwargs) -> Iterator[list[dict]]:
    """One Action Network collection, page by page (25 records each, Action Network's
    most), through the Parsons method ``fetch``: until a page comes back empty."""
    page = 1
    while True:
        response = fetch(page=page, per_page=25, **kwargs)
        records = next(iter((response.get("_embedded") or {}).values()), [])
        if not records:
            return
        yield records
        page += 1


def _pull_action_network(
    parsons: Any, token: str, since: dt.date | None, staging: Path, stamp: str
) -> dict[str, _PageWriter]:
    an = parsons.ActionNetwork(api_token=token)
    # (Action Network's OData filter: only records changed since a date)
    changed = f"modified_date gt '{since.isoformat()}'" if since else None
    writers: dict[str, _PageWriter] = {}

    def writer(name: str) -> _PageWriter:
        if name not in writers:
            wrap = lambda recs: {"_embedded": {f"osdi:{name}": recs}}  # noqa: E731
            writers[name] = _PageWriter(staging, f"{name}/{name}-parsons-{stamp}", wrap)
        return writers[name]

    def collect(name: str, fetch, **kwargs) -> None:
        for records in _an_pages(fetch, **kwargs):
            writer(name).add(records)

    def ids_of(fetch) -> list[str]:
        return [i for records in _an_pages(fetch) for r in records if (i := _osdi_id(r))]

    for name in AN_COLLECTIONS:  # every collection counted, those pulled empty too
        writer(name)
    collect("people", an.get_people, filter=changed)
    # every event, changed or not: an attendance is dated by its event's start
    events: list[str] = []
    for records in _an_pages(an.get_events):
        writer("events").add(records)
        events += [i for r in records if (i := _osdi_id(r))]
    for event in events:
        collect("attendances", functools.partial(an.get_event_attendances, event), filter=changed)
    for form in ids_of(an.get_forms):
        collect("submissions", functools.partial(an.get_form_submissions, form), filter=changed)
    collect("donations", an.get_donations, filter=changed)
    # (Parsons gives the tags, few, only all at once)
    for tag in [i for r in _records(an.get_tags()) if (i := _osdi_id(r))]:
        collect("taggings", functools.partial(an.get_taggings, tag), filter=changed)
    for petition in ids_of(an.get_petitions):
        collect(
            "signatures", functools.partial(an.get_petition_signatures, petition), filter=changed
        )
    for campaign in ids_of(an.get_advocacy_campaigns):
        fetch = functools.partial(an.get_advocacy_campaign_outreaches, campaign)
        collect("outreaches", fetch, filter=changed)
    return writers


def _pull_mobilize(
    parsons: Any, key: str, source: Source, since: dt.date | None, staging: Path, stamp: str
) -> dict[str, _PageWriter]:
    mobilize = parsons.MobilizeAmerica(api_key=key)
    wrap = lambda recs: {"count": len(recs), "next": None, "data": recs}  # noqa: E731
    writer = _PageWriter(staging, f"attendances-parsons-{stamp}", wrap)
    # (Parsons reads every page of Mobilize's before it returns: no page at a time)
    writer.add(
        _records(
            mobilize.get_attendances(
                organization_id=source.mobilize_organization_id,
                updated_since=since.isoformat() if since else None,
            )
        )
    )
    return {"attendances": writer}


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
            f"{org.id}: pulling '{source.kind}' through Parsons is not supported",
            fix=f"export the files from the tool instead (Parsons pulls: {', '.join(SUPPORTED)}).",
        )
    if source.kind == "mobilize" and source.mobilize_organization_id is None:
        raise PullError(
            f"{org.id}: the Mobilize source '{source.path}' has no mobilize_organization_id",
            fix="add `mobilize_organization_id: <number>` to this source in cohort.yml (the "
            "number in the organization's Mobilize address, mobilize.us/<slug>/ > Settings).",
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
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    # beside the cohort, never under exports/ (the sync reads every file there)
    staging = paths.root / ".cyclebook" / "tmp" / f"pull-{org.id}-{uuid.uuid4().hex[:8]}"
    try:
        try:
            if source.kind == "action_network_api":
                writers = _pull_action_network(parsons, key, since, staging, stamp)
            else:
                writers = _pull_mobilize(parsons, key, source, since, staging, stamp)
            for w in writers.values():
                w.close()
        except CyclebookError:
            raise
        except Exception as exc:  # requests' and Parsons' errors, whatever their class
            raise _api_error(org, source, tool, exc) from exc
        written = []
        for rel in [rel for w in writers.values() for rel in w.written]:
            final = dest / rel
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / rel, final)
            written.append(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    counts = {name: w.count for name, w in writers.items()}
    return PullResult(org.id, source.kind, source.path, counts, written)


def _api_error(org: Organization, source: Source, tool: str, exc: Exception) -> PullError:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if status is None:
        # Parsons' own connector raises a new HTTPError without the response, its code
        # written in the message ("Code: 401; URL: ...")
        code = re.match(r"Code: (\d{3})\b", str(exc))
        status = int(code.group(1)) if code else None
    what = f"{org.id}: pulling {tool} ('{source.path}') failed"
    if status in (401, 403):
        return PullError(
            f"{what}: the API refused the key (HTTP {status})",
            fix=f"check {key_variable(org.id, source.kind)}: it must be this organization's "
            f"own {tool} API key, still active.",
        )
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
    """Pull every Action Network API and Mobilize source of the chosen organizations.

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
    if not sources:
        raise CyclebookError(
            "no source to pull: Parsons pulls action_network_api and mobilize sources, and "
            + ("these organizations have" if orgs else "cohort.yml has")
            + " none",
            fix="add such a source to the organization in cohort.yml, or export the files "
            "from the tool.",
        )
    require_parsons()  # once, before any key is read: the fix is the same for all
    results = []
    for org, source in sources:
        try:
            key = api_key(cohort, org, source.kind, environ)
            results.append(pull(cohort_dir, org, source, key=key, since=since))
        except PullError as exc:
            results.append(PullResult(org.id, source.kind, source.path, error=str(exc)))
    return results
