"""pyiqa's no-reference zoo as rows: generated from pyiqa's own table, signed by its
``lower_better``, every file fetched through the asset cache, weight-free rows running offline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import run_cli

from bench.errors import AssetMissing, BenchError
from bench.registry import create_method, get_method_info, list_methods, resolve_method_names

DISTRIBUTION_METRICS = {"fid", "fid_dinov2", "sfid", "inception_score"}  # pyiqa scores these on folders


def zoo_rows():
    return {m.name.removeprefix("pyiqa:"): m for m in list_methods() if m.family == "pyiqa"}


def test_rows_are_pyiqa_no_reference_metrics_minus_distribution_metrics():
    import pyiqa

    rows = zoo_rows()
    nr = set(pyiqa.list_models(metric_mode="NR"))
    assert set(rows) == nr - DISTRIBUTION_METRICS
    assert len(rows) == len(nr) - 4 and len(rows) >= 60
    assert not set(rows) & set(pyiqa.list_models(metric_mode="FR"))  # lpips, ssim... are not rows
    assert {"liqe", "topiq_nr", "musiq", "maniqa", "clipiqa+", "qualiclip", "arniqa", "piqe", "entropy"} <= set(rows)
    for info in rows.values():
        assert not info.trains and info.display == info.name and info.cls.metric == info.name.removeprefix("pyiqa:")


def test_sign_follows_pyiqa_lower_better():
    from pyiqa.default_model_configs import DEFAULT_CONFIGS

    rows = zoo_rows()
    for name, info in rows.items():
        assert info.higher_is_better is not DEFAULT_CONFIGS[name].get("lower_better", False), name
    assert rows["niqe"].sign == -1 and rows["piqe"].sign == -1 and rows["brisque"].sign == -1
    assert rows["liqe"].sign == 1 and rows["entropy"].sign == 1


def test_declared_assets_are_the_files_the_options_select():
    def files(name):
        from bench.assets import get_asset

        return {get_asset(a).filename for a in get_method_info(f"pyiqa:{name}").assets}

    assert files("maniqa") == {"ckpt_koniq10k.pt"} and files("maniqa-pipal") == {"MANIQA_PIPAL-ae6d356b.pth"}
    assert files("topiq_nr") == {"cfanet_nr_koniq_res50-9a73138b.pth"}
    assert files("liqe") == {"liqe_koniq.pt", "ViT-B-32.pt"}
    assert files("niqe_matlab") == {"niqe_matlab_params.mat"} and files("niqe") == {"niqe_modelparameters.mat"}
    assert files("entropy") == set() and files("piqe") == set()


def test_weight_free_rows_are_offline_and_network_rows_are_not():
    offline = resolve_method_names("offline")
    assert "pyiqa:entropy" in offline and "pyiqa:piqe" in offline
    assert "pyiqa:liqe" not in offline and "pyiqa:qalign" not in offline


def test_missing_weights_name_the_file_its_url_and_where_to_put_it(offline_cache):
    image = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(AssetMissing) as info:
        create_method("pyiqa:brisque", device="cpu").score(image, "")
    message = str(info.value)
    assert "brisque_svm_weights.pth" in message
    assert "https://huggingface.co/chaofengc/IQA-PyTorch-Weights/resolve/main/brisque_svm_weights.pth" in message
    assert str(offline_cache / "assets" / "brisque_svm_weights.pth") in message
    import pyiqa.archs.brisque_arch as brisque_arch  # imported while redirected: pyiqa's own helper after
    from pyiqa.utils.download_util import load_file_from_url

    assert brisque_arch.load_file_from_url is load_file_from_url


def test_a_timm_backbone_is_fetched_through_the_asset_cache_too(offline_cache):
    with pytest.raises(AssetMissing) as info:
        create_method("pyiqa:topiq_nr", device="cpu").score(np.zeros((32, 32, 3), np.uint8), "")
    message = str(info.value)
    assert "https://huggingface.co/timm/resnet50" in message and str(offline_cache / "assets") in message


@pytest.mark.parametrize("metric", ["entropy", "piqe"])
def test_weight_free_rows_score_like_pyiqa(metric, tiny_dataset):
    import pyiqa

    paths = tiny_dataset["path"].tolist()[:4]
    ours = create_method(f"pyiqa:{metric}", device="cpu").features_of_rows(paths, [""] * 4)[:, 0]
    reference = pyiqa.create_metric(metric, device="cpu")
    theirs = np.array([float(reference(p).item()) for p in paths])
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    assert np.ptp(theirs) > 0


def _cnniqa_checkpoint(offline_cache):
    """pyiqa's CNNIQA with random weights, saved as its release is (under 'params')."""
    from pyiqa.archs.cnniqa_arch import CNNIQA

    torch.manual_seed(0)
    network = CNNIQA(pretrained=None).eval()
    (offline_cache / "assets").mkdir(parents=True, exist_ok=True)
    torch.save({"params": network.state_dict()}, offline_cache / "assets" / "CNNIQA_koniq10k-e6f14c91.pth")
    return network


