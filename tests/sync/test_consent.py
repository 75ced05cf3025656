"""What a person allowed is kept per record (a tool's id of them), and the person's
flags are their records' together, whatever order the exports came in and whether the
records were one person from the start or two stored people merged later: an email or
text consent only if no record refuses it, do-not-contact if any record says it."""

from __future__ import annotations

import csv
import itertools

import duckdb
import pytest

from cyclebook.forget import forget_source
from cyclebook.paths import CohortPaths
from cyclebook.phases import load_context, share
from cyclebook.store import SCHEMA_VERSION, connect

KINDS = {"an": "action_network_csv", "van": "van"}
AN_HEAD = (
    "uuid,first_name,last_name,email,zip_code,can2_phone,can2_sms_status,"
    "can2_subscription_status,can2_subscription_date\n"
)
VAN_HEAD = (
    "vanid,firstname,lastname,email,phone,addressline1,city,state,zip5,datecreated,datemodified\n"
)
# Ana's two Action Network records: u-ana (her email only) takes emails and refuses
# texts; u-ana2 (her phone only) refuses emails and takes texts. Apart, nothing links
# them; VAN's 101 holds both her email and her phone (and says nothing of consent).
ANA = ("u-ana", "ana@x.org", "", "unsubscribed", "subscribed")
ANA2 = ("u-ana2", "", "617-555-0101", "subscribed", "unsubscribed")
ZED = ("u-zed", "zed@x.org", "", "subscribed", "subscribed")  # someone else
VAN_ANA = '101,Ana,Diaz,ana@x.org,"(617) 555-0101",1 Main St,Metro,MA,02139,2026-01-20,2026-01-20\n'
# (email_ok, sms_ok, do_not_contact): neither record's alone
ANA_FLAGS = (False, False, None)


def an(*rows) -> str:
    """rows: (uuid, email, phone, sms status, email status)"""
    return AN_HEAD + "".join(
        f"{u},Ana,Diaz,{email},02139,{phone},{sms},{subscription},2026-01-05\n"
        for u, email, phone, sms, subscription in rows
    )


VAN_YU = "202,Yu,Li,yu@x.org,,2 Main St,Metro,MA,02139,2026-01-02,2026-01-02\n"


def new_cohort(make_cohort, *folders: str):
    """A cohort of these sources, each with an export of someone else (Zed, Yu) from the
    first sync on (a source added later reads every export again)."""
    c = make_cohort("".join(f"- {{kind: {KINDS[f]}, path: {f}}}\n" for f in folders))
    c.write("an/a0.csv", an(ZED))
    c.write("van/persons-0.csv", VAN_HEAD + VAN_YU)
    return c


def flags(c, source: str = "action_network", source_id: str = "u-ana") -> tuple:
    """The flags of the person holding that record."""
    return c.query(
        """SELECT p.email_ok, p.sms_ok, p.do_not_contact FROM person p JOIN identity i
           USING (org_id, person_id) WHERE i.source = ? AND i.source_id = ?""",
        [source, source_id],
    )[0]


def records(c) -> list[tuple]:
    return c.query(
        """SELECT source_id, email_ok, sms_ok, do_not_contact FROM identity
           WHERE source = 'action_network' ORDER BY source_id"""
    )


EACH_RECORD = [
    ("u-ana", True, False, None),
    ("u-ana2", False, True, None),
    ("u-zed", True, True, None),
]


@pytest.mark.parametrize("rows", [(ANA, ANA2), (ANA2, ANA)], ids=["ana-first", "ana2-first"])
def test_two_records_in_one_export_refusals_whatever_their_order(make_cohort, rows):
    """Two records of Ana in one activist report (VAN linking them): the later row's
    flags were hers, an unsubscribe in the other row dropped (emails or texts, by the
    rows' order)."""
    c = new_cohort(make_cohort, "an", "van")
    c.write("an/a1.csv", an(*rows))
    c.write("van/persons.csv", VAN_HEAD + VAN_ANA)
    c.sync()
    assert flags(c) == flags(c, "van", "101") == ANA_FLAGS
    assert flags(c, "action_network", "u-zed") == (True, True, None)
    assert records(c) == EACH_RECORD


FILES = {"an/a1.csv": an(ANA), "an/a2.csv": an(ANA2), "van/persons.csv": VAN_HEAD + VAN_ANA}


@pytest.mark.parametrize("order", list(itertools.permutations(FILES)), ids=str)
def test_two_records_synced_apart_in_any_order_or_merged_later(make_cohort, order):
    """The three exports synced one by one in every order: u-ana and u-ana2 first are
    two stored people whom VAN's record merges later; VAN first, each Action Network
    record joins the person it made. Whichever, and all at once, Ana's flags are the
    same: each record's refusal holds (the later export's flags were hers)."""
    c = new_cohort(make_cohort, "an", "van")
    merged = 0
    for rel in order:
        c.write(rel, FILES[rel])
        merged += c.sync().written.get("people merged", 0)
    assert merged == (1 if order[-1] == "van/persons.csv" else 0)
    assert flags(c) == flags(c, "action_network", "u-ana2") == ANA_FLAGS
    assert records(c) == EACH_RECORD
    at_once = new_cohort(make_cohort, "an", "van")
    for rel, content in FILES.items():
        at_once.write(rel, content)
    at_once.sync()
    assert flags(at_once) == ANA_FLAGS and records(at_once) == EACH_RECORD


