"""The share report, saved values and follow-up lists on a small hand-built cohort."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from cyclebook import store
from cyclebook.config import RATE_METRICS
from cyclebook.metrics import METRICS, previous_values, read_results, read_values
from cyclebook.paths import notebooks_dir
from cyclebook.phases import load_context, share

from .cohortbuild import make_cohort
from .storebuild import StoreBuilder, at

PII = re.compile(r"First(old|new)|Last(old|new)|@example\.org|555-01|act-old|mob-new")


@pytest.fixture
def cohort(tmp_path: Path):
    return make_cohort(tmp_path / "cohort")


def html_of(blocks) -> str:
    return "".join(b.html for b in blocks)


def test_organization_report(cohort):
    ctx = load_context("share", str(cohort.root), "c2", "org", "organization")
    res = share.compute(ctx)
    blocks = share.report_blocks(ctx, res, share.previous_results(ctx))
    html = html_of(blocks)
    for heading in (
        "What the numbers say",
        "Headline numbers",
        "Against the cycle card",
        "Breadth and depth",
        "The ladder of engagement",
        "Movement and conversion",
        "How the base grew",
        "Did new people stay?",
        "Leaders and one-on-ones",
        "Show rates",
        "Volunteer tiers",
        "Voter and member contact",
        "Follow-up lists for organizers",
    ):
        assert f">{heading}<" in html, heading
    # the group's name is escaped; every figure has alt text; no personal data
    assert "Eastside &lt;Tenants&gt; &amp; Co" in html and "<Tenants>" not in html
    assert html.count("<svg ") == html.count('role="img" aria-label="') >= 4
    assert "<img " not in html
    assert not PII.search(html)
    assert "Definition used:" in html
    # story: 24 old members came to E1 + 12 new people signed up = 36 acted
    story = [b.plain for b in blocks][1]
    assert "36 people took action with Eastside <Tenants> & Co this cycle." in story
    assert "6 people went quiet for 90 days" in story
    # absorption 5/12 = 42% against target 40% → goal met
    assert "goal met" in html and "not a computed measure" in html


def test_followup_lists_are_csv_with_source_ids_and_never_in_html(cohort):
    ctx = load_context("share", str(cohort.root), "c2", "org", "organization")
    res = share.compute(ctx)
    folder = cohort.followup("org", "c2")
    written = {name: (n, path) for name, n, path in res.followup}
    assert set(written) == {"one_step", "potential_leaders", "newly_lapsed"}
    with open(folder / "newly_lapsed.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    # old0..old5: last activity 2025-12-20, crossed 90 days during the cycle
    assert sorted(r["person_id"] for r in rows) == [f"old{i}" for i in range(6)]
    first = next(r for r in rows if r["person_id"] == "old0")
    assert first["email"] == "old0@example.org"
    assert first["action_network_id"] == "act-old0" and first["mobilize_id"] == "mob-old0"
    assert written["newly_lapsed"][0] == 6
    # new people with a single signup are one activity from "member" (2+ in 180 days)
    with open(folder / "one_step.csv", newline="") as fh:
        one_step_rows = list(csv.DictReader(fh))
    one_step = {r["person_id"] for r in one_step_rows}
    assert {f"new{i}" for i in range(5, 12)} <= one_step
    # in the ladder's order, then by id: the same file whatever DuckDB's threads did (a
    # union's rows came in any order with more than one thread). Supporter -> Member
    # (2+ activities) first, then Member -> Active (3+ attended: old20, old24, old28)
    assert [(r["rung"], r["person_id"]) for r in one_step_rows] == [
        ("Supporter", p)
        for p in ["new10", "new11", *(f"new{i}" for i in range(5, 10))]
        + [f"old{i}" for i in range(6)]
    ] + [("Member", p) for p in ("old20", "old24", "old28")]
    assert (folder / "one_step.csv").stat().st_mode & 0o077 == 0  # owner only
    html = html_of(share.report_blocks(ctx, res))
    assert "newly_lapsed.csv" in html and str(folder) not in html
    assert not PII.search(html)


def test_do_not_contact_people_are_left_out(cohort):
    ctx = load_context("share", str(cohort.root), "c2", "org", "organization")
    share.compute(ctx)
    text = "".join(p.read_text() for p in cohort.followup("org", "c2").glob("*.csv"))
    assert "quiet" not in text


def test_do_not_contact_people_are_left_out_of_every_list(tmp_path):
    # a person on each list, and beside each one marked do not contact: only the first
    from cyclebook.metrics import compute_metrics

    from .storebuild import make_card, make_org

    b = StoreBuilder(tmp_path / "store.duckdb")
    for who in ("keep", "quiet"):
        dnc = who == "quiet"
        # a signup in the cycle: a supporter one activity short of member (2 in 180 days)
        b.person(f"{who}1", at("2026-01-01"), dnc=dnc)
        b.act(f"{who}1", "signup", at("2026-03-10"))
        # three events attended in the cycle: active, the rung just below leader
        b.person(f"{who}2", at("2026-01-01"), dnc=dnc)
        for day in ("2026-03-10", "2026-03-20", "2026-04-01"):
            b.act(f"{who}2", "attendance", at(day), status="registered", attended=True)
        # last active 2025-12-15: 90 days without activity on 2026-03-15, in the cycle
        b.person(f"{who}3", at("2025-06-01"), dnc=dnc)
        b.act(f"{who}3", "signup", at("2025-12-15"))
    b.build()
    c1 = make_card("c1", "2026-01-19", "2026-03-02")
    res = compute_metrics(
        b.path,
        make_org(),
        make_card("c2", previous="c1"),
        c1,
        followup_dir=tmp_path / "followup",
        save=False,
    )
    listed = {name: path.read_text() for name, _, path in res.followup}
    assert "keep1" in listed["one_step"]
    assert "keep2" in listed["potential_leaders"]
    assert "keep3" in listed["newly_lapsed"]
    assert "quiet" not in "".join(listed.values())


def test_cohort_audience_shows_only_consented_and_suppresses(cohort):
    ctx = load_context("share", str(cohort.root), "c2", "org", "cohort")
    res = share.compute(ctx)
    html = html_of(share.report_blocks(ctx, res))
    # consent for the cohort: ladder, active_base, new_people, absorption
    assert ">The ladder of engagement<" in html
    assert ">Voter and member contact<" not in html
    assert ">Volunteer tiers<" not in html
    assert ">Follow-up lists for organizers<" not in html
    assert "&lt;10" in html  # leaders on the ladder: 3 → "<10"
    # absorption 5 of 12: numerator is small, so the rate is withheld
    assert "withheld" in html
    assert not res.followup  # no follow-up lists written for another audience
    assert "<svg" not in html and "<img " not in html  # charts would show exact small counts


def test_values_are_saved_and_compared_with_the_previous_cycle(cohort):
    c1 = load_context("share", str(cohort.root), "c1", "org", "organization")
    share.compute(c1)
    c2 = load_context("share", str(cohort.root), "c2", "org", "organization")
    res = share.compute(c2)
    saved = read_values(cohort.store, org_ids=["org"], metrics=["active_base"], headline_only=True)
    assert set(saved.cycle) == {"c1", "c2"}
    again = read_results(cohort.store, "c2", "org")
    assert again.value("active_base", "end") == res.value("active_base", "end") == 42
    prev = previous_values(cohort.store, "org", ["c1"])
    # at the end of c1 (2026-03-02) the 30 old members were active (365 days)
    assert prev["c1"].value("active_base", "end") == 30
    blocks = share.report_blocks(c2, res, share.previous_results(c2))
    table = next(b.plain for b in blocks if b.plain.startswith("Headline numbers this cycle"))
    line = next(ln for ln in table.splitlines() if "Active base at the end" in ln)
    assert "42" in line and "30" in line and "+12" in line
    # nothing was redefined between the cycles
    assert "definition changed" not in "\n".join(b.plain for b in blocks)
    status, _ = share.card_status(share.View(c2, res, share.previous_results(c2)))
    card_table = status[1].plain
    assert "up from 0 last cycle" in card_table  # leaders: 0 at the end of c1, 3 now
    assert all(res.headline(m) is not None for m in METRICS)
    # the card's check of a rate target knows which headlines are rates
    assert {m for m in METRICS if res.headline(m).is_rate} == RATE_METRICS
    # computing again replaces, it does not duplicate
    share.compute(c2)
    assert len(read_values(cohort.store, org_ids=["org"], cycles=["c2"])) == len(res.values)


def test_card_and_report_share_one_view_of_the_previous_cycle(cohort, monkeypatch, capsys):
    # the notebook's card and report cells show the same figures, the previous cycle's
    # values read once (and, for the cohort, their suppression worked out once), with
    # this cycle's: a report attaches the store once to read (and once to save)
    share.compute(load_context("share", str(cohort.root), "c1", "org", "organization"))
    opened = []
    real = store.connect

    def counting(path, **kwargs):
        opened.append("write" if kwargs.get("write") else "read")
        return real(path, **kwargs)

    monkeypatch.setattr(store, "connect", counting)
    own = load_context("share", str(cohort.root), "c2", "org", "organization")
    res = share.compute(own)
    share.show_card(own, res)
    share.report(own, res)
    assert opened == ["read", "write"]  # the values computed, then saved
    opened.clear()
    ctx = load_context("share", str(cohort.root), "c2", "org", "cohort")
    res = share.compute(ctx)
    share.show_card(ctx, res)
    assert share.shown_view(ctx, res) is share.shown_view(ctx, res)
    share.report(ctx, res)
    assert opened == ["read"]  # the organization's saved values, fresh: shown again
    expected = share.report_blocks(ctx, res, share.previous_results(ctx))
    assert [b.html for b in share.view_blocks(share.shown_view(ctx, res))] == [
        b.html for b in expected
    ]
    shown = capsys.readouterr().out
    assert "Against the cycle card" in shown
    assert "Last cycle" in shown
    # results computed again: a view of their own
    again = share.compute(ctx)
    assert share.shown_view(ctx, again).res is again


def test_a_cohort_report_reads_the_cycles_before_with_its_values(cohort, monkeypatch):
    # a third cycle: the cohort's report suppresses the previous cycle's figures as that
    # cycle's own report did, after the cycle before it (read with this cycle's values)
    (cohort.root / "c3").mkdir()
    (cohort.root / "c3" / "cycle.yml").write_text(
        "id: c3\ntitle: Third\nprevious: c2\nhow_might_we: ['How might we grow?']\n"
        "hypothesis: If we grow then we grow.\ndesign: More.\n"
        "start: 2026-04-13\nend: 2026-05-25\n"
    )
    for cycle in ("c1", "c2", "c3"):
        share.compute(load_context("share", str(cohort.root), cycle, "org", "organization"))
    ctx = load_context("share", str(cohort.root), "c3", "org", "cohort")
    res = share.compute(ctx)
    view = share.shown_view(ctx, res)
    assert [r.cycle for r in share.store_reads_of(ctx, res)["earlier"]] == ["c1"]
    from_store = share.View(ctx, res, share.previous_results(ctx))
    assert view.safe == from_store.safe and view.safe_prev == from_store.safe_prev
    assert view.safe_prev  # (suppression worked out for the previous cycle's figures)
    assert html_of(share.view_blocks(view)) == html_of(share.view_blocks(from_store))


@pytest.mark.parametrize(
    ("rows", "columns"),
    [
        (
            [
                {"List": "One step", "People": 12, "File": "a.csv"},
                {"List": "Lapsed", "People": 1234, "File": "b.csv"},
            ],
            None,
        ),
        (
            [
                {"Measure": "x", "Why": None, "Status": "adopted"},
                {"Measure": "<y>", "Why": "", "Status": "–"},
            ],
            None,
        ),
        ([{"Tool": "mobilize", "New people": "<10", "Came back": "3"}], ["Tool", "New people"]),
        ([{"Rung": "a"}, {"Rung": "b", "Total": "7"}], None),  # a key the first row lacks
        ([], ["Tool that knew them first", "New people"]),
        ([], None),
    ],
)
def test_a_table_of_rows_is_the_table_of_their_frame(rows, columns):
    # the report's tables come from its rows, without a pandas frame: the same cells
    import pandas as pd

    from cyclebook import display as d

    caption = "A caption & more"
    expected = d.table(pd.DataFrame(rows, columns=columns), caption)
    shown = share.rows_table(rows, caption, columns)
    assert (shown.html, shown.plain) == (expected.html, expected.plain)


def test_definition_change_is_flagged(cohort):
    c1 = load_context("share", str(cohort.root), "c1", "org", "organization")
    share.compute(c1)
    text = (cohort.root / "cohort.yml").read_text()
    (cohort.root / "cohort.yml").write_text(
        text.replace(
            "    timezone: UTC\n", "    timezone: UTC\n    metrics: {active_window_days: 180}\n"
        )
    )
    c2 = load_context("share", str(cohort.root), "c2", "org", "organization")
    res = share.compute(c2)
    plain = "\n".join(b.plain for b in share.report_blocks(c2, res, share.previous_results(c2)))
    assert "The definition changed since the last cycle for: Active base at the end" in plain


def test_a_third_cycle_compares_retention_without_a_warning(cohort):
    """Retention's definition named the previous cycle's id ('during cycle c1'), so from
    the third cycle on every report warned that its definition had changed."""
    card = (cohort.root / "c2" / "cycle.yml").read_text()
    (cohort.root / "c3").mkdir()
    (cohort.root / "c3" / "cycle.yml").write_text(
        card.replace("id: c2", "id: c3")
        .replace("previous: c1", "previous: c2")
        .replace("start: 2026-03-02", "start: 2026-04-13")
        .replace("end: 2026-04-13", "end: 2026-05-25")
    )
    for cycle in ("c2", "c3"):
        ctx = load_context("share", str(cohort.root), cycle, "org", "organization")
        res = share.compute(ctx)
    plain = "\n".join(b.plain for b in share.report_blocks(ctx, res, share.previous_results(ctx)))
    line = next(ln for ln in plain.splitlines() if "Retention from the previous cycle" in ln)
    assert "during the previous cycle" in line
    assert "definition changed" not in plain


def test_ladder_change_is_flagged_on_the_measures_that_count_rungs(cohort):
    c1 = load_context("share", str(cohort.root), "c1", "org", "organization")
    share.compute(c1)
    # the 'active' rung needs two attended events instead of three from c2 on
    text = (cohort.root / "cohort.yml").read_text()
    ladder = "\n".join(
        f"      - {{name: {r.name}, label: {r.label}, window_days: {r.window_days}, "
        f"definition: {r.definition!r}, any_of: "
        + (
            "[{activity_types: [attendance], min_count: 2, attended_only: true}]"
            if r.name == "active"
            else "["
            + ", ".join(str(c.model_dump(mode="json", exclude_none=True)) for c in r.any_of)
            + "]"
        )
        + "}"
        for r in c1.org.ladder
    )
    (cohort.root / "cohort.yml").write_text(
        text.replace("    timezone: UTC\n", "    timezone: UTC\n    ladder:\n" + ladder + "\n", 1)
    )
    c2 = load_context("share", str(cohort.root), "c2", "org", "organization")
    assert c2.org.ladder[2].any_of[0].min_count == 2
    res = share.compute(c2)
    plain = "\n".join(b.plain for b in share.report_blocks(c2, res, share.previous_results(c2)))
    note = next(ln for ln in plain.splitlines() if "The definition changed since" in ln)
    assert "People who moved up a rung (depth)" in note and "Leaders;" in note
    assert "Active base" not in note and "New people" not in note
    assert "The ladder's rungs changed" in note


@pytest.mark.e2e
def test_share_notebook_runs_through_papermill(cohort, tmp_path):
    import papermill

    out = tmp_path / "share.ipynb"
    papermill.execute_notebook(
        str(notebooks_dir() / "2_share.ipynb"),
        str(out),
        parameters={
            "cohort_dir": str(cohort.root),
            "cycle": "c2",
            "org_id": "org",
            "audience": "organization",
        },
        kernel_name="python3",
        progress_bar=False,
        cwd=str(notebooks_dir()),
    )
    text = out.read_text()
    assert "Headline numbers" in text and "Follow-up lists for organizers" in text
    assert '<svg xmlns=\\"http://www.w3.org/2000/svg\\" class=\\"cb-chart\\"' in text
    assert not PII.search(text)
    assert "Traceback" not in text and '"name": "stderr"' not in text
    assert (cohort.followup("org", "c2") / "potential_leaders.csv").exists()


def test_followup_names_cannot_run_as_spreadsheet_formulas(cohort):
    import duckdb

    con = duckdb.connect(str(cohort.store))
    con.execute(
        "UPDATE person_pii SET first_name = '=HYPERLINK(\"http://x\")' WHERE person_id = 'old0'"
    )
    con.close()
    ctx = load_context("share", str(cohort.root), "c2", "org", "organization")
    share.compute(ctx)
    with open(cohort.followup("org", "c2") / "newly_lapsed.csv", newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["person_id"] == "old0")
    assert row["first_name"].startswith("'=")
    assert row["phone"].startswith("555")  # phones are left as they are


def test_followup_lists_say_what_each_person_allowed(cohort):
    """The lists gave an organizer the phone of a person who had opted out of texts, and
    nothing to tell: each row now says whether the person may be emailed and texted."""
    import duckdb

    con = duckdb.connect(str(cohort.store))
    con.execute("UPDATE person SET email_ok = true, sms_ok = false WHERE person_id = 'old0'")
    con.execute("UPDATE person SET email_ok = false, sms_ok = true WHERE person_id = 'old1'")
    con.execute("UPDATE person SET email_ok = NULL, sms_ok = NULL WHERE person_id = 'old2'")
    con.close()
    ctx = load_context("share", str(cohort.root), "c2", "org", "organization")
    share.compute(ctx)
    with open(cohort.followup("org", "c2") / "newly_lapsed.csv", newline="") as fh:
        rows = {r["person_id"]: r for r in csv.DictReader(fh)}
    allowed = {p: (rows[p]["may_email"], rows[p]["may_text"]) for p in ("old0", "old1", "old2")}
    assert allowed == {
        "old0": ("yes", "no"),
        "old1": ("no", "yes"),
        "old2": ("unknown", "unknown"),
    }
    assert "email_ok" not in rows["old0"] and rows["old0"]["phone"].startswith("555")


def test_followup_joins_a_persons_ids_of_one_tool_in_order(cohort):
    """A person found under two ids of one tool (merged by email) gets both, sorted and
    joined by ';', in that tool's column; a name starting with + or @ gets a quote and a
    missing name stays empty."""
    import duckdb

    con = duckdb.connect(str(cohort.store))
    con.execute(
        "INSERT INTO identity (org_id, person_id, source, source_id) "
        "VALUES ('org', 'old0', 'action_network', 'act-0-older')"
    )
    con.execute(
        "UPDATE person_pii SET first_name = '+Ana', last_name = NULL WHERE person_id = 'old1'"
    )
    con.execute("UPDATE person_pii SET first_name = '@Bo' WHERE person_id = 'old2'")
    con.close()
    ctx = load_context("share", str(cohort.root), "c2", "org", "organization")
    share.compute(ctx)
    with open(cohort.followup("org", "c2") / "newly_lapsed.csv", newline="") as fh:
        rows = {r["person_id"]: r for r in csv.DictReader(fh)}
    assert rows["old0"]["action_network_id"] == "act-0-older;act-old0"
    assert rows["old0"]["mobilize_id"] == "mob-old0"
    assert (rows["old1"]["first_name"], rows["old1"]["last_name"]) == ("'+Ana", "")
    assert rows["old2"]["first_name"] == "'@Bo"
    assert not rows["old3"]["first_name"].startswith("'")


def test_followup_shows_the_email_or_phone_a_tool_knows_a_person_by(cohort):
    """Spoke names a contact by the cell, a sheet without an id column by the email: the
    store keeps those ids as salted hashes (store.personal_key_sql), and the list shows
    the email or phone itself, which is what the organizer loads back into the tool. A
    hash of a value the person no longer has in person_pii is left out, never shown."""
    import hashlib

    import duckdb

    def key(value: str) -> str:
        return "hash:" + hashlib.sha256(f"s4lt:key:{value}".encode()).hexdigest()[:32]

    con = duckdb.connect(str(cohort.store))
    con.execute("INSERT OR REPLACE INTO meta VALUES ('match_salt', 's4lt')")
    con.execute("UPDATE person_pii SET phone = '+16175550100' WHERE person_id = 'old0'")
    for source, value in [
        ("spoke", "+16175550100"),
        ("sheet:roster", "old0@example.org"),
        ("action_network", "gone@example.org"),  # an email old0 no longer has
    ]:
        con.execute(
            "INSERT INTO identity (org_id, person_id, source, source_id) "
            "VALUES ('org', 'old0', ?, ?)",
            [source, key(value)],
        )
    con.close()
    ctx = load_context("share", str(cohort.root), "c2", "org", "organization")
    share.compute(ctx)
    path = cohort.followup("org", "c2") / "newly_lapsed.csv"
    with open(path, newline="") as fh:
        rows = {r["person_id"]: r for r in csv.DictReader(fh)}
    assert rows["old0"]["spoke_id"] == "+16175550100"
    assert rows["old0"]["sheet:roster_id"] == "old0@example.org"
    assert rows["old0"]["action_network_id"] == "act-old0"
    assert rows["old0"]["mobilize_id"] == "mob-old0"
    assert rows["old1"]["spoke_id"] == ""
    assert "hash:" not in path.read_text()


def test_funder_audience_sees_only_what_the_group_agreed(cohort):
    ctx = load_context("share", str(cohort.root), "c2", "org", "funder")
    res = share.compute(ctx)
    blocks = share.report_blocks(ctx, res)
    html = html_of(blocks)
    # consent for funders: active_base only
    assert ">How the base grew<" in html and ">The ladder of engagement<" not in html
    headline = next(b.plain for b in blocks if b.plain.startswith("Headline numbers this"))
    assert "Active base at the end of the cycle" in headline
    assert "Absorption" not in headline and "Leaders" not in headline
    assert not PII.search(html)
    # the card's absorption and leaders are not shared with funders: its table said
    # "not yet measured", as if they had not been computed
    card = share.card_results(ctx, res)
    assert card["absorption"] == card["leaders"] == "not shared with this audience"


def test_an_organization_without_data_gets_a_plain_page(cohort):
    ctx = load_context("share", str(cohort.root), "c2", "quiet-org", "organization")
    res = share.compute(ctx)
    blocks = share.report_blocks(ctx, res, share.previous_results(ctx))
    plain = "\n".join(b.plain for b in blocks)
    assert "No activity is recorded for Quiet Org" in plain
    assert "No contact attempts were recorded during this cycle." in plain
    assert res.value("absorption", "cycle") is None  # nobody new: unknown, not 0%


def test_a_small_group_shown_to_a_funder_is_not_said_to_have_no_activity(cohort):
    """Four people acted in the cycle: the funder sees breadth "<10", and the summary
    says the figures are small (every count of its sentences is "<10"), not that
    nothing happened."""
    text = (cohort.root / "cohort.yml").read_text()
    (cohort.root / "cohort.yml").write_text(
        text.replace(
            "    name: Quiet Org\n",
            "    name: Quiet Org\n    consent:\n      funder: [active_base]\n",
        )
    )
    b = StoreBuilder(cohort.store, "quiet-org")
    for i in range(4):
        b.act(b.person(f"q{i}", at("2026-03-05")), "signup", at("2026-03-05"))
    b.build()
    ctx = load_context("share", str(cohort.root), "c2", "quiet-org", "funder")
    blocks = share.report_blocks(ctx, share.compute(ctx))
    plain = "\n".join(b.plain for b in blocks)
    assert "No activity is recorded" not in plain
    assert blocks[1].plain == (
        "- Quiet Org's figures for this cycle are small: for the funder, counts from 1 to 9 "
        'are shown as "<10" so that no one can be picked out, and no sentence is drawn '
        "from them."
    )
    assert "<10" in next(b.plain for b in blocks if b.plain.startswith("Headline numbers"))


def test_definition_history_is_shown(cohort):
    text = (cohort.root / "cohort.yml").read_text()
    history = (
        "    measure_history:\n"
        "      - {measure: ladder, date: 2026-02-01, proposed_by: Ana, why: Dues alone did "
        "not make a member, change: member needs two actions}\n"
    )
    (cohort.root / "cohort.yml").write_text(
        text.replace("    consent:\n", history + "    consent:\n", 1)
    )
    org_ctx = load_context("share", str(cohort.root), "c2", "org", "organization")
    res = share.compute(org_ctx)
    plain = "\n".join(b.plain for b in share.report_blocks(org_ctx, res))
    assert (
        "How the group chose its measures" in plain and "Dues alone did not make a member" in plain
    )
    assert "Ana" in plain
    cohort_ctx = load_context("share", str(cohort.root), "c2", "org", "cohort")
    plain = "\n".join(b.plain for b in share.report_blocks(cohort_ctx, res))
    assert "Dues alone did not make a member" in plain and "Ana" not in plain


# --------------------------------------------------------------------------- reuse


def _poke(store_path, sql: str, params: list | None = None) -> None:
    import duckdb

    con = duckdb.connect(str(store_path))
    try:
        con.execute(sql, params or [])
    finally:
        con.close()


def _plant_active_base(store_path, value: float) -> None:
    """Change one saved figure in place (so a report that reuses it shows it)."""
    _poke(
        store_path,
        "UPDATE metric_value SET value = ? WHERE cycle = 'c2' AND org_id = 'org' "
        "AND metric = 'active_base' AND period = 'end' AND dimension = ''",
        [value],
    )


@pytest.mark.parametrize("audience", ["cohort", "funder"])
def test_other_audiences_show_exactly_what_a_fresh_computation_would(cohort, audience):
    from cyclebook.metrics import compute_metrics

    for cycle in ("c1", "c2"):  # c1 has no previous cycle: its results carry a note
        share.compute(load_context("share", str(cohort.root), cycle, "org", "organization"))
        ctx = load_context("share", str(cohort.root), cycle, "org", audience)
        reused = share.compute(ctx)
        fresh = compute_metrics(
            cohort.store, ctx.org, ctx.card, share.previous_card(ctx), save=False
        )
        key = lambda v: (v.metric, v.period, v.dimension)  # noqa: E731
        assert sorted(reused.values, key=key) == sorted(fresh.values, key=key)
        assert reused.notes == fresh.notes and not reused.followup
        previous = share.previous_results(ctx)
        assert html_of(share.report_blocks(ctx, reused, previous)) == html_of(
            share.report_blocks(ctx, fresh, previous)
        )
    c1 = load_context("share", str(cohort.root), "c1", "org", audience)
    assert share.compute(c1).notes == ["Retention needs a previous cycle (the card names none)."]


def test_other_audiences_reuse_fresh_values_and_recompute_stale_ones(cohort):
    own = load_context("share", str(cohort.root), "c2", "org", "organization")
    funder = load_context("share", str(cohort.root), "c2", "org", "funder")
    assert share.compute(own).value("active_base", "end") == 42
    # fresh: the funder report reads the saved values (a planted figure shows it)
    _plant_active_base(cohort.store, 41)
    assert share.compute(funder).value("active_base", "end") == 41
    # the organization's own report always computes (and writes its follow-up lists)
    assert share.compute(own).value("active_base", "end") == 42
    _plant_active_base(cohort.store, 41)
    # a sync of the organization after the values were computed: computed again, saved
    _poke(
        cohort.store,
        "INSERT INTO sync_run (org_id, run_id, started_at, finished_at, status) "
        "VALUES ('org', 'later', now(), now(), 'ok')",
    )
    assert share.compute(funder).value("active_base", "end") == 42
    assert read_results(cohort.store, "c2", "org").value("active_base", "end") == 42
    # ... and once saved after that sync, reused again
    _plant_active_base(cohort.store, 40)
    assert share.compute(funder).value("active_base", "end") == 40
    # a sync of another organization does not make them stale
    _poke(
        cohort.store,
        "INSERT INTO sync_run (org_id, run_id, started_at, finished_at, status) "
        "VALUES ('quiet-org', 'other', now(), now(), 'ok')",
    )
    assert share.compute(funder).value("active_base", "end") == 40


def test_changed_definitions_are_computed_again(cohort):
    own = load_context("share", str(cohort.root), "c2", "org", "organization")
    share.compute(own)
    _plant_active_base(cohort.store, 41)
    text = (cohort.root / "cohort.yml").read_text()
    (cohort.root / "cohort.yml").write_text(
        text.replace(
            "    timezone: UTC\n", "    timezone: UTC\n    metrics: {active_window_days: 30}\n", 1
        )
    )
    cohort_ctx = load_context("share", str(cohort.root), "c2", "org", "cohort")
    res = share.compute(cohort_ctx)
    # 30-day window: only the people active since 2026-03-14 count at the end
    assert res.value("active_base", "end") not in (41, 42)
    assert "30 days" in res.get("active_base", "end").definition
    # consent is not a definition: changing it keeps the values fresh
    share.compute(load_context("share", str(cohort.root), "c2", "org", "organization"))
    _plant_active_base(cohort.store, 7)
    text = (cohort.root / "cohort.yml").read_text()
    (cohort.root / "cohort.yml").write_text(
        text.replace("funder: [active_base]", "funder: [active_base, leaders]")
    )
    funder = load_context("share", str(cohort.root), "c2", "org", "funder")
    assert share.compute(funder).value("active_base", "end") == 7


def test_values_saved_without_their_inputs_are_not_reused(cohort):
    from cyclebook.metrics import save_values

    own = load_context("share", str(cohort.root), "c2", "org", "organization")
    res = share.compute(own)
    res.values = [v for v in res.values if v.metric != "active_base"]
    res.add("active_base", "end", "", 41)
    save_values(cohort.store, res)  # e.g. written by another tool: no inputs digest
    funder = load_context("share", str(cohort.root), "c2", "org", "funder")
    assert share.compute(funder).value("active_base", "end") == 42


def test_values_of_a_running_cycle_are_fresh_for_the_day_they_were_computed(cohort):
    import datetime as dt

    from cyclebook.metrics.engine import inputs_digest
    from cyclebook.metrics.values import fresh_results

    own = load_context("share", str(cohort.root), "c2", "org", "organization")
    share.compute(own)
    digest = inputs_digest(own.org, own.card, share.previous_card(own))
    now = dt.datetime.now(dt.UTC)
    later = now + dt.timedelta(days=1)
    ended = dt.datetime(2026, 4, 13, tzinfo=dt.UTC)
    assert fresh_results(cohort.store, "c2", "org", digest, settled_at=ended, now=later)
    # had the cycle still been running when they were computed: only that day
    running = now + dt.timedelta(days=30)
    assert fresh_results(cohort.store, "c2", "org", digest, settled_at=running, now=now)
    assert fresh_results(cohort.store, "c2", "org", digest, settled_at=running, now=later) is None
    assert fresh_results(cohort.store, "c2", "org", "other", settled_at=ended, now=now) is None


def _card_rows(blocks) -> dict[str, list[str]]:
    """The cycle card's table of ``blocks``: its cells by measure."""
    [table] = [b for b in blocks if b.plain.startswith("Cycle metrics: goal, measure, result")]
    rows = [
        re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr><td>.*?</tr>", table.html)
    ]
    return {row[1]: row[2:] for row in rows}


