"""The sync report: aggregates only, the figures the issue asks for, no member values."""

from __future__ import annotations

import dataclasses
import re
import shutil

import duckdb
import pandas as pd
import pytest
from test_readers import AN_CSV, MOBILIZE_PAGE

from cyclebook.config import load_cohort
from cyclebook.errors import ExportError, ParameterError
from cyclebook.paths import repo_root
from cyclebook.phases import load_context
from cyclebook.phases import sync as sync_phase
from cyclebook.store import connect
from cyclebook.sync.summary import load_summary, reject_fix

PII = [
    "Ana",
    "Diaz",
    "ana@example.org",
    "Ana@Example.org",
    "6175550101",
    "555-0101",
    "Main St",
    "Tower A",
    "di@example.org",
    "Di",
    "Oh",
    "0103",
    "u1",
    "u2",
    "501",
]


def _context(c, audience="organization"):
    shutil.copytree(repo_root() / "cycles" / "demo" / "2026-c1", c.root / "2026-c1")
    return load_context("sync", str(c.root), "2026-c1", "org", audience)


def _html(blocks) -> str:
    return "\n".join(b.html for b in blocks)


def test_report_figures_and_privacy(make_cohort):
    c = make_cohort("- {kind: action_network_csv, path: an}\n- {kind: mobilize, path: mobilize}")
    c.write("an/activists.csv", AN_CSV + "u3,Xu,Yi,not-an-email,1,,,,31/31/2026,,,,,,\n")
    c.write("mobilize/p1.json", MOBILIZE_PAGE)
    ctx = _context(c)
    result = sync_phase.run(ctx)
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    assert summary.people["tools"] == 2
    assert summary.people["total"] == 4  # u1, u2, Di and Eve (u3's row is rejected)
    assert list(summary.rejects["Reason"]) == [
        "date not readable (expected ISO 8601 like 2026-09-14 or 2026-09-14T18:00:00Z, "
        "MM/DD/YYYY with or without a time such as 09/14/2026 6:00 PM, a month's name such "
        "as Sep 14, 2026 6:00 PM or Mon, 14 Sep 2026 18:00:00 GMT, a time followed by an "
        "offset such as -0400, by one of the zones EST, EDT, CST, CDT, MST, MDT, PST, PDT, "
        "AKST, AKDT, HST, GMT, UTC or Z, or by ET, CT, MT, PT, AKT or HT, read as the clock "
        "of New York, Chicago, Denver, Los Angeles, Anchorage or Honolulu on that date "
        "(another abbreviation, such as IST or BST, names different zones in "
        "different countries: write its offset instead), or an Excel serial day number)"
    ]
    assert list(summary.rejects["Lines"]) == ["5"]
    # (an activist report has no date_format: only a spreadsheet source does)
    assert list(summary.rejects["How to fix"]) == [
        "export the file again from the tool, without opening and saving it in a "
        "spreadsheet program (which rewrites dates), or write the date as 2026-09-14 in it"
    ]
    assert set(summary.sources["source_kind"]) == {"Action Network (activist report)", "Mobilize"}
    # the default ladder needs donations, one-on-ones and assessments: none synced
    assert any("donation" in g for g in summary.ladder_gaps)
    assert any("one_on_one" in g for g in summary.ladder_gaps)
    html = _html(sync_phase.blocks(ctx, summary, result))
    for text in [
        "Rows read, kept and rejected per tool",
        "People matched across tools",
        "Rejected rows by file and reason",
        "Building",
        "What the ladder needs",
    ]:
        assert text in html
    for value in PII:
        assert value not in html, value


def test_report_shows_what_the_sync_noticed_in_each_file(make_cohort):
    """The readers' notes on a file (its encoding, day-first dates, phones it could not
    read) were kept in the store and shown nowhere: the report the group reads said
    nothing of them. They name columns and counts, never a member's value; they stay in
    the report while the file is carried over unchanged."""
    c = make_cohort(
        """
        - kind: generic_csv
          path: roster.csv
          activity_type: attendance
          columns: {person_id: ID, first_name: First, phone: Cell, occurred_at: Date}
        """
    )
    c.write(
        "roster.csv",
        (
            "ID,First,Cell,Date\nA1,Zoë,07700 900123,13/04/2026\nA2,Ana,617-555-0101,03/04/2026\n"
        ).encode("cp1252"),
    )
    ctx = _context(c)
    for _ in range(2):  # the second sync reads nothing again: the notes are carried
        result = sync_phase.run(ctx)
        with connect(ctx.store_path) as con:
            summary = load_summary(con, ctx.org)
        html = _html(sync_phase.blocks(ctx, summary, result))
        assert "What the sync noticed in the exports it read" in html
        assert list(summary.notes["File"]) == ["roster.csv"] * 3
        notes = " | ".join(summary.notes["Note"])
        assert "read as Windows-1252 text" in notes
        assert "dates read day first" in notes
        assert "1 value(s) of &#x27;Cell&#x27; are not a phone number" in html
        for value in ["07700", "900123", "Zoë", "617-555-0101", "6175550101"]:
            assert value not in html, value


def test_report_is_for_the_organization_only(make_cohort):
    """A sync report made for funders showed a group's exact counts, although the group
    shared nothing with funders: the sync report applies no consent."""
    c = make_cohort("- {kind: action_network_csv, path: an}")
    _context(c)
    for audience in ("cohort", "funder"):
        with pytest.raises(ParameterError, match=f"audience = '{audience}': the sync report is"):
            load_context("sync", str(c.root), "2026-c1", "org", audience)


@pytest.mark.e2e
def test_small_counts_are_exact_in_the_organizations_rendered_report_only(make_cohort):
    """The report's "<10" for other audiences was never reached: the runner and the
    notebook render the sync report for the organization alone, which sees exact counts
    (DESIGN.md suppresses small counts outside the organization only). Rendered by the
    runner, its small counts are exact; for the cohort or funders there is no sync
    report at all, and the report's blocks refuse those audiences instead of hiding a
    few cells whose values the totals beside them give back."""
    import copy

    from cyclebook import runner
    from cyclebook.errors import CyclebookError
    from cyclebook.paths import CohortPaths

    c = make_cohort("- {kind: action_network_csv, path: an}\n- {kind: mobilize, path: mobilize}")
    # 3 rows read, u1 and u2 kept, u3 rejected (its date); Mobilize: Di and Eve
    c.write("an/activists.csv", AN_CSV + "u3,Xu,Yi,yi@example.org,1,,,,31/31/2026,,,,,,\n")
    page = copy.deepcopy(MOBILIZE_PAGE)  # Di gives Bo's email: one person in both tools
    page["data"][0]["person"]["email_addresses"][0]["address"] = "bo@example.org"
    c.write("mobilize/p1.json", page)
    ctx = _context(c)
    card = c.root / "2026-c1" / "cycle.yml"  # its team names the demo's groups: left out
    card.write_text(re.sub(r"(?m)^team:\n(  .*\n)+", "", card.read_text()))
    assert runner.run(c.root, phases=["sync"], progress=None).ok
    paths = CohortPaths.of(c.root)
    html = paths.report("2026-c1", "org", "sync").read_text()
    # Tool, Files, Rows read, Kept, Rejected, then the dates
    assert (
        "<td>Action Network (activist report)</td><td>1</td><td>3</td><td>2</td><td>1</td>" in html
    )
    assert "<td>Mobilize</td><td>1</td><td>2</td><td>2</td><td>0</td>" in html
    # the rejected row: its file, reason, column, count and line
    assert (
        "<td>an/activists.csv</td>" in html
        and "<td>can2_subscription_date</td><td>1</td><td>5</td>" in html
    )
    # u1, Bo (Di) and Eve; Bo in both tools
    assert "1 of 3 people (33%) appear in two or more" in html
    assert "<td>Action Network</td><td>Mobilize</td><td>1</td>" in html
    assert "&lt;10" not in html
    # (the whole page: its style sheet holds short words such as "Di")
    for value in ["Diaz", "ana@example.org", "bo@example.org", "yi@example.org", "Main St"]:
        assert value not in html, value

    for audience in ("cohort", "funder"):
        with pytest.raises(CyclebookError, match=f"the sync phase has no report for {audience}"):
            runner.run(c.root, phases=["sync"], audiences=[audience], progress=None)
        with pytest.raises(CyclebookError, match="the sync report is for the organization's own"):
            sync_phase.blocks(dataclasses.replace(ctx, audience=audience), load_summary_of(ctx))
    # a run for every audience renders the sync report for the organization only
    every = ["organization", "cohort", "funder"]
    assert runner.run(c.root, phases=["sync"], audiences=every, progress=None).ok
    assert sorted(p.name for p in (paths.output("2026-c1") / "reports" / "org").iterdir()) == [
        "sync.html"
    ]


def load_summary_of(ctx):
    with connect(ctx.store_path) as con:
        return load_summary(con, ctx.org)


def test_report_shows_and_raises_export_errors(make_cohort, capsys):
    c = make_cohort("- {kind: action_network_csv, path: an}")
    c.write("an/activists.csv", b"")
    ctx = _context(c)
    with pytest.raises(ExportError, match="the file is empty"):
        sync_phase.report(ctx)
    out = capsys.readouterr().out
    assert "the file is empty" in out and "Fix:" in out