def test_a_network_row_loads_its_file_from_the_cache_and_scores_like_pyiqa(offline_cache, tiny_dataset):
    network = _cnniqa_checkpoint(offline_cache)
    paths = tiny_dataset["path"].tolist()[:3]
    ours = create_method("pyiqa:cnniqa", device="cpu").features_of_rows(paths, [""] * 3)[:, 0]
    from pyiqa.utils.img_util import imread2tensor

    with torch.no_grad():
        theirs = np.array([float(network(imread2tensor(p, rgb=True)[None])) for p in paths])
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_a_checkpoint_holding_pickled_objects_is_refused(offline_cache):
    import datetime

    from methods.pyiqa_zoo import _built_metric

    (offline_cache / "assets").mkdir(parents=True, exist_ok=True)
    torch.save({"params": datetime.date(2026, 1, 1)}, offline_cache / "assets" / "CNNIQA_koniq10k-e6f14c91.pth")
    _built_metric.cache_clear()
    with pytest.raises(BenchError, match="refusing to unpickle"):
        create_method("pyiqa:cnniqa", device="cpu").score(np.zeros((32, 32, 3), np.uint8), "")
    _built_metric.cache_clear()


def test_list_shows_the_family_with_its_count_and_licence():
    result = run_cli("list", "--family", "pyiqa")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"{len(zoo_rows())} method(s)" in lines  # after the table, before the descriptions
    liqe = next(line for line in lines if line.startswith("pyiqa:liqe "))
    assert "PolyForm-Noncommercial" in liqe and "liqe_koniq.pt (missing)" in liqe


def test_run_pyiqa_runs_the_rows_whose_weights_are_present(offline_cache, tiny_dataset, results_dir, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="ipiqa_bench")
    _built_metric_clear()
    _cnniqa_checkpoint(offline_cache)
    result = run_cli("run", "--methods", "pyiqa", "--dataset", "tinyfiles", "--splits", "2",
                     "--results-dir", str(results_dir), "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    done = sorted(p.name for p in (results_dir / "tinyfiles").iterdir() if (p / "split_1.csv").exists())
    assert done == ["pyiqa:cnniqa", "pyiqa:entropy", "pyiqa:piqe"]
    assert "left out" in caplog.text and "pyiqa:liqe" in caplog.text
    predictions = pd.read_csv(results_dir / "tinyfiles" / "pyiqa:piqe" / "split_0.csv")
    assert predictions["pred"].notna().all() and len(predictions) > 0
    _built_metric_clear()


def _built_metric_clear():
    from methods.pyiqa_zoo import _built_metric

    _built_metric.cache_clear()


def test_rows_running_pyiqa_code_carry_its_licence():
    from importlib.metadata import metadata

    licence = metadata("pyiqa")["License-Expression"]
    assert licence.startswith("PolyForm-Noncommercial")
    built_on_pyiqa = ["dbcnn", "cnniqa", "hypernet", "clipiqa", "topiq-nr"]
    for name in built_on_pyiqa + [f"pyiqa:{m}" for m in zoo_rows()]:
        assert get_method_info(name).licence == licence, name
    assert get_method_info("resnet50").licence == ""  # torchvision only: nothing restricting recorded
    assert get_method_info("niqe").licence == ""  # the harness's own port of the NIQE release
