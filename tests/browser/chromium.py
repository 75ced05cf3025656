"""Debian's Chromium, headless, driven over the DevTools protocol by Playwright.

Never ``playwright install``: the browser is ``/usr/bin/chromium`` (installed by
``scripts/install-test-deps.sh``), started with the flags the issue names and a fresh
profile folder. Nothing is downloaded at run time.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}
# sub-pixel rounding and a scrollbar gutter; anything wider is a real horizontal scroll
SCROLL_TOLERANCE_PX = 2
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def chromium_path() -> str | None:
    wanted = os.environ.get("CYCLEBOOK_CHROMIUM")
    if wanted:
        return wanted if Path(wanted).exists() else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium") or ""):
        if candidate and Path(candidate).exists():
            return candidate
    return None


# What a page did while it loaded, and what it looks like once loaded.
PAGE_FACTS_JS = """
() => {
  const imgs = [...document.images].map(i => ({
    src: i.currentSrc.slice(0, 60), complete: i.complete, naturalWidth: i.naturalWidth,
    alt: i.getAttribute('alt')}));
  const svgs = [...document.querySelectorAll('svg')].map(s => {
    const r = s.getBoundingClientRect();
    // a label drawn past the chart's edge is cut off on screen
    const clipped = [...s.querySelectorAll('text')].filter(t => {
      const b = t.getBoundingClientRect();
      return b.left < r.left - 1 || b.right > r.right + 1;
    }).map(t => t.textContent.slice(0, 30));
    return {label: s.getAttribute('aria-label'), role: s.getAttribute('role'),
            width: Math.round(r.width), height: Math.round(r.height),
            texts: s.querySelectorAll('text').length, clipped};
  });
  const vw = window.innerWidth;
  const overflowing = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.right <= vw + 2 || r.width === 0) continue;
    // allowed only inside an ancestor that scrolls horizontally by itself
    let a = el.parentElement, scrolls = false;
    while (a && a !== document.body) {
      const ox = getComputedStyle(a).overflowX;
      if ((ox === 'auto' || ox === 'scroll') && a.getBoundingClientRect().right <= vw + 2) {
        scrolls = true; break;
      }
      a = a.parentElement;
    }
    if (!scrolls) overflowing.push(el.tagName.toLowerCase() +
      (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : '') +
      ' right=' + Math.round(r.right));
  }
  const tables = [...document.querySelectorAll('table')].map(t => {
    let a = t.parentElement, wrapper = null;
    while (a && a !== document.body) {
      const ox = getComputedStyle(a).overflowX;
      if (ox === 'auto' || ox === 'scroll') { wrapper = a.tagName + '.' + a.className; break; }
      a = a.parentElement;
    }
    return {wrapper, width: Math.round(t.getBoundingClientRect().width)};
  });
  // labels squeezed into a narrow column (e.g. floated <dt> at 20% width) are unreadable
  const squeezed = [...document.querySelectorAll('dl dt')].filter(dt => {
    const dl = dt.closest('dl');
    return dt.textContent.trim().length > 24 && dl &&
      dt.getBoundingClientRect().width < 0.5 * dl.getBoundingClientRect().width;
  }).map(dt => dt.textContent.trim().slice(0, 40));
  return {
    squeezed: squeezed.slice(0, 5),
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: vw,
    title: document.title,
    text: document.body.innerText,
    scripts: document.scripts.length,
    imgs, svgs, overflowing: overflowing.slice(0, 10), tables,
  };
}
"""


@dataclass
class PageVisit:
    url: str
    requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)
    screenshot: Path | None = None

    @property
    def outside_requests(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(("file:", "data:"))]

    @property
    def console_errors(self) -> list[str]:
        return [text for kind, text in self.console if kind == "error"]

    def problems(self, viewport_width: int) -> list[str]:
        """Every rule of the issue this page breaks, in words (empty: the page is fine)."""
        found = []
        if self.outside_requests:
            found.append(f"requests leave the file: {self.outside_requests[:5]}")
        if self.failed_requests:
            found.append(f"requests failed: {self.failed_requests[:5]}")
        if self.console_errors:
            found.append(f"console errors: {self.console_errors[:5]}")
        if self.page_errors:
            found.append(f"page errors: {self.page_errors[:5]}")
        if self.dialogs:
            found.append(f"the page opened dialogs (script ran): {self.dialogs[:5]}")
        for img in self.facts.get("imgs", []):
            if not (img["complete"] and img["naturalWidth"] > 0):
                found.append(f"image did not load: {img['src']}")
            if not (img["alt"] or "").strip():
                found.append(f"image without alt text: {img['src']}")
        for svg in self.facts.get("svgs", []):
            if svg["role"] != "img" or not (svg["label"] or "").strip():
                found.append(f"a chart without role=img and an aria-label: {svg}")
            if not (svg["width"] > 0 and svg["height"] > 0):
                found.append(f"a chart drawn at no size: {svg}")
            if svg["clipped"]:
                found.append(f"chart labels cut off at its edge: {svg['clipped']}")
        width = self.facts.get("scrollWidth", 0)
        if width > viewport_width + SCROLL_TOLERANCE_PX:
            found.append(
                f"page scrolls sideways at {viewport_width} px: scrollWidth {width}; "
                f"too wide: {self.facts.get('overflowing')}"
            )
        if self.facts.get("squeezed"):
            found.append(f"labels squeezed into a narrow column: {self.facts['squeezed']}")
        for table in self.facts.get("tables", []):
            if table["width"] > viewport_width and not table["wrapper"]:
                found.append(f"a {table['width']} px table has no scrolling wrapper")
        if self.screenshot is not None:
            data = self.screenshot.read_bytes() if self.screenshot.exists() else b""
            if not data.startswith(PNG_MAGIC) or len(data) < 1000:
                found.append(f"screenshot is not a PNG with content: {self.screenshot}")
        return found


def visit(context, path_or_url: str | Path, viewport: dict, screenshot: Path | None) -> PageVisit:
    """Open one page in a new tab and record what it requested, logged and looks like."""
    url = path_or_url if isinstance(path_or_url, str) else Path(path_or_url).resolve().as_uri()
    record = PageVisit(url=url)
    page = context.new_page()
    try:
        page.set_viewport_size(viewport)
        page.on("request", lambda request: record.requests.append(request.url))
        page.on(
            "requestfailed",
            lambda request: record.failed_requests.append(
                f"{request.url[:80]} ({request.failure})"
            ),
        )
        page.on("console", lambda message: record.console.append((message.type, message.text)))
        page.on("pageerror", lambda error: record.page_errors.append(str(error)))

        def on_dialog(dialog) -> None:
            record.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto(url, wait_until="load", timeout=30_000)
        page.wait_for_load_state("networkidle", timeout=10_000)
        record.facts = page.evaluate(PAGE_FACTS_JS)
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=True)
            record.screenshot = screenshot
    finally:
        page.close()
    return record
