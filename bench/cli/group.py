"""The ``ipiqa-bench`` command group: logging, and anticipated errors in one line."""

from __future__ import annotations

import errno
import json
import logging
import sys
import traceback
from pathlib import Path

import click

from bench.errors import BenchError


class BenchGroup(click.Group):
    """Turns anticipated errors into a one-line message and exit status 2; ``-v`` adds the
    traceback. Anticipated: BenchError, and a file that cannot be read or written (OSError,
    undecodable text) wherever it is met, named with what to do about it."""

    def invoke(self, ctx):

        from pandas.errors import EmptyDataError, ParserError

        try:
            return super().invoke(ctx)
        except (BenchError, OSError, UnicodeError, json.JSONDecodeError, EmptyDataError, ParserError) as exc:
            if ctx.params.get("verbose"):
                traceback.print_exc()
            click.echo(f"ipiqa-bench: error: {describe_error(exc)}", err=True)
            sys.exit(2)


def describe_error(exc: BaseException) -> str:
    """One line saying what went wrong, with which file, and what to do."""
    if isinstance(exc, BenchError):
        return str(exc)
    if isinstance(exc, OSError):
        path = exc.filename if exc.filename is not None else _file_in_traceback(exc)
        what = exc.strerror or str(exc)
        if isinstance(exc, PermissionError):
            return f"{what}: {path}; make it writable or choose another folder (e.g. --results-dir)"
        if exc.errno == errno.ENOSPC:
            return f"{what} writing {path}; free some space and rerun (finished work is kept)"
        return f"{what}: {path}" if path else what
    kind = "not UTF-8 text" if isinstance(exc, UnicodeError) else \
        "not valid JSON" if type(exc).__name__ == "JSONDecodeError" else "empty or not a CSV table"
    found = _file_in_traceback(exc)
    where = f"{found} is {kind}" if found else f"a file is {kind} (-v shows which)"
    return f"{where} ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); replace or delete it"


def _file_in_traceback(exc: BaseException) -> str | None:
    """The file the failing read was given: among the paths to existing files that the
    innermost frames of this project's code hold, the one that fails the same way when read
    again (so a frame holding two paths never names the wrong one)."""
    project = str(Path(__file__).resolve().parents[1])
    for frame, _ in reversed(list(traceback.walk_tb(exc.__traceback__))):
        if frame.f_code.co_filename.startswith(project):
            for value in list(frame.f_locals.values()):
                if isinstance(value, (str, Path)) and len(str(value)) < 4096 and _fails_alike(value, exc):
                    return str(value)
    return None


def _fails_alike(value, exc: BaseException) -> bool:
    """Whether the file ``value`` names is what ``exc`` failed on: the text a JSON error
    quotes, the bytes a decode error quotes, or a CSV that fails to parse again."""
    import pandas as pd

    try:
        path = Path(value)
        if not path.is_file():
            return False
        if isinstance(exc, OSError):
            path.open("rb").close()
            return False
        if isinstance(exc, UnicodeDecodeError):
            return bool(exc.object) and bytes(exc.object) in path.read_bytes()
        if type(exc).__name__ == "JSONDecodeError":
            return exc.doc == path.read_text(encoding="utf-8")
        pd.read_csv(path, nrows=1000)
    except Exception as again:
        return type(again) is type(exc)
    return False


@click.group(cls=BenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Debug logging, and the full traceback of an error.")
@click.version_option(package_name="ipiqa-bench")
def main(verbose):
    """Benchmark harness for AI-generated image quality assessment (IP-IQA, ICME 2024)."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="ipiqa-bench: %(message)s", stream=sys.stderr)
