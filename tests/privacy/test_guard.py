"""The personal-data guard finds planted values in rendered reports, names the cell,
never repeats the value, and stays quiet on clean reports."""

from __future__ import annotations

import base64
import random
import string
from pathlib import Path

import pytest

from cyclebook.errors import PrivacyError
from cyclebook.privacy import (
    build_index,
    guard_allowances,
    guard_report,
    report_allowance,
    scan_html,
    scan_text,
)
from cyclebook.runner import Job, _privacy_check

from .conftest import render, write_people

CLEAN = [
    ("md", "## Share: the group's own measures\n\nYoung people led three actions this week."),
    (
        "html",
        "<h2>Active base</h2><table><caption>People by rung</caption><tr><td>Leader</td>"
        "<td>1,234,567</td><td>2026-09-14</td><td>&lt;10</td></tr></table>"
        "<p>Call 555-0100 to reach the office. Facilitated by Matt Rivera.</p>",
    ),
]
ALLOW = ["Matt Rivera", "Eastside Tenants Union"]


def kinds(leaks) -> set[tuple[str, int | None]]:
    return {(leak.kind, leak.cell) for leak in leaks}


def test_clean_report_has_no_leaks(pii_store):
    assert scan_html(render(CLEAN), pii_store, ["org-a", "org-b"], allow=ALLOW) == []


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        ("<p>Contact maria.okonkwo@example.org</p>", "email"),
        ("<p>Contact MARIA.OKONKWO@EXAMPLE.ORG</p>", "email"),
        ("<p>maria.okonkwo&#64;example.org</p>", "email"),
        ('<img alt="photo of jnunez@example.net" src="x.png">', "email"),
        ("<td>(555) 201-3344</td>", "phone"),
        ("<td>555-201-3344</td>", "phone"),
        ("<td>555.201.3344</td>", "phone"),
        ("<td>+1 555 201 3344</td>", "phone"),
        ("<td>15552013344</td>", "phone"),
        ("<td>5557778899</td>", "phone"),
        ("<td>Maria Okonkwo</td>", "name"),
        ("<td><b>Maria</b> <i>Okonkwo</i></td>", "name"),
        ("<td>Okonkwo, Maria</td>", "name"),
        ("<td>MARIA OKONKWO</td>", "name"),
        ("<td>Jose Nunez</td>", "name"),
        ("<td>José Núñez</td>", "name"),
        ("<p>We followed up with Okonkwo after the meeting.</p>", "last_name"),
        ("<p>Sam Young hosted.</p>", "name"),
        ("<p>Lives at 123 Main St.</p>", "address"),
        ("<p>Lives at 123 main street</p>", "address"),
        ('<a href="https://an.example/p/d91b4b2e-7c1a-4e0f-9a57-0c2f3d4e5f60">x</a>', "source_id"),
        ("<td>VAN 10234567</td>", "source_id"),
        ("<td>10234567</td>", "source_id"),
        ("<p>vanids: 4455667, 10234567</p>", "source_id"),
        ("<p>spoke contact +1 (555) 201-3344</p>", "phone"),
    ],
)
def test_planted_value_is_found_with_its_cell(pii_store, content, kind):
    html_text = render([*CLEAN, ("html", content)])
    leaks = scan_html(html_text, pii_store, ["org-a"], allow=ALLOW)
    assert (kind, 2) in kinds(leaks), leaks
    assert all(leak.org_id == "org-a" for leak in leaks)


def test_plain_text_output_is_scanned(pii_store):
    html_text = render([("text", "top volunteers: Tamsin Featherstonehaugh (555.404.1212)\n")])
    leaks = scan_html(html_text, pii_store, ["org-b"], allow=[])
    assert {("name", 0), ("phone", 0)} <= kinds(leaks)


def test_only_the_named_organizations_are_checked(pii_store):
    html_text = render([("html", "<p>tf@example.org</p>")])
    assert scan_html(html_text, pii_store, ["org-a"], allow=[]) == []
    assert kinds(scan_html(html_text, pii_store, ["org-b"], allow=[])) == {("email", 0)}