def test_a_second_copy_beside_a_sheet_kept_as_one_file_is_named(make_cohort):
    """A spreadsheet source whose path names one file reads that file alone: a second
    download saved beside it ('Sign-in sheet (1).csv') was neither read nor named, nor
    was anything else beside it. Each is named with the file its source reads and how
    to read it: as the sheet's newer version (the label that keeps its rows its own) or
    as a sheet of its own. The folders below, other sources', are not looked into."""
    from cyclebook.sync import NotRead, files_not_read

    c = make_cohort(
        """
        - {kind: generic_csv, path: Sign-in sheet.csv, columns: {email: Email}}
        - {kind: generic_csv, path: dues/2026.csv, label: Dues, columns: {email: Email}}
        - {kind: action_network_csv, path: an/activists.csv}
        - {kind: mobilize, path: mobilize}
        """
    )
    c.write("Sign-in sheet.csv", "Email\nana@example.org\n")
    c.write("Sign-in sheet (1).csv", "Email\nana@example.org\nbo@example.org\n")
    c.write("dues/2026.csv", "Email\nana@example.org\n")
    c.write("dues/2026 - Copy.csv", "Email\nana@example.org\n")
    c.write("an/activists.csv", AN_CSV)
    c.write("an/activists (1).csv", AN_CSV)
    c.write("an/.~lock.activists.csv#", "lock")
    c.write("mobilize/p1.json", MOBILIZE_PAGE)
    ctx = _context(c)
    assert files_not_read(c.root, ctx.org) == [
        NotRead("Sign-in sheet (1).csv", "generic_csv", "Sign-in sheet.csv"),
        NotRead("an/activists (1).csv", "action_network_csv", "an/activists.csv"),
        NotRead("dues/2026 - Copy.csv", "generic_csv", "dues/2026.csv"),
    ]
    result = sync_phase.run(ctx)
    assert sorted(f.file for f in result.files) == [
        "Sign-in sheet.csv",
        "an/activists.csv",
        "dues/2026.csv",
        "mobilize/p1.json",
    ]
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    html = _html(sync_phase.blocks(ctx, summary, result))
    assert (
        "3 file(s) in the export folders were not read: 3 are beside a source whose path "
        "names one file, which is all that source reads"
    ) in html
    assert "<td>only Sign-in sheet.csv</td>" in html
    assert (
        "this spreadsheet source reads &#x27;Sign-in sheet.csv&#x27; alone. If this file is "
        "a newer version of that sheet, save it over &#x27;Sign-in sheet.csv&#x27;, or set "
        "the source&#x27;s path to it with `label: sign-in-sheet` (the sheet&#x27;s name in "
        "the store, so its rows are not counted twice); if it is another sheet, give it a "
        "source of its own in cohort.yml"
    ) in html
    assert "with `label: dues`" in html  # (a sheet with a label: the one it has)
    assert (
        "this source reads &#x27;activists.csv&#x27; alone: set its path to the folder to "
        "read every .csv export there"
    ) in html
    assert ".~lock" not in html


def test_report_says_which_exports_were_not_read_again(make_cohort):
    import copy

    c = make_cohort("- {kind: action_network_csv, path: an}\n- {kind: mobilize, path: mobilize}")
    c.write("an/activists.csv", AN_CSV)
    c.write("mobilize/p1.json", MOBILIZE_PAGE)
    ctx = _context(c)
    sync_phase.run(ctx)
    page = copy.deepcopy(MOBILIZE_PAGE)
    page["data"][0]["id"] = 99
    c.write("mobilize/p2.json", page)
    result = sync_phase.run(ctx)
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    html = _html(sync_phase.blocks(ctx, summary, result))
    assert "1 new or changed export(s) were read. 2 unchanged export(s) were not read" in html
    # the carried files' figures are in the per-tool table all the same
    assert summary.last_run["rows_read"] == 2 + 2 + 2  # the new page has two records too


def test_files_the_readers_do_not_read_are_named(make_cohort):
    """A workbook or a PDF dropped beside the exports is not read; the report names it
    and the format that is read there, instead of leaving it out without a word. Hidden
    and lock files are not listed, nor a file another source reads."""
    from cyclebook.sync import files_not_read

    c = make_cohort("- {kind: action_network_csv, path: an}\n- {kind: mobilize, path: mobilize}")
    c.write("an/activists.csv", AN_CSV)
    c.write("an/contacts-from-the-fair.xlsx", b"PK\x03\x04 workbook")
    c.write("an/notes/how we export.pdf", b"%PDF-1.4")
    c.write("an/.DS_Store", b"\x00")
    c.write("an/~$activists.csv", b"lock")
    c.write("mobilize/p1.json", MOBILIZE_PAGE)
    c.write("mobilize/readme.txt", "pages from the API")
    c.write("mobilize/attendees-dashboard.csv", "id,email\n1,x@example.org\n")
    ctx = _context(c)
    assert [(n.rel, n.kind, n.only) for n in files_not_read(c.root, ctx.org)] == [
        ("an/contacts-from-the-fair.xlsx", "action_network_csv", ""),
        ("an/notes/how we export.pdf", "action_network_csv", ""),
        ("mobilize/attendees-dashboard.csv", "mobilize", ""),
        ("mobilize/readme.txt", "mobilize", ""),
    ]
    result = sync_phase.run(ctx)
    assert [f.file for f in result.files] == ["an/activists.csv", "mobilize/p1.json"]
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    html = _html(sync_phase.blocks(ctx, summary, result))
    assert "4 file(s) in the export folders were not read" in html
    # Mobilize's dashboard CSV cannot be "saved as JSON": the report says what can be done
    assert "Mobilize&#x27;s dashboard CSV: read it as a spreadsheet (a generic_csv source" in html
    for name in [
        "an/contacts-from-the-fair.xlsx",
        "an/notes/how we export.pdf",
        "mobilize/readme.txt",
    ]:
        assert name in html
    assert ".DS_Store" not in html and "~$activists" not in html
    assert "<td>.json or .ndjson or .jsonl</td>" in html and "<td>.csv</td>" in html


def test_no_word_about_unread_files_when_every_file_is_read(make_cohort):
    c = make_cohort("- {kind: action_network_csv, path: an}")
    c.write("an/activists.csv", AN_CSV)
    ctx = _context(c)
    result = sync_phase.run(ctx)
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    assert "were not read" not in _html(sync_phase.blocks(ctx, summary, result))


def test_a_run_without_the_sync_says_the_exports_changed(make_cohort):
    """`--phase share` after a new export quietly showed the data of the last sync."""
    from cyclebook import runner
    from cyclebook.paths import CohortPaths
    from cyclebook.sync import exports_not_synced

    c = make_cohort("- {kind: action_network_csv, path: an}")
    _context(c)  # the cycle card (its team names the demo's groups: left out)
    card = c.root / "2026-c1" / "cycle.yml"
    card.write_text(re.sub(r"(?m)^team:\n(  .*\n)+", "", card.read_text()))
    c.write("an/activists.csv", AN_CSV)
    cohort, _, chains = runner.plan(c.root, phases=["share"])
    org = cohort.org("org")
    assert exports_not_synced(c.root, org)  # never synced
    c.sync()
    assert not exports_not_synced(c.root, org)
    assert runner._not_synced(CohortPaths.of(c.root), cohort, chains) == []
    c.write("an/more.csv", AN_CSV.replace("u1", "u9"))
    assert runner._not_synced(CohortPaths.of(c.root), cohort, chains) == [
        "org: exports changed since its last sync (or are read with other settings); its "
        "reports show the data of that sync. Fix: run its sync phase too (drop --phase, or "
        "add --phase sync)."
    ]
    # a run with the sync reads them: nothing to say
    _, _, with_sync = runner.plan(c.root, phases=["sync", "share"])
    assert runner._not_synced(CohortPaths.of(c.root), cohort, with_sync) == []
    c.sync()
    assert not exports_not_synced(c.root, org)


def test_dates_covered_are_the_organizations_own_days(make_cohort):
    """The report's dates were UTC days: a signup on the evening of 31 August in New
    York (01:30 UTC on 1 September) was shown as covering 1 September, a day the group's
    exports do not reach. Each tool's and each activity type's dates are the days of the
    organization's time zone, as the group's tools show them."""
    c = make_cohort("- {kind: action_network_csv, path: an}")
    c.write(
        "an/activists.csv",
        "uuid,first_name,email,can2_subscription_date\n"
        "u1,Ana,ana@example.org,2026-08-05T03:00:00Z\n"  # 4 August, 23:00 in New York
        "u2,Bo,bo@example.org,2026-09-01T01:30:00Z\n",  # 31 August, 21:30 in New York
    )
    ctx = _context(c)
    sync_phase.run(ctx)
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    assert summary.sources[["first", "last"]].values.tolist() == [["2026-08-04", "2026-08-31"]]
    assert summary.activity_types[["first", "last"]].values.tolist() == [
        ["2026-08-04", "2026-08-31"]
    ]