def test_the_card_says_what_against_the_cycle_card_says(cohort, monkeypatch):
    """The share notebook's card read "3 (see the failure line)" where the report's own
    table said "up from 0 last cycle"; the reflect report's card read "not yet measured"
    of measures the share phase had computed and saved."""
    from cyclebook.phases import reflect

    shown: list = []
    monkeypatch.setattr(share.d, "show", lambda *blocks: shown.extend(blocks))
    monkeypatch.setattr(reflect.d, "show", lambda *blocks: shown.extend(blocks))
    c2 = load_context("reflect", str(cohort.root), "c2", "org", "organization")
    reflect.show_card(c2)  # before the share phase: nothing computed yet
    assert _card_rows(shown)["leaders"] == [
        "–",
        "not yet measured",
        "Fewer leaders than last cycle",
    ]

    share.compute(load_context("share", str(cohort.root), "c1", "org", "organization"))
    ctx = load_context("share", str(cohort.root), "c2", "org", "organization")
    res = share.compute(ctx)
    status, _ = share.card_status(share.View(ctx, res, share.previous_results(ctx)))
    assert [ln.split("  ")[-1].strip() for ln in status[1].plain.splitlines()[2:]] == [
        "goal met",  # (nobody new in c1: no absorption to compare with)
        "failure line not crossed: up from 0 last cycle",
        "not a computed measure",
    ]
    expected = {
        "absorption": ["40%", "42% (goal met)"],
        "leaders": ["–", "3 (failure line not crossed: up from 0 last cycle)"],
    }
    shown.clear()
    share.show_card(ctx, res)
    assert {m: cells[:2] for m, cells in _card_rows(shown).items()} == {
        **expected,
        "interviews with organizers": ["–", "not yet measured"],
    }
    # the reflect report's card: the values the share phase saved, as share shows them
    # (this cycle's and the previous one's in one read of the store)
    from cyclebook import store

    opened = []
    real_connect = store.connect

    def counting(*args, **kwargs):
        opened.append(args)
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(store, "connect", counting)
    shown.clear()
    reflect.show_card(c2)
    assert len(opened) == 1
    assert {m: cells[:2] for m, cells in _card_rows(shown).items()} == {
        **expected,
        "interviews with organizers": ["–", "not yet measured"],
    }
    # for the cohort: what the group shares, suppressed as in its share report
    cohort_view = load_context("reflect", str(cohort.root), "c2", "org", "cohort")
    shown.clear()
    reflect.show_card(cohort_view)
    assert {m: cells[1] for m, cells in _card_rows(shown).items()} == {
        "absorption": "withheld (too few people to show)",
        "leaders": "not shared with this audience",
        "interviews with organizers": "not yet measured",
    }


