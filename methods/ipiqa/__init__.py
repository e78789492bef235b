"""IP-IQA (Image-Prompt IQA, arXiv 2403.18714): the network (`model`), Image2Prompt
pretraining (`image2prompt`, `pairs`), the demo's stand-in stages (`standin`) and the
registered methods (`methods`), imported here so that the registry finds them."""

from methods.ipiqa import methods as _methods  # noqa: F401  (registers ipiqa*, imports no torch)