def test_a_tools_activity_dates_are_not_its_peoples_record_dates(make_cohort):
    """A tool's "dates the data covers" were one span of its activities and of the days
    its people were first recorded: a Mobilize page of attendances on 29 May 2026 read
    as covering from 2021, the year one attendee made her account. The activity's days
    are a span of their own; the people's record days are shown apart, named as such,
    and stay so while the file is carried over unchanged."""
    import copy

    c = make_cohort("- {kind: mobilize, path: mobilize}")
    page = copy.deepcopy(MOBILIZE_PAGE)
    # Di's account: 1 January 2021, 12:00 UTC; Eve's record gives none (the attendance's
    # created_date stands for it: 1780000500, 28 May 2026, 16:35 in New York)
    page["data"][0]["person"]["created_date"] = 1609502400
    c.write("mobilize/p1.json", page)
    ctx = _context(c)
    for step in range(2):
        if step:  # another page: the first is carried over with its dates
            c.write("mobilize/p2.json", copy.deepcopy(MOBILIZE_PAGE) | {"data": []})
        result = sync_phase.run(ctx)
        with connect(ctx.store_path) as con:
            summary = load_summary(con, ctx.org)
        # both attendances are of the timeslot at 1780050000: 29 May 2026, 06:20 in New
        # York; the empty second page has no dates
        assert summary.sources[
            ["source_kind", "first", "last", "people_first", "people_last"]
        ].values.tolist() == [["Mobilize", "2026-05-29", "2026-05-29", "2021-01-01", "2026-05-28"]]
        html = _html(sync_phase.blocks(ctx, summary, result))
        assert (
            '<th scope="col">Earliest activity</th><th scope="col">Latest activity</th>'
            '<th scope="col">People recorded from</th><th scope="col">People recorded to</th>'
        ) in html
        assert (
            "<td>2026-05-29</td><td>2026-05-29</td><td>2021-01-01</td><td>2026-05-28</td>"
        ) in html


def test_a_sync_recorded_with_one_span_of_both_shows_neither(make_cohort):
    """A file's row written before the activity's days were kept apart from its
    people's holds one span of both: it is not shown as the activity's."""
    c = make_cohort("- {kind: mobilize, path: mobilize}")
    c.write("mobilize/p1.json", MOBILIZE_PAGE)
    ctx = _context(c)
    result = sync_phase.run(ctx)
    with connect(ctx.store_path, write=True) as con:
        con.execute("UPDATE sync_run SET message = '{}' WHERE file IS NOT NULL")
        summary = load_summary(con, ctx.org)
    assert summary.sources[["first", "last", "people_first"]].isna().all(axis=None)
    html = _html(sync_phase.blocks(ctx, summary, result))
    assert "<td>Mobilize</td><td>1</td><td>2</td><td>2</td><td>0</td><td>–</td><td>–</td>" in html
    assert "People recorded from" not in html


def test_a_first_sync_that_fails_says_so_once_and_plainly(make_cohort, capsys):
    """A group whose only export could not be read got its message three times in the
    body of its report, under "the figures below are from the last sync that succeeded"
    (there was none, and no figures below) and "No successful sync yet: nothing to show".
    It is said once, with the fix; after a sync that succeeded, the figures of that sync
    follow, and the message is still said once."""
    c = make_cohort("- {kind: mobilize, path: mobilize}")
    c.write("mobilize/p1.json", '{"count": 1, "data": [ {"id": 1,, } ')
    ctx = _context(c)
    with pytest.raises(ExportError, match="is not valid JSON"):
        sync_phase.report(ctx)
    out = capsys.readouterr().out
    assert out.count("is not valid JSON") == 1 and out.count("Fix: download the page") == 1
    assert "no sync of this organization has succeeded yet" in out
    assert "the figures below" not in out and "nothing to show" not in out

    c.write("mobilize/p1.json", MOBILIZE_PAGE)
    sync_phase.report(ctx)
    capsys.readouterr()
    c.write("mobilize/p2.json", "<html>Rate limited</html>")
    with pytest.raises(ExportError, match="is not valid JSON"):
        sync_phase.report(ctx)
    out = capsys.readouterr().out
    assert out.count("is not valid JSON") == 1
    assert "the figures below are from the last sync that succeeded" in out
    assert "Rows read, kept and rejected per tool" in out


def test_ladder_roles_are_read_in_any_case(make_cohort):
    """A ladder naming roles as VAN shows them (Host, Lead) was told "needs event roles
    (Host, Lead), which no export records" beside a VAN export with a host, although the
    ladder itself reads roles in any case and counts her."""
    from test_readers import VAN_FILES

    ladder = """\
    ladder:
      - name: leader
        label: Leader
        window_days: 90
        any_of: [{activity_types: [attendance], roles: [Host, Lead]}]
        definition: Hosted or led a meeting.
"""
    c = make_cohort("- {kind: van, path: van}", extra_org_yaml=ladder)
    for rel, text in VAN_FILES.items():
        if rel != "van/contributions.csv":  # its unquoted "$1,015.00" is a reject
            c.write(rel, text)
    ctx = _context(c)
    sync_phase.run(ctx)
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    assert summary.ladder_gaps == []
    # with no host or lead on any sign-up, the gap is said
    c.write(
        "van/eventsignups.csv",
        VAN_FILES["van/eventsignups.csv"]
        .replace("Host", "Volunteer")
        .replace("Team Leader", "Volunteer"),
    )
    sync_phase.run(ctx)
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    assert summary.ladder_gaps == [
        "Leader: needs event roles (Host, Lead), which no export records. EveryAction / "
        "VAN is synced but brought none: they come from its eventsignups table's "
        "eventrolename (Host, or a role naming Lead)."
    ]


LADDER_AS_WRITTEN = """\
    ladder:
      - name: supporter
        label: Supporter
        window_days: 365
        any_of: [{activity_types: [conversation, text]}]
        definition: A conversation at the door, on the phone or by text.
      - name: leader
        label: Leader
        window_days: 90
        any_of: [{activity_types: [attendance], roles: [Host, Lead]}]
        definition: Hosted or led a meeting.
"""


def test_ladder_gaps_read_the_exports_as_the_ladder_does(make_cohort):
    """A rung counting conversations or texts was told that "none of the synced exports
    contain" them beside a VAN export of canvassed doors and calls and a Spoke export of
    texts: they are there, as contact attempts, which no rung counts; the report says
    so."""
    from test_readers import SPOKE_CONTACTS, SPOKE_MESSAGES, VAN_FILES

    c = make_cohort(
        "- {kind: van, path: van}\n- {kind: spoke, path: spoke}", extra_org_yaml=LADDER_AS_WRITTEN
    )
    for rel, text in VAN_FILES.items():
        if rel != "van/contributions.csv":  # its unquoted "$1,015.00" is a reject
            c.write(rel, text)
    c.write("spoke/campaign-71-contacts.csv", SPOKE_CONTACTS)
    c.write("spoke/campaign-71-messages.csv", SPOKE_MESSAGES)
    ctx = _context(c)
    sync_phase.run(ctx)
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    # VAN: 9002 door Not Home, 9003 door Canvassed, 9004 phone Canvassed (9001 is a held
    # one-on-one, an activity); Spoke: two contacts texted, one replied
    assert summary.ladder_gaps == [
        "Supporter: a way to reach this rung counts conversation or text activity, which "
        "none of the synced exports contain as activity. They do hold 5 contact attempts "
        "(door knocks, calls and texts), 3 of them conversations and 2 by text: those "
        "count in the voter and member contact figures, and no rung of the ladder counts "
        "a contact attempt. To reach this rung from these exports, its rule needs an "
        "activity type they hold (listed under Activity recorded)."
    ]


def test_rows_read_add_up_to_kept_rejected_and_left_out(make_cohort):
    """The report's rows read were not its rows kept plus rejected: 11 read, 9 kept, 1
    rejected, the eleventh (a text Spoke did not send, left out on purpose) said only in
    a note, and a blank row of commas in the activist report said nowhere. Rows left out
    and blank rows are given beside the others, overall and per tool."""
    from test_readers import SPOKE_CONTACTS, SPOKE_MESSAGES

    c = make_cohort("- {kind: action_network_csv, path: an}\n- {kind: spoke, path: spoke}")
    c.write("an/activists.csv", AN_CSV + ",,,,,,,,,,,,,,\nu3,Xu,Yi,yi@example.org,,,,,31/31/2026\n")
    c.write("spoke/campaign-71-contacts.csv", SPOKE_CONTACTS)
    c.write(
        "spoke/campaign-71-messages.csv",
        SPOKE_MESSAGES + "71,+16175550107,+16175550100,false,ERROR,2026-08-20T15:03:00Z,Hi!\n",
    )
    ctx = _context(c)
    result = sync_phase.run(ctx)
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    run = summary.last_run
    # activist report: u1, u2 kept, u3 rejected, the row of commas blank; Spoke: 3
    # contacts and 4 messages kept, the fifth message left out
    assert (run["rows_read"], run["rows_kept"], run["rows_rejected"]) == (11, 9, 1)
    assert (run["left_out"], run["blank"]) == (1, 1)
    assert summary.sources[
        ["source_kind", "rows_read", "rows_kept", "rows_rejected", "left_out", "blank"]
    ].values.tolist() == [
        ["Action Network (activist report)", 3, 2, 1, 0, 1],
        ["Spoke", 8, 7, 0, 1, 0],
    ]
    html = _html(sync_phase.blocks(ctx, summary, result))
    assert "Rows left out (read, not kept and not an error: the notes below say why)" in html
    assert "Blank rows skipped (not counted as read)" in html
    assert '<th scope="col">Left out</th>' in html
    assert '<th scope="col">Blank rows skipped</th>' in html

    # a sync with neither says nothing of them
    c2 = make_cohort("- {kind: action_network_csv, path: an}")
    c2.write("an/activists.csv", AN_CSV)
    ctx2 = _context(c2)
    result = sync_phase.run(ctx2)
    with connect(ctx2.store_path) as con:
        summary = load_summary(con, ctx2.org)
    html = _html(sync_phase.blocks(ctx2, summary, result))
    assert "Left out" not in html and "Blank rows" not in html


