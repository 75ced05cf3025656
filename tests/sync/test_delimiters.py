# ruff: noqa: E501 - export fixtures are kept verbatim, one record per line
"""Exports whose fields are not separated by commas.

VAN's export as "tab delimited text" (.txt) is read as it comes; a semicolon- or
pipe-separated spreadsheet is read once its source says `delimiter:` in cohort.yml (a
';' file is never guessed: the same locale writes decimal commas), and refused with that
fix otherwise.
"""

from __future__ import annotations

import textwrap

import pytest
from conftest import utc
from test_readers import VAN_FILES

from cyclebook.config import Source
from cyclebook.errors import ExportError

TAB_NOTE = "read as tab-separated text"


def _as_tabs(text: str) -> str:
    """A comma-separated fixture, tab-separated (fixtures quote no commas but one)."""
    return textwrap.dedent(text).lstrip("\n").replace(",", "\t")


def _van_store(c) -> dict[str, list[tuple]]:
    return {
        "activities": c.query(
            f"""SELECT a.activity_id, i.source_id, a.type, a.status, a.attended, a.role,
                       a.result, a.amount, a.organizer_id, {utc("a.occurred_at")}
                FROM activity a JOIN identity i USING (org_id, person_id) ORDER BY 1"""
        ),
        "people": c.query(
            """SELECT i.source_id, p.first_name, p.last_name, p.email, p.phone, p.address
               FROM person_pii p JOIN identity i USING (org_id, person_id) ORDER BY 1"""
        ),
        "attempts": c.query(
            "SELECT attempt_id, channel, result, organizer_id FROM contact_attempt ORDER BY 1"
        ),
        "rejects": c.rejects(),
    }


def test_van_tab_delimited_text_reads_like_its_csv(make_cohort):
    """The same VAN tables as .txt with tabs: the same store as from the CSVs (whose
    values test_readers.test_van checks by hand), and a note on every file."""
    as_csv = make_cohort("- {kind: van, path: van}")
    as_tabs = make_cohort("- {kind: van, path: van}")
    for rel, text in VAN_FILES.items():
        if rel == "van/contributions.csv":  # the one value with a comma: quoted in CSV
            as_csv.write(
                rel, 'contributionid,vanid,amount,datereceived\n8001,101,"$1,015.00",2026-08-15\n'
            )
            text = "contributionid\tvanid\tamount\tdatereceived\n8001\t101\t$1,015.00\t2026-08-15\n"
            as_tabs.write(rel.replace(".csv", ".txt"), text)
            continue
        as_csv.write(rel, text)
        as_tabs.write(rel.replace(".csv", ".txt"), _as_tabs(text))
    from_csv, from_tabs = as_csv.sync(), as_tabs.sync()

    assert [f.notes for f in from_tabs.files] == [[TAB_NOTE]] * len(VAN_FILES)
    assert [f.notes for f in from_csv.files] == [[]] * len(VAN_FILES)
    assert (from_tabs.rows_read, from_tabs.rows_rejected) == (
        from_csv.rows_read,
        from_csv.rows_rejected,
    )
    tabs = _van_store(as_tabs)
    assert tabs == _van_store(as_csv)
    # and what the tab file alone says, by hand: the comma inside the amount survived
    assert [a[7] for a in tabs["activities"] if a[0] == "van:ct:8001"] == [1015.0]
    assert tabs["people"][0] == (
        "101",
        "Fa",
        "Un",
        "fa@example.org",
        "+16175550104",
        "2 Oak St, Boston",
    )
    assert len(tabs["activities"]) == 6


SHEET = """\
- kind: generic_csv
  path: sheet.{ext}
  activity_type: attendance
  columns: {{person_id: ID, email: Email, occurred_at: Date, event: Meeting}}
"""


