"""The results store and reading it back: files, manifests, completion records, locks, metrics."""



def __getattr__(name):
    # what bench.results held as a module before it became a package, e.g. load_results
    import importlib

    if not name.startswith("__"):
        found = getattr(importlib.import_module("bench.results.loading"), name, None)
        if found is not None:
            return found
    raise AttributeError(f"module 'bench.results' has no attribute {name!r}")