def test_tools_are_named_as_people_know_them(make_cohort):
    """The per-tool table said "Action Network (activist report)", and the tables below
    it said "action_network" and "sheet:roster", the store's own keys."""
    c = make_cohort(
        """
        - {kind: action_network_csv, path: an}
        - kind: generic_csv
          path: roster.csv
          activity_type: attendance
          columns: {email: Email, occurred_at: Date}
        """
    )
    c.write("an/activists.csv", AN_CSV)
    c.write("roster.csv", "Email,Date\nbo@example.org,2026-08-20\n")
    ctx = _context(c)
    result = sync_phase.run(ctx)
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    html = _html(sync_phase.blocks(ctx, summary, result))
    # bo@example.org is in both: the pair, and each tool's activity
    assert "<tr><td>Action Network</td><td>Spreadsheet (roster)</td><td>1</td></tr>" in html
    assert "<td>attendance</td><td>Spreadsheet (roster)</td>" in html
    assert "<td>signup</td><td>Action Network</td>" in html
    for key in ("action_network<", "sheet:", ">sheet<"):
        assert key not in html, key


def test_a_json_pages_rejects_are_numbered_by_record(make_cohort):
    """A Mobilize page's rejected attendance was listed at "line 2": the record's place
    in the page's list, while line 2 of the page (as the API writes it, or pretty
    printed) is another thing. The report says record 2."""
    import copy
    import json

    c = make_cohort("- {kind: mobilize, path: mobilize}")
    page = copy.deepcopy(MOBILIZE_PAGE)
    page["data"][1]["timeslot"]["start_date"] = "not a time"
    c.write("mobilize/p1.json", json.dumps(page, indent=2))
    ctx = _context(c)
    result = sync_phase.run(ctx)
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    assert summary.rejects[["File", "Column", "Lines"]].values.tolist() == [
        ["mobilize/p1.json", "timeslot.start_date", "record 2"]
    ]
    html = _html(sync_phase.blocks(ctx, summary, result))
    assert "in a JSON file, by its record" in html


def test_a_van_file_not_named_after_its_table_says_how_to_fix_it(make_cohort):
    """A VAN export saved as canvass-sept.csv (contactscontacts by its columns) was read as
    nothing, with the note "not a recognised VAN warehouse table; not read": not what
    makes a table known, nor what to do."""
    c = make_cohort("- {kind: van, path: van}")
    c.write(
        "van/canvass-sept.csv",
        "contactscontactid,vanid,resultid,contacttypeid,datecanvassed\n1,101,14,2,2026-08-10\n",
    )
    ctx = _context(c)
    result = sync_phase.run(ctx)
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    assert summary.notes.values.tolist() == [
        [
            "van/canvass-sept.csv",
            "not read: a VAN warehouse table is known by its file name, which starts with "
            "the table's name (activistcodes, contactsactivistcodes, contactscontacts, "
            "contacttypes, contributions, events, eventsignups, persons, results), and this "
            "one names none. Rename the file after the table it holds (such as "
            "contactscontacts_2026-09.csv); a list exported from VAN's own screens (VANID, "
            "names, address) is read as a spreadsheet: a generic_csv source mapping its "
            "columns",
        ]
    ]
    assert "Rename the file after the table it holds" in _html(
        sync_phase.blocks(ctx, summary, result)
    )


@pytest.mark.parametrize(
    ("reason", "fix"),
    [
        ("missing vanid", "fill it in for this record in the tool, then export again"),
        (
            "result id not in results",
            "put the results table, exported on the same day, in this source's folder: it "
            "must hold every id the other tables use",
        ),
        (
            "activist code id not in activistcodes",
            "put the activistcodes table, exported on the same day, in this source's "
            "folder: it must hold every id the other tables use",
        ),
        (
            "person not found in this organization's exports",
            "sync the people export of the same tool with it (the activity names a person "
            "that no people file lists), exported on the same day",
        ),
        (
            "contact[cell] is not a phone number",
            "correct the number in the tool: ten US digits, or + and the country code",
        ),
        ("amount is not a number", "write the number alone, such as 25.00 (no words or ranges)"),
        (
            "activity type is not one of attendance, signup",
            "write one of those types in the sheet (a meeting people came to is an "
            "attendance), or leave it empty and give the source an `activity_type` in "
            "cohort.yml",
        ),
        (
            "unknown event signup status (expected Scheduled, Confirmed)",
            "use one of the statuses listed; tell the facilitator what another status means",
        ),
        (
            "assessment has no readable date",
            "write the date as 2026-09-14 (or set `date_format` on the source in cohort.yml)",
        ),
        (
            "no person (user_id or email) on the attendance",
            "add the person's id, email or phone to the record in the tool, then export again",
        ),
        ("something new", "correct the record in the tool and export it again"),
    ],
)
def test_each_reject_says_how_to_fix_it(reason, fix):
    """The report listed "missing vanid" or "result id not in results" and left the
    organizer to guess what to change, and where."""
    assert reject_fix(reason) == fix


def test_a_bad_date_is_told_the_fix_its_source_has(make_cohort):
    """A date not read got the fix "set `date_format` on the source", which only a
    spreadsheet source has: a JSON page's organizer looked for a setting that does not
    exist. Each export's bad date gets the fix that applies to its source."""
    import copy

    c = make_cohort(
        """
        - {kind: mobilize, path: mobilize}
        - {kind: action_network_csv, path: an}
        - {kind: generic_csv, path: sheet.csv, activity_type: attendance,
           columns: {email: Email, occurred_at: Date}}
        """
    )
    page = copy.deepcopy(MOBILIZE_PAGE)
    page["data"][1]["created_date"] = "yesterday"
    c.write("mobilize/p1.json", page)
    c.write("an/activists.csv", AN_CSV + "u3,Xu,Yi,xu@example.org,1,,,,31/31/2026,,,,,,\n")
    c.write("sheet.csv", "Email,Date\nana@example.org,2026-01-07\nbo@example.org,soon\n")
    ctx = _context(c)
    sync_phase.run(ctx)
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    fixes = dict(zip(summary.rejects["File"], summary.rejects["How to fix"], strict=True))
    assert fixes == {
        "mobilize/p1.json": "download the page again from the tool's API; a page edited by "
        "hand or made by another program writes the date as 2026-09-14T18:00:00Z (ISO 8601, "
        "with its offset)",
        "an/activists.csv": "export the file again from the tool, without opening and saving "
        "it in a spreadsheet program (which rewrites dates), or write the date as 2026-09-14 "
        "in it",
        "sheet.csv": "write the date as 2026-09-14 (or set `date_format` on the source in "
        "cohort.yml)",
    }
    assert all(r.startswith("date not readable") for r in summary.rejects["Reason"])


def test_two_spreadsheets_are_two_tools_in_every_report(make_cohort):
    """A person on the sign-in sheet and on the dues sheet is matched across tools: the
    share and improve reports counted each sheet as a tool of its own, the sync report
    counted every sheet as one tool ("all from one tool: nothing to match")."""
    from cyclebook.improve import diagnose

    c = make_cohort(
        """
        - {kind: generic_csv, path: signins, activity_type: attendance,
           columns: {email: Email, occurred_at: Date}}
        - {kind: generic_csv, path: dues, activity_type: donation,
           columns: {email: Email, occurred_at: Date, amount: Amount}}
        """
    )
    c.write("signins/s.csv", "Email,Date\nana@x.org,2026-01-07\nbo@x.org,2026-01-07\n")
    c.write("dues/d.csv", "Email,Date,Amount\nana@x.org,2026-01-08,10\n")
    ctx = _context(c)
    result = sync_phase.run(ctx)
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
        findings = {f.key: f for f in diagnose(con, ctx.org)}
    # Ana is on both sheets, Bo on the sign-ins only: 1 of 2 matched
    assert summary.people == {
        "total": 2,
        "tools": 2,
        "matched": 1,
        "match_rate": 0.5,
        "merged": 0,
        "merged_fields": 0,
    }
    assert summary.pairs.to_dict("records") == [
        {"tool": "sheet:dues", "other_tool": "sheet:signins", "people": 1}
    ]
    match = findings["match_rate"]
    assert (match.applicable, match.affected, match.total) == (True, 1, 2)
    assert "1 of 2 people matched" in match.detail
    html = _html(sync_phase.blocks(ctx, summary, result))
    assert "each spreadsheet source counts as a tool of its own" in html
    assert "Spreadsheet (dues)" in html and "Spreadsheet (signins)" in html


LADDER_OF_TAGS = """\
    ladder:
      - name: supporter
        label: Supporter
        window_days: 365
        any_of: [{activity_types: [signup, attendance]}]
        definition: Signed up or came.
      - name: tagged
        label: Tagged
        window_days: 365
        any_of: [{activity_types: [tagging]}, {activity_types: [activist_code]}]
        definition: Tagged in Action Network or coded in VAN after a step.
      - name: leader
        label: Leader
        window_days: 90
        any_of: [{activity_types: [one_on_one]}]
        definition: Held a one-on-one (the organizers' sheet).
"""