def test_reject_lines_in_a_tab_file_count_quoted_newlines(make_cohort):
    """A quoted field with a line break, then a bad date: the reject names the line the
    record starts on (4), as in a CSV; read as commas, the quote is not at a field's
    start and the line would be off by one."""
    c = make_cohort(SHEET.format(ext="txt"))
    c.write(
        "sheet.txt",
        "ID\tEmail\tDate\tMeeting\n"
        'a1\ta@example.org\t2026-08-12\t"Council,\nsecond line"\n'
        "a2\tb@example.org\tnot a date\tCouncil\n"
        "a3\tc@example.org\t2026-08-13\tCouncil\n",
    )
    result = c.sync()
    assert result.files[0].notes == [TAB_NOTE]
    assert (result.rows_read, result.rows_rejected) == (3, 1)
    [(file, line, column, reason)] = c.rejects()
    assert (file, line, column) == ("sheet.txt", 4, "Date")
    assert reason.startswith("date not readable")
    assert c.query("SELECT title FROM event ORDER BY 1") == [
        ("Council",),
        ("Council,\nsecond line",),
    ]


@pytest.mark.parametrize(
    ("delimiter", "sign"), [("';'", ";"), ("semicolon", ";"), ("'|'", "|"), ("pipe", "|")]
)
def test_delimiter_named_in_cohort_yml(make_cohort, delimiter, sign):
    c = make_cohort(SHEET.format(ext="csv") + f"  delimiter: {delimiter}\n")
    c.write(
        "sheet.csv",
        f"ID{sign}Email{sign}Date{sign}Meeting\n"
        f"a1{sign}a@example.org{sign}2026-08-12{sign}Council, north\n"
        f"a2{sign}b@example.org{sign}2026-08-13{sign}Council, north\n",
    )
    result = c.sync()
    assert (result.rows_read, result.rows_rejected) == (2, 0)
    assert result.files[0].notes == []
    assert c.query(
        f"""SELECT i.source_id, e.title, {utc("a.occurred_at")} FROM activity a
            JOIN identity i USING (org_id, person_id) JOIN event e USING (org_id, event_id)
            ORDER BY 1"""
    ) == [
        ("a1", "Council, north", "2026-08-12 04:00"),
        ("a2", "Council, north", "2026-08-13 04:00"),
    ]


@pytest.mark.parametrize(("sign", "name"), [(";", "';'"), ("|", "'|'")])
def test_unnamed_delimiter_is_refused_with_the_fix(make_cohort, sign, name):
    c = make_cohort(SHEET.format(ext="csv"))
    c.write(
        "sheet.csv",
        f"ID{sign}Email{sign}Date{sign}Meeting\na1{sign}a@example.org{sign}2026-08-12{sign}M\n",
    )
    with pytest.raises(ExportError) as caught:
        c.sync()
    message = str(caught.value)
    assert "sheet.csv" in message
    assert f"its header line is {name} separated" in message
    assert f"set `delimiter: {name}` on this source in cohort.yml" in message


def test_a_comma_file_with_tabs_in_values_stays_comma_separated(make_cohort):
    """Only a header line with tabs and no comma means tabs."""
    c = make_cohort(SHEET.format(ext="csv"))
    c.write("sheet.csv", "ID,Email,Date,Meeting\na1,a@example.org,2026-08-12,Art\tbuild\n")
    result = c.sync()
    assert result.files[0].notes == []
    assert c.query("SELECT title FROM event") == [("Art\tbuild",)]


@pytest.mark.parametrize(
    ("written", "read"),
    [
        (",", ","),
        ("comma", ","),
        (";", ";"),
        ("Semicolon", ";"),
        ("|", "|"),
        ("\t", "\t"),
        ("tab", "\t"),
        (None, None),
    ],
)
def test_source_delimiter_names(written, read):
    assert (
        Source(
            kind="generic_csv", path="x.csv", columns={"email": "E"}, delimiter=written
        ).delimiter
        == read
    )


@pytest.mark.parametrize("written", [":", "  ", "", "tabs", ",;"])
def test_source_delimiter_refuses_others(written):
    with pytest.raises(ValueError, match="delimiter must be one of"):
        Source(kind="van", path="van", delimiter=written)


def test_cohort_yml_names_the_delimiter_field(make_cohort):
    from cyclebook.config import load_cohort
    from cyclebook.errors import ConfigError

    tab = make_cohort('- {kind: van, path: van, delimiter: "\\t"}')
    assert load_cohort(tab.root).organizations[0].sources[0].delimiter == "\t"
    bad = make_cohort("- {kind: van, path: van, delimiter: ':'}")
    with pytest.raises(ConfigError) as caught:
        load_cohort(bad.root)
    message = str(caught.value)
    assert "cohort.yml" in message
    assert "delimiter" in message
    assert "delimiter must be one of ',', ';', '|' or tab" in message


