"""Rendering results: Tables 1-3, each row's protocol, the paper's numbers, figures, significance, the report."""



def __getattr__(name):
    # what bench.report held as a module before it became a package, e.g. build_report
    import importlib

    if not name.startswith("__"):
        found = getattr(importlib.import_module("bench.report.build"), name, None)
        if found is not None:
            return found
    raise AttributeError(f"module 'bench.report' has no attribute {name!r}")
