"""Issue 17's hostile inputs meet one-line errors naming the file and the fix (a traceback
only with -v), images the methods would reject are reported by `check`, and the
loose ends of a killed `report` are cleaned up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import SHARED, run_cli
from PIL import Image

from bench.images import MAX_IMAGE_PIXELS, MIN_IMAGE_SIDE, ImageReadError, load_rgb


def one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("ipiqa-bench: error: ")]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def tiny_results(tiny_dataset, results_dir):
    args = ("run", "--methods", "test-sharpness-svr", "--dataset", "tinyfiles", "--splits", "2",
            "--results-dir", str(results_dir))
    assert run_cli(*args).exit_code == 0
    return results_dir / "tinyfiles", args


# --------------------------------------------------------------------------- damaged result files

# Fixed bytes: which error pandas meets depends on them (os.urandom once gave a ParserError).
RANDOM_BYTES = np.random.default_rng(0).integers(0, 256, 200, dtype=np.uint8).tobytes()


@pytest.mark.parametrize("name, content, kind", [
    ("splits.json", RANDOM_BYTES[:64] + b"\xff", "is not the JSON record of how the splits were made; delete it"),
    ("splits.json", b"{nope", "is not the JSON record of how the splits were made; delete it"),
    ("splits.csv", b"", "is not a splits file (EmptyDataError); delete"),
    ("splits.csv", b"\xff\xfe" + RANDOM_BYTES, "is not a splits file (UnicodeDecodeError); delete"),
])
def test_damaged_splits_files_name_the_file(tiny_results, name, content, kind):
    folder, args = tiny_results
    (folder / name).write_bytes(content)
    one_line_error(run_cli(*args), f"{folder / name} {kind}", "to make")  # names the fix


def test_a_damaged_splits_record_met_by_another_protocol_names_the_file(tiny_results, results_dir):
    """The reader of splits.json raises naming it (the CLI does not guess which file failed)."""
    folder, _ = tiny_results
    (folder / "splits.json").write_bytes(b"{nope")
    result = run_cli("splits", "--dataset", "tinyfiles", "--protocol", "image", "--splits", "2",
                     "--results-dir", str(results_dir))
    one_line_error(result, f"{folder / 'splits.json'} is not the JSON record of how the splits were made")


# A split file is checked against its record in run.json before it is parsed.
@pytest.mark.parametrize("content, kind", [(b"", "does not match its record in run.json (0 rows"),
                                           (b"\xff\xfe" + RANDOM_BYTES, "does not match its record in run.json")])
def test_damaged_prediction_file_names_the_file_in_table(tiny_results, content, kind):
    folder, _ = tiny_results
    split = folder / "test-sharpness-svr" / "split_0.csv"
    split.write_bytes(content)
    one_line_error(run_cli("table", "--results-dir", str(folder.parent)), f"{split} {kind}")


def test_verbose_adds_the_traceback(tiny_results):
    folder, args = tiny_results
    (folder / "splits.json").write_bytes(b"{nope")
    result = run_cli("-v", *args)
    assert result.exit_code == 2 and "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("ipiqa-bench: error: ")


def test_results_folder_that_cannot_be_made(tiny_dataset, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run_cli("run", "--methods", "test-lap-var", "--dataset", "tinyfiles", "--splits", "1",
                     "--results-dir", str(blocker / "results"))
    one_line_error(result, "Not a directory", str(blocker))


def test_read_only_results_folder(tiny_dataset, tmp_path, monkeypatch):
    """A PermissionError from any write names the path and the way out (root ignores chmod,
    so the write is refused by hand here)."""
    import bench.files

    results = tmp_path / "results"
    mkstemp = bench.files.tempfile.mkstemp

    def refuse_in_results(dir, **kwargs):
        if str(dir).startswith(str(results)):
            raise PermissionError(13, "Permission denied", str(dir))
        return mkstemp(dir=dir, **kwargs)

    monkeypatch.setattr(bench.files.tempfile, "mkstemp", refuse_in_results)
    result = run_cli("run", "--methods", "test-lap-var", "--dataset", "tinyfiles", "--splits", "1",
                     "--results-dir", str(results))
    one_line_error(result, "Permission denied", str(tmp_path / "results"), "--results-dir")


# --------------------------------------------------------------------------- label files


def agiqa3k_root(root: Path, n_rows: int) -> Path:
    (root / "AGIQA-3K").mkdir(parents=True)
    lines = (SHARED / "datasets" / "agiqa3k" / "data.csv").read_text().splitlines()[: n_rows + 1]
    (root / "data.csv").write_text("\n".join(lines) + "\n")
    rng = np.random.default_rng(0)
    for line in lines[1:]:
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(root / "AGIQA-3K" / line.split(",")[0])
    return root


def test_header_only_label_file(shared, tmp_path):
    root = agiqa3k_root(tmp_path / "a3", 0)
    for command in ("check", "splits"):
        one_line_error(run_cli(command, "--dataset", "agiqa3k", "--root", str(root)),
                       f"label file {root / 'data.csv'} has no rows")


def test_file_name_that_is_not_utf8(shared, tmp_path):
    root = agiqa3k_root(tmp_path / "a3", 4)
    odd = os.fsdecode(b"\xff\xfeodd.jpg")
    Image.new("RGB", (32, 32)).save(root / "AGIQA-3K" / odd, format="JPEG")
    out = tmp_path / "problems.csv"
    result = run_cli("check", "--dataset", "agiqa3k", "--root", str(root), "--output", str(out))
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "\\xff\\xfeodd.jpg" in result.stdout and "not valid UTF-8" in result.stdout
    assert "unlabelled_image" in out.read_text()


def test_test_size_must_lie_in_the_open_unit_interval(tiny_dataset, results_dir):
    for bad in ("-0.2", "0", "1", "1.5"):
        result = run_cli("splits", "--dataset", "tinyfiles", "--test-size", bad, "--results-dir", str(results_dir))
        assert result.exit_code == 2 and "--test-size" in result.stderr and "Traceback" not in result.stderr
    assert not (results_dir / "tinyfiles").exists()
    assert run_cli("splits", "--dataset", "tinyfiles", "--test-size", "0.3", "--splits", "1",
                   "--results-dir", str(results_dir)).exit_code == 0


# --------------------------------------------------------------------------- image sizes


def test_check_reports_too_small_images_and_drop_invalid_drops_them(tiny_dataset, results_dir, tmp_path):
    small = tmp_path / "tiny" / tiny_dataset["image"][5]
    Image.new("RGB", (1, 1), "white").save(small)
    result = run_cli("check", "--dataset", "tinyfiles")
    assert result.exit_code == 1 and "too_small_image" in result.stdout and "1x1 pixels" in result.stdout
    refused = run_cli("run", "--methods", "test-lap-var", "--dataset", "tinyfiles", "--splits", "1",
                      "--results-dir", str(results_dir))
    one_line_error(refused, "too_small_image 1", "--drop-invalid")
    result = run_cli("run", "--methods", "test-lap-var", "--dataset", "tinyfiles", "--splits", "1",
                     "--results-dir", str(results_dir), "--drop-invalid")
    assert result.exit_code == 0
    manifest = json.loads((results_dir / "tinyfiles" / "test-lap-var" / "run.json").read_text())
    assert [d["image"] for d in manifest["dropped_rows"]] == [small.name]
    assert manifest["dropped_rows"][0]["problems"][0].startswith("too_small_image: 1x1 pixels")


def test_images_over_the_pixel_limit_are_refused_before_decoding(tmp_path):
    from bench.datasets.check import classify_image

    side = int(MAX_IMAGE_PIXELS ** 0.5) + 8  # 1-bit: a few MB to write, ~150 MB were it decoded to RGB
    huge = tmp_path / "huge.png"
    Image.new("1", (side, side)).save(huge)
    kind, why = classify_image(str(huge))
    assert kind == "too_large_image" and f"{side}x{side}" in why
    with pytest.raises(ImageReadError, match=f"huge.png: {side}x{side} pixels: more than"):
        load_rgb(huge)
    ok = tmp_path / "ok.png"
    Image.new("RGB", (MIN_IMAGE_SIDE, MIN_IMAGE_SIDE)).save(ok)
    assert classify_image(str(ok)) is None and load_rgb(ok).shape == (MIN_IMAGE_SIDE, MIN_IMAGE_SIDE, 3)


def test_feature_extraction_errors_name_the_image(tmp_path, niqe_cache):
    from bench.run.tasks import FeatureError, extract_features

    rng = np.random.default_rng(0)
    paths = []
    for name, side in (("big.png", 128), ("small.png", 40), ("big2.png", 128)):
        Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(tmp_path / name)
        paths.append(str(tmp_path / name))
    with pytest.raises(FeatureError, match=r"ValueError: .*NIQE needs >= 96 px per side \(niqe on image .*small\.png\)"):
        extract_features("niqe", {}, paths, [""] * 3)
    assert extract_features("niqe", {}, [paths[0], paths[2]], ["", ""]).features.shape == (2, 1)
    one_line_error(run_cli("score", "--method", "niqe", *paths), "NIQE needs >= 96 px", "niqe on image", "small.png")


# --------------------------------------------------------------------------- report staging


def test_report_cleans_up_after_a_killed_report(tmp_path):
    from bench.report.build import _clean_after_kill

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    stale = tmp_path / f".report.building-{dead}"
    live = tmp_path / f".report.building-{os.getppid()}"  # another report still at work
    for folder in (stale, live):
        folder.mkdir()
        (folder / "report.md").write_text("half")
    old = tmp_path / ".report.old"
    old.mkdir()
    (old / "report.md").write_text("previous report")
    _clean_after_kill(tmp_path / "report")
    assert not stale.exists() and live.exists()
    # killed between setting the old report aside and moving the new one in: it comes back
    assert (tmp_path / "report" / "report.md").read_text() == "previous report" and not old.exists()
