"""Every kind of report and the cycle index, opened in headless Debian Chromium.

For each page: a screenshot is taken; every request the page makes is to the file
itself or a ``data:`` URL (from the browser's network events); no console error, no page
error, no script dialog; every image loaded and has alt text; at phone width (375 px)
the page does not scroll sideways (wide tables scroll inside their wrapper).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from robustness.reportset import MARKED_NAME, REPORT_KINDS, ReportSet, describe

from .chromium import DESKTOP, PHONE, visit

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_the_run_made_every_kind_of_report(reportset: ReportSet) -> None:
    assert reportset.exit_code == 0, describe(reportset)
    missing = [kind for kind in REPORT_KINDS if not reportset.reports[kind]]
    assert not missing, f"no {missing} report in {reportset.root}: {describe(reportset)}"
    assert reportset.index.exists()


@pytest.mark.parametrize("kind", ["index", *REPORT_KINDS])
def test_page_opens_offline_cleanly_on_a_phone(
    kind: str, reportset: ReportSet, browser_context, tmp_path: Path
) -> None:
    pages = [reportset.index] if kind == "index" else reportset.reports[kind]
    assert pages, f"no {kind} report was rendered: {describe(reportset)}"
    problems: dict[str, list[str]] = {}
    for number, page in enumerate(pages):
        shot = tmp_path / f"{kind}-{number}.png"
        record = visit(browser_context, page, PHONE, shot)
        found = record.problems(PHONE["width"])
        assert record.requests and record.requests[0].startswith("file:")
        assert record.facts["scripts"] == 0, "reports carry no script"
        assert record.facts["text"].strip(), f"{page} shows no text"
        if found:
            problems[str(page.relative_to(reportset.root))] = found
    assert not problems, problems


@pytest.mark.parametrize("kind", ["index", "share", "cohort.funder"])
def test_page_is_clean_at_desktop_width(
    kind: str, reportset: ReportSet, browser_context, tmp_path: Path
) -> None:
    page = reportset.index if kind == "index" else reportset.reports[kind][0]
    record = visit(browser_context, page, DESKTOP, tmp_path / "desktop.png")
    assert not record.problems(DESKTOP["width"])


def test_markup_in_a_name_shows_as_text(reportset: ReportSet, browser_context) -> None:
    """The organization whose name carries HTML, Markdown and Jinja: the browser shows
    the characters, builds no element from them and evaluates nothing."""
    pages = [reportset.index, *(p for p in reportset.all_pages() if "/beta/" in str(p))]
    if reportset.kind == "demo":
        pages = [reportset.index, *(p for p in reportset.all_pages() if "riverside" in str(p))]
    assert len(pages) > 1
    for page in pages:
        record = visit(browser_context, page, DESKTOP, None)
        assert MARKED_NAME in record.facts["text"], page
        assert "{{ 7*7 }}" in record.facts["text"]
        assert not record.dialogs and not record.page_errors


def test_index_links_open_the_reports(reportset: ReportSet, browser_context) -> None:
    page = browser_context.new_page()
    try:
        page.goto(reportset.index.resolve().as_uri(), wait_until="load")
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)")
        assert hrefs and all(h.startswith("file:") for h in hrefs), hrefs
        rendered = {p.resolve().as_uri() for p in reportset.all_pages()}
        assert set(hrefs) <= rendered, set(hrefs) - rendered
        # follow one link the way a reader would
        page.click("a[href]")
        page.wait_for_load_state("load")
        assert page.url in rendered
        assert page.locator("h1").count() == 1
    finally:
        page.close()


def test_the_checks_catch_a_bad_page(browser_context, tmp_path: Path) -> None:
    """The harness itself: a page that breaks every rule is caught on every rule."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><head><title>bad</title></head><body>"
        '<img src="http://192.0.2.1/x.png" alt="remote">'
        '<img src="data:image/png;base64,AAAA">'
        '<div style="width:900px">wide</div>'
        "<table><tr><td style='min-width:800px'>wide table</td></tr></table>"
        "<script>console.error('boom'); throw new Error('broken');</script>"
        "</body></html>"
    )
    record = visit(browser_context, bad, PHONE, tmp_path / "bad.png")
    joined = "\n".join(record.problems(PHONE["width"]))
    assert "requests leave the file" in joined
    assert "console errors" in joined and "boom" in joined
    assert "page errors" in joined and "broken" in joined
    assert "image did not load" in joined
    assert "image without alt text" in joined
    assert "page scrolls sideways" in joined
    assert "has no scrolling wrapper" in joined
