"""Rendering results: Tables 1-3, each row's protocol, the paper's numbers, figures, significance, the report."""

from bench import former_module_attributes

# what bench.report held as a module before it became a package (e.g. build_report)
__getattr__ = former_module_attributes("bench.report", "bench.report.build")
