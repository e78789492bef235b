"""User-facing errors: the CLI prints their message on one line and exits non-zero."""


class BenchError(Exception):
    """An error caused by the user's input or environment, reported without a traceback."""


class AssetMissing(BenchError):
    """A pretrained file is not in the cache and could not be downloaded."""