def test_figures_that_read_the_same_are_no_change(cohort):
    """ "goal met; up from 67% last cycle" was said of 67% (67.5% against 66.5%), and
    the headline table said "+1 points" between 67% and 67%."""
    from cyclebook.metrics import MetricResults

    ctx = load_context("share", str(cohort.root), "c2", "org", "organization")
    now, before = MetricResults("c2", "org"), MetricResults("c1", "org")
    now.rate("absorption", "cycle", "", 6749, 10000, "d")
    before.rate("absorption", "cycle", "", 6651, 10000, "d")
    view = share.View(ctx, now, before)
    headline = next(b.plain for b in share.headline_blocks(view) if b.plain.startswith("Headline"))
    line = next(ln for ln in headline.splitlines() if ln.startswith("Absorption"))
    assert line.split()[4:7] == ["67%", "67%", "no"]  # This cycle, Last cycle, "no change"
    assert share.card_results(ctx, now, before)["absorption"] == (
        "67% (goal met; the same as last cycle)"
    )


@pytest.mark.parametrize(
    ("value", "previous", "rate", "shown"),
    [
        (0.68, 0.67, True, "+1 point"),  # was "+1 points"
        (0.60, 0.67, True, "-7 points"),
        (0.671, 0.668, True, "no change"),
        (1 / 961, 0.0, True, "+<1 point"),  # 1 leader among 961: "<1%" after "0%"
        (0.0, 1 / 961, True, "-<1 point"),
        (0.02, 0.004, True, "+2 points"),  # 2% after "<1%" (2 - 0.4, as shown)
        (1.0, 959 / 961, True, "+<1 point"),
        (12, 11, False, "+1"),
        (1200, 2400, False, "-1,200"),
    ],
)
def test_the_change_is_the_difference_of_the_figures_as_shown(value, previous, rate, shown):
    assert share.change_shown(value, previous, rate) == shown


