"""What the publish tests read of a publication."""

from __future__ import annotations

import hashlib
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

ORG_PHASES = ("sync", "share", "reflect", "improve")


def files(folder: Path) -> set[str]:
    """Every file under ``folder``, by its path in it."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def org_reports(org: str) -> set[str]:
    return {f"reports/{org}/{phase}.html" for phase in ORG_PHASES}


def shared_reports(audience: str, orgs: list[str], summary: bool = True) -> set[str]:
    found = {f"reports/{org}/share.{audience}.html" for org in orgs}
    return found | ({f"reports/_cohort/cohort.{audience}.html"} if summary else set())


def published(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "published.json").read_text(encoding="utf-8"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, str]] = []  # (tag, attribute, value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"href", "src", "action", "data"} and value is not None:
                self.links.append((tag, name, value))


def links(html_path: Path) -> list[tuple[str, str, str]]:
    """Every (tag, attribute, value) of a page that points somewhere."""
    parser = _Links()
    parser.feed(html_path.read_text(encoding="utf-8"))
    parser.close()
    return parser.links