def test_a_ladder_gap_says_which_synced_tool_would_hold_it(make_cohort):
    """A rung over tags, beside Action Network's activist report (whose tags column the
    group sees) and a VAN export without its activist-code tables, was told only that
    "none of the synced exports contain" tagging: not that the report's tags carry no
    date, nor where the taggings and the activist codes would come from. A rung over a
    sheet's activity type (one-on-ones) that the sheet holds is no gap."""
    from test_readers import VAN_FILES

    c = make_cohort(
        """
        - {kind: action_network_csv, path: an}
        - {kind: van, path: van}
        - kind: generic_csv
          path: oneonones.csv
          activity_type: one_on_one
          columns: {email: Email, occurred_at: Date}
        """,
        extra_org_yaml=LADDER_OF_TAGS,
    )
    c.write("an/activists.csv", AN_CSV)  # u1 tagged "tenant,leader" in can2_user_tags
    for rel in ("van/persons.csv", "van/events.csv", "van/eventsignups.csv"):
        c.write(rel, VAN_FILES[rel])
    c.write("oneonones.csv", "Email,Date\nbo@example.org,2026-08-20\n")
    ctx = _context(c)
    result = sync_phase.run(ctx)
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    assert summary.ladder_gaps == [
        "Tagged: a way to reach this rung counts tagging activity, which none of the synced "
        "exports contain. Action Network (activist report) is synced but brought none: its "
        "can2_user_tags column lists each person's tags without the day each was put on, so "
        "it is kept and counts on no rung; dated taggings come from the API's taggings "
        "pages of each tag (an action_network_api source).",
        "Tagged: a way to reach this rung counts activist_code activity, which none of the "
        "synced exports contain. EveryAction / VAN is synced but brought none: they come "
        "from its contactsactivistcodes table, with the activistcodes table that names "
        "them, put in its folder.",
    ]
    html = _html(sync_phase.blocks(ctx, summary, result))
    assert "dated taggings come from the API&#x27;s taggings pages" in html

    # the API synced without taggings pages: where they come from
    c2 = make_cohort("- {kind: action_network_api, path: api}", extra_org_yaml=LADDER_OF_TAGS)
    from test_readers import AN_API_PERSON, _osdi

    c2.write("api/people/people-1.json", _osdi("osdi:people", [AN_API_PERSON]))
    ctx2 = _context(c2)
    sync_phase.run(ctx2)
    with connect(ctx2.store_path) as con:
        summary = load_summary(con, ctx2.org)
    assert summary.ladder_gaps[:2] == [
        "Supporter: a way to reach this rung counts signup or attendance activity, which "
        "none of the synced exports contain. Action Network (API) is synced but brought "
        "none: they come from its attendances pages.",
        "Tagged: a way to reach this rung counts tagging activity, which none of the synced "
        "exports contain. Action Network (API) is synced but brought none: they come from "
        "the taggings pages of each tag (/api/v2/tags/<id>/taggings), put in its folder.",
    ]


def test_kept_columns_are_those_kept_and_a_pages_unread_keys_are_said_apart(make_cohort):
    """The report said of every listed column "their values were kept": a JSON page's
    keys the sync does not read (a Mobilize attendance's utm_campaign, an Action
    Builder entity's own field) were in no table of the store, only in the archived
    page. And an API's own custom fields, which are kept (Action Network's
    custom_fields, Mobilize's sign-up questions), were listed nowhere, while the
    activist report's custom columns were. A person record's unknown keys are now kept
    as the person's custom fields, as a CSV's columns are; an event's, listed as not
    read, as the event's fields (event_field: an event is not a person); an activity
    record's (a donation's, a Mobilize attendance's own and its referrer's) as the
    activity's (activity_field). Each stays listed while its file is
    carried over unchanged. (A CSV's columns that are not read are listed apart:
    test_a_csv_of_activities_lists_its_unknown_columns_as_not_read.)"""
    import copy

    from test_readers import AN_API_PERSON, _osdi

    c = make_cohort(
        "- {kind: action_network_csv, path: an}\n- {kind: action_network_api, path: api}\n"
        "- {kind: mobilize, path: mobilize}\n- {kind: action_builder, path: ab}"
    )
    c.write("an/activists.csv", AN_CSV)  # its custom column: Building
    person = dict(AN_API_PERSON, custom_fields={"Shift": "evening", "Union Local": "Plant 9"})
    c.write("api/people/people-1.json", _osdi("osdi:people", [person]))
    donation = {
        "identifiers": ["action_network:d-1"],
        "created_date": "2025-05-01T10:00:00Z",
        "amount": "25.50",
        "action_network:person_id": "p-1",
        "action_network:dedication": "for Plant Gran",
    }
    c.write("api/donations/don-1.json", _osdi("osdi:donations", [donation]))
    event = {
        "identifiers": ["action_network:e-1"],
        "title": "Tenant meeting",
        "start_date": "2025-05-01T18:00:00Z",
        "action_network:ticket_note": "at Plant Hall",
    }
    c.write("api/events/events-1.json", _osdi("osdi:events", [event]))
    page = copy.deepcopy(MOBILIZE_PAGE)
    page["data"][0]["utm_campaign"] = "fall-plant"
    # keys a JSONPath cannot name (an empty one, one ending in a backslash): kept too
    page["data"][1].update({"": "blank-plant", "dir\\": "slash-plant", "a/b~c": 1})
    page["data"][0]["custom_signup_field_values"] = [
        {"custom_field_name": "Workplace", "text_value": "Tower Plant", "boolean_value": None}
    ]
    c.write("mobilize/p1.json", page)
    entity = {
        "identifiers": ["action_builder:ent-1"],
        "action_builder:entity_type": "Person",
        "email_addresses": [{"address": "kai@example.org"}],
        "action_builder:shop_steward": True,
    }
    c.write("ab/entities-1.json", _osdi("osdi:people", [entity]))
    ctx = _context(c)
    kept, unread = (
        "Columns kept (not part of the model)",
        "Keys not read (only in the archived copy)",
    )
    expected = [
        {"File": "ab/entities-1.json", kept: "action_builder:shop_steward", unread: ""},
        {"File": "an/activists.csv", kept: "Building", unread: ""},
        {"File": "api/donations/don-1.json", kept: "action_network:dedication", unread: ""},
        {"File": "api/events/events-1.json", kept: "action_network:ticket_note", unread: ""},
        {"File": "api/people/people-1.json", kept: "Shift, Union Local", unread: ""},
        {
            "File": "mobilize/p1.json",
            # (referrer.utm_source: the first attendance's link, the attendance's field)
            kept: "(empty key), Workplace, a/b~c, dir\\, referrer.utm_source, utm_campaign",
            unread: "",
        },
    ]
    for step in range(2):
        if step:  # another file changes: these are carried over
            c.write("mobilize/p2.json", copy.deepcopy(MOBILIZE_PAGE) | {"data": []})
        result = sync_phase.run(ctx)
        with connect(ctx.store_path) as con:
            summary = load_summary(con, ctx.org)
        assert summary.unknown_columns.to_dict("records") == expected
        html = _html(sync_phase.blocks(ctx, summary, result))
        assert "The columns and keys the sync does not read" not in html
        for value in ["Plant 9", "evening", "fall-plant", "Tower Plant", "Tower A", "Plant Gran",
                      "blank-plant", "slash-plant", "Plant Hall"]:  # fmt: skip
            assert value not in html, value
    assert c.query(
        "SELECT source, field, value FROM custom_field WHERE field <> 'can2_user_tags' ORDER BY 2"
    ) == [
        ("action_network", "Building", "Tower A"),
        ("action_network", "Shift", "evening"),
        ("action_network", "Union Local", "Plant 9"),
        ("mobilize", "Workplace", "Tower Plant"),
        ("action_builder", "action_builder:shop_steward", "true"),
    ]
    # an activity record's keys are the activity's (a Mobilize attendance's own, its
    # referrer's; an Action Network donation's)
    assert c.query("SELECT activity_id, field, value FROM activity_field ORDER BY ALL") == [
        ("an:donations:d-1", "action_network:dedication", "for Plant Gran"),
        ("mobilize:att:11", "referrer.utm_source", "sms"),
        ("mobilize:att:11", "utm_campaign", "fall-plant"),
        ("mobilize:att:12", "", "blank-plant"),
        ("mobilize:att:12", "a/b~c", "1"),
        ("mobilize:att:12", "dir\\", "slash-plant"),
    ]
    assert c.table("event_field") == [
        (
            "org",
            "action_network:e-1",
            "action_network",
            "action_network:ticket_note",
            "at Plant Hall",
        )
    ]


def test_a_key_without_a_name_is_listed_by_what_it_is(make_cohort):
    """A JSON record's key named "" was listed as nothing: ", Shift" under the columns
    kept, as if a comma had slipped in. It is "(empty key)" in its file's row, and a key
    of spaces says so. An Action Network person's custom field named "" (or holding a
    quote) stopped the whole sync on a JSONPath error; it is kept like any other."""
    from test_readers import AN_API_PERSON, _osdi

    c = make_cohort("- {kind: action_network_api, path: api}")
    person = dict(
        AN_API_PERSON, custom_fields={"Shift": "evening", "": "Plant Lane", 'say "hi"': "Plant Q"}
    )
    person["  "] = "Plant Space"
    c.write("api/people/people-1.json", _osdi("osdi:people", [person]))
    event = {
        "identifiers": ["action_network:e-1"],
        "title": "Tenant meeting",
        "start_date": "2025-05-01T18:00:00Z",
        "": "Plant Hall",
    }
    c.write("api/events/events-1.json", _osdi("osdi:events", [event]))
    ctx = _context(c)
    result = sync_phase.run(ctx)
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    kept, unread = (
        "Columns kept (not part of the model)",
        "Keys not read (only in the archived copy)",
    )
    assert summary.unknown_columns.to_dict("records") == [
        {"File": "api/events/events-1.json", kept: "(empty key)", unread: ""},
        {
            "File": "api/people/people-1.json",
            kept: '(empty key), (key of 2 blank characters), Shift, say "hi"',
            unread: "",
        },
    ]
    assert c.query("SELECT field, value FROM custom_field ORDER BY 1") == [
        ("", "Plant Lane"),
        ("  ", "Plant Space"),
        ("Shift", "evening"),
        ('say "hi"', "Plant Q"),
    ]
    assert c.table("event_field", "event_id, field, value") == [
        ("action_network:e-1", "", "Plant Hall")
    ]
    html = _html(sync_phase.blocks(ctx, summary, result))
    assert "<td>(empty key), (key of 2 blank characters), Shift, say &quot;hi&quot;</td>" in html
    for value in ["Plant Lane", "Plant Space", "Plant Q", "Plant Hall", "evening"]:
        assert value not in html, value