def test_the_story_says_one_person_not_one_people(cohort):
    """ "1 people are leaders now (0 at the start of the cycle)" was in the demo."""
    from cyclebook.metrics import MetricResults

    ctx = load_context("share", str(cohort.root), "c2", "org", "organization")
    res = MetricResults("c2", "org")
    for period, n in (("start", 1), ("end", 1), ("cycle", 1)):
        res.add("active_base", period, "", n, definition="d")
    res.add("movement", "cycle", "", 1, definition="d")
    res.add("movement", "cycle", "joined", 1, definition="d")
    res.add("new_people", "cycle", "", 1, definition="d")
    res.add("lapsed", "cycle", "", 2, definition="d")
    res.add("leaders", "start", "", 0, definition="d")
    res.add("leaders", "end", "", 1, definition="d")
    story = share.story(share.View(ctx, res, None))
    assert story[:4] == [
        "1 person took action with Eastside <Tenants> & Co this cycle.",
        "1 person moved up at least one rung of the ladder, and 1 new or returning person "
        "joined it.",
        "The active base (everyone active in the last 365 days) went from 1 to 1.",
        "1 new person came in; 2 people went quiet for 90 days (lapsed) during the cycle.",
    ]
    assert story[-1] == "1 person is a leader now (0 at the start of the cycle)."


