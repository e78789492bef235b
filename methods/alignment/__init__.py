"""Table 2's training-free text-to-image alignment scorers of (image, prompt) pairs:
CLIPScore, ImageReward, HPS (v1) and HPS v2.

StairReward (Li et al., AGIQA-3K, IEEE TCSVT 2023) is not here: its method section could
not be read from the material available to this project, and a guess at how it splits the
prompt and combines the per-part rewards would not be StairReward (see README)."""

from methods.alignment import clipscore, hps, imagereward, pickscore  # noqa: F401  (registers the methods)
