"""The report's index.html in a real browser (headless system Chromium through Playwright),
opened from file:// offline. Skipped, saying how to install them, when either is missing:

    apt-get install chromium && pip install playwright      # never `playwright install`
"""

import io

import pandas as pd
import pytest
from helpers import run_cli
from test_html_report import SANITY_CHECKS, report_fixture  # noqa: F401  (the fixture `report`: results and report)

from bench.report import page_browser

MISSING = page_browser.missing_requirement()
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"browser tests skipped: {MISSING}")


@pytest.fixture(scope="module")
def table_csv(report):
    result = run_cli("table", "--results-dir", str(report[0]), "--format", "csv", "--paper", "--ci", "--plcc", "raw")
    return pd.read_csv(io.StringIO(result.stdout))


def visible_methods(page, table_index: int = 0) -> list[str]:
    rows = page.locator("table.leaderboard").nth(table_index).locator("tr.row")
    return [r.get_attribute("data-method") for r in rows.all() if r.is_visible()]


def test_page_works_offline_sorts_filters_expands_and_draws(report, table_csv):
    _, out = report
    quality = table_csv[table_csv["dataset"] == "agiqa3k"]
    with page_browser.open_report(out / "index.html") as (page, log):
        # loads from file:// with nothing else requested and no script error
        assert log.requests and all(url.startswith(("file:", "data:")) for url in log.requests), log.requests
        assert page.locator("#shown-count").inner_text() == "4 of 4 rows shown"  # the script ran

        page_browser.sort_by_srcc(page)  # ascending
        assert visible_methods(page) == list(quality.sort_values("srcc_mean")["method"])
        page_browser.sort_by_srcc(page)  # descending
        assert visible_methods(page) == list(quality.sort_values("srcc_mean", ascending=False)["method"])
        page.locator("table.leaderboard").first.locator("th", has_text="Method").click()
        assert visible_methods(page) == ["gmlf", "mystery", "niqe"]  # GMLF, Mystery, NIQE
        details = page.locator("table.leaderboard").first.locator("tr.details")
        assert [d.get_attribute("data-key").split("|")[2] for d in details.all()] == ["gmlf", "mystery", "niqe"]

        assert page_browser.filter_family(page, "handcrafted") == "handcrafted"
        assert visible_methods(page) == ["niqe"] and visible_methods(page, 1) == []
        assert page.locator("#shown-count").inner_text() == "1 of 4 rows shown"
        page_browser.clear_filters(page)
        page.locator('select[data-filter="trained"]').select_option("trained")
        assert visible_methods(page) == ["gmlf"]
        page_browser.clear_filters(page)
        assert len(visible_methods(page)) == 3 and visible_methods(page, 1) == ["mystery"]

        row = page.locator('tr.row[data-key="agiqa3k|mos_quality|niqe"]')
        protocol = page.locator('tr.details[data-key="agiqa3k|mos_quality|niqe"]')
        assert not protocol.is_visible()
        row.click()
        assert protocol.is_visible() and row.get_attribute("aria-expanded") == "true"
        assert "PLCC kind" in protocol.inner_text() and "50 images, the paper used 2982" in protocol.inner_text()
        sanity = protocol.locator("table.sanity tr[data-check]")  # niqe's sanity.json, check by check
        assert sanity.count() == 6 and sanity.first.is_visible()
        assert [r.get_attribute("data-status") for r in sanity.all()] == [c["status"] for c in SANITY_CHECKS]
        row.click()
        assert not protocol.is_visible()

        figures = page.locator("svg.figure")
        assert figures.count() == 6  # 2 strips, 1 heatmap, 2 cost, the scatter
        for figure in figures.all():
            box = figure.bounding_box()
            assert box and box["width"] > 300 and box["height"] > 80, figure.get_attribute("data-kind")
            assert figure.locator("circle, rect, path, line").count() > 3, figure.get_attribute("data-kind")
        scatter = page.locator("#scatter")
        assert scatter.locator("circle").count() == len(pd.concat(
            pd.read_csv(report[0] / "agiqa3k" / "gmlf" / f"split_{k}.csv") for k in range(3)))
        assert scatter.locator("path").count() == 1  # the fitted logistic
        page.locator("#scatter-choice").select_option("synth|mos_align|mystery")
        assert "Mystery on synth" in scatter.text_content()

        page.emulate_media(media="print")  # printing: every protocol shown, no controls
        assert protocol.is_visible() and not page.locator(".controls").is_visible()
        assert log.errors == [] and log.remote_requests == []


def test_screenshots_saved_into_the_report_folder(report):
    _, out = report
    paths = page_browser.screenshots(out / "index.html", out)
    assert [p.name for p in paths] == ["sorted.png", "filtered.png", "expanded.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
