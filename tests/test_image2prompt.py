"""Image2Prompt pretraining: DiffusionDB layout, resumable CLIP-similarity filter, the
`pretrain image2prompt` command on one process and under a 2-process CPU torchrun, and the
checkpoint's hand-over into the fine-tuning model. Tiny random CLIPs, offline."""

import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import run_cli

from bench.errors import BenchError
from methods.ipiqa.base_clip import load_base_clip
from methods.ipiqa.distributed import DistContext
from methods.ipiqa.image2prompt import I2PConfig, filter_pairs, load_checkpoint, score_pairs
from methods.ipiqa.model import IPIQA, build_clip, load_i2p_state_dict
from methods.ipiqa.pairs import read_pairs, write_pairs

REPO = Path(__file__).resolve().parents[1]
COLOURS = {"red": (220, 40, 40), "green": (40, 200, 40), "blue": (40, 40, 220), "white": (230, 230, 230)}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def colour_pairs(n: int, size: int = 32, seed: int = 0):
    """Flat-coloured squares with their colour as the prompt."""
    rng = np.random.default_rng(seed)
    names = list(COLOURS)
    for i in range(n):
        name = names[i % len(names)]
        image = np.full((size, size, 3), COLOURS[name], np.uint8)
        image = np.clip(image + rng.integers(-20, 20, image.shape), 0, 255).astype(np.uint8)
        yield image, f"a {name} square number {i}"


@pytest.fixture
def pairs_root(tmp_path) -> Path:
    root = tmp_path / "diffusiondb"
    write_pairs(root, colour_pairs(12), part_size=5)  # parts 1-3, the last one partial
    return root


def cli_args(pairs_root, out, *extra):
    return ["pretrain", "image2prompt", "--pairs", str(pairs_root), "--out", str(out), "--clip", "small",
            "--random-init", "--batch-size", "2", "--workers", "0", "--image-size", "32", "--threshold", "-1",
            *extra]


# --------------------------------------------------------------------------- layout


def test_reads_diffusiondb_layout(pairs_root):
    frame = read_pairs(pairs_root)
    assert len(frame) == 12 and list(frame.columns) == ["image_name", "prompt", "path"]
    assert frame.loc[0, "path"] == str(pairs_root / "images" / "part-000001" / "00000000.png")
    assert frame.loc[11, "path"].endswith("part-000003/00000011.png")
    assert frame.loc[7, "prompt"] == "a white square number 7"


def test_per_part_json_without_metadata(pairs_root):
    from_metadata = read_pairs(pairs_root)
    (pairs_root / "metadata.parquet").unlink()
    pd.testing.assert_frame_equal(read_pairs(pairs_root).sort_values("image_name").reset_index(drop=True),
                                  from_metadata)


def test_missing_parts_and_empty_prompts_are_left_out(pairs_root):
    import shutil

    meta = pd.read_parquet(pairs_root / "metadata.parquet")
    meta.loc[0, "prompt"] = None
    meta.to_parquet(pairs_root / "metadata.parquet")
    shutil.rmtree(pairs_root / "images" / "part-000002")  # a part that was not downloaded
    frame = read_pairs(pairs_root)
    assert sorted(frame["image_name"]) == [f"{i:08d}.png" for i in (1, 2, 3, 4, 10, 11)]


def test_no_pairs_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchError, match="no image-prompt pairs found"):
        read_pairs(tmp_path / "empty")
    with pytest.raises(BenchError, match="does not exist"):
        read_pairs(tmp_path / "absent")


# --------------------------------------------------------------------------- filter