def test_json_sources_take_no_delimiter():
    with pytest.raises(ValueError, match="a mobilize export is JSON: remove 'delimiter'"):
        Source(kind="mobilize", path="mobilize", delimiter="tab")


def _resep(text: str, sign: str) -> str:
    """A comma-separated fixture written again with ``sign`` between fields (the csv
    module quotes what needs it: the quoted line break and commas stay values)."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO(textwrap.dedent(text).lstrip("\n"), newline="")))
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=sign, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _store(c) -> dict[str, list[tuple]]:
    # (keys made of a phone are hashed with each store's own salt: shown as the phone)
    return {
        "people": c.unkeyed(
            """SELECT i.source, i.source_id, p.zip, p.email_ok, p.sms_ok,
                      pii.first_name, pii.email, pii.phone, pii.address
               FROM person p JOIN identity i USING (org_id, person_id)
               JOIN person_pii pii USING (org_id, person_id)"""
        ),
        "activities": c.unkeyed("SELECT activity_id, type, status, result, amount FROM activity"),
        "attempts": c.unkeyed(
            "SELECT attempt_id, channel, result, replied, opted_out FROM contact_attempt"
        ),
        "custom": c.query("SELECT source, field, value FROM custom_field ORDER BY 1, 2, 3"),
        "rejects": c.rejects(),
    }


def _fixtures(kind: str) -> dict[str, str]:
    from test_readers import AN_CSV, SPOKE_CONTACTS, SPOKE_MESSAGES

    return {
        "action_network_csv": {"an/activists.csv": AN_CSV},
        "spoke": {
            "spoke/campaign-71-contacts.csv": SPOKE_CONTACTS,
            "spoke/campaign-71-messages.csv": SPOKE_MESSAGES,
        },
        "van": {rel: text for rel, text in VAN_FILES.items() if rel != "van/contributions.csv"},
    }[kind]


@pytest.mark.parametrize("kind", ["action_network_csv", "spoke", "van"])
def test_every_csv_reader_takes_the_named_delimiter(make_cohort, kind):
    path = {"action_network_csv": "an", "spoke": "spoke", "van": "van"}[kind]
    commas = make_cohort(f"- {{kind: {kind}, path: {path}}}")
    semicolons = make_cohort(f"- {{kind: {kind}, path: {path}, delimiter: ';'}}")
    for rel, text in _fixtures(kind).items():
        commas.write(rel, text)
        semicolons.write(rel, _resep(text, ";"))
    from_commas, from_semicolons = commas.sync(), semicolons.sync()
    assert from_semicolons.rows_read == from_commas.rows_read > 0
    expected = _store(commas)
    assert any(expected[table] for table in ("activities", "attempts"))
    assert _store(semicolons) == expected


def test_a_comma_named_for_a_tab_file_is_refused_with_the_fix(make_cohort):
    c = make_cohort(SHEET.format(ext="txt") + "  delimiter: comma\n")
    c.write("sheet.txt", "ID\tEmail\tDate\tMeeting\na1\ta@example.org\t2026-08-12\tM\n")
    with pytest.raises(ExportError) as caught:
        c.sync()
    assert "its header line is tab separated" in str(caught.value)
    assert "set `delimiter: tab` on this source" in str(caught.value)


def test_a_spreadsheets_unicode_text_is_read(make_cohort):
    """Excel's "Unicode Text" is UTF-16 with a byte-order mark, tab-separated: it was
    refused (even with `encoding: utf-16`, which validate accepts). It is read, and
    without the mark the source's `encoding` says how."""
    text = "ID\tEmail\tDate\tMeeting\na1\tañil@example.org\t2026-08-12\tCouncil\n"
    c = make_cohort(SHEET.format(ext="txt"))
    c.write("sheet.txt", text.encode("utf-16"))
    result = c.sync()
    assert result.files[0].notes == ["read as UTF-16 text", TAB_NOTE]
    assert c.query("SELECT email FROM person_pii") == [("añil@example.org",)]
    c = make_cohort(SHEET.format(ext="txt") + "  encoding: utf-16-le\n")
    c.write("sheet.txt", text.encode("utf-16-le"))
    assert c.sync().files[0].notes == [TAB_NOTE]
    assert c.query("SELECT email FROM person_pii") == [("añil@example.org",)]
