"""`ipiqa-bench list --dataset` / `api.needs`: what each method needs on that dataset (the
config its preset there gives), whether each file is here, and whether the dataset is."""

from helpers import run_cli

from bench import api
from bench.datasets.demo import demo_dir


def _rows(output: str) -> dict[str, str]:
    return {line.split()[0]: line for line in output.splitlines() if line.strip()}


def test_on_the_demo_the_stand_in_clip_replaces_the_openai_downloads(offline_cache):
    plain = _rows(run_cli("list").output)
    assert "RN50.pt (missing)" in plain["ipiqa"] and "ViT-B-32.pt (missing)" in plain["clipscore"]

    result = run_cli("list", "--dataset", "demo")
    assert result.exit_code == 0
    rows = _rows(result.output)
    for method in ("ipiqa", "ipiqa-base", "ipiqa-i2p", "clipscore"):
        assert rows[method].endswith("stand-in CLIP (built on first use)"), rows[method]
        assert ".pt (" not in rows[method]
    assert rows["niqe"].endswith("niqe_modelparameters.mat (shipped)")
    assert rows["ceiq-release"].endswith("model.mat (missing)")  # no preset changes what it loads
    assert rows["gmlf"].endswith(" -")
    images = demo_dir() / "images"
    assert result.output.splitlines()[0] == f"dataset demo: generated on first use, into {images}"


def test_a_built_stand_in_and_a_generated_demo_are_reported_as_here(offline_cache):
    from methods.ipiqa.standin_files import standin_paths

    paths = standin_paths("demo")  # the stand-in of the demo's default preset
    for path in (paths.clip, paths.i2p):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    (demo_dir() / "images").mkdir(parents=True)
    (demo_dir() / "spec.json").write_text("{}")
    needs = api.needs("demo", family="ipiqa")
    assert set(needs.methods) == {"ipiqa", "ipiqa-base", "ipiqa-i2p", "ipiqa-prompt", "ipiqa-i2p-prompt"}
    assert all(entries == ["stand-in CLIP (cached)"] for entries in needs.methods.values())
    assert needs.dataset == f"generated, images in {demo_dir() / 'images'}"
    full = api.needs("demo", family="ipiqa", preset="full").methods  # the full preset's is another
    assert full["ipiqa"] == ["stand-in CLIP (built on first use)"]
    assert api.needs("demo", family="alignment").methods["clipscore"] == ["stand-in CLIP (cached)"]
    paths.i2p.unlink()  # stage 2 missing: IP-IQA builds it again; CLIPScore reads stage 1 alone
    assert api.needs("demo", family="ipiqa").methods["ipiqa"] == ["stand-in CLIP (built on first use)"]
    assert api.needs("demo", family="alignment").methods["clipscore"] == ["stand-in CLIP (cached)"]


def test_on_a_paper_dataset_ipiqa_needs_rn50_and_the_image2prompt_checkpoint(offline_cache):
    needs = api.needs("agiqa1k", family="ipiqa").methods
    assert needs["ipiqa-base"] == ["RN50.pt (missing)"]
    assert needs["ipiqa-i2p"] == ["RN50.pt (missing)",
                                  "image2prompt-RN50.pt (missing: `ipiqa-bench pretrain image2prompt` makes it)"]
    (offline_cache / "ipiqa").mkdir()
    (offline_cache / "ipiqa" / "image2prompt-RN50.pt").write_bytes(b"")
    assert api.needs("agiqa1k", family="ipiqa").methods["ipiqa"][1] == "image2prompt-RN50.pt (present)"


def test_a_dataset_that_needs_a_folder_says_whether_it_is_there(tmp_path, monkeypatch):
    monkeypatch.delenv("IPIQA_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    absent = run_cli("list", "--dataset", "rooted", "--family", "handcrafted")
    assert absent.exit_code == 0
    assert absent.output.splitlines()[0] == ("dataset rooted: folder datasets/rooted not found (pass --root, or set "
                                             "$IPIQA_DATA; see datasets/README.md)")
    (tmp_path / "mine").mkdir()
    present = run_cli("list", "--dataset", "rooted", "--root", str(tmp_path / "mine"), "--family", "handcrafted")
    assert present.output.splitlines()[0] == f"dataset rooted: folder {tmp_path / 'mine'} (present)"


def test_an_unknown_dataset_or_preset_is_a_one_line_error():
    unknown = run_cli("list", "--dataset", "nope")
    assert unknown.exit_code == 2 and "unknown dataset 'nope'" in unknown.output
    typo = run_cli("list", "--dataset", "demo", "--preset", "dmeo")
    assert typo.exit_code == 2 and "no selected method declares preset 'dmeo'" in typo.output


def test_a_method_whose_config_cannot_be_built_does_not_stop_the_listing(monkeypatch):
    from bench.errors import BenchError
    from methods.handcrafted import NIQE

    def refuse(self):
        raise BenchError("no such model here")

    monkeypatch.setattr(NIQE, "required_assets", refuse)
    needs = api.needs("demo", family="handcrafted").methods
    assert needs["niqe"] == ["cannot tell (no such model here)"] and needs["ceiq-release"] == ["model.mat (missing)"]