@pytest.mark.parametrize(
    "content",
    [
        "<p>Young people and young leaders</p>",  # 'Young' is an ordinary word
        "<p>young people</p>",
        "<p>Rivera</p>",  # a facilitator's name from cohort.yml
        "<p>Lee</p>",  # too short to judge alone
        "<p>Maria came</p>",  # a first name alone
        "<td>10,234,567</td>",  # a formatted count, not the VAN id 10234567
        "<td>3.10234567</td>",
        "<p>sha256='d73b52327e02be35b0be10234567fc14abd0b4e8'</p>",  # inside a hash
        "<p>rows_read=10234567</p>",  # a count printed raw, not labelled as an id
        "<p>size 10234567 bytes</p>",
        "<p>okonkwo</p>",  # lower case: not written as a name
        "<p>Main Street</p>",
    ],
)
def test_no_false_positives(pii_store, content):
    html_text = render([("html", content)])
    assert scan_html(html_text, pii_store, ["org-a", "org-b"], allow=ALLOW) == []


def test_images_are_not_scanned_as_text(pii_store):
    data = base64.b64encode(b"Okonkwo 5552013344 " * 50).decode()
    image = f'<img alt="a chart of the ladder" src="data:image/png;base64,{data}">'
    html_text = render([("html", image)])
    assert scan_html(html_text, pii_store, ["org-a"], allow=[]) == []


def test_outside_cells_is_reported_as_such(pii_store):
    html_text = render(CLEAN).replace("<title>Notebook</title>", "<title>Maria Okonkwo</title>")
    leaks = scan_html(html_text, pii_store, ["org-a"], allow=ALLOW)
    assert ("name", None) in kinds(leaks)
    assert "outside the notebook cells" in leaks[0].describe()


def test_guard_withholds_and_names_kind_and_cell(pii_store, tmp_path):
    report = tmp_path / "share.cohort.html"
    report.write_text(render([*CLEAN, ("html", "<td>Maria Okonkwo 555-201-3344</td>")]))
    with pytest.raises(PrivacyError) as caught:
        guard_report(report, pii_store, ["org-a"], allow=ALLOW)
    message = str(caught.value)
    assert "a full name of a member of org-a in cell 2" in message
    assert "a phone number" in message
    assert "Fix:" in message
    for secret in ("Okonkwo", "201-3344", "2013344"):
        assert secret not in message
        assert secret not in report.read_text()
    assert "Report withheld" in report.read_text()
    assert {leak.kind for leak in caught.value.leaks} >= {"name", "phone"}


def test_guard_passes_a_clean_report(pii_store, tmp_path):
    report = tmp_path / "share.html"
    report.write_text(render(CLEAN))
    guard_report(report, pii_store, ["org-a", "org-b"], allow=ALLOW)
    assert "Active base" in report.read_text()


def test_guard_reads_allowed_names_from_the_cohort_folder(tmp_path):
    (tmp_path / "cohort.yml").write_text(
        "id: c\nname: C\nfacilitators: [Matt Rivera]\n"
        "organizations:\n  - {id: org-a, name: Org A}\n"
    )
    store = tmp_path / "store.duckdb"
    write_people(store, [("org-a", "p1", "Ann", "Rivera", None, None, None)])
    report = tmp_path / "r.html"
    report.write_text(render([("html", "<p>Facilitator: Matt Rivera</p>")]))
    guard_report(report, store, ["org-a"])  # no error: the name is in cohort.yml
    report.write_text(render([("html", "<p>Ann Rivera</p>")]))
    with pytest.raises(PrivacyError):
        guard_report(report, store, ["org-a"])


def _fake_people(n: int) -> list[tuple]:
    rng = random.Random(3)
    letters = string.ascii_lowercase
    rows = []
    for i in range(n):
        first = "".join(rng.choices(letters, k=6)).title()
        last = "".join(rng.choices(letters, k=8)).title()
        rows.append(
            (
                "big",
                f"p{i:07d}",
                first,
                last,
                f"{first}.{last}{i}@example.org".lower(),
                f"({rng.randint(200, 999)}) {rng.randint(200, 999)}-{rng.randint(0, 9999):04d}",
                f"{rng.randint(1, 9999)} {last} Avenue, Town",
            )
        )
    return rows


