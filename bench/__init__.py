"""ipiqa-bench: a benchmark harness for AI-generated image quality assessment.

The package follows the data flow, and its imports run one way, from the bottom up
(``bench.layers.LAYERS``; docs/architecture.md): errors and files -> assets, plugins -> the
method contract, config resolver and registry -> ``datasets`` -> ``splits`` -> ``results``
-> ``train`` -> ``run`` -> ``report`` -> ``api`` -> ``cli``.
"""

__version__ = "0.2.0"
