"""Reference cost per image of the handcrafted feature extractors (``Method.reference_cost``),
keyed by feature module: what a first run's plan estimates from before anything has run.

Measured with ``python scripts/reference_costs.py`` (the ordinary runner, 24 generated
512×512 PNG images, cold feature cache, one process) on a 2-core AMD EPYC virtual machine
shared with other work, 2026-12-07; ``ceiq-release`` computes CEIQ's features (plus a dot product).
"""

MACHINE = "2-core CPU (AMD EPYC, shared), 2026-12-07"
SECONDS_PER_IMAGE = {"niqe": 0.192, "ceiq": 0.148, "cpbd": 0.196, "sisblim": 0.177, "gmlf": 0.088, "higrade": 0.607}


def reference_cost(module: str) -> dict:
    return {"seconds_per_image": SECONDS_PER_IMAGE[module], "machine": MACHINE, "image_size": 512}
