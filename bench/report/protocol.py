"""How a table row was made, read from its manifest: splits done out of the split file's
total, the epoch-selection policy, the per-dataset preset (and whether the method declares
it a miniature, ``Method.miniature_presets``: then the row is not comparable to the paper)
and every config value the user set. Tables put it on the row (CSV columns; marks and notes
in markdown and LaTeX).

A manifest's ``config_sources`` says where each config value came from ("default",
"preset:<name>", "override"). Older manifests have none: their preset and overrides are
then inferred by comparing the config with the method's *current* defaults and preset,
and labelled so.
"""

from __future__ import annotations

import json

IGNORED = ("device",)  # where it ran does not change what was computed
RECORDED, INFERRED = "run.json", "inferred"


def row_protocol(manifest, method: str, dataset: str) -> dict:
    """The protocol columns of one method's rows on one dataset (``manifest``: a RunManifest)."""
    config = manifest.config or {}
    preset, overrides, source = _departures(manifest, method, dataset)
    return {
        "selection": config.get("selection") or "",
        "preset": preset,
        "miniature": miniature_note(manifest.method or method, preset),
        "overrides": "; ".join(f"{key}={_text(config.get(key))}" if key != "?" else "unknown (method not registered)"
                               for key in overrides),
        "overrides_from": source,
        "images": manifest.dataset_size,
        "dropped": len(manifest.dropped_rows or []),
    }


def miniature_note(method: str, preset: str) -> str:
    """"miniature training (preset demo), not comparable to the paper" where the method
    declares ``preset`` a miniature; "" otherwise, or when the method is not registered."""
    from bench.registry import METHOD_REGISTRY

    info = METHOD_REGISTRY.find(method) if preset else None
    declared = (getattr(info.cls, "miniature_presets", None) or {}) if info else {}
    for name in preset.split(", "):
        if name in declared:
            return f"miniature {declared[name]} (preset {name}), not comparable to the paper"
    return ""


def _departures(manifest, method: str, dataset: str) -> tuple[str, list[str], str]:
    """(preset name, overridden keys, where that was read)."""
    config = manifest.config or {}
    sources = manifest.config_sources or {}
    if sources and "unknown" not in sources.values():  # recorded by the config resolver
        overrides = [k for k, s in sources.items() if s == "override" and k not in IGNORED]
        presets = sorted({s.removeprefix("preset:") for s in sources.values() if str(s).startswith("preset:")})
        return manifest.preset or ", ".join(presets), overrides, RECORDED
    try:
        from bench.run.config import resolve_config

        defaults = _json(resolve_config(manifest.method or method, preset="default").values)
        resolved = resolve_config(manifest.method or method, dataset)
        with_preset = _json(resolved.values)
    except Exception:  # a method no longer registered: its departures cannot be told
        return "", ["?"] if config else [], INFERRED
    keys = [k for k in config if k not in IGNORED]
    from_preset = [k for k in keys if config[k] == with_preset.get(k) != defaults.get(k)]
    overrides = [k for k in keys if k not in with_preset or config[k] != with_preset[k]]
    preset = resolved.preset if resolved.preset and from_preset else ""
    return preset or "", overrides, INFERRED


def _json(config: dict) -> dict:
    return json.loads(json.dumps(config, default=str))  # as the manifest stored it


def _text(value) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)
