"""Reference costs per image (``Method.reference_cost``): what a first run's plan estimates a
row from before anything has run.

Handcrafted feature extractors, keyed by feature module: worker seconds per image of feature
extraction at 1024 px (the extraction's wall time x its 2 worker processes, over the images;
numba's first compile and JPEG decoding included), from one run of the 10 handcrafted/SVR rows
over 10 splits on 2,982 generated 1024-px JPEGs (``run ... --splits 10 --jobs 2``, cold caches;
docs/speed.md) on a 2-core AMD EPYC virtual machine, otherwise idle, 2026-12-07, at 91a772e.
``ceiq-release`` computes CEIQ's features (plus a dot product). With ``--jobs N`` the plan's
sum is CPU time: N workers take about 1/N of it.

Trainable torch rows, keyed by method: seconds per training sample (forward, loss, backward,
update, in batches of ``batch_size``) and per predicted image (its test-time views or crops
included), with random weights, measured with ``python scripts/reference_costs.py
--trainable`` (bench.train.speed.measure_model_cost: 2 timed steps after one warm-up, one
process, synthetic pixels) on the same machine, 2026-12-07, while other sessions loaded it
(load average 4-9 on its 2 cores): expect the figures to be up to 2-3x a free machine's, and
noisy (two steps). Each is measured at the row's recipe config or, where a few steps of that
are minutes on this CPU, at a smaller image, crop and batch (scripts/reference_costs.py
``MEASURED_AT``: the pixels below); the plan scales them by the pixels the network sees
(TorchMethod.input_pixels). IP-IQA's rows were measured on the RN50 CLIP (``config``): the
demo's stand-in CLIP is another network, so their plan on it stays "unknown".
"""

MACHINE = "2-core CPU (AMD EPYC, shared, load 4-9), 2026-12-07"
FEATURES_MACHINE = "2-core CPU (AMD EPYC), 2026-12-07"
FEATURES_IMAGE_SIZE = 1024
SECONDS_PER_IMAGE = {"niqe": 0.0426, "ceiq": 0.0378, "cpbd": 0.044, "sisblim": 0.0487, "gmlf": 0.0311, "higrade": 0.2056}