def test_filter_is_resumable_and_thresholded(pairs_root, tmp_path):
    base = load_base_clip("small", random_init=True)
    pairs, work = read_pairs(pairs_root), tmp_path / "work"
    config = I2PConfig(filter_batch_size=4, workers=0)
    fresh = score_pairs(base, pairs, work, config, "cpu", DistContext())
    assert sorted(fresh) == sorted(pairs["image_name"])
    assert all(-1 <= s <= 1 for s in fresh.values())

    # a run killed in the middle of a line: the cut line and the lines after it are redone
    shard = work / "similarity-rank0.csv"
    text = shard.read_text()
    shard.write_text(text[: text.index("\n", len(text) // 2) + 8])
    partial = len(shard.read_text().split("\n")) - 2  # complete lines left
    assert 0 < partial < 12
    resumed = score_pairs(base, pairs, work, config, "cpu", DistContext())
    assert resumed == pytest.approx(fresh, abs=1e-6)
    assert len(shard.read_text().splitlines()) == 12  # nothing scored twice

    threshold = float(np.median(list(fresh.values())))
    kept = filter_pairs(base, pairs, work, I2PConfig(threshold=threshold, workers=0), "cpu", DistContext())
    expected = sorted(n for n, s in fresh.items() if s >= threshold)
    assert sorted(kept["image_name"]) == expected
    listed = pd.read_csv(work / "kept.csv")
    assert sorted(listed["image_name"]) == expected and (listed["similarity"] >= threshold).all()
    record = json.loads((work / "filter.json").read_text())
    assert record["kept"] == len(expected) and record["pairs"] == 12 and record["random_init"] is True

    other = load_base_clip("small", random_init=True, seed=1)  # another CLIP: old scores do not apply
    with pytest.raises(BenchError, match="another CLIP"):
        score_pairs(other, pairs, work, config, "cpu", DistContext())


# --------------------------------------------------------------------------- command


def test_command_trains_and_checkpoint_loads_into_ipiqa(pairs_root, tmp_path):
    out = tmp_path / "i2p.pt"
    result = run_cli(*cli_args(pairs_root, out, "--epochs", "2", "--lr", "1e-3"))
    assert result.exit_code == 0, result.output
    data = load_checkpoint(out, "small")
    assert data["random_init"] is True and data["image_size"] == 32
    assert data["filter"]["kept"] == 12 and len(data["training"]["losses"]) == 2
    assert not (out.parent / "i2p.pt.work" / "train-state.pt").exists()

    torch.manual_seed(0)  # the same random CLIP the command started from (seed 0)
    start = build_clip("small").visual.state_dict()
    trained = data["visual"]
    assert any(not torch.equal(start[k], trained[k]) for k in start if "num_batches" not in k)

    model = IPIQA(build_clip("small"), image_size=64, n_outputs=2)
    load_i2p_state_dict(model, trained)  # pool positions resized 1x1 -> 2x2 on the way in
    loaded = model.visual.state_dict()
    assert torch.equal(loaded["layer4.0.conv1.weight"], trained["layer4.0.conv1.weight"])
    assert loaded["attnpool.positional_embedding"].shape[0] == 2 * 2 + 1
    with pytest.raises(BenchError, match="from a small CLIP, not RN50"):
        load_checkpoint(out, "RN50")


def test_filter_only_writes_the_list_and_no_checkpoint(pairs_root, tmp_path):
    out = tmp_path / "i2p.pt"
    result = run_cli(*cli_args(pairs_root, out, "--filter-only", "--work-dir", str(tmp_path / "w")))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(tmp_path / "w" / "kept.csv")
    assert len(pd.read_csv(tmp_path / "w" / "kept.csv")) == 12 and not out.exists()


def test_missing_weights_are_one_line_errors(pairs_root, tmp_path):
    base = ["pretrain", "image2prompt", "--pairs", str(pairs_root), "--out", str(tmp_path / "x.pt")]
    for args, fragment in [((), "RN50.pt"), (("--clip", "small"), "no published weights")]:
        result = run_cli(*base, *args)
        lines = result.stderr.strip().splitlines()
        assert result.exit_code != 0 and len(lines) == 1 and fragment in lines[0], result.stderr
    # a wrong pair folder is reported first, before the (here missing) RN50 weights
    result = run_cli("pretrain", "image2prompt", "--pairs", str(tmp_path / "absent"), "--out", str(tmp_path / "x.pt"))
    lines = result.stderr.strip().splitlines()
    assert result.exit_code != 0 and len(lines) == 1 and "does not exist" in lines[0], result.stderr
    torch.save({"x": 1}, tmp_path / "foreign.pt")
    with pytest.raises(BenchError, match="not an Image2Prompt checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt", "small")


def test_two_process_torchrun_on_cpu(pairs_root, tmp_path):
    out = tmp_path / "ddp.pt"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "bench", *cli_args(pairs_root, out, "--epochs", "2", "--device", "cpu")]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    data = load_checkpoint(out, "small")
    assert data["world_size"] == 2 and len(data["training"]["losses"]) == 2
    shards = sorted((tmp_path / "ddp.pt.work").glob("similarity-rank*.csv"))
    assert [p.name for p in shards] == ["similarity-rank0.csv", "similarity-rank1.csv"]
    assert sum(len(p.read_text().splitlines()) for p in shards) == 12  # each pair scored once
    model = IPIQA(build_clip("small"), image_size=32)
    load_i2p_state_dict(model, copy.deepcopy(data["visual"]))
