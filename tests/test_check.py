"""`ipiqa-bench check` and the refusal / --drop-invalid of `run`, on the real AGIQA label
files with generated placeholder images, and on label files made broken on purpose."""

import json
import os
import shutil

import pandas as pd
from agiqa_helpers import IMAGE_FOLDERS, agiqa_root, write_placeholder_images
from helpers import run_cli

from bench.datasets import load_dataset
from bench.datasets.check import PROBLEM_KINDS, VerifiedImages, check_dataset, image_problem


def _problems(result, path):
    """The problems a `check --output` wrote, as {kind: sorted image names}."""
    table = pd.read_csv(path)
    assert set(table["kind"]) <= set(PROBLEM_KINDS)
    return {kind: sorted(part["image"]) for kind, part in table.groupby("kind")}


def test_check_finds_what_is_wrong_with_agiqa1k(shared, tmp_path):
    root = agiqa_root(tmp_path / "agiqa1k", "agiqa1k")
    images = root / IMAGE_FOLDERS["agiqa1k"]
    truncated = images / "deepai_0_0_0_0.jpg"
    truncated.write_bytes(truncated.read_bytes()[:300])
    (images / "deepai_0_0_0_1.jpg").unlink()
    write_placeholder_images(root / "extra", ["deepai_0_0_1_0.jpg", "notes.png"], seed=1)  # a different copy
    (root / "__MACOSX").mkdir()
    (root / "__MACOSX" / "._deepai_0_0_1_1.jpg").write_bytes(b"resource fork, not an image")

    result = run_cli("check", "--dataset", "agiqa1k", "--root", str(root), "--output", str(tmp_path / "p.csv"))
    assert result.exit_code == 1
    assert _problems(result, tmp_path / "p.csv") == {
        "duplicate_row": ["dreamStudio_8_9_1_1.jpg"] * 2,  # the xlsx's last row repeats a name
        "unlabelled_image": ["dreamStudio_8_5_0_0.jpg", "notes.png"],  # ... and the xlsx has no row for this one
        "missing_image": ["deepai_0_0_0_1.jpg"],
        "ambiguous_image": ["deepai_0_0_1_0.jpg"],
        "unreadable_image": ["deepai_0_0_0_0.jpg"],
    }
    assert "dreamStudio_8_9_1_1.jpg  [label row 1081]  2 label rows name it (mos 0.4414, 2.084)" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("7 problem(s) (duplicate_row 2, missing_image 1, unlabelled_image 2, ambiguous_image 1, unreadable_image 1) in 5 label row(s)")


def test_check_agiqa1k_csv(shared, tmp_path):
    root = agiqa_root(tmp_path / "agiqa1k", "agiqa1k", labels=("AIGC_all.csv",))
    result = run_cli("check", "--dataset", "agiqa1k", "--root", str(root), "--output", str(tmp_path / "p.csv"))
    assert result.exit_code == 1
    assert _problems(result, tmp_path / "p.csv") == {
        "malformed_name": ["dreamStudio_8_9_1_.jpg"],
        "missing_image": ["dreamStudio_8_9_1_.jpg"],
        "unlabelled_image": ["dreamStudio_8_9_1_1.jpg"],  # what the malformed row must have meant
    }


def test_clean_agiqa3k_exits_0(shared, tmp_path):
    root = agiqa_root(tmp_path / "agiqa3k", "agiqa3k")
    result = run_cli("check", "--dataset", "agiqa3k", "--root", str(root))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"agiqa3k: 2982 label rows from {root / 'data.csv'}; 2982 image files under {root}"
    assert result.stdout.splitlines()[-1] == "clean: no problems found"


def test_run_refuses_then_drops_what_check_reports(shared, tmp_path):
    root = agiqa_root(tmp_path / "agiqa1k", "agiqa1k")
    results = tmp_path / "results"
    args = ["--methods", "test-lap-var", "--dataset", "agiqa1k", "--root", str(root), "--splits", "1",
            "--results-dir", str(results)]
    refused = run_cli("run", *args)
    assert refused.exit_code == 2 and not results.exists()
    assert f"`ipiqa-bench check --dataset agiqa1k --root {root}` lists them" in refused.stderr
    assert "duplicate_row 2, unlabelled_image 1" in refused.stderr

    assert run_cli("run", *args, "--drop-invalid").exit_code == 0
    manifest = json.loads((results / "agiqa1k" / "test-lap-var" / "run.json").read_text())
    assert manifest["dataset_size"] == 1078 and manifest["dataset_labels"] == str(root / "AIGC_MOS_Zscore.xlsx")
    assert [(d["image"], d["label_line"]) for d in manifest["dropped_rows"]] == [
        ("dreamStudio_8_9_1_1.jpg", 1080), ("dreamStudio_8_9_1_1.jpg", 1081)]
    assert all(p.startswith("duplicate_row: 2 label rows") for d in manifest["dropped_rows"] for p in d["problems"])
    splits = pd.read_csv(results / "agiqa1k" / "splits.csv")
    assert len(splits) == 1078 and "dreamStudio_8_9_1_1.jpg" not in set(splits["image"])
    # `splits` prepares the dataset as `run` does, so it accepts the file `run` wrote
    assert run_cli("splits", "--dataset", "agiqa1k", "--root", str(root), "--splits", "1",
                   "--results-dir", str(results), "--drop-invalid").exit_code == 0