def test_a_megabyte_report_against_fifty_thousand_people(tmp_path):
    """Size only: how fast is for benchmarks/bench_guard.py, not for a unit test."""
    people = _fake_people(50_000)
    index = build_index(people, [("big", f"{i:09d}") for i in range(50_000)])
    filler = (
        "<p>Active base grew by 1,204 people this cycle; 62% of new people came back "
        "within six weeks. Young leaders hosted 14 house meetings.</p>\n"
    )
    body = render([("html", filler * 700) for _ in range(12)])
    assert len(body) > 1_000_000
    assert scan_text(body, index) == []
    planted = body.replace("Young leaders", f"{people[4321][2]} {people[4321][3]}", 1)
    leaks = scan_text(planted, index)
    assert [leak.kind for leak in leaks] == ["name"]


def test_store_without_people_is_fine(tmp_path):
    store = tmp_path / "store.duckdb"
    write_people(store, [])
    assert scan_html(render(CLEAN), store, ["org-a"], allow=[]) == []


def test_missing_store_is_an_error(tmp_path):
    from cyclebook.errors import StoreError

    with pytest.raises(StoreError):
        scan_html("<p></p>", Path(tmp_path / "nope.duckdb"), ["org-a"], allow=[])


def test_all_organizations_when_none_named(pii_store):
    html_text = render([("html", "<p>tf@example.org and Maria Okonkwo</p>")])
    leaks = scan_html(html_text, pii_store, None, allow=[])
    assert {(leak.kind, leak.org_id) for leak in leaks} == {("email", "org-b"), ("name", "org-a")}
    assert str(leaks[0]) == leaks[0].describe()


def test_index_follows_the_people_not_the_file(pii_store):
    from cyclebook.privacy import load_index
    from cyclebook.store import connect

    first = load_index(pii_store, ["org-a"], allow=[])
    with connect(pii_store, write=True) as con:  # metric values change the file...
        con.execute(
            "INSERT INTO metric_value (cycle, org_id, metric, period, value) "
            "VALUES ('c', 'org-a', 'active_base', 'end', 3)"
        )
    assert load_index(pii_store, ["org-a"], allow=[]) is first  # ...not the people
    write_people(pii_store, [("org-a", "a9", "Ulrike", "Zwiebelbaum", None, None, None)])
    html_text = render([("html", "<p>Ulrike Zwiebelbaum</p>")])
    assert kinds(scan_html(html_text, pii_store, ["org-a"], allow=[])) == {("name", 0)}


def test_reflection_people_are_allowed_only_in_their_own_groups_reports(tmp_path):
    (tmp_path / "cohort.yml").write_text(
        "id: c\nname: C\norganizations:\n  - {id: org-a, name: Org A}\n"
        "  - {id: org-b, name: Org B}\n"
    )
    (tmp_path / "c1").mkdir()
    (tmp_path / "c1" / "cycle.yml").write_text(
        "id: c1\ntitle: T\nhow_might_we: [x]\nhypothesis: h\ndesign: d\n"
        "start: 2026-08-03\nend: 2026-09-14\n"
    )
    (tmp_path / "c1" / "reflections").mkdir()
    (tmp_path / "c1" / "reflections" / "org-a.yml").write_text(
        "org_id: org-a\ncycle: c1\nversions:\n"
        "  - {saved_at: '2026-09-10T18:00:00Z', author: Nadia Oyelaran,"
        " participants: [Ines Castellanos], stories: [Marguerite Bellweather came back]}\n"
    )
    store = tmp_path / "store.duckdb"
    write_people(
        store,
        [
            ("org-a", "p1", "Nadia", "Oyelaran", None, None, None),  # staff, also a member
            ("org-a", "p2", "Ines", "Castellanos", None, None, None),
            ("org-a", "p3", "Marguerite", "Bellweather", None, None, None),
        ],
    )
    allowances = guard_allowances(store)
    assert allowances[1] == {"org-a": ["Nadia Oyelaran", "Ines Castellanos"]}
    page = render([("html", "<p>Recorded by Nadia Oyelaran with Ines Castellanos.</p>")])
    own = report_allowance(allowances, "org-a", "organization")
    assert scan_html(page, store, None, allow=own) == []
    # the same names in another group's report, or in the group's own for a funder or
    # the cohort, are members' names (a participant is often a leader of the group)
    for org_id, audience in [("org-b", "organization"), ("org-a", "funder"), ("org-a", "cohort")]:
        allow = report_allowance(allowances, org_id, audience)
        assert kinds(scan_html(page, store, None, allow=allow)) == {("name", 0)}
    assert kinds(scan_html(page, store, None)) == {("name", 0)}  # the default allows neither
    # what someone said about a member is not an allowed name
    page = render([("html", "<p>Marguerite Bellweather came back</p>")])
    assert kinds(scan_html(page, store, None, allow=own)) == {("name", 0)}


