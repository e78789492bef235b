"""The method contract, checked on every registered method (as timm's tests sweep
``list_models()`` and scikit-learn's ``parametrize_with_checks`` runs one suite on every
estimator): a new method, built-in or plugin, is tested without anyone listing it.

The checks are public (``bench.testing``, listed in docs/contract-check.md): one pytest case
per method and check, so that each failing property is named and none hides another. Each
method is built with its ``smoke_config()``; the checks that need a fitted method share one
run per method (cached in bench.testing). A method whose pretrained files are absent runs
with ``pretrained=False`` if it has that option, and its run checks are skipped, with the
reason, if not.

A method class with ``smoke_slow = True`` (its smoke run still takes many seconds) has its run
checks marked ``slow``; one with ``contract_xfail = "<reason>"`` (tests' broken fixtures)
must fail them.
"""

from __future__ import annotations

import pytest
from helpers import SHARED

from bench.registry import list_methods
from bench.testing import parametrize_method_checks

pytestmark = pytest.mark.usefixtures("one_torch_thread", "no_network")  # nothing downloads unasked


@pytest.fixture(autouse=True)
def shared_assets(tmp_path, monkeypatch):
    """An asset cache holding the files shipped in ../shared/assets (NIQE's parameters)."""
    cache = tmp_path / "cache"
    cache.mkdir()
    for path in (SHARED / "assets").rglob("*") if SHARED.is_dir() else ():
        if path.is_file():
            (cache / path.name).symlink_to(path)
    monkeypatch.setenv("IPIQA_BENCH_CACHE", str(cache))


@parametrize_method_checks([info.name for info in list_methods()], slow_marker="slow")
def test_method_contract(method, check):
    check()
