"""Shared test fixtures: seeding and a network kill-switch. Keep this file small."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture(autouse=True)
def _seed() -> None:
    """Every test starts from the same torch RNG state (tests must not depend on order)."""
    import torch

    torch.manual_seed(0)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Make every hub unreachable: offline flags, an empty HF cache, and sockets that refuse."""
    cache = tmp_path_factory.mktemp("hf_cache")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(cache))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache / "hub"))
    monkeypatch.setenv("TORCH_HOME", str(cache / "torch"))
    try:
        import huggingface_hub.constants as hf_constants
    except ImportError:
        pass
    else:  # huggingface_hub reads the environment once, at import
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True, raising=False)
        monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(cache / "hub"), raising=False)

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access is disabled in tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - a generator fixture
    """One layer-table cache per test module, so a table built by one test is reused by the next
    and nothing is read from or written to the user's cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("EDGEKIT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()