def test_reflection_people_are_read_as_the_reflect_report_reads_the_file(tmp_path):
    """A reflection the reflect report reads (validate passes it) is read for its
    people too: PyYAML's pure-Python parser refuses a flow list with a '?' in it
    ("[Who calls?]") that the report's reader takes, the file was skipped, and the
    group's own reflect report, which lists who took part, was withheld for naming a
    participant who is also a member."""
    (tmp_path / "cohort.yml").write_text(
        "id: c\nname: C\norganizations:\n  - {id: org-a, name: Org A}\n"
    )
    (tmp_path / "c1").mkdir()
    (tmp_path / "c1" / "cycle.yml").write_text(
        "id: c1\ntitle: T\nhow_might_we: [x]\nhypothesis: h\ndesign: d\n"
        "start: 2026-08-03\nend: 2026-09-14\n"
    )
    (tmp_path / "c1" / "reflections").mkdir()
    (tmp_path / "c1" / "reflections" / "org-a.yml").write_text(
        "org_id: org-a\ncycle: c1\nversions:\n"
        "- saved_at: '2026-09-10T18:00:00Z'\n  author: Nadia Oyelaran\n"
        "  participants: [Ines Castellanos]\n  questions: [Who calls?]\n"
    )
    from cyclebook.reflect import load_reflection

    assert load_reflection(tmp_path, "c1", "org-a").latest.questions == ["Who calls?"]
    store = tmp_path / "store.duckdb"
    write_people(store, [("org-a", "p2", "Ines", "Castellanos", None, None, None)])
    allowances = guard_allowances(store)
    assert allowances[1] == {"org-a": ["Nadia Oyelaran", "Ines Castellanos"]}
    page = render([("html", "<p>Who took part: Ines Castellanos.</p>")])
    own = report_allowance(allowances, "org-a", "organization")
    assert scan_html(page, store, None, allow=own) == []


def test_only_people_who_could_match_are_read(tmp_path):
    """A report full of ordinary words ('first', 'last', 'main') reads only the people
    whose name or street it could contain, not everyone whose name shares a word with
    it: a million-person organization's guard took 50 s per report that way."""
    from cyclebook.privacy import candidate_index

    store = tmp_path / "store.duckdb"
    people = [
        ("org-a", f"p{i}", f"First{i}", f"Last{i}", None, None, f"{i} Main St, Town")
        for i in range(200)
    ]
    people.append(("org-a", "p-w", "Anna", "Weiß", None, None, "1 Hauptstraße, Berlin"))
    write_people(store, people)
    page = render(
        [
            ("md", "First cycle, last week: 7 people came to the main meeting (Main St 12)."),
            ("html", "<p>Thanks to First12 Last12 and to 7 Main St.</p>"),
        ]
    )
    index = candidate_index(page, store, ["org-a"], allow=[])
    names = {seq for entries in index.names.by_first.values() for seq, *_ in entries}
    streets = {seq for entries in index.addresses.by_first.values() for seq, *_ in entries}
    # person 12 (by name) and person 7 (by street): their values, nobody else's
    assert names == {
        *[("first12", "last12"), ("last12", "first12"), ("last12",)],
        *[("first7", "last7"), ("last7", "first7"), ("last7",)],
    }
    assert streets == {("12", "main", "st"), ("7", "main", "st")}
    leaks = scan_text(page, index)
    assert sorted(leak.kind for leak in leaks) == ["address", "name"]


