"""``<results>/<dataset>/removed.json``: the methods a run removed on purpose (``--methods
...,-X``) and that no later run ran, so that ``table`` does not report them as missing."""

from __future__ import annotations

import json
from pathlib import Path

from bench.errors import BenchError
from bench.files import atomic_write_text

REMOVED_FILE = "removed.json"


def read_removed(dataset_dir: Path) -> set[str]:
    """The methods removed on purpose from the runs on this dataset (none if never recorded)."""
    path = Path(dataset_dir) / REMOVED_FILE
    if not path.is_file():
        return set()
    try:
        names = json.loads(path.read_text(encoding="utf-8")).get("removed", [])
    except (OSError, UnicodeError, ValueError, AttributeError) as exc:
        raise BenchError(f"{path} is not a list of removed methods ({exc}); delete it") from exc
    return {str(n) for n in names}


def record_removed(dataset_dir: Path, removed: list[str], ran: list[str]) -> None:
    """Add what a run removed and take out what it runs; written only when it changes."""
    before = read_removed(dataset_dir)
    after = (before | set(removed)) - set(ran)
    if after != before:
        atomic_write_text(Path(dataset_dir) / REMOVED_FILE, json.dumps({"removed": sorted(after)}, indent=2) + "\n")


def removed_by_dataset(results_dir: Path, datasets) -> dict[str, set[str]]:
    """Dataset -> the methods its runs removed on purpose, for each of ``datasets``."""
    return {d: read_removed(Path(results_dir) / d) for d in set(datasets)}
