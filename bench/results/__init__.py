"""The results store and reading it back: files, manifests, completion records, locks, metrics."""