def test_a_replaced_rung_is_config_text(tmp_path):
    """Reports of a cycle before an adopted change show the rung as it was (kept under
    ``replaced`` in cohort.yml): its label and words are the facilitators', like the
    current rung's. A definition is prose: a member's full name in it is allowed only
    when the configuration names her as staff (a name in prose reached every report)."""
    text = (
        "id: c\nname: C\norganizations:\n  - id: org-a\n    name: Org A\n{staff}"
        "    measure_history:\n"
        "      - {{measure: ladder.active, date: 2026-10-20, proposed_by: Ana, why: w,\n"
        "         change: c, cycle: c2, replaced: {{rung: {{name: active, label: Okafor Active,\n"
        "         window_days: 90, any_of: [{{min_count: 3}}],\n"
        "         definition: Trained three times by Rosalind Okafor}}}}}}\n"
    )
    (tmp_path / "cohort.yml").write_text(text.format(staff=""))
    store = tmp_path / "store.duckdb"
    write_people(store, [("org-a", "p1", "Rosalind", "Okafor", None, None, None)])
    label = render([("html", "<p>Okafor Active: trained three times</p>")])
    assert scan_html(label, store, ["org-a"]) == []
    page = render([("html", "<p>Active: Trained three times by Rosalind Okafor</p>")])
    assert [leak.kind for leak in scan_html(page, store, ["org-a"])] == ["name"]
    (tmp_path / "cohort.yml").write_text(text.format(staff="    staff: [Rosalind Okafor]\n"))
    assert scan_html(page, store, ["org-a"]) == []


def test_a_cards_prose_allows_its_words_not_a_members_name(tmp_path):
    """A cycle card's learnings are shown in every report: "Meet at Wilson Park" names no
    one (a member named Wilson withholds nothing), "Maria Wilson chaired it" names a
    member, and is found although the card is the facilitators' own text."""
    (tmp_path / "cohort.yml").write_text(
        "id: c\nname: C\nfacilitators: [Matt Rivera]\norganizations:\n"
        "  - {id: org-a, name: Org A}\n"
    )
    (tmp_path / "c1").mkdir()
    (tmp_path / "c1" / "cycle.yml").write_text(
        "id: c1\ntitle: T\nhow_might_we: [x]\nhypothesis: h\ndesign: d\n"
        "start: 2026-01-05\nend: 2026-02-16\naccountable: [Matt Rivera]\n"
        "learnings: [Meet at Wilson Park, Maria Wilson chaired the Wilson Park meeting]\n"
    )
    store = tmp_path / "store.duckdb"
    write_people(store, [("org-a", "p1", "Maria", "Wilson", None, None, None)])
    quiet = render([("html", "<li>Meet at Wilson Park</li><p>Matt Rivera</p>")])
    assert scan_html(quiet, store, ["org-a"]) == []
    named = render([("html", "<li>Maria Wilson chaired the Wilson Park meeting</li>")])
    assert [leak.kind for leak in scan_html(named, store, ["org-a"])] == ["name"]


def _alpha_job(tmp_path: Path, phase: str, audience: str) -> Job:
    """A job of organization alpha's in cycle c1, on the store in ``tmp_path``."""
    return Job(
        cycle="c1",
        org_id="alpha",
        phase=phase,
        audience=audience,
        notebook="n.ipynb",
        parameters={},
        output_ipynb=str(tmp_path / "r.ipynb"),
        output_html=str(tmp_path / "r.html"),
        report_meta={},
        store_path=str(tmp_path / "store.duckdb"),
    )


def test_a_groups_report_is_checked_for_every_groups_members(tmp_path):
    """A reflection, a sheet's column header or a file name of one group can name a member
    of another; the guard read only the report's own group and let it through."""
    (tmp_path / "cohort.yml").write_text(
        "id: c\nname: C\norganizations:\n  - {id: alpha, name: Alpha}\n  - {id: beta, name: Beta}\n"
    )
    store = tmp_path / "store.duckdb"
    write_people(
        store,
        [
            ("alpha", "a1", "Ada", "Quenneville", None, None, None),
            ("beta", "b1", "Xavier", "Thornbury", "xavi.t@plant.example", "2125550101", None),
        ],
    )
    job = _alpha_job(tmp_path, "reflect", "funder")
    page = render([("html", "<p>Xavier Thornbury came from Beta.</p>")])
    assert "a full name of a member of beta" in _privacy_check(page, job)
    page = render([("html", "<p>Write to xavi.t@plant.example or call 212-555-0101.</p>")])
    assert "of a member of beta" in _privacy_check(page, job)
    assert _privacy_check(render([("html", "<p>Nobody named.</p>")]), job) is None


