"""Pure, vectorised handcrafted feature extractors (one module per method).

Every module exposes ``VERSION``, ``NAMES`` and ``extract(image) -> 1-D float64`` for an
HxWx3 uint8 RGB image; the training-free ones (``ceiq``, ``cpbd`` = DSIQA, ``sisblim``) also
expose ``HIGHER_IS_BETTER`` and ``score(image) -> float``. ``gmlf`` and ``higrade`` are
feature sets for a regressor (SVR in the paper). ``niqe`` is separate: its score needs the
release's pristine model, which the NIQE method resolves as an asset.
"""
MODULES = ("gmlf", "higrade", "ceiq", "cpbd", "sisblim")
TRAINING_FREE = ("ceiq", "cpbd", "sisblim")
