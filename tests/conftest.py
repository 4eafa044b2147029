"""Shared test set-up: a private cache, torch state per test, the ``toolchain`` marker, no network.

Keep this file small.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import socket
from collections.abc import Iterator

import pytest

pytest_plugins = ("pytester",)  # tests of the toolchain marker run pytest on generated files


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every test reads and writes a per-session cache (``EDGEKIT_CACHE_DIR``), never the user's;
    subprocesses started by tests inherit it."""
    mp = pytest.MonkeyPatch()
    mp.setenv("EDGEKIT_CACHE_DIR", str(tmp_path_factory.mktemp("edgekit-cache")))
    yield
    mp.undo()


@pytest.fixture(autouse=True)
def _torch_state() -> Iterator[None]:
    """Every test starts from the same torch RNG state, and the thread count it leaves behind is
    put back, so no test depends on what ran before it in the same worker."""
    import torch

    threads = torch.get_num_threads()
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


# --- the toolchain marker ------------------------------------------------------------------------
def extra_requirements(extra: str) -> list[str]:
    """The distributions edgekit's optional ``extra`` installs, from the installed metadata."""
    from packaging.requirements import Requirement

    reqs = [Requirement(r) for r in importlib.metadata.requires("edgekit") or ()]
    return [r.name for r in reqs
            if r.marker is not None and r.name != "edgekit" and r.marker.evaluate({"extra": extra})]


def missing_toolchain(extra: str) -> str | None:
    """Why a test needing ``extra`` cannot run (its first missing package), or ``None``."""
    packages = extra_requirements(extra)
    if not packages:
        raise pytest.UsageError(f"@pytest.mark.toolchain names '{extra}', which is not an extra of "
                                "edgekit; use one of [project.optional-dependencies] in "
                                "pyproject.toml")
    for package in packages:
        try:
            importlib.metadata.distribution(package)
        except importlib.metadata.PackageNotFoundError:
            return (f"needs '{package}' from the '{extra}' extra, which is not installed; "
                    f'install it with: pip install -e ".[{extra}]"')
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    """``@pytest.mark.toolchain("tflite", ...)`` skips when a package of a named extra is absent;
    any test marked ``toolchain`` also skips when it (or a fixture) raises ToolchainMissingError,
    whose message names the package and the extra."""
    marker = item.get_closest_marker("toolchain")
    for extra in marker.args if marker else ():
        reason = missing_toolchain(extra)
        if reason:
            pytest.skip(reason)
    with _skip_missing_toolchain(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _skip_missing_toolchain(item):
        return (yield)


@contextlib.contextmanager
def _skip_missing_toolchain(item: pytest.Item) -> Iterator[None]:
    from edgekit.errors import ToolchainMissingError

    try:
        yield
    except ToolchainMissingError as exc:
        if item.get_closest_marker("toolchain") is None:
            raise
        pytest.skip(str(exc))


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