SPELLED = [
    ("org-a", "q1", "Zebulon", "Quillfeather", "zeb.quill@plant.example", None, None),
    ("org-a", "q2", "Oona", "O'Brien-Vasquez", None, None, None),
    ("org-a", "q3", "Xavier", "Thornbury", None, None, None),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a possessive, with each apostrophe people type, and escaped as reports escape it
        ("<p>Visit Zebulon Quillfeather&#x27;s place</p>", {("name", 0)}),
        ("<p>Should we visit Quillfeather\u2019s place?</p>", {("last_name", 0)}),
        ("<p>QUILLFEATHER\u02bcS list</p>", {("last_name", 0)}),
        # a family's plural, also from a tool's event type written in capitals
        ("<p>House Party At Quillfeathers</p>", {("last_name", 0)}),
        ("<p>Thornburys House Party</p>", {("last_name", 0)}),
        ("<p>the Quillfeathers&#x27; garden</p>", {("last_name", 0)}),
        # one part of a compound surname
        ("<p>Oona O&#x27;Brien chaired</p>", {("last_name", 0)}),
        ("<p>Vasquez chaired</p>", {("last_name", 0)}),
        # characters a browser shows as nothing
        ("<p>Zebulon Quill&shy;feather</p>", {("name", 0)}),
        ("<p>Quill\u200bfeather family</p>", {("last_name", 0)}),
        ("<p>write to zeb.\u00adquill@plant\u200b.example</p>", {("email", 0)}),
        # and what is not a leak: lower case, a word that only ends like a name
        ("<p>quillfeathers are birds; Thornbury-ish weather</p>", {("last_name", 0)}),
        ("<p>no one here, events and rates</p>", set()),
    ],
)
def test_names_in_possessive_plural_compound_and_invisible_spellings(tmp_path, text, expected):
    """Each spelling got past the guard into a funder's report (the store's prefilter
    and the exact rules both have to find it)."""
    store = tmp_path / "store.duckdb"
    write_people(store, SPELLED)
    assert kinds(scan_html(render([("html", text)]), store, None, allow=[])) == expected


@pytest.mark.parametrize(
    "text",
    [
        "<p>call 617/555/0142</p>",
        "<p>call 617_555_0142</p>",
        "<p>call \uff16\uff11\uff17-\uff15\uff15\uff15-\uff10\uff11\uff14\uff12</p>",  # fullwidth
        '<p><a href="mailto:zeb.quill%40plant.example">write</a></p>',
    ],
)
def test_phones_and_emails_in_other_spellings(tmp_path, text):
    store = tmp_path / "store.duckdb"
    write_people(
        store, [("org-a", "z1", "Zeb", "Q", "zeb.quill@plant.example", "6175550142", None)]
    )
    found = {leak.kind for leak in scan_html(render([("html", text)]), store, None, allow=[])}
    assert found & {"phone", "email"}


def test_place_names_written_in_the_configuration_are_read_as_reports_read_them(tmp_path):
    """A group named "Scotts Valley Tenants Union" had every report withheld once report
    words were read as surnames ("scotts" -> Scott, a member of another group): the
    configuration's words are read the same way."""
    store = tmp_path / "store.duckdb"
    write_people(store, [("org-b", "b1", "Ada", "Scott", None, None, None)])
    allow = ["Scotts Valley Tenants Union", "Scott's Addition Tenants"]
    for text in ("<p>Scotts Valley Tenants Union</p>", "<p>Scott&#x27;s Addition Tenants</p>"):
        assert scan_html(render([("html", text)]), store, None, allow=allow) == []
    # (a word of the allowed text is allowed wherever it stands, as it always was; the
    # member's full name is not)
    page = render([("html", "<p>Ada Scott came</p>")])
    assert kinds(scan_html(page, store, None, allow=allow)) == {("name", 0)}


def test_proposers_recorded_in_cohort_yml_are_allowed_in_their_groups_own_reports(tmp_path):
    """next-cycle records who proposed a change in cohort.yml; as the facilitators' text
    it was allowed everywhere, and the proposer is often a member."""
    from cyclebook.privacy import config_text

    (tmp_path / "cohort.yml").write_text(
        "id: c\nname: C\norganizations:\n  - id: org-a\n    name: Org A\n"
        "    measure_history:\n"
        "      - {measure: absorption, date: 2026-08-01, proposed_by: Riley Hernandez,"
        " why: new people stay, change: 42 days}\n"
    )
    config, people = guard_allowances(tmp_path / "store.duckdb")
    assert people == {"org-a": ["Riley Hernandez"]}
    assert "Riley Hernandez" not in config
    from cyclebook.config import load_cohort

    assert "Riley Hernandez" not in config_text(load_cohort(tmp_path))
    assert "Riley Hernandez" in report_allowance((config, people), "org-a", "organization")
    assert "Riley Hernandez" not in report_allowance((config, people), "org-a", "funder")