def test_an_action_network_activitys_unknown_keys_are_kept_as_its_own(make_cohort):
    """An Action Network attendance's, donation's or tagging's keys beyond the reader's
    were listed as not read (only in the archived page) while a people page's were kept
    as custom fields: a group told "tell the facilitators if one should count" had
    nothing to count. They are kept as the activity's fields, as a Mobilize
    attendance's are (kept as the person's, one value per person and key, a second
    donation's dedication replaced the first's); none of a rejected record."""
    from test_readers import AN_API_PERSON, _osdi

    c = make_cohort("- {kind: action_network_api, path: api}")
    other = dict(AN_API_PERSON, identifiers=["action_network:p-2"], custom_fields={})
    other["email_addresses"] = [{"address": "dee@example.org", "status": "subscribed"}]
    other["phone_numbers"] = []
    c.write("api/people/people-1.json", _osdi("osdi:people", [AN_API_PERSON, other]))

    def donation(n, person, amount, note):
        return {
            "identifiers": [f"action_network:d-{n}"],
            "created_date": f"2025-05-0{n}T10:00:00Z",
            "amount": amount,
            "action_network:person_id": person,
            "action_network:dedication": note,
        }

    c.write(
        "api/donations/don-1.json",
        _osdi(
            "osdi:donations",
            [
                donation(1, "p-1", "10", "for Plant Gran"),
                donation(2, "p-1", "15", "for Plant Aunt"),  # p-1's later: kept
                donation(3, "p-2", "lots", "for Plant Rejected"),  # amount: rejected
            ],
        ),
    )
    attendance = {
        "identifiers": ["action_network:a-1"],
        "created_date": "2025-04-01T10:00:00Z",
        "status": "accepted",
        "action_network:person_id": "p-2",
        "action_network:event_id": "e-9",
        "ticket_level": "Plant Solidarity",
    }
    c.write("api/attendances/att-1.json", _osdi("osdi:attendances", [attendance]))
    tagging = {
        "created_date": "2025-06-01T10:00:00Z",
        "added_by": "Plant Staffer",
        "_links": {
            "self": {"href": "https://actionnetwork.org/api/v2/tags/t-1/taggings/g-1"},
            "osdi:tag": {"href": "https://actionnetwork.org/api/v2/tags/t-1"},
            "osdi:person": {"href": "https://actionnetwork.org/api/v2/people/p-2"},
        },
    }
    c.write("api/taggings/tag-1.json", _osdi("osdi:taggings", [tagging]))
    ctx = _context(c)
    result = sync_phase.run(ctx)
    assert [r[3] for r in c.rejects()] == ["amount is not a number"]
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    kept, unread = (
        "Columns kept (not part of the model)",
        "Keys not read (only in the archived copy)",
    )
    assert summary.unknown_columns.to_dict("records") == [
        {"File": "api/attendances/att-1.json", kept: "ticket_level", unread: ""},
        {"File": "api/donations/don-1.json", kept: "action_network:dedication", unread: ""},
        {"File": "api/people/people-1.json", kept: "Shift", unread: ""},
        {"File": "api/taggings/tag-1.json", kept: "added_by", unread: ""},
    ]
    assert c.query(
        """SELECT i.source_id, f.field, f.value FROM custom_field f
           JOIN identity i USING (org_id, person_id) ORDER BY 1, 2"""
    ) == [("p-1", "Shift", "evening")]
    assert c.table("activity_field", order="ALL") == [
        ("org", "an:attendances:a-1", "action_network", "ticket_level", "Plant Solidarity"),
        ("org", "an:donations:d-1", "action_network", "action_network:dedication",
         "for Plant Gran"),
        ("org", "an:donations:d-2", "action_network", "action_network:dedication",
         "for Plant Aunt"),
        ("org", "an:taggings:g-1", "action_network", "added_by", "Plant Staffer"),
    ]  # fmt: skip
    html = _html(sync_phase.blocks(ctx, summary, result))
    assert "<td>api/donations/don-1.json</td><td>action_network:dedication</td>" in html
    assert "The columns and keys the sync does not read" not in html
    for value in ["Plant Gran", "Plant Aunt", "Plant Rejected", "Plant Solidarity", "Staffer"]:
        assert value not in html, value


def test_each_spreadsheet_has_its_own_row_and_dates(make_cohort):
    """The per-tool table added a group's sign-in sheet and dues sheet up as one
    "Spreadsheet" row: one count of rows, and dates from the first sign-in to the last
    dues payment, though the tables below it (people in both, activity) name each sheet
    as a tool of its own. Each sheet is a row, named as there."""
    c = make_cohort(
        """
        - {kind: action_network_csv, path: an}
        - {kind: generic_csv, path: signins, activity_type: attendance,
           columns: {email: Email, occurred_at: Date}}
        - {kind: generic_csv, path: dues/dues.csv, label: Monthly dues, activity_type: donation,
           columns: {email: Email, occurred_at: Date, amount: Amount}}
        """
    )
    c.write("an/activists.csv", AN_CSV)
    c.write("signins/jan.csv", "Email,Date\nana@x.org,2026-01-07\nbo@x.org,not a date\n")
    c.write("signins/feb.csv", "Email,Date\nana@x.org,2026-02-04\n")
    c.write("dues/dues.csv", "Email,Date,Amount\nana@x.org,2026-03-01,10\n,,\n")
    ctx = _context(c)
    result = sync_phase.run(ctx)
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    cols = ["source_kind", "files", "rows_read", "rows_kept", "rows_rejected", "blank"]
    assert summary.sources[cols + ["first", "last"]].values.tolist() == [
        ["Action Network (activist report)", 1, 2, 2, 0, 0, "2026-08-05", "2026-09-01"],
        ["Spreadsheet (monthly-dues)", 1, 1, 1, 0, 1, "2026-03-01", "2026-03-01"],
        ["Spreadsheet (signins)", 2, 3, 2, 1, 0, "2026-01-07", "2026-02-04"],
    ]
    html = _html(sync_phase.blocks(ctx, summary, result))
    assert (
        "<tr><td>Spreadsheet (signins)</td><td>2</td><td>3</td><td>2</td><td>1</td><td>0</td>"
        # (a sheet's row is dated once: its person's record has the activity's day)
        "<td>2026-01-07</td><td>2026-02-04</td><td>2026-01-07</td><td>2026-02-04</td></tr>"
    ) in html
    # the same names as the pairs: Ana is on both sheets
    assert "<td>Spreadsheet (monthly-dues)</td><td>Spreadsheet (signins)</td><td>1</td>" in html


def test_exports_taken_out_of_the_folder_are_said_to_stay_in_the_store(make_cohort):
    """A Mobilize page taken out of the folder after its sync (kept in the archive)
    leaves its attendances and people in the store, as the README says; the report's
    rows and dates covered the pages in the folder only and said nothing of it, while
    the activity table below counted its attendances: 2 rows kept above, 4 attendances
    below. The report says so; a page renamed (the same bytes) or changed is no such
    file."""
    import copy

    c = make_cohort("- {kind: mobilize, path: mobilize}")
    c.write("mobilize/p1.json", MOBILIZE_PAGE)
    later = copy.deepcopy(MOBILIZE_PAGE)
    for record in later["data"]:
        record["id"] += 100
    later["data"][0]["person"] = dict(later["data"][0]["person"], user_id=777)
    later["data"][0]["person"]["email_addresses"] = [{"address": "zed@example.org"}]
    later["data"][0]["person"]["phone_numbers"] = []  # (Di's: would match her)
    c.write("mobilize/p2.json", later)
    ctx = _context(c)
    sync_phase.run(ctx)
    (c.exports / "mobilize/p1.json").rename(c.exports / "mobilize/page-001.json")
    result = sync_phase.run(ctx)  # renamed: the same bytes are read
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    assert summary.not_read_now is None
    (c.exports / "mobilize/p2.json").unlink()
    result = sync_phase.run(ctx)
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    assert summary.not_read_now == {"files": 1, "tools": ["Mobilize"]}
    assert summary.sources[["rows_read", "rows_kept"]].values.tolist() == [[2, 2]]
    assert summary.activity_types["activities"].tolist() == [4]
    assert summary.people["total"] == 3  # Di and Eve, and 777 of the page taken out
    html = _html(sync_phase.blocks(ctx, summary, result))
    assert (
        "1 export file that earlier syncs read (Mobilize) is not among the exports read "
        "now: taken out of the export folders, or their source out of cohort.yml. Removing "
        "a file removes nothing from the store: the people and activities it brought "
        "still count in every report"
    ) in html
    assert "p2.json" not in html


LADDER_OF_ANY = """\
    ladder:
      - name: leader
        label: Contacted
        window_days: 365
        any_of: [{min_count: 1}]
        definition: Any activity at all.
"""


