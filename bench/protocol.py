"""How a table row was made, read from its manifest: splits done out of the split file's
total, the epoch-selection policy, the per-dataset preset and every config value the user
set. Tables put it on the row (CSV columns; marks and notes in markdown and LaTeX).

A manifest's ``config_sources`` says where each config value came from ("default",
"preset:<name>", "override"). Older manifests have none: their preset and overrides are
then inferred by comparing the config with the method's *current* defaults and preset,
and labelled so.
"""

from __future__ import annotations

import json

IGNORED = ("device",)  # where it ran does not change what was computed
RECORDED, INFERRED = "run.json", "inferred"


def row_protocol(manifest: dict, method: str, dataset: str) -> dict:
    """The protocol columns of one method's rows on one dataset."""
    config = manifest.get("config") or {}
    preset, overrides, source = _departures(manifest, method, dataset)
    return {
        "selection": config.get("selection") or "",
        "preset": preset,
        "overrides": "; ".join(f"{key}={_text(config.get(key))}" if key != "?" else "unknown (method not registered)"
                               for key in overrides),
        "overrides_from": source,
        "images": manifest.get("dataset_size"),
        "dropped": len(manifest.get("dropped_rows") or []),
    }


def _departures(manifest: dict, method: str, dataset: str) -> tuple[str, list[str], str]:
    """(preset name, overridden keys, where that was read)."""
    config = manifest.get("config") or {}
    sources = manifest.get("config_sources")
    if isinstance(sources, dict):
        presets = sorted({s.removeprefix("preset:") for s in sources.values() if str(s).startswith("preset:")})
        overrides = [k for k, s in sources.items() if s == "override" and k not in IGNORED]
        return ", ".join(presets), overrides, RECORDED
    try:
        from bench.registry import get_method_info

        cls = get_method_info(manifest.get("method", method)).cls
        defaults = _json(cls().get_config())
        preset_args = cls.dataset_preset(dataset)
        with_preset = _json(cls(**preset_args).get_config())
    except Exception:  # a method no longer registered: its departures cannot be told
        return "", ["?"] if config else [], INFERRED
    keys = [k for k in config if k not in IGNORED]
    from_preset = [k for k in keys if config[k] == with_preset.get(k) != defaults.get(k)]
    overrides = [k for k in keys if k not in with_preset or config[k] != with_preset[k]]
    preset = dataset if preset_args and from_preset else ""
    return preset, overrides, INFERRED


def _json(config: dict) -> dict:
    return json.loads(json.dumps(config, default=str))  # as the manifest stored it


def _text(value) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)