def test_a_figure_under_a_changed_definition_is_not_compared(cohort):
    """The 'active' rung needs two attended events instead of three from c2 on: the card
    judged "Fewer leaders than last cycle" (leaders count rungs) from c1's figure, counted
    under the old ladder, and the headline table gave the change."""
    c1 = load_context("share", str(cohort.root), "c1", "org", "organization")
    share.compute(c1)
    text = (cohort.root / "cohort.yml").read_text()
    ladder = "\n".join(
        f"      - {{name: {r.name}, label: {r.label}, window_days: {r.window_days}, "
        f"definition: {r.definition!r}, any_of: "
        + (
            "[{activity_types: [attendance], min_count: 2, attended_only: true}]"
            if r.name == "active"
            else "["
            + ", ".join(str(c.model_dump(mode="json", exclude_none=True)) for c in r.any_of)
            + "]"
        )
        + "}"
        for r in c1.org.ladder
    )
    (cohort.root / "cohort.yml").write_text(
        text.replace("    timezone: UTC\n", "    timezone: UTC\n    ladder:\n" + ladder + "\n", 1)
    )
    c2 = load_context("share", str(cohort.root), "c2", "org", "organization")
    res = share.compute(c2)
    prev = share.previous_results(c2)
    blocks = share.report_blocks(c2, res, prev)
    table = next(b.plain for b in blocks if b.plain.startswith("Headline numbers this cycle"))
    rows = {ln.split("  ")[0]: ln.split() for ln in table.splitlines()[2:]}
    assert rows["Leaders"][1:7] == ["3", "0", "not", "compared", "(definition", "changed)"]
    assert rows["Active base at the end of the cycle"][8:11] == ["42", "30", "+12"]
    _, texts = share.card_status(share.View(c2, res, prev))
    assert texts == {
        "absorption": "42% (goal met)",
        "leaders": "3 (failure line for the group to judge: not compared with last cycle, "
        "the definition changed (last cycle: 0 under the earlier definition "
        '("… (rule: 3+ attendance …")))',
    }


