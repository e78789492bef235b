"""Dataset validation before a run: refuse a dataset with problems, or drop the rows that
``ipiqa-bench check`` reports (``--drop-invalid``) and record them in the manifest."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import replace

from bench.datasets import Dataset
from bench.datasets.check import check_dataset
from bench.errors import BenchError

log = logging.getLogger("ipiqa_bench")


def prepare_for_run(dataset: Dataset, drop_invalid: bool) -> Dataset:
    """The dataset a run may use: refused if invalid, or with invalid rows dropped."""
    report = check_dataset(dataset)
    if report.clean:
        return dataset
    check = f"`ipiqa-bench check --dataset {dataset.name} --root {dataset.root}`"
    if not drop_invalid:
        raise BenchError(f"{dataset.name}: {report.summary()}; {check} lists them; "
                         "rerun with --drop-invalid to drop those rows")
    by_row = defaultdict(list)
    for problem in report.problems:
        if problem.row is not None:
            by_row[problem.row].append(problem)
    dropped = [{"image": found[0].image, "label_line": report.label_line(row),
                "problems": [f"{p.kind}: {p.detail}" if p.detail else p.kind for p in found]}
               for row, found in sorted(by_row.items())]
    if len(by_row) == len(dataset):
        raise BenchError(f"{dataset.name}: every label row has a problem ({report.summary()}); see {check}")
    files_only = sum(p.row is None for p in report.problems)
    log.info("%s: --drop-invalid: dropped %d of %d label rows that `check` reports (%s)%s", dataset.name,
             len(dropped), len(dataset), report.found(),
             f"; {files_only} image file(s) without a label row are not used" if files_only else "")
    return replace(dataset, frame=dataset.frame.drop(index=list(by_row)), dropped=dropped, label_problems=[])