def test_a_rung_over_any_activity_with_no_activity_at_all_is_a_gap(make_cohort):
    """A rung whose rule counts any activity, beside exports holding none (a VAN people
    table, Spoke texts no one answered), was no gap: "Every rung of the organization's
    ladder has data to work from", and no one could be on it."""
    from test_readers import VAN_FILES

    c = make_cohort("- {kind: van, path: van}", extra_org_yaml=LADDER_OF_ANY)
    c.write("van/persons.csv", VAN_FILES["van/persons.csv"])
    ctx = _context(c)
    result = sync_phase.run(ctx)
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    assert summary.people["total"] == 2 and summary.activity_types.empty
    assert summary.ladder_gaps == [
        "Contacted: a way to reach this rung counts any activity, and the synced exports "
        "contain none (only people)."
    ]
    html = _html(sync_phase.blocks(ctx, summary, result))
    assert "Every rung of the organization" not in html

    # texts sent, none answered: 2 contact attempts (Hal's a conversation), no activity
    c2 = make_cohort("- {kind: spoke, path: spoke}", extra_org_yaml=LADDER_OF_ANY)
    c2.write(
        "spoke/campaign-71-contacts.csv",
        "campaignId,campaign,assignmentId,texter[firstName],texter[lastName],"
        "contact[firstName],contact[lastName],contact[cell],contact[zip],contact[optOut],"
        "contact[messageStatus],contact[external_id],question[Will you come?],tags\n"
        "71,Kickoff,5,Sam,Rivera,Hal,Ito,+16175550105,02145,false,convo,,,\n"
        "71,Kickoff,5,Sam,Rivera,Ida,Jo,+16175550106,02146,false,messaged,,,\n",
    )
    c2.write(
        "spoke/campaign-71-messages.csv",
        "campaignId,contactNumber,userNumber,isFromContact,sendStatus,attemptedAt,text\n"
        "71,+16175550105,+16175550100,false,DELIVERED,2026-08-20T15:00:00Z,Hi!\n"
        "71,+16175550106,+16175550100,false,DELIVERED,2026-08-20T15:01:00Z,Hi!\n",
    )
    ctx2 = _context(c2)
    sync_phase.run(ctx2)
    with connect(ctx2.store_path) as con:
        summary = load_summary(con, ctx2.org)
    assert summary.ladder_gaps == [
        "Contacted: a way to reach this rung counts any activity, and the synced exports "
        "contain none (only people, and contact attempts). They do hold 2 contact attempts "
        "(door knocks, calls and texts), 1 of them conversation and 2 by text: those count "
        "in the voter and member contact figures, and no rung of the ladder counts a "
        "contact attempt."
    ]


def test_a_rules_roles_are_looked_for_on_its_own_activity_types(make_cohort):
    """A rung counting one-on-ones led by the person (roles: [lead]) beside a log whose
    only 'lead' is on a meeting was no gap ("Every rung ... has data to work from"),
    though the ladder counts a role on the rule's own types and no one could reach the
    rung (the improve report said so)."""
    ladder = """\
    ladder:
      - name: leader
        label: Leader
        window_days: 365
        any_of: [{activity_types: [one_on_one], roles: [lead]}]
        definition: Led a one-on-one.
"""
    c = make_cohort(
        """
        - kind: generic_csv
          path: log.csv
          columns: {email: Email, occurred_at: Date, type: Type, role: Role}
        """,
        extra_org_yaml=ladder,
    )
    c.write(
        "log.csv",
        "Email,Date,Type,Role\na@example.org,2026-05-01,attendance,lead\n"
        "b@example.org,2026-05-02,one on one,\n",
    )
    ctx = _context(c)
    sync_phase.run(ctx)
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    assert summary.ladder_gaps == [
        "Leader: needs event roles (lead) on one_on_one activity; the exports record them "
        "on other activity only."
    ]
    # the lead on the one-on-one: no gap
    c.write(
        "log.csv",
        "Email,Date,Type,Role\na@example.org,2026-05-01,attendance,lead\n"
        "b@example.org,2026-05-02,one on one,Lead\n",
    )
    sync_phase.run(ctx)
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    assert summary.ladder_gaps == []


def test_a_csv_of_activities_lists_its_unknown_columns_as_not_read(make_cohort):
    """A VAN contacts table's or sign-ups table's own columns are in no table of the
    store (only a people export's are kept, as custom fields), yet the report said of
    them "their values were kept". They are listed apart as not read; the persons
    table's column stays listed as kept. A sync recorded before the reader said what it
    kept lists a CSV's columns as kept, as then."""
    from test_readers import VAN_FILES

    c = make_cohort("- {kind: van, path: van}")
    files = dict(VAN_FILES)
    files["van/persons.csv"] = (
        "vanid,firstname,lastname,email,datecreated,Shirt Size\n"
        "101,Fa,Un,fa@example.org,2025-01-02,L\n102,Gi,Vo,,2025-01-03,\n"
    )
    files["van/contactscontacts.csv"] = (
        "contactscontactid,vanid,resultid,contacttypeid,datecanvassed,Canvass Note\n"
        "9001,101,14,82,2026-08-10 18:00:00,Talked about rent at Plant Oak\n"
    )
    for rel, text in files.items():
        if rel != "van/contributions.csv":
            c.write(rel, text)
    ctx = _context(c)
    result = sync_phase.run(ctx)
    kept, unread = (
        "Columns kept (not part of the model)",
        "Keys not read (only in the archived copy)",
    )
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    assert summary.unknown_columns.to_dict("records") == [
        {"File": "van/contactscontacts.csv", kept: "", unread: "Canvass Note"},
        {"File": "van/persons.csv", kept: "Shirt Size", unread: ""},
    ]
    assert c.query("SELECT DISTINCT field FROM custom_field") == [("Shirt Size",)]
    html = _html(sync_phase.blocks(ctx, summary, result))
    assert "such as a VAN contacts table" in html and "Plant Oak" not in html

    # the record of a sync made before: no "csv_custom_fields" in its message
    with connect(ctx.store_path, write=True) as con:
        con.execute(
            "UPDATE sync_run SET message = json_object('role', json_extract_string("
            "message, '$.role')) WHERE file = 'van/contactscontacts.csv'"
        )
        summary = load_summary(con, ctx.org)
    assert summary.unknown_columns.to_dict("records")[0] == {
        "File": "van/contactscontacts.csv",
        kept: "Canvass Note",
        unread: "",
    }


SPOKE_WITH_VAN_IDS = (
    "campaignId,campaign,assignmentId,texter[firstName],texter[lastName],contact[firstName],"
    "contact[lastName],contact[cell],contact[zip],contact[optOut],contact[messageStatus],"
    "contact[external_id],tags\n"
    "1,Kickoff,5,Sam,Rivera,Ana,D,+16175550101,02139,false,convo,101,\n"
    "1,Kickoff,5,Sam,Rivera,Bo,E,+16175550102,02139,false,convo,999,\n"
)


def test_a_spoke_contact_is_matched_with_van_only_when_a_van_export_lists_its_id(make_cohort):
    """A Spoke contact's contact[external_id] names a VAN id. Ana's (101) is in VAN's
    persons table, Bo's (999) in no VAN export: both were counted as matched across
    tools, Bo with a VAN record that did not exist. Bo's VAN id is kept (it links him
    when VAN lists him, and follow-up lists show it), and he is matched once it does."""
    from cyclebook.improve import diagnose

    c = make_cohort("- {kind: spoke, path: spoke}\n- {kind: van, path: van}")
    c.write("spoke/campaign-1-contacts.csv", SPOKE_WITH_VAN_IDS)
    c.write("van/persons-1.csv", "vanid,firstname,lastname\n101,Ana,D\n")
    ctx = _context(c)
    sync_phase.run(ctx)
    assert c.query("SELECT source_id, listed FROM identity WHERE source = 'van' ORDER BY 1") == [
        ("101", True),
        ("999", False),
    ]
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
        findings = {f.key: f for f in diagnose(con, ctx.org)}
    assert summary.people == {
        "total": 2,
        "tools": 2,
        "matched": 1,
        "match_rate": 0.5,
        "merged": 0,
        "merged_fields": 0,
    }
    assert summary.pairs.to_dict("records") == [{"tool": "spoke", "other_tool": "van", "people": 1}]
    match = findings["match_rate"]
    assert (match.affected, match.total) == (1, 2)

    # a later VAN export lists Bo: his stored VAN id is a VAN record now
    c.write("van/persons-2.csv", "vanid,firstname,lastname\n999,Bo,E\n")
    sync_phase.run(ctx)
    assert c.query("SELECT count(*) FROM identity WHERE source = 'van' AND listed") == [(2,)]
    assert c.query("SELECT count(DISTINCT person_id) FROM identity") == [(2,)]
    with connect(ctx.store_path) as con:
        assert load_summary(con, ctx.org).people["matched"] == 2

    # a store made before identity.listed, opened read-only (not migrated): its ids are
    # all its tools' own, counted as they were
    raw = duckdb.connect(str(ctx.store_path))
    try:
        raw.execute("ALTER TABLE identity DROP COLUMN listed")
    finally:
        raw.close()
    with connect(ctx.store_path) as con:
        assert load_summary(con, ctx.org).people["matched"] == 2
        assert {f.key: f for f in diagnose(con, ctx.org)}["match_rate"].affected == 0


