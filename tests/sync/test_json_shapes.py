"""Every value of a JSON export's record, given every other JSON shape.

An API export can hold a string where a list belongs, an object where a date belongs,
a number for a flag. Whatever the shape, the reader keeps the record or rejects it by
name: the sync never stops on a value (a DuckDB CAST of an OSDI ``identifiers`` string
once did, for the whole organization), and no record goes missing. One page holds every
variant of a record, so each tool's reader is checked in one sync.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from test_readers import AN_API_PERSON, MOBILIZE_PAGE

from cyclebook.sync.readers import ASSESSMENT_NOT_A_NUMBER

# every JSON shape: strings, numbers, booleans, null, lists and objects, empty or not
SHAPES: list[Any] = ["x", "", 7, -1.5, True, False, None, [], ["x"], [{"a": 1}], {}, {"a": "x"}]

# (with the modification date the reader also reads)
AN_PERSON = {**AN_API_PERSON, "modified_date": "2025-03-02T15:00:00Z"}
AN_ACTIVITY = {
    "identifiers": ["action_network:a-1"],
    "created_date": "2025-04-01T10:00:00Z",
    "modified_date": "2025-04-02T10:00:00Z",
    "status": "accepted",
    "attended": True,
    "amount": "25.50",
    "action_network:person_id": "p-1",
    "action_network:event_id": "e-9",
    "action_network:form_id": "f-1",
    "_links": {
        "self": {"href": "https://actionnetwork.org/api/v2/tags/t-1/taggings/g-1"},
        "osdi:tag": {"href": "https://actionnetwork.org/api/v2/tags/t-1"},
        "osdi:person": {"href": "https://actionnetwork.org/api/v2/people/p-1"},
    },
}
AB_ENTITY = {
    "identifiers": ["action_builder:ent-1"],
    "created_date": "2025-02-01T00:00:00Z",
    "modified_date": "2026-08-01T00:00:00Z",
    "given_name": "Kai",
    "email_addresses": [{"address": "kai@example.org"}],
    "phone_numbers": [{"number": "6175550109"}],
    "action_builder:latest_assessment": 4,
    "action_builder:latest_assessment_date": "2026-07-15T12:00:00Z",
}


def _paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every key of the record, nested ones too (a list's first item stands for all)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*prefix, key)
            yield from _paths(inner, (*prefix, key))
    elif isinstance(value, list) and value:
        yield (*prefix, 0)
        yield from _paths(value[0], (*prefix, 0))


def variants(record: dict) -> list[dict]:
    out = []
    for path in _paths(record):
        for shape in SHAPES:
            changed = copy.deepcopy(record)
            holder = changed
            for step in path[:-1]:
                holder = holder[step]
            holder[path[-1]] = copy.deepcopy(shape)
            out.append(changed)
    return out


def _osdi(collection: str, records: list) -> dict:
    return {"_embedded": {f"osdi:{collection}": records}}


CASES = {
    "mobilize": (
        "- {kind: mobilize, path: m}",
        lambda rs: {"m/p.json": {"count": len(rs), "next": None, "data": rs}},
        MOBILIZE_PAGE["data"][0],
    ),
    "action_network_people": (
        "- {kind: action_network_api, path: api}",
        lambda rs: {"api/people/p.json": _osdi("people", rs)},
        AN_PERSON,
    ),
    **{
        f"action_network_{collection}": (
            "- {kind: action_network_api, path: api}",
            lambda rs, c=collection: {
                "api/people/p.json": _osdi("people", [AN_PERSON]),
                f"api/{c}/x.json": _osdi(c, rs),
            },
            AN_ACTIVITY,
        )
        for collection in ("attendances", "submissions", "donations", "taggings")
    },
    "action_builder": (
        "- {kind: action_builder, path: ab}",
        lambda rs: {"ab/e.json": _osdi("people", rs)},
        AB_ENTITY,
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_every_shape_of_every_value_is_kept_or_rejected(make_cohort, case):
    sources, pages, record = CASES[case]
    records = variants(record)
    assert len(records) >= 12 * 8  # every key of the record, in every shape
    c = make_cohort(sources)
    for rel, page in pages(records).items():
        c.write(rel, page)
    result = c.sync()  # an unforeseen shape raises ExportError here
    (page,) = [f for f in result.files if f.rows_read == len(records)]
    assert page.rows_kept + page.rows_rejected == page.rows_read
    assert page.rows_kept > 0 and page.rows_rejected > 0
    # (an Action Builder assessment that is not a number is rejected alone: its record
    # is kept, and counted as kept)
    values = {line for file, line, _, why in c.rejects() if why == ASSESSMENT_NOT_A_NUMBER}
    rejected = {
        line
        for file, line, _, why in c.rejects()
        if file == page.file and why != ASSESSMENT_NOT_A_NUMBER
    }
    assert len(rejected) == page.rows_rejected and rejected <= set(range(1, len(records) + 1))
    assert not values & rejected and bool(values) == (case == "action_builder")