def test_drop_invalid_in_a_run_of_the_tiny_dataset(tiny_dataset, results_dir, tmp_path):
    broken = tmp_path / "tiny" / tiny_dataset["image"][3]
    broken.write_bytes(broken.read_bytes()[:100])
    result = run_cli("run", "--methods", "test-lap-var", "--dataset", "tinyfiles", "--splits", "2",
                     "--results-dir", str(results_dir), "--drop-invalid")
    assert result.exit_code == 0
    manifest = json.loads((results_dir / "tinyfiles" / "test-lap-var" / "run.json").read_text())
    assert manifest["dataset_size"] == 39
    assert [d["image"] for d in manifest["dropped_rows"]] == [broken.name]
    assert manifest["dropped_rows"][0]["problems"] == ["unreadable_image: OSError: Truncated File Read"]


def test_every_row_invalid_is_refused(shared, tmp_path):
    shutil.copy(shared / "datasets" / "agiqa3k" / "data.csv", tmp_path)
    result = run_cli("run", "--methods", "test-lap-var", "--dataset", "agiqa3k", "--root", str(tmp_path),
                     "--drop-invalid", "--results-dir", str(tmp_path / "results"))
    assert result.exit_code == 2 and "every label row has a problem (2982 problem(s) (missing_image 2982)" in result.stderr


def test_broken_agiqa1k_labels(tmp_path):
    good = "bird, driving aircraft, city, anime style"
    rows = [("deepai_0_0_0_0.jpg", good, 2.0),
            ("deepai_0_0_0_1.jpg", "bird, driving aircraft, city, realistic style", float("nan")),
            ("deepai_0_0_1_0.jpg", "bird, driving aircraft, wild, anime style", 7.5),
            ("deepai_0_0_1_1.jpg ", "bird, driving aircraft, wild, realistic style", 3.0),  # trailing blank
            ("deepai_0_1_0_0.jpg", "a bird on a bike", 3.0),
            ("deepai_0_1_0_1.jpg", "cat, driving bike, city, realistic style", 3.0),
            ("deepai_0_1_1_0.jpg", "bird, driving bike, wild, anime style", "n/a")]
    pd.DataFrame(rows, columns=["Image", "Prompt", "MOS"]).to_excel(tmp_path / "AIGC_MOS_Zscore.xlsx", index=False)
    write_placeholder_images(tmp_path / "file", [r[0].strip() for r in rows])
    report = check_dataset(load_dataset("agiqa1k", tmp_path), progress=False)
    found = {(p.kind, p.image) for p in report.problems}
    assert found == {
        ("bad_score", "deepai_0_0_0_1.jpg"), ("bad_score", "deepai_0_0_1_0.jpg"), ("bad_score", "deepai_0_1_1_0.jpg"),
        ("malformed_name", "deepai_0_0_1_1.jpg "), ("missing_image", "deepai_0_0_1_1.jpg "),
        ("unlabelled_image", "deepai_0_0_1_1.jpg"),
        ("unparseable_prompt", "deepai_0_1_0_0.jpg"), ("prompt_mismatch", "deepai_0_1_0_1.jpg")}
    assert report.rows_to_drop == [1, 2, 3, 4, 5, 6]
    details = {p.image: p.detail for p in report.problems if p.kind == "bad_score"}
    assert details["deepai_0_0_1_0.jpg"] == "mos: 7.5 outside [0, 5]"
    assert details["deepai_0_1_1_0.jpg"] == "mos: missing or not a number"


