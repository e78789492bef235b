"""Progress for long work: a tqdm bar on a terminal, a line per stage in a log.

When stderr is a terminal, ``progress_bar`` is tqdm's bar, with its ETA. When it is not (a
log file, CI), bar redraws would fill the log, so the stage is said once when it finishes:
``demo images: 600 img in 12.4 s``.
"""

from __future__ import annotations

import logging
import sys
import time

from tqdm import tqdm

log = logging.getLogger("ipiqa_bench")


def interactive() -> bool:
    return sys.stderr.isatty()


def progress_bar(iterable=None, *, desc: str = "", total: int | None = None, unit: str = "it",
                 disable: bool = False, **options):
    """tqdm's bar on a terminal; elsewhere a ``StageLine`` that logs one line when done."""
    options.pop("file", None)  # always stderr
    if disable:
        return tqdm(iterable, desc=desc, total=total, unit=unit, disable=True, **options)
    if interactive():
        return tqdm(iterable, desc=desc, total=total, unit=unit, file=sys.stderr, **options)
    return StageLine(iterable, desc, total, unit, options.get("initial", 0))


class StageLine:
    """What tqdm's bar offers the code that drives it, counted quietly; ``close`` (or the end
    of iteration) logs the stage's count and time in one line."""

    def __init__(self, iterable, desc: str, total: int | None, unit: str, initial: int = 0):
        self.iterable, self.desc, self.total, self.unit = iterable, desc, total, unit
        self.n = initial
        self.start = time.perf_counter()
        self.closed = False

    def __iter__(self):
        try:
            for item in self.iterable:
                yield item
                self.n += 1
        finally:
            self.close()

    def __len__(self) -> int:
        return self.total if self.total is not None else len(self.iterable)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix_str(self, *args, **kwargs) -> None:
        pass

    set_postfix = set_description = set_description_str = refresh = set_postfix_str

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.n:
            log.info("%s: %d %s in %.1f s", self.desc, self.n, self.unit, time.perf_counter() - self.start)
