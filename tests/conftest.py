"""Shared fixtures: every test runs offline, with a private cache and results folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import SHARED

from bench.plugins import PLUGINS_ENV
from bench.testing.images import write_image_set

TESTS = Path(__file__).resolve().parent
TEST_PLUGINS = "plugin_fixtures"  # tests/plugin_fixtures.py: test-only methods and datasets
_saved_env: dict[str, str | None] = {}


def pytest_configure(config):
    """Adds the test-only plugins to $IPIQA_BENCH_PLUGINS (a user's own plugins named there
    stay, so the contract test runs on them too) and tests/ to PYTHONPATH, so that
    subprocess runs of the CLI see them; restored when the session ends."""
    for key in (PLUGINS_ENV, "PYTHONPATH"):
        _saved_env[key] = os.environ.get(key)
    plugins = [p.strip() for p in os.environ.get(PLUGINS_ENV, "").split(",") if p.strip()]
    os.environ[PLUGINS_ENV] = ",".join(plugins + [TEST_PLUGINS] * (TEST_PLUGINS not in plugins))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS.parent), str(TESTS),
                                                            os.environ.get("PYTHONPATH", "")]))


def pytest_unconfigure(config):
    for key, value in _saved_env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def offline_cache(tmp_path_factory, monkeypatch):
    """A fresh, empty asset cache per test, and no downloads."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("IPIQA_BENCH_CACHE", str(cache))
    monkeypatch.setenv("IPIQA_BENCH_OFFLINE", "1")
    return cache


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is absent (a user's clone has none)")
    return SHARED


@pytest.fixture
def niqe_cache(shared, monkeypatch, tmp_path):
    """The asset cache pointed at the NIQE parameter file shipped in ../shared."""
    monkeypatch.setenv("IPIQA_BENCH_CACHE", str(shared / "assets" / "niqe"))
    return shared / "assets" / "niqe"


@pytest.fixture
def tiny_dataset(tmp_path, monkeypatch):
    """The plugin dataset 'tinyfiles': 40 generated images in 10 content groups."""
    frame = write_image_set(tmp_path / "tiny")
    frame.drop(columns="path").to_csv(tmp_path / "tiny" / "labels.csv", index=False)
    monkeypatch.setenv("TEST_TINY_ROOT", str(tmp_path / "tiny"))
    monkeypatch.setenv("TEST_FEATURE_LOG", str(tmp_path / "feature_calls.log"))
    return frame


@pytest.fixture
def no_network(monkeypatch):
    """Any download attempt (socket, torch hub, pyiqa's downloader) fails the test."""
    import socket

    import pyiqa.utils.download_util as pyiqa_download
    import torch

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(pyiqa_download, "load_file_from_url", refuse)


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread for a module's torch work: on a shared 2-core box, threads
    fighting other processes cost ~30x. Restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def results_dir(tmp_path) -> Path:
    return tmp_path / "results"
