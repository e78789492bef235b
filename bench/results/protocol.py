"""How a table row was made, read from its manifest: splits done out of the split file's
total, the epoch-selection policy, the per-dataset preset (and whether the method declares
it a miniature, ``Method.miniature_presets``: then the row is not comparable to the paper)
and every config value the user set. Tables put it on the row (CSV columns; marks and notes
in markdown and LaTeX).

A manifest's ``config_sources`` says where each config value came from ("default",
"preset:<name>", "override"): the row's preset and overrides are read from it.
"""

from __future__ import annotations

import json

from bench.registry import METHOD_REGISTRY

IGNORED = ("device",)  # where it ran does not change what was computed


def row_protocol(manifest, method: str, dataset: str) -> dict:
    """The protocol columns of one method's rows on one dataset (``manifest``: a RunManifest)."""
    config = manifest.config or {}
    preset, overrides = departures(manifest)
    return {
        "selection": config.get("selection") or "",
        "preset": preset,
        "miniature": miniature_note(manifest.method or method, preset),
        "overrides": "; ".join(f"{key}={_text(config.get(key))}" for key in overrides),
        "images": manifest.dataset_size,
        "dropped": len(manifest.dropped_rows or []),
    }


def miniature_note(method: str, preset: str) -> str:
    """"miniature training (preset demo), not comparable to the paper" where the method
    declares ``preset`` a miniature; "" otherwise, or when the method is not registered."""
    info = METHOD_REGISTRY.find(method) if preset else None
    declared = (getattr(info.cls, "miniature_presets", None) or {}) if info else {}
    for name in preset.split(", "):
        if name in declared:
            return f"miniature {declared[name]} (preset {name}), not comparable to the paper"
    return ""


def departures(manifest) -> tuple[str, list[str]]:
    """(preset name, the config keys the user overrode), as the config resolver recorded them."""
    sources = manifest.config_sources or {}
    overrides = [k for k, s in sources.items() if s == "override" and k not in IGNORED]
    presets = sorted({s.removeprefix("preset:") for s in sources.values() if str(s).startswith("preset:")})
    return manifest.preset or ", ".join(presets), overrides


def _text(value) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)
