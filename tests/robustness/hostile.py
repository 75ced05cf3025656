"""A cohort whose every typed field carries HTML, Markdown, Jinja and shell text.

Facilitators paste text from anywhere into cohort.yml, cycle.yml and reflections; tags
and custom-field names come from the tools' exports. All of it must show as text and
never run. Every shell payload would create ``/tmp/pwned-<uuid>*`` (or ``pwned-<uuid>*``
in the working folder) if anything ever ran it through a shell.
"""

from __future__ import annotations

import csv
import html.parser
import io
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml

TOKEN = uuid.uuid4().hex[:12]
PWNED = f"/tmp/pwned-{TOKEN}"

HTML_PAYLOAD = "<img src=x onerror=alert(1)><script>alert(2)</script><b>bold-html</b>"
MD_PAYLOAD = (
    "**md-bold** _md-it_ [md-link](https://evil.example/) ![md-pic](https://evil.example/p.png)"
)
JINJA_PAYLOAD = "J[{{ 7*7 }}] {% raw %}R{% endraw %} {{ config }} {%- if 1 %}IF{% endif %}"
SHELL_PAYLOAD = (
    f"$(touch {PWNED}) `touch {PWNED}-bt`; touch {PWNED}-semi && rm -rf {PWNED}-dir | cat"
)
ALL = f"{HTML_PAYLOAD} {MD_PAYLOAD} {JINJA_PAYLOAD} {SHELL_PAYLOAD}"
# organization names are at most 200 characters
ORG_NAME = f"<b onmouseover=alert(3)>Org</b> **x** J[{{{{ 7*7 }}}}] $(touch {PWNED}-org)"

# Names of custom columns in an Action Network export, and the values of its tags column.
CUSTOM_FIELDS = [
    "<img src=x onerror=alert(4)>",
    "J[{{ 7*7 }}] field",
    f"$(touch {PWNED}-col)",
    "Quote'\"; DROP TABLE person; --",
]
TAGS = f"<script>alert(5)</script>, J[{{{{ 7*7 }}}}] tag, `touch {PWNED}-tag`"


def cohort_data(with_exports: bool) -> dict:
    rung_text = f"Leader {ALL}"
    alpha = {
        "id": "alpha",
        "name": ORG_NAME,
        "staff": [f"Staff {HTML_PAYLOAD}", f"Staff {SHELL_PAYLOAD}"],
        "ladder": [
            {
                "name": "supporter",
                "label": f"Supporter {HTML_PAYLOAD}",
                "window_days": 365,
                "any_of": [{"min_count": 1}],
                "definition": f"Any activity {ALL}",
            },
            {
                "name": "leader",
                "label": f"Leader {JINJA_PAYLOAD}",
                "window_days": 90,
                "any_of": [{"activity_types": ["one_on_one"]}],
                "definition": rung_text,
            },
        ],
        "metrics": {"leader_rung": "leader"},
        "consent": {
            "cohort": ["active_base"],
            "funder": ["active_base"],
            "gallery_note": f"Gallery {ALL}",
        },
        "measure_history": [
            {
                "measure": "ladder.leader",
                "date": "2026-08-10",
                "proposed_by": f"Proposer {HTML_PAYLOAD}",
                "why": f"Why {ALL}",
                "change": f"Change {ALL}",
            }
        ],
    }
    if with_exports:
        alpha["sources"] = [{"kind": "action_network_csv", "path": "an"}]
    return {
        "id": "hostile",
        "name": f"Cohort {HTML_PAYLOAD} {JINJA_PAYLOAD}",
        "facilitators": [f"Facilitator {SHELL_PAYLOAD}"],
        "organizations": [alpha, {"id": "beta", "name": "Beta Workers"}],
    }


def cycle_data() -> dict:
    return {
        "id": "c1",
        "title": f"Cycle {HTML_PAYLOAD} {JINJA_PAYLOAD}",
        "how_might_we": [f"How might we {ALL}?"],
        "hypothesis": f"If we {ALL}",
        "design": f"Design {ALL}",
        "metrics": [{"goal": f"Goal {ALL}", "measure": "active_base", "failure": f"Fail {ALL}"}],
        "learnings": [f"Learning {ALL}"],
        "decisions": [f"Decision {ALL}"],
        "questions": [f"Question {ALL}"],
        "accountable": [f"Accountable {SHELL_PAYLOAD}"],
        "team": {"alpha": [f"Team {HTML_PAYLOAD}"]},
        "documents": [{"title": f"Doc {ALL}", "url": "javascript:alert(6)"}],
        "start": "2026-08-03",
        "end": "2026-09-14",
    }