def test_rows_rejected_and_values_rejected_are_counted_apart(make_cohort):
    """The rejects table's one count ("Rows") added up rows rejected and values rejected
    on rows that were kept (a VAN event kept without its date): the report said 5 rows
    were rejected where 3 were. Counted by hand: the activist report reads 4 rows, 2
    rejected for their dates; VAN reads 2 people, 3 events (2 kept without their dates:
    values, not rows) and 4 signups (1 rejected for its status): 13 read, 10 kept, 3
    rows rejected, 2 values rejected. Each tool's rows read are its kept plus rejected."""
    from cyclebook.sync.readers import EVENT_DATE_UNREAD
    from cyclebook.sync.stage import BAD_DATE

    c = make_cohort("- {kind: action_network_csv, path: an}\n- {kind: van, path: van}")
    c.write(
        "an/activists.csv",
        "uuid,first_name,email,can2_subscription_date\n"  # 1
        "u1,Ana,ana@example.org,2026-08-01\n"  # 2
        "u2,Bo,bo@example.org,31/31/2026\n"  # 3: rejected
        "u3,Cy,cy@example.org,someday\n"  # 4: rejected
        "u4,Di,di@example.org,2026-08-02\n",  # 5
    )
    c.write("van/persons.csv", "vanid,firstname\n101,Ed\n102,Flo\n")
    c.write(
        "van/events.csv",
        "eventid,eventname,eventtypename,dateoffsetbegin\n"  # 1
        "7,Kickoff,Meeting,2026-08-20 18:00:00\n"  # 2
        "8,Canvass,Canvass,next tuesday\n"  # 3: kept, its date rejected
        "9,Phone bank,Phone Bank,TBD\n",  # 4: kept, its date rejected
    )
    c.write(
        "van/eventsignups.csv",
        "eventsignupid,vanid,eventid,eventstatusname,datecreated\n"  # 1
        "1,101,7,Completed,2026-08-01\n"  # 2
        "2,101,8,Scheduled,2026-08-02\n"  # 3
        "3,102,9,Scheduled,2026-08-03\n"  # 4
        "4,102,7,Maybe,2026-08-04\n",  # 5: rejected
    )
    ctx = _context(c)
    result = sync_phase.run(ctx)
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    run = summary.last_run
    assert (run["rows_read"], run["rows_kept"], run["rows_rejected"]) == (13, 10, 3)
    assert (run["values_rejected"], run["left_out"]) == (2, 0)
    sources = summary.sources.set_index("source_kind")
    assert sources.loc[:, ["rows_read", "rows_kept", "rows_rejected", "values_rejected"]].to_dict(
        "index"
    ) == {
        "Action Network (activist report)": {
            "rows_read": 4,
            "rows_kept": 2,
            "rows_rejected": 2,
            "values_rejected": 0,
        },
        "EveryAction / VAN": {
            "rows_read": 9,
            "rows_kept": 8,
            "rows_rejected": 1,
            "values_rejected": 2,
        },
    }
    assert summary.rejects[
        ["File", "Column", "Rows rejected", "Values rejected (row kept)", "Lines"]
    ].values.tolist() == [
        ["an/activists.csv", "can2_subscription_date", 2, 0, "3, 4"],
        ["van/events.csv", "dateoffsetbegin", 0, 2, "3, 4"],
        ["van/eventsignups.csv", "eventstatusname", 1, 0, "5"],
    ]
    assert list(summary.rejects["Reason"])[:2] == [BAD_DATE, EVENT_DATE_UNREAD]
    # the table's rows add up to the rows rejected above it, its values to the values
    assert summary.rejects["Rows rejected"].sum() == run["rows_rejected"]
    assert summary.rejects["Values rejected (row kept)"].sum() == run["values_rejected"]

    html = _html(sync_phase.blocks(ctx, summary, result))
    assert "<dt>Rows rejected</dt><dd>3</dd>" in html
    assert "<dt>Values rejected (their rows kept: listed below)</dt><dd>2</dd>" in html
    assert "Rejected rows and values by file and reason" in html
    assert "a rejected value is left out of a row that is kept" in html
    for header in ("Rows rejected", "Values rejected (row kept)", "Values rejected (rows kept)"):
        assert f'<th scope="col">{header}</th>' in html, header
    for value in ("ana@example.org", "Ana", "Ed", "Flo", "101", "u2"):
        assert f">{value}<" not in html, value


def test_a_sync_with_no_value_rejected_shows_rows_alone(make_cohort):
    """Without a rejected value, the rejects table and the table per tool have no
    column of values, and the figures no line of them."""
    c = make_cohort("- {kind: action_network_csv, path: an}")
    c.write(
        "an/activists.csv",
        "uuid,email,can2_subscription_date\nu1,ana@example.org,2026-08-01\n"
        "u2,bo@example.org,someday\n",
    )
    ctx = _context(c)
    result = sync_phase.run(ctx)
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    assert summary.rejects[["Rows rejected", "Values rejected (row kept)"]].values.tolist() == [
        [1, 0]
    ]
    html = _html(sync_phase.blocks(ctx, summary, result))
    assert "Rejected rows by file and reason" in html
    assert "Values rejected" not in html


def test_a_store_synced_before_values_were_told_apart_counts_its_rejects_as_rows(make_cohort):
    """A store whose rejected_row has no record_kept column (synced before it, opened
    read-only: not migrated) is read as before: every reject a row."""
    c = make_cohort("- {kind: action_network_csv, path: an}")
    c.write(
        "an/activists.csv",
        "uuid,email,can2_subscription_date\nu1,ana@example.org,2026-08-01\n"
        "u2,bo@example.org,someday\n",
    )
    ctx = _context(c)
    sync_phase.run(ctx)
    con = duckdb.connect(str(ctx.store_path))
    con.execute("ALTER TABLE rejected_row DROP COLUMN record_kept")
    con.close()
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    assert summary.last_run["values_rejected"] == 0
    assert summary.rejects[["Rows rejected", "Values rejected (row kept)"]].values.tolist() == [
        [1, 0]
    ]


def test_files_of_a_folder_with_the_same_unknown_columns_are_one_row():
    """Pages 1, 2 and 10 list the same keys, page 3 another: three rows in page order
    (2 before 10), a CSV of another folder with the same columns a row of its own."""
    import pandas as pd

    kept, unread = (
        "Columns kept (not part of the model)",
        "Keys not read (only in the archived copy)",
    )
    table = pd.DataFrame(
        [
            {"File": "mobilize/page-10.json", kept: "referrer.utm_source", unread: ""},
            {"File": "mobilize/page-2.json", kept: "referrer.utm_source", unread: ""},
            {"File": "mobilize/page-1.json", kept: "referrer.utm_source", unread: ""},
            {"File": "mobilize/page-3.json", kept: "referrer.utm_id", unread: ""},
            {"File": "an/activists.csv", kept: "referrer.utm_source", unread: ""},
        ]
    )
    assert sync_phase.files_alike(table).to_dict("records") == [
        {"File": "an/activists.csv", kept: "referrer.utm_source", unread: ""},
        {
            "File": "mobilize/page-1.json … page-2.json (2 files)",
            kept: "referrer.utm_source",
            unread: "",
        },
        {"File": "mobilize/page-3.json", kept: "referrer.utm_id", unread: ""},
        {"File": "mobilize/page-10.json", kept: "referrer.utm_source", unread: ""},
    ]


def test_a_pulls_pages_with_the_same_keys_are_listed_once(make_cohort):
    import copy

    c = make_cohort("- {kind: mobilize, path: mobilize}")
    for page in range(1, 4):
        data = copy.deepcopy(MOBILIZE_PAGE)
        for record in data["data"]:
            record["id"] += 100 * page
        c.write(f"mobilize/attendances-page-{page:03}.json", data)
    ctx = _context(c)
    result = sync_phase.run(ctx)
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    assert len(summary.unknown_columns) == 3  # the store's summary stays per file
    html = _html(sync_phase.blocks(ctx, summary, result))
    assert "mobilize/attendances-page-001.json … attendances-page-003.json (3 files)" in html
    assert "attendances-page-002.json" not in html
    assert html.count("referrer.utm_source") == 1


def test_the_sync_reads_what_its_report_shows_on_its_own_connection(make_cohort):
    """Asked for it, the sync reads the report's summary on its own connection before it
    lets the store go (the report attached the store again, and read back what the sync
    had just written): the same figures as read afterwards, the run's start cast as a
    new connection casts it (the sync's connection is in the organization's time zone,
    New York's here: "-05" after the time, not the "+00" the report showed). A sync that
    writes nothing reads none (the report reads the store)."""
    c = make_cohort("- {kind: action_network_csv, path: an}\n- {kind: mobilize, path: mobilize}")
    c.write("an/activists.csv", AN_CSV)
    c.write("mobilize/p1.json", MOBILIZE_PAGE)
    result = c.sync(with_summary=True)
    org = load_cohort(c.root).org("org")
    with connect(c.root / "store.duckdb") as con:
        after = load_summary(con, org)
    here = result.summary
    # Ana and Bo from the activist report, Di and Eve from Mobilize: no email or phone
    # in common, so none matched; two rows read from each file
    assert here.people == after.people
    assert (here.people["total"], here.people["tools"], here.people["matched"]) == (4, 2, 0)
    assert here.last_run == after.last_run
    assert here.last_run["rows_read"] == 4
    ((started,),) = c.query("SELECT CAST(started_at AS VARCHAR) FROM sync_run WHERE file IS NULL")
    assert here.last_run["started_at"] == started
    for name in ("sources", "rejects", "unknown_columns", "pairs", "activity_types", "notes"):
        pd.testing.assert_frame_equal(getattr(here, name), getattr(after, name))
    assert (here.ladder_gaps, here.retired_sources) == (after.ladder_gaps, after.retired_sources)
    again = c.sync(with_summary=True)
    assert again.status == "unchanged" and again.summary is None
