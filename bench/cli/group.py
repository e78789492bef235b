"""The ``ipiqa-bench`` command group: logging, and anticipated errors in one line."""

from __future__ import annotations

import errno
import json
import logging
import sys
import traceback

import click
from pandas.errors import EmptyDataError, ParserError

from bench.errors import BenchError


class BenchGroup(click.Group):
    """Turns anticipated errors into a one-line message and exit status 2; ``-v`` adds the
    traceback. Anticipated: BenchError, and a file that cannot be read or written (OSError,
    undecodable text) wherever it is met, named with what to do about it."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (BenchError, OSError, UnicodeError, json.JSONDecodeError, EmptyDataError, ParserError) as exc:
            if ctx.params.get("verbose"):
                traceback.print_exc()
            click.echo(f"ipiqa-bench: error: {describe_error(exc)}", err=True)
            sys.exit(2)


def describe_error(exc: BaseException) -> str:
    """One line saying what went wrong, with which file, and what to do. The code that reads
    a file raises BenchError naming it; an OSError carries its path."""
    if isinstance(exc, BenchError):
        return str(exc)
    if isinstance(exc, OSError):
        path = exc.filename
        what = exc.strerror or str(exc)
        if isinstance(exc, PermissionError):
            return f"{what}: {path}; make it writable or choose another folder (e.g. --results-dir)"
        if exc.errno == errno.ENOSPC:
            return f"{what} writing {path}; free some space and rerun (finished work is kept)"
        return f"{what}: {path}" if path else what
    kind = "not UTF-8 text" if isinstance(exc, UnicodeError) else \
        "not valid JSON" if isinstance(exc, json.JSONDecodeError) else "empty or not a CSV table"
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"a file is {kind} ({first}; -v shows which); replace or delete it"


@click.group(cls=BenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Debug logging, and the full traceback of an error.")
@click.version_option(package_name="ipiqa-bench")
def main(verbose):
    """Benchmark harness for AI-generated image quality assessment (IP-IQA, ICME 2024)."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="ipiqa-bench: %(message)s", stream=sys.stderr)