TRAINING_MACHINE = "2-core CPU (AMD EPYC, shared, load 4-9), 2026-12-07"
TRAINING = {
    # image_size 224 (recipe 512), batch 4 (recipe 64)
    "clipiqa": {"train_s_per_image": 2.6051, "predict_s_per_image": 1.428, "train_pixels": 224 ** 2,
                "predict_pixels": 224 ** 2, "batch_size": 4},
    # image_size 256 (recipe 512), batch 16 (recipe 64)
    "cnniqa": {"train_s_per_image": 0.1934, "predict_s_per_image": 0.0886, "train_pixels": 256 ** 2,
               "predict_pixels": 256 ** 2, "batch_size": 16},
    # the recipe's 512-px images and 32-px patches; batch 32 (recipe 128), predicted 2 at a time
    "cnniqa-kang": {"train_s_per_image": 0.0015, "predict_s_per_image": 0.239, "train_pixels": 32 ** 2,
                    "predict_pixels": 512 ** 2, "batch_size": 32},
    # image_size 160, crop 128 (recipe 512, 448), batch 4 (recipe 8)
    "dbcnn": {"train_s_per_image": 1.1876, "predict_s_per_image": 0.5577, "train_pixels": 128 ** 2,
              "predict_pixels": 160 ** 2, "batch_size": 4},
    # its fixed 224-px crops; batch 4 (recipe 96); 4 test crops (recipe 25), predicted 2 at a time
    "hypernet": {"train_s_per_image": 3.4889, "predict_s_per_image": 2.4888, "train_pixels": 224 ** 2,
                 "predict_pixels": 4 * 224 ** 2, "batch_size": 4},
    # ViT-B/32 on 8 + 1 views (training) and 15 + 1 (prediction) of 224 px; batch 2 (recipe 16)
    "ipce": {"train_s_per_image": 14.4691, "predict_s_per_image": 6.4615, "train_pixels": 9 * 224 ** 2,
             "predict_pixels": 16 * 224 ** 2, "batch_size": 2},
    # image_size 128 (recipe 512), batch 8 (recipe 40); the same network twice: the noise
    "resnet50": {"train_s_per_image": 1.2338, "predict_s_per_image": 0.3492, "train_pixels": 128 ** 2,
                 "predict_pixels": 128 ** 2, "batch_size": 8},
    "resnet50-imagenet": {"train_s_per_image": 1.1131, "predict_s_per_image": 0.1518, "train_pixels": 128 ** 2,
                          "predict_pixels": 128 ** 2, "batch_size": 8},
    # image_size 160, crop 128 (recipe 512, 384), batch 4 (recipe 16)
    "topiq-nr": {"train_s_per_image": 4.7492, "predict_s_per_image": 2.2575, "train_pixels": 128 ** 2,
                 "predict_pixels": 160 ** 2, "batch_size": 4},
    # RN50 CLIP, image_size 128 (recipe 512), batch 4 (recipe 40)
    "ipiqa": {"train_s_per_image": 8.046, "predict_s_per_image": 2.4365, "train_pixels": 128 ** 2,
              "predict_pixels": 128 ** 2, "batch_size": 4, "config": {"clip": "RN50"}},
    "ipiqa-base": {"train_s_per_image": 3.8318, "predict_s_per_image": 0.978, "train_pixels": 128 ** 2,
                   "predict_pixels": 128 ** 2, "batch_size": 4, "config": {"clip": "RN50"}},
    "ipiqa-i2p": {"train_s_per_image": 5.7471, "predict_s_per_image": 1.4, "train_pixels": 128 ** 2,
                  "predict_pixels": 128 ** 2, "batch_size": 4, "config": {"clip": "RN50"}},
    "ipiqa-i2p-prompt": {"train_s_per_image": 5.2128, "predict_s_per_image": 2.628, "train_pixels": 128 ** 2,
                         "predict_pixels": 128 ** 2, "batch_size": 4, "config": {"clip": "RN50"}},
    # measured alone afterwards, at load 4-5 (the others at 6-9)
    "ipiqa-prompt": {"train_s_per_image": 1.8627, "predict_s_per_image": 0.6441, "train_pixels": 128 ** 2,
                     "predict_pixels": 128 ** 2, "batch_size": 4, "config": {"clip": "RN50"}},
}

# Training-free scorers with random weights (``--random-init``: the cost, not the scores), through
# the ordinary runner on 24 generated 512x512 images, same machine and day (load 4-6).
# imagereward and pickscore cannot be built offline (their tokenizer/config files are
# downloads) and have no figure; nor has any pyiqa row whose released weights are not here.
# ``config``: the network measured (clipscore's demo preset swaps in the stand-in CLIP).
PREDICTION = {"clipscore": (0.8985, {"model": "ViT-B-32"}), "hps": (4.9574, {"model": "ViT-L-14-quickgelu"}),
              "hpsv2": (11.1985, {"model": "ViT-H-14"}), "pyiqa:entropy": (0.9533, {}), "pyiqa:piqe": (0.6173, {})}


def reference_cost(module: str) -> dict:
    return {"seconds_per_image": SECONDS_PER_IMAGE[module], "machine": FEATURES_MACHINE, "image_size": FEATURES_IMAGE_SIZE}


def prediction_reference_cost(method: str) -> dict | None:
    """A training-free scorer's seconds per image at 512 px (None: not measured)."""
    if method not in PREDICTION:
        return None
    seconds, config = PREDICTION[method]
    return {"seconds_per_image": seconds, "machine": MACHINE, "image_size": 512, **({"config": config} if config else {})}


def training_reference_cost(method: str) -> dict | None:
    """A trainable row's figures with the machine they were measured on (None: not measured)."""
    figures = TRAINING.get(method)
    return None if figures is None else {**figures, "machine": TRAINING_MACHINE}
