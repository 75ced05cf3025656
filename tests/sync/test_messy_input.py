# ruff: noqa: E501 - export fixtures are kept verbatim, one record per line
"""Messy input, reader by reader: what a rejected row, a repeated record or an odd page
leaves in the store and in the sync's report.

A rejected row is rejected whole: nothing of it reaches the store, not even the columns
kept as custom fields, and the report counts it once.
"""

from __future__ import annotations

import copy

import pytest
from test_readers import AN_API_PERSON, MOBILIZE_PAGE

GENERIC = """\
- kind: generic_csv
  path: sheet.csv
  columns: {person_id: ID, email: Email, occurred_at: Date, type: Type}
"""


def _osdi(collection: str, records: list) -> dict:
    return {"_embedded": {f"osdi:{collection}": records}}


def _mobilize_with_rejected_answer() -> dict:
    page = copy.deepcopy(MOBILIZE_PAGE)
    page["data"][0]["custom_signup_field_values"] = [
        {"custom_field_name": "Union?", "text_value": "kept"}
    ]
    again = copy.deepcopy(page["data"][0])
    again["id"] = 13
    again["status"] = "WEIRD"  # not a Mobilize status: the record is rejected
    again["custom_signup_field_values"] = [
        {"custom_field_name": "Union?", "text_value": "rejected"}
    ]
    page["data"].append(again)
    return page


def _an_person_rejected() -> dict:
    person = copy.deepcopy(AN_API_PERSON)
    person["created_date"] = "not a date"
    person["custom_fields"] = {"Shift": "rejected"}
    return person


# (sources, files, the rejected record's file and line, the stored custom field): each
# export holds a person's good record, then a record of the same person that is
# rejected, whose custom column has another value
REJECTED_AFTER_A_GOOD_ONE = {
    "action_network_csv": (
        "- {kind: action_network_csv, path: an}",
        {
            "an/a.csv": "uuid,first_name,email,can2_subscription_date,Building\n"
            "u1,Ana,ana@example.org,2026-08-01,kept\n"
            "u1,Ana,ana@example.org,not a date,rejected\n"
        },
        ("an/a.csv", 3),
        ("Building", "kept"),
    ),
    "generic_csv": (
        GENERIC,
        {
            "sheet.csv": "ID,Email,Date,Type,Notes\n"
            "H1,h@example.org,2026-08-01,attendance,kept\n"
            "H1,h@example.org,not a date,attendance,rejected\n"
        },
        ("sheet.csv", 3),
        ("Notes", "kept"),
    ),
    "van_persons": (
        "- {kind: van, path: van}",
        {
            "van/persons.csv": "vanid,firstname,datecreated,Precinct\n"
            "101,Fa,2025-01-02,kept\n"
            "101,Fa,not a date,rejected\n"
        },
        ("van/persons.csv", 3),
        ("Precinct", "kept"),
    ),
    "action_network_api": (
        "- {kind: action_network_api, path: api}",
        {
            "api/people/p1.json": _osdi("people", [AN_API_PERSON]),
            "api/people/p2.json": _osdi("people", [_an_person_rejected()]),
        },
        ("api/people/p2.json", 1),
        ("Shift", "evening"),
    ),
    "mobilize": (
        "- {kind: mobilize, path: m}",
        {"m/p.json": _mobilize_with_rejected_answer()},
        ("m/p.json", 3),
        ("Union?", "kept"),
    ),
}


@pytest.mark.parametrize("reader", REJECTED_AFTER_A_GOOD_ONE)
def test_a_rejected_rows_custom_fields_are_not_kept(make_cohort, reader):
    """The custom columns of a rejected row were written to the person all the same
    (the last row of a person wins, so the rejected row's value replaced the kept one's)
    whenever the person was known from another row: the report said the row was
    rejected, the store held its values."""
    sources, files, (file, line), field = REJECTED_AFTER_A_GOOD_ONE[reader]
    c = make_cohort(sources)
    for rel, content in files.items():
        c.write(rel, content)
    result = c.sync()
    assert result.rows_rejected == 1
    assert [(f, ln) for f, ln, _, _ in c.rejects()] == [(file, line)]
    assert c.query("SELECT field, value FROM custom_field") == [field]
