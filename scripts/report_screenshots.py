"""Screenshots of a report page in the system's Chromium: the leaderboard sorted by SRCC,
filtered to one family, and with a row expanded (its protocol shown).

    python scripts/report_screenshots.py RESULTS_DIR REPORT_DIR

Builds the report first when REPORT_DIR has no index.html. Needs `apt-get install chromium`
and `pip install playwright` (the package only; it downloads no browser).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.errors import BenchError
from bench.report.html_page import PAGE_FILE
from bench.report.page_browser import screenshots


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results_dir", type=Path)
    parser.add_argument("report_dir", type=Path)
    args = parser.parse_args()
    try:
        if not (args.report_dir / PAGE_FILE).exists():
            from bench.report.build import build_report

            build_report(args.results_dir, args.report_dir)
        for path in screenshots(args.report_dir / PAGE_FILE, args.report_dir):
            print(path)
    except BenchError as exc:
        print(f"report_screenshots: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
