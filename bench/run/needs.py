"""What a method needs to run, and whether it is here (``ipiqa-bench list``, ``api.needs``).

Without a dataset: the files a method declares. With one: the files of the config it would
run with there (its preset for that dataset: on the demo, IP-IQA and CLIPScore use the
stand-in CLIP, built locally, not OpenAI's), and what that config builds or reads locally.
"""

from __future__ import annotations

from bench.assets import availability, get_asset
from bench.config import resolve_config
from bench.errors import BenchError
from bench.registry import create_method


def method_needs(info, dataset: str | None = None, preset: str | None = None) -> list[str]:
    """One entry per needed file, "<what> (<state>)"; state: present (in the cache), shipped
    (the package's copy), missing (to download), or what the method says of a local file."""
    if dataset is None and preset is None:
        assets, local = info.assets, {}
    else:
        try:
            method = create_method(info.name, **resolve_config(info, dataset, preset).values)
            assets, local = method.required_assets(), method.local_files()
        except BenchError as exc:  # a config that cannot be built here: the listing goes on
            return [f"cannot tell ({exc})"]
    return ([f"{get_asset(a).filename} ({availability(a)})" for a in assets]
            + [f"{what} ({state})" for what, state in local.items()])
