"""Optional: pull a source straight from its API with Parsons (``pip install
'cyclebook[parsons]'``), writing files in the same format as the tool's exports.

Plain exports never need Parsons. The pulled files land in the organization's exports
folder, where :func:`cyclebook.sync.sync_org` reads (and archives) them like any export,
so a pull is reproducible from the archive.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
from pathlib import Path
from typing import Any

from cyclebook.config import Organization, Source
from cyclebook.errors import CyclebookError
from cyclebook.paths import CohortPaths

SUPPORTED = ("action_network_api", "mobilize")
PAGE = 500


class ParsonsMissingError(CyclebookError):
    """Parsons is not installed; exports still work without it."""


def require_parsons() -> Any:
    try:
        return importlib.import_module("parsons")
    except ImportError as exc:
        raise ParsonsMissingError(
            "pulling from the tools' APIs needs Parsons, which is not installed",
            fix="install the optional extra: pip install 'cyclebook[parsons]' -- or download "
            "the exports from each tool and put them in the organization's exports folder "
            "(no Parsons needed).",
        ) from exc


def _records(table: Any) -> list[dict]:
    """A Parsons Table (or any iterable of dicts) as a list of plain dicts."""
    if hasattr(table, "to_dicts"):
        return list(table.to_dicts())
    return [dict(row) for row in table]


def _write_pages(dest: Path, stem: str, records: list[dict], wrap) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    written = []
    for k in range(0, max(len(records), 1), PAGE):
        path = dest / f"{stem}-parsons-{stamp}-{k // PAGE + 1:04d}.json"
        path.write_text(json.dumps(wrap(records[k : k + PAGE]), default=str), encoding="utf-8")
        written.append(path)
    return written


def pull(
    cohort_dir: str | Path, org: Organization, source: Source, **credentials: str
) -> list[Path]:
    """Pull one source of one organization through Parsons into its exports folder.

    ``credentials`` go to the Parsons connector (``api_token=`` for Action Network,
    ``api_key=`` and ``organization_id=`` for Mobilize); Parsons also reads its usual
    environment variables. Returns the files written.
    """
    if source.kind not in SUPPORTED:
        raise CyclebookError(
            f"pulling '{source.kind}' through Parsons is not supported",
            fix=f"export the files from the tool instead (Parsons pulls: {', '.join(SUPPORTED)}).",
        )
    parsons = require_parsons()
    dest = CohortPaths.of(cohort_dir).exports(org.id) / source.path
    if source.kind == "action_network_api":
        an = parsons.ActionNetwork(**{k: v for k, v in credentials.items() if k == "api_token"})
        people = _records(an.get_people())
        return _write_pages(
            dest / "people", "people", people, lambda recs: {"_embedded": {"osdi:people": recs}}
        )
    mobilize = parsons.MobilizeAmerica(**{k: v for k, v in credentials.items() if k == "api_key"})
    org_id = credentials.get("organization_id")
    attendances = _records(mobilize.get_attendances(organization_id=org_id))
    return _write_pages(dest, "attendances", attendances, lambda recs: {"data": recs})
