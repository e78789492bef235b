"""The method contract as a public check (as scikit-learn's ``utils.estimator_checks``).

* ``method_checks(name)``: ``(check_name, check)`` pairs, one per property of the contract;
* ``check_method(name)``: runs them all, raising AssertionError naming the method and each
  failing check;
* ``parametrize_method_checks(names)``: the same as pytest cases, one per method and check;
* ``textured_image``, ``write_image_set``, ``write_contract_frame``: generated test images.

docs/contract-check.md lists the checks and what each asserts.
"""

from bench.testing.checks import (
    CHECKS,
    CheckSkipped,
    check_method,
    clear_cache,
    method_checks,
)
from bench.testing.images import textured_image, write_contract_frame, write_image_set
from bench.testing.parametrize import parametrize_method_checks

__all__ = ["CHECKS", "CheckSkipped", "check_method", "clear_cache", "method_checks", "parametrize_method_checks",
           "textured_image", "write_contract_frame", "write_image_set"]