def reflection_data() -> dict:
    return {
        "org_id": "alpha",
        "cycle": "c1",
        "versions": [
            {
                "saved_at": "2026-09-10T18:30:00Z",
                "author": f"Author {HTML_PAYLOAD}",
                "participants": [f"Participant {SHELL_PAYLOAD}"],
                "metrics": [
                    {"metric": "absorption", "reaction": "keep", "why": f"Why {ALL}"},
                    {"metric": f"new {HTML_PAYLOAD}", "reaction": "add", "why": f"Add {ALL}"},
                ],
                "empty_or_missing": [f"Missing {ALL}"],
                "stories": [f"Story {ALL}"],
                "questions": [f"Question {ALL}"],
                "learnings": [f"Learned {ALL}"],
                "decisions": [f"Decided {ALL}"],
                "measure_changes": [
                    {
                        "measure": "ladder.leader",
                        "proposed_by": f"Ana {HTML_PAYLOAD}",
                        "why": f"Because {ALL}",
                        "change": f"Change {ALL}",
                        "status": "proposed",
                    }
                ],
            }
        ],
    }


def action_network_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "uuid",
            "first_name",
            "last_name",
            "email",
            "zip_code",
            "can2_user_tags",
            "can2_subscription_date",
            *CUSTOM_FIELDS,
        ]
    )
    for n in range(12):
        writer.writerow(
            [
                f"u-{n:04d}",
                f"First{n}",
                f"Last{n}",
                f"p{n}@example.org",
                "10001",
                TAGS,
                "2026-08-20",
                *(f"v{n}" for _ in CUSTOM_FIELDS),
            ]
        )
    return out.getvalue()


def write_hostile(root: Path, with_exports: bool) -> str:
    (root / "c1" / "reflections").mkdir(parents=True)
    dump = lambda data: yaml.safe_dump(data, sort_keys=False, allow_unicode=True)  # noqa: E731
    (root / "cohort.yml").write_text(dump(cohort_data(with_exports)))
    (root / "c1" / "cycle.yml").write_text(dump(cycle_data()))
    (root / "c1" / "reflections" / "alpha.yml").write_text(dump(reflection_data()))
    if with_exports:
        target = root / "orgs" / "alpha" / "exports" / "an" / "activists.csv"
        target.parent.mkdir(parents=True)
        target.write_text(action_network_csv())
    return "c1"


def pwned_files(*folders: Path) -> list[str]:
    found = [str(p) for p in Path("/tmp").glob(f"pwned-{TOKEN}*")]
    for folder in folders:
        found += [str(p) for p in folder.rglob(f"pwned-{TOKEN}*")]
    return found


@dataclass
class ParsedPage:
    """What a browser would build from a page: elements, attributes and visible text."""

    tags: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)
    text: str = ""


class _Collector(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = ParsedPage()
        self._chunks: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self.page.tags.append((tag, dict(attrs)))
        if tag in {"style", "script"}:
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in {"style", "script"} and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self._chunks.append(data)

    def close(self):
        super().close()
        self.page.text = "".join(self._chunks)


def parse(html_text: str) -> ParsedPage:
    collector = _Collector()
    collector.feed(html_text)
    collector.close()
    return collector.page


def executable_markup(page: ParsedPage) -> list[str]:
    """Elements or attributes the hostile text would have created had it not been escaped."""
    found = []
    for tag, attrs in page.tags:
        if tag == "script":
            found.append("a <script> element")
        for name, value in attrs.items():
            if name.startswith("on"):
                found.append(f"<{tag} {name}=...>")
            if (
                name in {"href", "src"}
                and value
                and ("evil.example" in value or value.strip().lower().startswith("javascript:"))
            ):
                found.append(f"<{tag} {name}={value!r}>")
        if tag == "b" and not attrs:
            pass
    return found
