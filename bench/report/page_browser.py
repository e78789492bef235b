"""Driving the report page in a real browser (Playwright + the system's Chromium): for the
browser tests and ``scripts/report_screenshots.py``. Playwright is imported only here, and
only when called; nothing is downloaded (Playwright's own browsers are not used).

    apt-get install chromium      # or any Chromium/Chrome; IPIQA_BENCH_CHROMIUM=path overrides
    pip install playwright        # the Python package only: never `playwright install`
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.errors import BenchError

CHROMIUM_ENV = "IPIQA_BENCH_CHROMIUM"
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_HINT = ("needs Chromium and Playwright's Python package: `apt-get install chromium` and "
                "`pip install playwright` (not `playwright install`)")
LOCAL_SCHEMES = ("file:", "data:", "about:")
SRCC_HEADER = "SRCC mean ± std"  # the start of the SRCC column's header
SCREENSHOTS = ("sorted.png", "filtered.png", "expanded.png")


def find_chromium() -> str | None:
    """The system Chromium's path, or None."""
    given = os.environ.get(CHROMIUM_ENV)
    if given:
        return given if Path(given).exists() else None
    found = next((shutil.which(name) for name in CANDIDATES if shutil.which(name)), None)
    return found or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def missing_requirement() -> str:
    """What is missing to drive a browser ("" when nothing is)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright's Python package is not installed; " + INSTALL_HINT
    if find_chromium() is None:
        return "no Chromium found on PATH (or $" + CHROMIUM_ENV + "); " + INSTALL_HINT
    return ""


@dataclass
class PageLog:
    """What the page did while open: every request's URL and every console error."""

    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def remote_requests(self) -> list[str]:
        return [url for url in self.requests if not url.startswith(LOCAL_SCHEMES)]


@contextmanager
def open_report(index_html: Path, width: int = 1400, height: int = 900):
    """(page, log) for ``index_html`` opened from file:// in headless Chromium, offline."""
    missing = missing_requirement()
    if missing:
        raise BenchError(missing)
    from playwright.sync_api import sync_playwright

    log = PageLog()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(viewport={"width": width, "height": height}, offline=True)
            page = context.new_page()
            page.on("request", lambda request: log.requests.append(request.url))
            page.on("console", lambda message: log.errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: log.errors.append(str(error)))
            page.goto(Path(index_html).resolve().as_uri(), wait_until="load")
            yield page, log
        finally:
            browser.close()


def first_table(page):
    return page.locator("table.leaderboard").first


def sort_by_srcc(page) -> None:
    """Click the first leaderboard's SRCC header once: ascending, worst first."""
    first_table(page).locator("th", has_text=SRCC_HEADER).click()


def filter_family(page, family: str | None = None) -> str:
    """Choose ``family`` (default: the first one listed) in the family filter; returns it."""
    select = page.locator('select[data-filter="family"]')
    if family is None:
        family = select.locator("option").nth(1).get_attribute("value")
    select.select_option(family)
    return family


def clear_filters(page) -> None:
    for select in page.locator("select.filter").all():
        select.select_option("")


def expand_first_row(page) -> None:
    first_table(page).locator("tr.row").first.click()


def screenshots(index_html: Path, folder: Path) -> list[Path]:
    """sorted.png, filtered.png and expanded.png of the page's leaderboard, into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / name for name in SCREENSHOTS]
    with open_report(index_html) as (page, log):
        board = page.locator("#leaderboard")
        sort_by_srcc(page)
        board.screenshot(path=str(paths[0]))
        filter_family(page)
        board.screenshot(path=str(paths[1]))
        clear_filters(page)
        expand_first_row(page)
        first_table(page).screenshot(path=str(paths[2]))
        if log.errors or log.remote_requests:
            raise BenchError(f"{index_html}: console errors {log.errors}, remote requests {log.remote_requests}")
    return paths
