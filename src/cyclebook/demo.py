# ruff: noqa: E501 - SQL and generated-data literals read better unwrapped
"""The demo cohort's exports: seeded, realistic, messy files in each tool's real format.

``generate_demo(cohort_dir)`` writes, for every organization in ``cohort.yml``, the files
its sources name under ``orgs/<org_id>/exports/<source.path>``. The same seed and scale
give the same bytes every time (numpy's seeded generator, no clock, no set ordering).

The people are fictional. Behaviour is shaped so the metrics mean something: people join
over time (more lately), take further actions at a personal rate, some move up (leaders
host events, hold one-on-ones, are assessed), some lapse; events have no-shows; texts get
replies and opt-outs; door knocks are mostly "Not Home". A few people appear in two tools
with different email case and phone formatting, and a few belong to two state-power
affiliates (same email) so the network roll-up has someone to count once.

The messiness of real exports is planted on purpose: UTF-8 byte-order marks, a
Windows-1252 spreadsheet with Excel serial dates, blank trailing rows, quoted newlines in
addresses, duplicated people, a repeated header line, naive and UTC timestamps mixed,
custom columns, and two successive Action Network exports of one organization.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cyclebook.config import Organization, Source, load_cohort
from cyclebook.errors import CyclebookError
from cyclebook.paths import CohortPaths, repo_root
from cyclebook.sync.readers import AN_REPORT_COLUMNS

__all__ = ["generate_demo", "ORG_SIZES"]

ORG_SIZES: dict[str, int] = {
    "eastside-tenants": 1_500,
    "riverside-workers": 8_000,
    "valley-voters": 50_000,
    "state-power": 3_000,
    "state-power-north": 4_000,
    "state-power-south": 2_500,
    "state-power-metro": 1_200,
    "harbor-youth": 300,
}
DEFAULT_SIZE = 1_000
MIN_PEOPLE = 40

UTC = dt.UTC
START = int(dt.datetime(2024, 1, 1, tzinfo=UTC).timestamp())
END = int(dt.datetime(2026, 11, 15, tzinfo=UTC).timestamp())
DAY = 86_400
# the first newer-than-old export of eastside (two successive Action Network exports)
EASTSIDE_FIRST_EXPORT = int(dt.datetime(2026, 9, 10, tzinfo=UTC).timestamp())

FIRST = [
    "Ana",
    "Luis",
    "Maria",
    "Jose",
    "Carmen",
    "Juan",
    "Rosa",
    "Miguel",
    "Sofia",
    "Diego",
    "Lucia",
    "Mateo",
    "Aisha",
    "Omar",
    "Fatima",
    "Kwame",
    "Amara",
    "Chen",
    "Wei",
    "Mei",
    "Hiro",
    "Yuki",
    "Priya",
    "Arjun",
    "Deepa",
    "Ravi",
    "Olga",
    "Ivan",
    "Nadia",
    "Pavel",
    "Grace",
    "James",
    "Mary",
    "John",
    "Linda",
    "Robert",
    "Patricia",
    "Michael",
    "Jennifer",
    "David",
    "Elizabeth",
    "Sarah",
    "Kevin",
    "Jasmine",
    "Marcus",
    "Keisha",
    "Andre",
    "Tanisha",
    "Darnell",
    "Alexis",
    "Jordan",
    "Taylor",
    "Morgan",
    "Casey",
    "Riley",
    "Noor",
    "Yusuf",
    "Leila",
    "Tariq",
    "Zainab",
    "Hana",
    "Minh",
    "Linh",
    "Thanh",
    "Bao",
    "Rafael",
    "Ines",
    "Tomas",
    "Elena",
    "Pedro",
]
LAST = [
    "Garcia",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Perez",
    "Sanchez",
    "Ramirez",
    "Torres",
    "Nguyen",
    "Tran",
    "Le",
    "Pham",
    "Kim",
    "Park",
    "Lee",
    "Chen",
    "Wang",
    "Li",
    "Zhang",
    "Patel",
    "Shah",
    "Singh",
    "Khan",
    "Ali",
    "Ahmed",
    "Hassan",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Anderson",
    "Thomas",
    "Jackson",
    "White",
    "Harris",
    "Martin",
    "Thompson",
    "Moore",
    "Clark",
    "Lewis",
    "Walker",
    "Hall",
    "Allen",
    "Young",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
    "Hill",
    "Campbell",
    "Mitchell",
    "Roberts",
    "Carter",
    "Phillips",
    "Evans",
    "Turner",
    "Okafor",
    "Mensah",
]
# Windows-1252 friendly accented names for the harbor roster
ACCENTED = ["José", "Zoë", "Inés", "Renée", "Noël", "Chloé", "Ángel", "Begoña", "Øyvind"]
STREETS = [
    "Main",
    "Oak",
    "Elm",
    "Maple",
    "Cedar",
    "Pine",
    "Walnut",
    "Church",
    "Market",
    "River",
    "Union",
    "Park",
    "Lake",
    "Hill",
]
CITIES = ["Eastside", "Riverside", "Valley City", "Northport", "Southgate", "Metro", "Harbor"]
DOMAINS = ["example.org", "example.com", "mail.example.net", "example.edu"]

MOBILIZE_TYPES = [
    "CANVASS",
    "PHONE_BANK",
    "TEXT_BANK",
    "MEETING",
    "COMMUNITY",
    "HOUSE_PARTY",
    "TRAINING",
    "VOTER_REG",
    "OTHER",
]


# --------------------------------------------------------------------------- helpers


# isoformat of whole seconds since the epoch: the same text as strftime, 3x faster (the
# demo formats a million timestamps)
_EPOCH = dt.datetime(1970, 1, 1)


def _iso_z(ts: int) -> str:
    return (_EPOCH + dt.timedelta(seconds=int(ts))).isoformat() + "Z"


def _naive(ts: int) -> str:
    return (_EPOCH + dt.timedelta(seconds=int(ts))).isoformat(sep=" ")


def _date(ts: int) -> str:
    return (_EPOCH + dt.timedelta(seconds=int(ts))).date().isoformat()


def _excel_serial(ts: int) -> str:
    days = (int(ts) - int(dt.datetime(1899, 12, 30, tzinfo=UTC).timestamp())) // DAY
    return str(days)


def _uuid(rng: np.random.Generator) -> str:
    b = rng.integers(0, 256, 16, dtype=np.uint8).tobytes()
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def _csv_text(header: list[str], rows: list[list], *, crlf: bool = False) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def _write(path: Path, text: str | bytes, *, encoding: str = "utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode(encoding) if isinstance(text, str) else text
    path.write_bytes(data)


def _pages(records: list[dict], per_page: int) -> list[list[dict]]:
    return [records[i : i + per_page] for i in range(0, len(records), per_page)] or [[]]


def _dump(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _phone_format(digits: str, style: int) -> str:
    """One ten-digit US number written the many ways people write it."""
    a, b, c = digits[:3], digits[3:6], digits[6:]
    return [
        f"({a}) {b}-{c}",
        f"{a}-{b}-{c}",
        f"+1{digits}",
        f"{a}.{b}.{c}",
        f"1{digits}",
        digits,
    ][style % 6]


# --------------------------------------------------------------------------- population


@dataclass
class People:
    """The organization's people and their behaviour (arrays indexed by person)."""

    n: int
    first: list[str]
    last: list[str]
    email: list[str]
    phone: list[str]  # ten digits
    zip: list[str]
    street: list[str]
    city: list[str]
    uuid: list[str]
    join: np.ndarray  # unix seconds
    lapse: np.ndarray  # unix seconds (may be after END: still active)
    rate: np.ndarray  # engagements per 30 days while active
    leader: np.ndarray  # bool
    vanid: np.ndarray
    mobilize_id: np.ndarray
    extra: dict = field(default_factory=dict)

    def engagements(self, rng: np.random.Generator, cap: int = 40) -> list[np.ndarray]:
        """Times of each person's engagements: the first at joining, then a Poisson process."""
        stop = np.minimum(self.lapse, END)
        span_days = np.maximum(stop - self.join, 0) / DAY
        counts = np.minimum(rng.poisson(self.rate * span_days / 30.0), cap)
        out = []
        for i in range(self.n):
            k = int(counts[i])
            t = np.sort(rng.integers(int(self.join[i]), int(max(stop[i], self.join[i] + 1)), k))
            out.append(np.concatenate([[self.join[i]], t]).astype(np.int64))
        return out