def test_broken_agiqa3k_labels(tmp_path):
    columns = ["name", "prompt", "adj1", "adj2", "style", "mos_quality", "std_quality", "mos_align", "std_align"]
    rows = [("sd1.5_normal_000.jpg", "a cat", "", "", "", 2, 0.5, 2, 0.5),
            ("xl2.2_normal_000.jpg", "a dog", "", "", "", 2, 0.5, 2, 0.5),  # index 000 with a second prompt
            ("sd1.5_normal_001.jpg", "a cow", "", "", "", 2, 0.5, 2, 0.5),
            ("sd1.5_normal_002.jpg", "a cow", "", "", "", 2, 0.5, 2, 0.5),  # the same prompt as 001
            ("sd1.5_normal_003.jpg", "", "", "", "", 2, 0.5, 2, -0.1),
            ("sd1.5_normal_300.jpg", "a fox", "", "", "", 2, 0.5, 2, 0.5),
            ("sd1.5_normal_004.jpg", "a hen", "", "", "", 2, 0.5, 2, 0.5)]
    pd.DataFrame(rows, columns=columns).to_csv(tmp_path / "data.csv", index=False)
    write_placeholder_images(tmp_path, [r[0] for r in rows])
    report = check_dataset(load_dataset("agiqa3k", tmp_path), progress=False)
    assert sorted((p.kind, p.row) for p in report.problems) == [
        ("bad_score", 4), ("malformed_name", 5), ("prompt_mismatch", 0), ("prompt_mismatch", 1),
        ("prompt_mismatch", 2), ("prompt_mismatch", 3), ("unparseable_prompt", 4)]
    assert {p.detail for p in report.problems if p.kind == "prompt_mismatch"} == {
        "prompt index 000 has 2 different prompts", "the same prompt is under indices 001, 002"}


def test_aigciqa2023_official_layout(tmp_path):
    """The extra dataset, on a label file laid out as its repository's AIGCIQA2023.csv."""
    ids = [*range(8), *range(400, 408)]  # generators 0 and 1, prompts 0 and 1, four images each
    frame = pd.DataFrame({"name": [f"{i}.png" for i in ids],
                          "prompt": ["a corgi" if i % 400 < 4 else "a girl" for i in ids],
                          "style": "Basic", "class": "Animals"})
    for kind in ("quality", "authenticity", "correspondence"):
        frame[f"{kind}_mos"], frame[f"{kind}_std"] = [40.0 + i % 17 for i in ids], 1.0
    frame.to_csv(tmp_path / "AIGCIQA2023.csv")  # with the official file's unnamed index column
    write_placeholder_images(tmp_path / "Image" / "allimg", frame["name"])
    data = load_dataset("aigciqa2023", tmp_path)
    assert data.targets == ("mos_quality", "mos_align") and "mos_authenticity" in data.frame
    assert data.frame.groupby("group")["image"].apply(list).to_dict() == {
        "00": ["0.png", "1.png", "2.png", "3.png", "400.png", "401.png", "402.png", "403.png"],
        "01": ["4.png", "5.png", "6.png", "7.png", "404.png", "405.png", "406.png", "407.png"]}
    assert check_dataset(data, progress=False).clean
    frame.loc[13, "prompt"] = "a cat"  # image 405 is prompt 1's
    frame.to_csv(tmp_path / "AIGCIQA2023.csv")
    problems = check_dataset(load_dataset("aigciqa2023", tmp_path), progress=False).problems
    assert {p.kind for p in problems} == {"prompt_mismatch"}
    assert {p.detail for p in problems} == {"prompt index 01 has 2 different prompts"}


def test_image_problems(tmp_path):
    write_placeholder_images(tmp_path, ["good.jpg", "cut.jpg", "good.png"])
    (tmp_path / "cut.jpg").write_bytes((tmp_path / "cut.jpg").read_bytes()[:-200])
    (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert image_problem(str(tmp_path / "good.jpg")) is None and image_problem(str(tmp_path / "good.png")) is None
    assert "truncated" in image_problem(str(tmp_path / "cut.jpg"))
    assert image_problem(str(tmp_path / "junk.png"))


def test_verified_images_are_rechecked_when_changed(tmp_path):
    write_placeholder_images(tmp_path, ["a.jpg"])
    path = str(tmp_path / "a.jpg")
    verified = VerifiedImages()
    verified.add(path)
    verified.save()
    assert VerifiedImages().holds(path)
    data = (tmp_path / "a.jpg").read_bytes()
    (tmp_path / "a.jpg").write_bytes(data[:-200])
    os.utime(path, ns=(0, 0))
    assert not VerifiedImages().holds(path)


def test_check_help():
    result = run_cli("check", "--help")
    assert result.exit_code == 0 and "Exit status 0 when clean, 1 when" in " ".join(result.output.split())


def test_check_warns_when_the_default_splits_leave_a_test_side_too_small(tiny_dataset):
    result = run_cli("check", "--dataset", "tinyfiles")
    assert result.exit_code == 0, result.output  # a warning, not a problem of the data
    assert ("warning: with the default splits (10, test share 0.2) the smallest test side: 8 test images: the "
            "4-parameter logistic fit has 4 residual degrees of freedom") in result.stderr


def test_check_reports_the_problems_of_a_dataset_it_cannot_split(tiny_dataset, tmp_path):
    labels = tmp_path / "tiny" / "labels.csv"
    labels.write_text(labels.read_text() + labels.read_text().splitlines()[1] + "\n")  # a duplicated row
    result = run_cli("check", "--dataset", "tinyfiles")
    assert result.exit_code == 1 and "duplicate_row" in result.stdout and "warning" not in result.stderr
