"""The results store and reading it back: files, manifests, completion records, locks, metrics."""

from bench import former_module_attributes

# what bench.results held as a module before it became a package (e.g. load_results)
__getattr__ = former_module_attributes("bench.results", "bench.results.loading")