def test_a_value_written_in_the_card_is_said_to_be_there(tmp_path):
    """A card's learnings are in every report: the cell a leak was found in was no clue,
    and a card's email was taken for a broken sync. The message names the file and line,
    never the value."""
    (tmp_path / "cohort.yml").write_text(
        "id: c\nname: C\norganizations:\n  - {id: alpha, name: Alpha}\n"
    )
    (tmp_path / "c1").mkdir()
    (tmp_path / "c1" / "cycle.yml").write_text(
        "id: c1\ntitle: T\nhow_might_we: [x]\nhypothesis: h\ndesign: d\n"
        "start: 2026-01-05\nend: 2026-02-16\n"
        "learnings:\n  - Write to ada.q@plant.example for the minutes\n"
    )
    store = tmp_path / "store.duckdb"
    write_people(store, [("alpha", "a1", "Ada", "Quenneville", "ada.q@plant.example", None, None)])
    job = _alpha_job(tmp_path, "sync", "organization")
    page = render([("html", "<li>Write to ada.q@plant.example for the minutes</li>")])
    message = _privacy_check(page, job)
    assert "an email address of a member of alpha" in message
    assert "it is written in c1/cycle.yml, line 9: take it out there" in message
    assert "ada.q" not in message
    # a value the report shows from elsewhere says nothing of a file
    other = _privacy_check(render([("html", "<p>Ada Quenneville</p>")]), job)
    assert other is not None and "written in" not in other


def test_allowed_names_do_not_run_together_and_labels_name_no_one(tmp_path):
    """Facilitators Ana Kim and Lee Wong allowed "Kim Lee" (the allowed names were strung
    together); a source labelled "Maria Wilson canvass sheet" allowed Maria Wilson's
    name anywhere. A member named either is found."""
    (tmp_path / "cohort.yml").write_text(
        "id: c\nname: C\nfacilitators: [Ana Kim, Lee Wong]\norganizations:\n"
        "  - id: alpha\n    name: Alpha\n    sources:\n"
        "      - {kind: generic_csv, path: s.csv, activity_type: attendance,\n"
        "         label: Maria Wilson canvass sheet,\n"
        "         columns: {person_id: ID, occurred_at: Date}}\n"
    )
    store = tmp_path / "store.duckdb"
    write_people(
        store,
        [
            ("alpha", "a1", "Kim", "Lee", None, None, None),
            ("alpha", "a2", "Maria", "Wilson", None, None, None),
        ],
    )
    quiet = render([("html", "<p>Facilitated by Ana Kim and Lee Wong.</p>")])
    assert scan_html(quiet, store, ["alpha"]) == []
    # whole allowed names one after another are a list of them, not a member's name
    listed = render([("html", "<p>Facilitated by Ana Kim, Lee Wong.</p>")])
    assert scan_html(listed, store, ["alpha"]) == []
    for text in ("Kim Lee knocked 200 doors.", "Maria Wilson doubled sign-ups."):
        page = render([("html", f"<li>{text}</li>")])
        assert [leak.kind for leak in scan_html(page, store, ["alpha"])] == ["name"], text


def test_a_list_of_staff_first_names_is_not_a_members_name(tmp_path):
    """A card's team "Ana, Lee" read as "Ana Lee", a member of another group: every
    report of the cycle was withheld (the demo's, once allowed names were no longer
    strung together)."""
    (tmp_path / "cohort.yml").write_text(
        "id: c\nname: C\norganizations:\n  - {id: alpha, name: Alpha, staff: [Ana, Lee]}\n"
    )
    store = tmp_path / "store.duckdb"
    write_people(store, [("alpha", "a1", "Ana", "Lee", None, None, None)])
    team = render([("html", "<dt>Alpha</dt><dd>Ana, Lee</dd>")])
    assert scan_html(team, store, ["alpha"]) == []
    named = render([("html", "<p>Ana Leeson came.</p>")])
    assert scan_html(named, store, ["alpha"]) == []  # (another word)