def test_a_newer_export_of_a_record_gives_its_consent_back(make_cohort):
    """Ana subscribes again to emails in u-ana2 (a later activist report): that record's
    no is replaced, and no record of hers refuses emails any more; u-ana's refusal of
    texts stays. An export that says nothing of a record's consent (empty statuses)
    changes none of it; read again (--force), nothing changes."""
    c = new_cohort(make_cohort, "an", "van")
    for rel, content in FILES.items():
        c.write(rel, content)
    c.sync()
    assert flags(c) == ANA_FLAGS
    c.write("an/a3.csv", an(("u-ana2", "", "617-555-0101", "subscribed", "subscribed")))
    c.sync()
    assert flags(c) == (True, False, None)
    assert records(c)[1] == ("u-ana2", True, True, None)
    c.write("an/a4.csv", an(("u-ana", "ana@x.org", "", "", "")))
    c.sync()
    assert flags(c) == (True, False, None)
    assert records(c)[0] == ("u-ana", True, False, None)
    forced = c.sync(force=True)
    assert forced.written["person"] == forced.written["identity"] == 0
    assert flags(c) == (True, False, None)
    # u-ana's texts taken back too: no record refuses anything
    c.write("an/a5.csv", an(("u-ana", "ana@x.org", "", "subscribed", "subscribed")))
    c.sync()
    assert flags(c) == (True, True, None)


SHEET = (
    "- {{kind: generic_csv, path: {0}.csv, activity_type: attendance,\n"
    "   columns: {{email: Email, occurred_at: Date, do_not_contact: DNC}}}}\n"
)


@pytest.mark.parametrize("first", ["a", "b"])
def test_do_not_contact_in_any_record_holds(make_cohort, first):
    """Two sign-in sheets name Ana by her email (two records, one person): one says do
    not contact. Synced in either order, she is not to be contacted; a newer version
    of that very sheet without the mark (a "no") lets her be."""
    c = make_cohort(SHEET.format("a") + SHEET.format("b"))
    rows = {"a": "ana@x.org,2026-08-01,x\n", "b": "ana@x.org,2026-08-02,no\n"}
    second = "b" if first == "a" else "a"
    c.write(f"{first}.csv", "Email,Date,DNC\n" + rows[first])
    c.write(f"{second}.csv", "Email,Date,DNC\nzed@x.org,2026-08-01,\n")
    c.sync()
    c.write(f"{second}.csv", "Email,Date,DNC\nzed@x.org,2026-08-01,\n" + rows[second])
    c.sync()
    assert c.query("SELECT count(*) FROM person") == [(2,)]
    assert c.query(
        """SELECT p.do_not_contact FROM person p JOIN person_pii pii USING (org_id, person_id)
           WHERE pii.email = 'ana@x.org'"""
    ) == [(True,)]
    c.write("a.csv", "Email,Date,DNC\nana@x.org,2026-08-01,no\n")
    c.sync()
    assert c.query(
        """SELECT p.do_not_contact FROM person p JOIN person_pii pii USING (org_id, person_id)
           WHERE pii.email = 'ana@x.org'"""
    ) == [(False,)]


CARD = """\
id: c1
title: First look
how_might_we: ["How might we see our base?"]
hypothesis: If we look then we learn.
design: Share a first report.
start: 2026-01-19
end: 2026-03-02
"""


def _may(c) -> dict[str, tuple[str, str]]:
    """Each one-step list row's (may_email, may_text), by its Action Network id, from the
    share report's follow-up lists (Ana and Zed: one sign-up each, one short of member)."""
    ctx = load_context("share", str(c.root), "c1", "org", "organization")
    share.compute(ctx)
    path = CohortPaths.of(c.root).followup("org", "c1") / "one_step.csv"
    with open(path, newline="") as fh:
        return {r["action_network_id"]: (r["may_email"], r["may_text"]) for r in csv.DictReader(fh)}


def test_the_followup_lists_show_each_records_refusal_and_a_consent_given_back(make_cohort):
    """What organizers contact people from: Ana's lists said she could be texted (the
    later export's flags) though a record of hers had opted out of texts."""
    c = new_cohort(make_cohort, "an", "van")
    for rel, content in FILES.items():
        c.write(rel, content)
    c.sync()
    (c.root / "c1").mkdir()
    (c.root / "c1" / "cycle.yml").write_text(CARD)
    assert _may(c) == {"u-ana;u-ana2": ("no", "no"), "u-zed": ("yes", "yes")}
    c.write("an/a3.csv", an(("u-ana2", "", "617-555-0101", "subscribed", "subscribed")))
    c.sync()
    assert _may(c) == {"u-ana;u-ana2": ("yes", "no"), "u-zed": ("yes", "yes")}