def test_a_cycle_not_started_or_under_way_says_so():
    """Right after next-cycle the new card's report read as if its six weeks had
    happened ("0% of the people active last cycle were active again this cycle")."""
    import datetime as dt

    from .storebuild import make_card

    card = make_card("c3", "2026-12-14", "2027-01-25")

    def said(day: str) -> str:
        blocks = share.timing_blocks(card, "America/Chicago", dt.date.fromisoformat(day))
        return " ".join(block.plain.removeprefix("[info] ") for block in blocks)

    assert said("2026-12-06") == (
        "This cycle has not started: it runs from 14 Dec 2026 to 24 Jan 2027. Its figures "
        "count only what has happened by today (06 Dec 2026); a sign-up for an event to "
        "come counts once the event is held."
    )
    assert said("2027-01-24") == (
        "This cycle is under way (14 Dec 2026 to 24 Jan 2027): figures for its end are as "
        "of today (24 Jan 2027), and count only what has happened by then."
    )
    assert said("2027-01-25") == ""


def test_a_metrics_definition_is_its_headlines():
    """The card compared two cycles the headline table said could not be compared: the
    definition it read was the first saved row's, active base's breadth row (it names no
    active window), not the headline's (the end of the cycle, 365 or 400 days)."""
    from cyclebook.metrics.values import MetricResults

    res = MetricResults("c2", "org")
    res.add(
        "active_base", "cycle", "", 12, definition="People who took any action during the cycle."
    )
    res.add(
        "active_base", "end", "", 961, definition="Any activity in the 365 days before the date."
    )
    res.add("active_base", "end", "source=van", 40, definition="a breakdown")
    assert share.definitions(res) == {
        "active_base": "Any activity in the 365 days before the date."
    }
    assert share.definitions(None) == {}