def _people(rng: np.random.Generator, n: int, domain_bias: int, shared: list[dict]) -> People:
    first = [FIRST[i] for i in rng.integers(0, len(FIRST), n)]
    last = [LAST[i] for i in rng.integers(0, len(LAST), n)]
    dom = rng.integers(0, len(DOMAINS), n)
    serial = rng.permutation(n) + domain_bias
    email = [
        f"{f.lower()}.{ln.lower()}{s}@{DOMAINS[d]}"
        for f, ln, s, d in zip(first, last, serial, dom, strict=True)
    ]
    area = rng.choice(["617", "413", "508", "774", "978", "212", "718", "312", "415"], n)
    line = rng.integers(2_000_000, 9_999_999, n)
    phone = [f"{a}{ln:07d}" for a, ln in zip(area, line, strict=True)]
    zips = [f"0{z:04d}" for z in rng.integers(1000, 2800, n)]
    street = [
        f"{no} {STREETS[s]} St"
        for no, s in zip(rng.integers(1, 999, n), rng.integers(0, len(STREETS), n), strict=True)
    ]
    city = [CITIES[c] for c in rng.integers(0, len(CITIES), n)]
    uuids = [_uuid(rng) for _ in range(n)]
    join = (START + (END - START) * rng.beta(1.7, 1.0, n)).astype(np.int64)
    # time until lapse: many drop soon after a first action, some stay for years
    stay = np.where(rng.random(n) < 0.35, rng.exponential(20, n), rng.exponential(420, n))
    lapse = (join + stay * DAY).astype(np.int64)
    leader = rng.random(n) < 0.05
    rate = rng.lognormal(-0.9, 0.9, n) * np.where(leader, 4.0, 1.0)
    lapse = np.where(leader, lapse + 365 * DAY, lapse)
    vanid = 100_000 + rng.permutation(n) * 7 + domain_bias
    mobilize_id = 50_000 + rng.permutation(n) * 3 + domain_bias
    people = People(
        n,
        first,
        last,
        email,
        phone,
        zips,
        street,
        city,
        uuids,
        join,
        lapse,
        rate,
        leader,
        vanid,
        mobilize_id,
    )
    # members of two state-power affiliates: same person, same email (case may differ)
    for i, other in enumerate(shared[: n // 2]):
        j = n - 1 - i
        people.first[j], people.last[j] = other["first"], other["last"]
        people.email[j] = other["email"].upper() if i % 2 else other["email"]
        people.phone[j] = other["phone"]
    return people


# --------------------------------------------------------------------------- events


@dataclass
class Events:
    ids: np.ndarray
    start: np.ndarray
    kind: list[str]
    title: list[str]
    host: np.ndarray  # person index of the volunteer host, -1 for staff-run


def _events(rng: np.random.Generator, people: People, kinds: list[str], weights) -> Events:
    n = max(24, people.n // 12)
    start = np.sort(rng.integers(START, END + 40 * DAY, n)).astype(np.int64)
    start = (start // 3600) * 3600 + 18 * 3600 - (start // 3600 % 24) * 3600  # 6pm-ish
    kind_idx = rng.choice(len(kinds), n, p=np.asarray(weights) / np.sum(weights))
    kind = [kinds[k] for k in kind_idx]
    words = {
        "CANVASS": "Door knock",
        "PHONE_BANK": "Phone bank",
        "TEXT_BANK": "Text bank",
        "MEETING": "Members meeting",
        "COMMUNITY": "Community dinner",
        "HOUSE_PARTY": "House meeting",
        "TRAINING": "Organizing training",
        "VOTER_REG": "Voter registration drive",
        "OTHER": "Action",
    }
    title = [f"{words.get(k, 'Meeting')} #{i + 1}" for i, k in enumerate(kind)]
    leaders = np.flatnonzero(people.leader)
    host = np.full(n, -1, dtype=np.int64)
    if len(leaders):
        hosted = rng.random(n) < 0.3
        host[hosted] = rng.choice(leaders, int(hosted.sum()))
    ids = 1000 + np.arange(n) * 13
    return Events(ids, start, kind, title, host)


def _attendances(rng: np.random.Generator, people: People, events: Events, times) -> list[tuple]:
    """(person, event_index, status, attended, created, modified, role) per signup."""
    out = []
    for i, ts in enumerate(times):
        for t in ts:
            e = int(np.searchsorted(events.start, t))
            e = min(e, len(events.start) - 1)
            out.append((i, e))
    # hosts attend their own events
    for e, h in enumerate(events.host):
        if h >= 0:
            out.append((int(h), e))
    out = sorted(set(out))
    rows = []
    draws = rng.random((len(out), 4))
    for k, (i, e) in enumerate(out):
        start = int(events.start[e])
        created = max(START, start - int(draws[k, 0] * 14 * DAY) - 3600)
        host = int(events.host[e]) == i
        r = draws[k, 1]
        status = (
            "CANCELLED" if r < 0.08 and not host else ("CONFIRMED" if r < 0.35 else "REGISTERED")
        )
        if start > END or status == "CANCELLED":
            attended = None
        else:
            a = draws[k, 2]
            attended = True if host or a < 0.68 else (False if a < 0.9 else None)
        modified = created if attended is None else start + int(draws[k, 3] * 5 * DAY) + 3600
        rows.append((i, e, status, attended, created, modified, "host" if host else "attendee"))
    return rows


# --------------------------------------------------------------------------- writers


def _an_row(p: People, i: int, custom: dict[str, list[str]], *, newer: bool, rng) -> list:
    sub = "subscribed" if (i * 7919) % 11 else "unsubscribed"
    sms = "subscribed" if (i * 31) % 3 else "unsubscribed"
    address = p.street[i]
    if i % 97 == 5:
        address = f"{p.street[i]}\nApt {i % 40 + 1}"  # quoted newline
    email = p.email[i]
    zip_code = p.zip[i]
    if newer and i % 23 == 4:
        zip_code = f"0{(int(zip_code) + 17) % 10000:04d}"  # moved
    if newer and i % 41 == 7:
        sub = "unsubscribed"
    date = _iso_z(int(p.join[i])) if newer else _naive(int(p.join[i]))
    row = [
        p.uuid[i],
        p.first[i],
        p.last[i],
        email,
        zip_code,
        _phone_format(p.phone[i], i) if i % 5 else "",
        sms,
        sub,
        date,
        address,
        p.city[i],
        "MA",
        "Suffolk",
        ",".join(t for t in ("tenant", "leader" if p.leader[i] else "", "spanish") if t)
        if i % 4 == 0
        else "",
    ]
    row += [values[i] for values in custom.values()]
    return row


AN_COLUMNS = list(AN_REPORT_COLUMNS)


def _write_an_csv(dest: Path, org_id: str, p: People, rng) -> None:
    custom = {
        "Building": [f"{p.street[i].split(' ', 1)[1]} #{i % 12}" for i in range(p.n)],
        "Preferred Language": [
            ["English", "Spanish", "Vietnamese", "Cantonese"][i % 4] for i in range(p.n)
        ],
    }
    if org_id != "eastside-tenants":
        custom = {"Affiliate Role": [("Leader" if p.leader[i] else "Member") for i in range(p.n)]}
    header = AN_COLUMNS + list(custom)
    if org_id == "eastside-tenants":
        # two successive exports: the older (people seen by 10 Sep) and the newer (all)
        older = [i for i in range(p.n) if p.join[i] <= EASTSIDE_FIRST_EXPORT and i % 12 != 11]
        rows = [_an_row(p, i, custom, newer=False, rng=rng) for i in older]
        text = _csv_text(header, rows, crlf=True) + ",,,,,,,,,,,,,,,\r\n,,,,,,,,,,,,,,,\r\n"
        _write(dest / "activists-2026-09-10.csv", "\ufeff" + text)
        # people who only ever signed up through Mobilize are not in the list tool
        rows = [_an_row(p, i, custom, newer=True, rng=rng) for i in range(p.n) if i % 12 != 11]
        # duplicated people (the same activist twice) and a repeated header line where two
        # report downloads were pasted together
        rows += [rows[i] for i in range(0, p.n, 150)]
        mid = len(rows) // 2
        rows = rows[:mid] + [header] + rows[mid:]
        _write(dest / "activists-2026-11-15.csv", _csv_text(header, rows))
    else:
        rows = [_an_row(p, i, custom, newer=True, rng=rng) for i in range(p.n)]
        _write(dest / "activists.csv", "\ufeff" + _csv_text(header, rows))


def _osdi_person(p: People, i: int, prefix: str) -> dict:
    person = {
        "identifiers": [f"{prefix}:{p.uuid[i]}"],
        "created_date": _iso_z(int(p.join[i])),
        "modified_date": _iso_z(min(int(p.join[i]) + 86_400 * (i % 90), END)),
        "given_name": p.first[i],
        "family_name": p.last[i],
        "email_addresses": [
            {
                "primary": True,
                "address": p.email[i],
                "status": "subscribed" if i % 9 else "unsubscribed",
            }
        ],
        "phone_numbers": [
            {
                "primary": True,
                "number": "1" + p.phone[i],
                "number_type": "Mobile",
                "status": "subscribed" if i % 3 else "unsubscribed",
            }
        ]
        if i % 4
        else [],
        "postal_addresses": [
            {
                "primary": True,
                "address_lines": [p.street[i]],
                "locality": p.city[i],
                "region": "MA",
                "postal_code": p.zip[i],
                "country": "US",
            }
        ],
        "languages_spoken": ["en"],
        "custom_fields": {"Volunteer interest": ["canvass", "phones", "data"][i % 3]}
        if i % 2
        else {},
        "_links": {"self": {"href": f"https://actionnetwork.org/api/v2/people/{p.uuid[i]}"}},
    }
    return person


def _osdi_page(collection: str, records: list[dict], page: int, pages: int, per_page: int) -> str:
    base = f"https://actionnetwork.org/api/v2/{collection.split(':')[1]}"
    links = {"self": {"href": f"{base}?page={page}"}}
    if page < pages:
        links["next"] = {"href": f"{base}?page={page + 1}"}
    return _dump(
        {
            "total_pages": pages,
            "per_page": per_page,
            "page": page,
            "total_records": None,
            "_links": links,
            "_embedded": {collection: records},
        }
    )


def _write_osdi(
    dest: Path, name: str, collection: str, records: list[dict], per: int = 500
) -> None:
    pages = _pages(records, per)
    for k, chunk in enumerate(pages, start=1):
        _write(
            dest / name / f"{name}-page-{k:03d}.json",
            _osdi_page(collection, chunk, k, len(pages), per),
        )


def _write_an_api(dest: Path, p: People, events: Events, att, rng, times) -> None:
    people = [_osdi_person(p, i, "action_network") for i in range(p.n)]
    _write_osdi(dest, "people", "osdi:people", people)
    event_uuid = [_uuid(rng) for _ in range(len(events.ids))]
    attendances = []
    for k, (i, e, status, _attended, created, modified, _role) in enumerate(att):
        if k % 3:
            continue  # the rest of the attendances live in Mobilize
        attendances.append(
            {
                "identifiers": [f"action_network:{_uuid(rng)}"],
                "created_date": _iso_z(created),
                "modified_date": _iso_z(modified),
                "status": {"CANCELLED": "declined", "CONFIRMED": "accepted"}.get(
                    status, "accepted"
                ),
                "action_network:person_id": p.uuid[i],
                "action_network:event_id": event_uuid[e],
                "_links": {
                    "osdi:person": {"href": f"https://actionnetwork.org/api/v2/people/{p.uuid[i]}"}
                },
            }
        )
    _write_osdi(dest, "attendances", "osdi:attendances", attendances)
    forms = [_uuid(rng) for _ in range(6)]
    submissions, donations, taggings = [], [], []
    tags = [_uuid(rng) for _ in range(5)]
    for i, ts in enumerate(times):
        for j, t in enumerate(ts):
            kind = (i + j) % 5
            if kind in (0, 1):
                submissions.append(
                    {
                        "identifiers": [f"action_network:{_uuid(rng)}"],
                        "created_date": _iso_z(int(t)),
                        "modified_date": _iso_z(int(t)),
                        "action_network:person_id": p.uuid[i],
                        "action_network:form_id": forms[(i + j) % len(forms)],
                    }
                )
            elif kind == 2 and j > 0:
                amount = ["5.00", "10.00", "25.00", "50.00", "100.00"][(i * 3 + j) % 5]
                donations.append(
                    {
                        "identifiers": [f"action_network:{_uuid(rng)}"],
                        "created_date": _iso_z(int(t)),
                        "modified_date": _iso_z(int(t)),
                        "currency": "USD",
                        "amount": amount,
                        "recipients": [{"display_name": "Valley Voter Alliance", "amount": amount}],
                        "payment": {"method": "Credit Card", "recurring_id": None},
                        "action_network:recurrence": {
                            "recurring": (i % 4 == 0),
                            "period": "Monthly",
                        },
                        "action_network:person_id": p.uuid[i],
                        "action_network:fundraising_page_id": forms[0],
                    }
                )
            elif kind == 3:
                taggings.append(
                    {
                        "created_date": _iso_z(int(t)),
                        "modified_date": _iso_z(int(t)),
                        "_links": {
                            "self": {
                                "href": f"https://actionnetwork.org/api/v2/tags/{tags[j % 5]}/taggings/{_uuid(rng)}"
                            },
                            "osdi:tag": {
                                "href": f"https://actionnetwork.org/api/v2/tags/{tags[j % 5]}"
                            },
                            "osdi:person": {
                                "href": f"https://actionnetwork.org/api/v2/people/{p.uuid[i]}"
                            },
                        },
                    }
                )
    _write_osdi(dest, "submissions", "osdi:submissions", submissions)
    _write_osdi(dest, "donations", "osdi:donations", donations)
    _write_osdi(dest, "taggings", "osdi:taggings", taggings)


def _write_mobilize(dest: Path, p: People, events: Events, att, who: np.ndarray) -> None:
    """Attendances pages; ``who`` marks people that signed up through Mobilize."""
    records = []
    for k, (i, e, status, attended, created, modified, _role) in enumerate(att):
        if not who[i]:
            continue
        host = int(events.host[e])
        # the same person written differently from the other tool: email case, phone format
        email = p.email[i].title() if i % 13 == 0 else p.email[i]
        phone = _phone_format(p.phone[i], i + 1)
        start = int(events.start[e])
        records.append(
            {
                "id": 900_000 + k,
                "created_date": created,
                "modified_date": modified,
                "person": {
                    "user_id": int(p.mobilize_id[i]),
                    "given_name": p.first[i],
                    "family_name": p.last[i],
                    "email_addresses": [{"primary": True, "address": email}],
                    "phone_numbers": [{"primary": True, "number": phone}],
                    "postal_addresses": [{"primary": True, "postal_code": p.zip[i]}],
                    "sms_opt_in_status": "OPT_IN" if i % 3 else "UNSPECIFIED",
                    "created_date": int(p.join[i]),
                    "modified_date": int(p.join[i]),
                },
                "event": {
                    "id": int(events.ids[e]),
                    "title": events.title[e],
                    "event_type": events.kind[e],
                    "created_by_volunteer_host": host >= 0,
                    "contact": {"owner_user_id": int(p.mobilize_id[host])} if host >= 0 else None,
                },
                "timeslot": {
                    "id": int(events.ids[e]) * 10 + 1,
                    "start_date": start,
                    "end_date": start + 7200,
                },
                "sponsor": {"id": 4242, "name": "Organizing Committee"},
                "status": status,
                "attended": attended,
                "referrer": {
                    "utm_source": ["email", "sms", "facebook", None][k % 4],
                    "utm_medium": None,
                    "utm_campaign": None,
                    "utm_term": None,
                    "utm_content": None,
                    "url": None,
                },
                "custom_signup_field_values": [],
            }
        )
    pages = _pages(records, 500)
    for k, chunk in enumerate(pages, start=1):
        nxt = f"https://api.mobilize.us/v1/organizations/4242/attendances?page={k + 1}"
        page = {
            "count": len(records),
            "next": nxt if k < len(pages) else None,
            "previous": None,
            "data": chunk,
        }
        _write(dest / f"attendances-page-{k:03d}.json", _dump(page))


VAN_RESULTS = [
    (1, "Not Home"),
    (2, "Refused"),
    (3, "Moved"),
    (4, "Wrong Number"),
    (5, "Left Message"),
    (14, "Canvassed"),
    (19, "Busy"),
    (20, "Disconnected"),
    (130, "Inaccessible"),
]
VAN_CONTACT_TYPES = [(1, "Phone"), (2, "Walk"), (37, "SMS Text"), (82, "One on One"), (3, "Mail")]
VAN_CODES = [
    (4001, "Member"),
    (4002, "Dues Paid"),
    (4003, "Volunteer"),
    (4004, "Shop Steward"),
    (4005, "Supporter"),
]
VAN_STATUSES = [
    "Scheduled",
    "Confirmed",
    "Completed",
    "No Show",
    "Declined",
    "Cancelled",
    "Invited",
    "Walk In",
]


def _write_van(
    dest: Path, org_id: str, p: People, events: Events, att, rng, times, voters: int
) -> None:
    # persons (the contacts table), with voters that only canvassing touched
    rows = []
    for i in range(p.n):
        rows.append(
            [
                int(p.vanid[i]),
                p.first[i],
                p.last[i],
                p.email[i] if i % 6 else "",
                _phone_format(p.phone[i], i + 2),
                p.street[i],
                p.city[i],
                "MA",
                p.zip[i],
                _naive(int(p.join[i])),
                _iso_z(min(int(p.join[i]) + 40 * DAY, END)),
            ]
        )
    header = [
        "vanid",
        "firstname",
        "lastname",
        "email",
        "phone",
        "addressline1",
        "city",
        "state",
        "zip5",
        "datecreated",
        "datemodified",
    ]
    _write(dest / "persons.csv", _csv_text(header, rows, crlf=True))
    _write(
        dest / "results.csv",
        _csv_text(["resultid", "resultshortname"], [list(r) for r in VAN_RESULTS]),
    )
    _write(
        dest / "contacttypes.csv",
        _csv_text(["contacttypeid", "contacttypename"], [list(r) for r in VAN_CONTACT_TYPES]),
    )
    _write(
        dest / "activistcodes.csv",
        _csv_text(["activistcodeid", "activistcodename"], [list(r) for r in VAN_CODES]),
    )
    # contacts: phone calls to members, one on ones held by leaders and staff, and doors
    cc = []
    cid = 7_000_000
    staff = [9001, 9002, 9003, 9004]
    leaders = np.flatnonzero(p.leader)
    for i, ts in enumerate(times):
        for j, t in enumerate(ts[1:], start=1):
            r = (i * 17 + j * 5) % 10
            cid += 1
            if r < 3:  # a one on one with this person
                by = (
                    staff[j % 4]
                    if (len(leaders) == 0 or j % 2)
                    else 10_000 + int(leaders[j % len(leaders)])
                )
                cc.append(
                    [
                        cid,
                        int(p.vanid[i]),
                        14,
                        82,
                        _naive(int(t)),
                        _iso_z(int(t) + int(rng.integers(0, 20)) * DAY),
                        by,
                        301,
                    ]
                )
            elif r < 6:  # a phone call
                res = 14 if r == 3 else [1, 5, 4, 19, 20][(i + j) % 5]
                cc.append(
                    [
                        cid,
                        int(p.vanid[i]),
                        res,
                        1,
                        _naive(int(t)),
                        _naive(int(t) + 3600),
                        staff[(i + j) % 4],
                        302,
                    ]
                )
    # door knocks, mostly Not Home, on voters (new vanids that only the canvass touched)
    nvoters = voters
    vrows = []
    base_van = 5_000_000
    for v in range(nvoters):
        vanid = base_van + v * 3
        knocks = 1 + int(rng.integers(0, 3))
        for _ in range(knocks):
            cid += 1
            t = int(rng.integers(int(dt.datetime(2026, 6, 1, tzinfo=UTC).timestamp()), END))
            roll = rng.random()
            res = 1 if roll < 0.62 else (14 if roll < 0.85 else (2 if roll < 0.95 else 3))
            by = (
                10_000 + int(leaders[v % len(leaders)])
                if len(leaders) and v % 3 == 0
                else staff[v % 4]
            )
            cc.append([cid, vanid, res, 2, _naive(t), _iso_z(t + 2 * DAY), by, 303])
        if v % 9 == 0:
            vrows.append(
                [
                    vanid,
                    FIRST[v % len(FIRST)],
                    LAST[(v * 7) % len(LAST)],
                    "",
                    "",
                    f"{v % 900 + 1} {STREETS[v % len(STREETS)]} St",
                    "Valley City",
                    "MA",
                    f"0{1000 + v % 1800:04d}",
                    _naive(START + v),
                    "",
                ]
            )
    if vrows:  # voters appended to persons: a second, later persons file
        _write(dest / "persons-voters.csv", _csv_text(header, vrows, crlf=True))
    _write(
        dest / "contactscontacts.csv",
        _csv_text(
            [
                "contactscontactid",
                "vanid",
                "resultid",
                "contacttypeid",
                "datecanvassed",
                "datecreated",
                "canvassedby",
                "campaignid",
            ],
            cc,
        ),
    )
    # activist codes: members get Member, and dues payers a Dues Paid code per month
    ac, contributions = [], []
    acid = 3_000_000
    for i, ts in enumerate(times):
        if len(ts) >= 2 or p.leader[i]:
            acid += 1
            ac.append(
                [
                    acid,
                    int(p.vanid[i]),
                    4001,
                    _iso_z(int(ts[1 if len(ts) > 1 else 0])),
                    _naive(int(ts[1 if len(ts) > 1 else 0])),
                ]
            )
        if p.leader[i]:
            acid += 1
            ac.append([acid, int(p.vanid[i]), 4004, _iso_z(int(ts[-1])), _naive(int(ts[-1]))])
        if i % 3 == 0 and len(ts) >= 2:  # dues: monthly while active
            stop = int(min(p.lapse[i], END))
            t = int(ts[1])
            k = 0
            while t <= stop and k < 36:
                contributions.append([8_000_000 + i * 40 + k, int(p.vanid[i]), "15.00", _date(t)])
                t += 30 * DAY
                k += 1
    _write(
        dest / "contactsactivistcodes.csv",
        _csv_text(
            ["contactsactivistcodeid", "vanid", "activistcodeid", "datecreated", "datecanvassed"],
            ac,
        ),
    )
    _write(
        dest / "contributions.csv",
        _csv_text(["contributionid", "vanid", "amount", "datereceived"], contributions),
    )
    # events and signups with VAN statuses
    ev_rows = [
        [
            int(events.ids[e]),
            events.title[e],
            events.kind[e].replace("_", " ").title(),
            _naive(int(events.start[e])),
        ]
        for e in range(len(events.ids))
    ]
    _write(
        dest / "events.csv",
        _csv_text(["eventid", "eventname", "eventtypename", "dateoffsetbegin"], ev_rows),
    )
    su = []
    for k, (i, e, status, attended, created, modified, role) in enumerate(att):
        if k % 2:
            continue
        if status == "CANCELLED":
            st = "Cancelled" if k % 3 else "Declined"
        elif attended is True:
            st = "Completed" if k % 17 else "Walk In"
        elif attended is False:
            st = "No Show"
        else:
            st = "Confirmed" if status == "CONFIRMED" else ("Scheduled" if k % 9 else "Invited")
        rolename = (
            "Host"
            if role == "host"
            else ("Team Leader" if p.leader[i] and k % 5 == 0 else "Volunteer")
        )
        su.append(
            [
                4_000_000 + k,
                int(p.vanid[i]),
                int(events.ids[e]),
                rolename,
                st,
                _naive(created),
                _iso_z(modified),
            ]
        )
    _write(
        dest / "eventsignups.csv",
        _csv_text(
            [
                "eventsignupid",
                "vanid",
                "eventid",
                "eventrolename",
                "eventstatusname",
                "datecreated",
                "datemodified",
            ],
            su,
        ),
    )


def _write_spoke(dest: Path, p: People, rng, who: np.ndarray) -> None:
    questions = ["Can you come to the next meeting?", "Will you vote early?"]
    texters = [("Sam", "Rivera"), ("Jo", "Nguyen"), ("Alex", "Okafor"), ("Dee", "Park")]
    campaigns = [
        (71, "Fall kickoff", dt.datetime(2026, 8, 20, tzinfo=UTC)),
        (72, "GOTV week 1", dt.datetime(2026, 10, 14, tzinfo=UTC)),
    ]
    for cid, cname, when in campaigns:
        contacts, messages = [], []
        idx = [i for i in range(p.n) if who[i] and (i + cid) % 3 != 0]
        base_ts = int(when.timestamp())
        for k, i in enumerate(idx):
            tf, tl = texters[k % len(texters)]
            roll = rng.random()
            replied = roll < 0.28
            opted = (not replied and roll < 0.34) or (replied and roll < 0.02)
            status = "convo" if replied else ("closed" if opted else "messaged")
            answers = ["", ""]
            if replied:
                answers[0] = ["Yes", "No", "Maybe"][k % 3]
                if k % 2:
                    answers[1] = ["Yes", "Already voted"][k % 2]
            cell = "+1" + p.phone[i]
            contacts.append(
                [
                    cid,
                    cname,
                    500 + k % 4,
                    tf,
                    tl,
                    p.first[i],
                    p.last[i],
                    cell,
                    p.zip[i],
                    "true" if opted else "false",
                    status,
                    int(p.vanid[i]),
                    *answers,
                    "needs-followup" if replied and k % 4 == 0 else "",
                ]
            )
            t = base_ts + int(rng.integers(0, 3 * DAY))
            messages.append(
                [
                    cid,
                    cell,
                    "+16175550100",
                    "false",
                    "DELIVERED",
                    _iso_z(t),
                    f"Hi {p.first[i]}, it's {tf} with the campaign!",
                ]
            )
            if replied:
                t2 = t + int(rng.integers(60, DAY))
                messages.append(
                    [
                        cid,
                        cell,
                        "+16175550100",
                        "true",
                        "DELIVERED",
                        _iso_z(t2),
                        "yes, tell me more",
                    ]
                )
            if opted:
                messages.append(
                    [cid, cell, "+16175550100", "true", "DELIVERED", _iso_z(t + 600), "STOP"]
                )
        header = [
            "campaignId",
            "campaign",
            "assignmentId",
            "texter[firstName]",
            "texter[lastName]",
            "contact[firstName]",
            "contact[lastName]",
            "contact[cell]",
            "contact[zip]",
            "contact[optOut]",
            "contact[messageStatus]",
            "contact[external_id]",
            *[f"question[{q}]" for q in questions],
            "tags",
        ]
        _write(dest / f"campaign-{cid}-contacts.csv", _csv_text(header, contacts))
        _write(
            dest / f"campaign-{cid}-messages.csv",
            _csv_text(
                [
                    "campaignId",
                    "contactNumber",
                    "userNumber",
                    "isFromContact",
                    "sendStatus",
                    "attemptedAt",
                    "text",
                ],
                messages,
            ),
        )


def _write_action_builder(dest: Path, p: People, rng, times) -> None:
    entities = []
    for i in range(p.n):
        e = _osdi_person(p, i, "action_builder")
        e.pop("custom_fields")
        if len(times[i]) > 1 or p.leader[i]:
            level = 4 + int(rng.integers(0, 2)) if p.leader[i] else 1 + int(rng.integers(0, 3))
            when = int(times[i][-1])
            e["action_builder:latest_assessment"] = level
            e["action_builder:latest_assessment_date"] = _iso_z(when)
        e["action_builder:connections_count"] = int(rng.integers(0, 6))
        entities.append(e)
    _write_osdi(dest, "entities", "osdi:people", entities)


def _write_harbor(dest: Path, source: Source, p: People, times) -> None:
    cols = source.columns or {}
    header = [
        cols.get(k, k)
        for k in (
            "person_id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "zip",
            "occurred_at",
            "event",
        )
    ]
    header += ["Notes"]
    rows = []
    meetings = ["Youth council", "Art build", "Harbor cleanup", "School board prep"]
    for i, ts in enumerate(times):
        first = ACCENTED[i % len(ACCENTED)] if i % 7 == 0 else p.first[i]
        for j, t in enumerate(ts[:12]):
            date = _excel_serial(int(t)) if (i + j) % 4 else _date(int(t))
            rows.append(
                [
                    f"HY{i + 1:04d}",
                    first,
                    p.last[i],
                    p.email[i] if i % 5 else "",
                    _phone_format(p.phone[i], i + j),
                    p.zip[i],
                    date,
                    meetings[(i + j) % len(meetings)],
                    "brought a friend" if (i + j) % 29 == 0 else "",
                ]
            )
    text = _csv_text(header, rows, crlf=True) + ",,,,,,,,\r\n" * 3
    _write(dest, text, encoding="cp1252")


# --------------------------------------------------------------------------- per organization


def _seed_for(seed: int, org_id: str) -> int:
    return (seed * 1_000_003 + zlib.crc32(org_id.encode())) % (2**32)


def _network_pool(seed: int, parent: str, position: int, affiliates: int) -> list[dict]:
    """Members shared by affiliates of one network: each belongs to two affiliates."""
    rng = np.random.default_rng(_seed_for(seed, "network:" + parent))
    pool = []
    for j in range(36):
        first, last = FIRST[int(rng.integers(0, len(FIRST)))], LAST[int(rng.integers(0, len(LAST)))]
        phone = f"617{int(rng.integers(2_000_000, 9_999_999)):07d}"
        pool.append(
            {
                "first": first,
                "last": last,
                "phone": phone,
                "email": f"{first.lower()}.{last.lower()}.net{j}@example.org",
            }
        )
    k = max(affiliates, 2)
    return [m for j, m in enumerate(pool) if j % k in (position % k, (position + 1) % k)]


def _generate_org(
    exports: Path, org: Organization, scale: float, seed: int, shared: list[dict]
) -> None:
    rng = np.random.default_rng(_seed_for(seed, org.id))
    n = max(MIN_PEOPLE, round(ORG_SIZES.get(org.id, DEFAULT_SIZE) * scale))
    bias = zlib.crc32(org.id.encode()) % 97
    people = _people(rng, n, bias, shared if org.parent else [])
    if org.id == "valley-voters":  # a voter organization: most people act once
        people.rate = people.rate * 0.4
    times = people.engagements(rng)
    kinds = [s.kind for s in org.sources]
    needs_events = bool({"mobilize", "van", "action_network_api"} & set(kinds))
    events = att = None
    if needs_events:
        weights = [3, 2, 1, 4, 2, 1, 1, 1, 1] if "van" not in kinds else [4, 3, 2, 3, 1, 1, 1, 2, 1]
        events = _events(rng, people, MOBILIZE_TYPES, weights)
        att = _attendances(rng, people, events, times)
    for source in org.sources:
        dest = exports / source.path
        if dest.exists():
            if dest.is_dir():
                shutil.rmtree(dest)
            else:
                dest.unlink()
        if source.kind == "action_network_csv":
            _write_an_csv(dest, org.id, people, rng)
        elif source.kind == "action_network_api":
            _write_an_api(dest, people, events, att, rng, times)
        elif source.kind == "mobilize":
            # most Mobilize people are also in the list tool; some came only through Mobilize
            who = np.ones(people.n, dtype=bool)
            if len(kinds) > 2:  # several tools: Mobilize carries a part of the events
                who = (np.arange(people.n) % 5) < 2
            elif "action_network_csv" in kinds:  # some people only ever signed a petition
                who = (np.arange(people.n) % 4) != 0
            _write_mobilize(dest, people, events, att, who)
        elif source.kind == "van":
            voters = round(people.n * 0.8) if org.id == "valley-voters" else round(people.n * 0.05)
            _write_van(dest, org.id, people, events, att, rng, times, voters)
        elif source.kind == "spoke":
            who = np.asarray([(i % 4) != 3 for i in range(people.n)])
            _write_spoke(dest, people, rng, who)
        elif source.kind == "action_builder":
            _write_action_builder(dest, people, rng, times)
        elif source.kind == "generic_csv":
            _write_harbor(dest, source, people, times)


def generate_demo(
    cohort_dir: Path, *, scale: float = 1.0, seed: int = 2026, orgs: list[str] | None = None
) -> None:
    """Write every organization's exports for the sources its ``cohort.yml`` lists.

    When ``cohort_dir`` has no ``cohort.yml`` yet, the repository's demo cohort
    configuration (``cycles/demo``: cohort.yml, each cycle's cycle.yml and the groups'
    reflections) is copied first.
    """
    cohort_dir = Path(cohort_dir)
    if scale <= 0:
        raise ValueError("scale must be positive")
    paths = CohortPaths.of(cohort_dir)
    if not paths.cohort_file.exists():
        template = repo_root() / "cycles" / "demo"
        paths.root.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template / "cohort.yml", paths.cohort_file)
        for card in sorted(template.glob("*/cycle.yml")):
            target = paths.root / card.parent.name / "cycle.yml"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(card, target)
        # without them, a demo in a folder of its own had empty reflect reports, and
        # next-cycle had no decisions, questions or proposals to carry
        for reflection in sorted(template.glob("*/reflections/*.yml")):
            target = paths.root / reflection.relative_to(template)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(reflection, target)
    cohort = load_cohort(paths.root)
    chosen = [org for org in cohort.organizations if orgs is None or org.id in orgs]
    record_path = paths.root / ".cyclebook" / "demo-exports.json"
    record = _read_record(record_path)
    # the repository's demo folder from before the record was kept: its exports are the
    # demo's own
    demo_folder = not record_path.exists() and _same_file(
        paths.cohort_file, repo_root() / "cycles" / "demo" / "cohort.yml"
    )
    # Every source folder is emptied before it is written: first make sure it holds only
    # what the demo wrote there. `cyclebook demo` pointed at a real cohort deleted its
    # organizations' exports (those never synced are kept nowhere else) and put made-up
    # people in their place.
    plans = []
    for org in chosen:
        present = _files_of(paths, org)
        known = record.get(org.id, {}).get("files", {})
        foreign = [rel for rel, stat in present.items() if known.get(rel) != stat]
        if foreign and not demo_folder:
            raise CyclebookError(
                f"{paths.root / foreign[0]}: the demo did not write this export, and writing "
                "the demo here would delete it and put made-up people in its place"
                + (f" (and {len(foreign) - 1} more file(s))" if len(foreign) > 1 else ""),
                fix="run the demo in a folder of its own, e.g. `cyclebook demo "
                "cycles/demo-try`; to write the demo here, move your own exports out first.",
            )
        params = _demo_params(cohort, org, scale, seed)
        unchanged = bool(present) and not foreign and record.get(org.id, {}).get("params") == params
        plans.append((org, params, unchanged))
    for org, params, unchanged in plans:
        if unchanged:  # the same bytes are there already (a second `make demo`)
            continue
        shared: list[dict] = []
        if org.parent:
            siblings = [o.id for o in cohort.affiliates(org.parent)]
            shared = _network_pool(seed, org.parent, siblings.index(org.id), len(siblings))
        _generate_org(paths.exports(org.id), org, scale, seed, shared)
        record[org.id] = {"params": params, "files": _files_of(paths, org)}
        _write_record(record_path, record)


def _files_of(paths: CohortPaths, org: Organization) -> dict[str, list[int]]:
    """The files in the organization's source folders, by path from the cohort folder:
    their size and modification time (what the demo wrote there, or someone else)."""
    found: dict[str, list[int]] = {}
    for source in org.sources:
        dest = paths.exports(org.id) / source.path
        files = [dest] if dest.is_file() else sorted(p for p in dest.rglob("*") if p.is_file())
        for path in files:
            stat = path.stat()
            found[str(path.relative_to(paths.root))] = [stat.st_size, stat.st_mtime_ns]
    return found


def _demo_params(cohort, org: Organization, scale: float, seed: int) -> str:
    """What an organization's demo exports are made from: the same, the same bytes."""
    siblings = [o.id for o in cohort.affiliates(org.parent)] if org.parent else []
    code = zlib.crc32(Path(__file__).read_bytes())
    text = json.dumps(
        [org.model_dump(mode="json"), siblings, scale, seed, code], sort_keys=True, default=str
    )
    return f"{zlib.crc32(text.encode()):08x}-{len(text)}"


def _read_record(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_record(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
    tmp.replace(path)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or a.read_bytes() == b.read_bytes()
    except OSError:
        return False