def _as_schema_9(c, ana_flags: tuple) -> None:
    """The store as schema 9 kept it: no consent per record, Ana's flags the later
    export's (a2.csv's u-ana2: no emails, texts)."""
    con = duckdb.connect(str(c.root / "store.duckdb"))
    try:
        for column in ("email_ok", "sms_ok", "do_not_contact"):
            con.execute(f"ALTER TABLE identity DROP COLUMN {column}")
        con.execute(
            """UPDATE person SET email_ok = ?, sms_ok = ?, do_not_contact = ?
               WHERE person_id IN (SELECT person_id FROM identity WHERE source_id = 'u-ana')""",
            list(ana_flags),
        )
        con.execute(
            """UPDATE meta SET value = '9' WHERE key = 'schema_version';
               UPDATE meta SET value = 'older' WHERE key = 'sync_code:org'"""
        )
    finally:
        con.close()
    with connect(c.root / "store.duckdb", write=True):
        pass  # (any writer migrates the store)


def everyone(c) -> list[tuple]:
    return c.query(
        """SELECT source, source_id, email_ok, sms_ok, do_not_contact FROM identity
           ORDER BY ALL"""
    )


def test_an_upgraded_store_gives_each_record_its_own_consent_back(make_cohort):
    """A store of schema 9 kept consent per person: each of Ana's records gets hers (a
    stand-in, nothing lost); the sync after the upgrade reads every export again and
    each record takes what its exports say, nothing included: VAN's, which says nothing,
    kept a copied refusal of emails that a re-subscribe in u-ana2 could never lift."""
    c = new_cohort(make_cohort, "an", "van")
    for rel, content in FILES.items():
        c.write(rel, content)
    c.sync()
    _as_schema_9(c, (False, True, None))
    assert c.query("SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    assert everyone(c) == [
        ("action_network", "u-ana", False, True, None),
        ("action_network", "u-ana2", False, True, None),
        ("action_network", "u-zed", True, True, None),
        ("van", "101", False, True, None),
        ("van", "202", None, None, None),
    ]
    assert flags(c) == (False, True, None)  # (as it was)
    result = c.sync()  # every export read again: other sync code
    assert not any(f.carried for f in result.files)
    assert everyone(c) == [
        ("action_network", "u-ana", True, False, None),
        ("action_network", "u-ana2", False, True, None),
        ("action_network", "u-zed", True, True, None),
        ("van", "101", None, None, None),
        ("van", "202", None, None, None),
    ]
    assert flags(c) == ANA_FLAGS
    assert c.query("SELECT count(*) FROM meta WHERE key LIKE 'consent_from_person%'") == [(0,)]
    c.write("an/a3.csv", an(("u-ana2", "", "617-555-0101", "subscribed", "subscribed")))
    c.sync()
    assert flags(c) == (True, False, None)


def test_an_upgraded_stores_record_whose_export_is_gone_keeps_its_stand_in(make_cohort):
    """u-ana's export (a1.csv) is no longer in the folder when the store is upgraded:
    nothing tells what that record said, so it keeps Ana's flags of before (her refusal
    of emails among them), and the later syncs, which read only new exports, keep them."""
    c = new_cohort(make_cohort, "an", "van")
    for rel, content in FILES.items():
        c.write(rel, content)
    c.sync()
    _as_schema_9(c, (False, True, None))
    (c.exports / "an" / "a1.csv").unlink()
    c.sync()
    assert everyone(c)[:2] == [
        ("action_network", "u-ana", False, True, None),
        ("action_network", "u-ana2", False, True, None),
    ]
    assert flags(c) == (False, True, None)
    c.write("an/a3.csv", an(("u-ana2", "", "617-555-0101", "unsubscribed", "subscribed")))
    c.sync()
    assert flags(c) == (False, False, None)


def test_a_source_forgotten_takes_its_records_consent_with_it(make_cohort):
    """Sheet a (do not contact Ana) is taken out of cohort.yml and forgotten: Ana keeps
    sheet b's record, which says she may be contacted, and is worked out again from it,
    as the sync after the forget finds her (it reads sheet b again in full)."""
    c = make_cohort(SHEET.format("a") + SHEET.format("b"))
    c.write("a.csv", "Email,Date,DNC\nana@x.org,2026-08-01,x\n")
    c.write("b.csv", "Email,Date,DNC\nana@x.org,2026-08-02,no\nzed@x.org,2026-08-02,x\n")
    c.sync()
    dnc = """SELECT pii.email, p.do_not_contact FROM person p
             JOIN person_pii pii USING (org_id, person_id) ORDER BY 1"""
    assert c.query(dnc) == [("ana@x.org", True), ("zed@x.org", True)]
    cohort_yml = c.root / "cohort.yml"
    lines = cohort_yml.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if "path: a.csv" in line)
    cohort_yml.write_text("\n".join(lines[:at] + lines[at + 2 :]) + "\n")  # (its two lines)
    forget_source(c.root, "org", "sheet:a", apply=True)
    assert c.query(dnc) == [("ana@x.org", False), ("zed@x.org", True)]
    assert c.sync().status == "ok"
    assert c.query(dnc) == [("ana@x.org", False), ("zed@x.org", True)]
