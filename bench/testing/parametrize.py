"""The contract check as pytest cases: one case per method and check, so that a plugin's
test file runs the whole contract in one line::

    from bench.testing import parametrize_method_checks

    @parametrize_method_checks(["my-method"])
    def test_contract(method, check):
        check()
"""

from __future__ import annotations

import functools
from typing import Callable, Iterable

from bench.registry import get_method_info
from bench.testing.checks import CheckSkipped, method_checks, needs_run


def parametrize_method_checks(names: Iterable[str], slow_marker: str | None = None):
    """``pytest.mark.parametrize("method,check", ...)`` over every check of every method in
    ``names``, with ids ``<method>-<check>``. A check that cannot run here is skipped with
    its reason. Where ``slow_marker`` is given, the checks that fit a method whose class
    sets ``smoke_slow`` carry that marker; those of a class with ``contract_xfail`` must fail
    (strict xfail)."""
    # pytest is imported here, not at the top: bench.testing must import without it.
    import pytest

    def skipping(check: Callable[[], None]) -> Callable[[], None]:
        @functools.wraps(check)
        def run() -> None:
            try:
                check()
            except CheckSkipped as skip:
                pytest.skip(str(skip))
        return run

    params = []
    for name in names:
        cls = get_method_info(name).cls
        for check_name, check in method_checks(name):
            marks = []
            if needs_run(check_name):
                if slow_marker and cls.smoke_slow:
                    marks.append(getattr(pytest.mark, slow_marker))
                reason = getattr(cls, "contract_xfail", "")
                if reason:
                    marks.append(pytest.mark.xfail(reason=reason, strict=True))
            params.append(pytest.param(name, skipping(check), marks=marks, id=f"{name}-{check_name}"))
    return pytest.mark.parametrize("method,check", params)