def test_followup_keeps_the_ids_of_a_person_without_contacts(cohort):
    """A person whose contacts are gone (no person_pii row) is still listed with the ids
    each tool knows them by, names left empty; the columns are the contacts', then one
    per tool in name order."""
    import duckdb

    con = duckdb.connect(str(cohort.store))
    con.execute("DELETE FROM person_pii WHERE person_id = 'old0'")
    con.close()
    ctx = load_context("share", str(cohort.root), "c2", "org", "organization")
    share.compute(ctx)
    with open(cohort.followup("org", "c2") / "newly_lapsed.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = {r["person_id"]: r for r in reader}
        header = reader.fieldnames
    assert header == [
        "list",
        "person_id",
        "last_activity_at",
        "first_name",
        "last_name",
        "email",
        "phone",
        "may_email",
        "may_text",
        "action_network_id",
        "mobilize_id",
    ]
    assert rows["old0"]["action_network_id"] == "act-old0"
    assert rows["old0"]["mobilize_id"] == "mob-old0"
    assert (rows["old0"]["first_name"], rows["old0"]["email"]) == ("", "")
    assert rows["old0"]["may_email"] == "unknown"
    assert rows["old1"]["first_name"] != ""


def test_followup_lists_a_person_once_per_list():
    """A person one activity short of two rungs' rules is listed once, under the first."""
    import pyarrow as pa

    from cyclebook.metrics.followup import _first_per_person

    table = pa.table({"person_id": ["a", "b", "a", "c", "b"], "rung": list("12345")})
    kept = _first_per_person(table)
    assert kept.column("person_id").to_pylist() == ["a", "b", "c"]
    assert kept.column("rung").to_pylist() == ["1", "2", "4"]
