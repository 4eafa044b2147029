"""The ``toolchain`` marker: a test whose optional extra is missing skips, naming the install."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")

TESTS = '''
import pytest

from edgekit.errors import missing_toolchain


@pytest.mark.toolchain("tflite")
def test_needs_tflite():
    pass


@pytest.mark.toolchain("onnx")
def test_needs_onnx():
    pass


@pytest.fixture
def artifact():
    raise missing_toolchain("coremltools", "coreml", "Core ML export")


@pytest.mark.toolchain
def test_bare_marker_and_a_fixture_that_finds_no_toolchain(artifact):
    pass


@pytest.mark.toolchain
def test_bare_marker_and_a_call_that_finds_no_toolchain():
    raise missing_toolchain("litert-torch", "tflite", "TFLite export")


def test_unmarked_tests_still_fail_on_a_missing_toolchain():
    raise missing_toolchain("litert-torch", "tflite", "TFLite export")
'''


@pytest.fixture
def without(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201 - returns a function
    """Make distributions look uninstalled to ``importlib.metadata``."""
    real = importlib.metadata.distribution

    def hide(*names: str) -> None:
        def distribution(name: str):  # noqa: ANN202
            if name in names:
                raise importlib.metadata.PackageNotFoundError(name)
            return real(name)

        monkeypatch.setattr(importlib.metadata, "distribution", distribution)

    return hide


def _run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, str]]:
    """Run the generated tests under this project's conftest and marker registration
    (``--strict-markers``); returns the result and the skip reason of each skipped test."""
    import tomllib

    ini = tomllib.loads(CONFTEST.parent.parent.joinpath("pyproject.toml").read_text("utf-8"))
    markers = ini["tool"]["pytest"]["ini_options"]["markers"]
    pytester.makeini("[pytest]\naddopts = --strict-markers\nmarkers =\n"
                     + "".join(f"    {m}\n" for m in markers))
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(test_marked=TESTS)
    result = pytester.runpytest_inprocess("-p", "no:randomly", "-p", "no:xdist", *args)
    reasons = {r.nodeid.split("::")[-1]: r.longrepr[2].removeprefix("Skipped: ")
               for r in result.reprec.getreports("pytest_runtest_logreport") if r.skipped}
    return result, reasons


def test_missing_extra_skips_with_the_package_and_the_install_line(pytester: pytest.Pytester,
                                                                   without) -> None:
    without("litert-torch")
    result, reasons = _run(pytester)
    result.assert_outcomes(passed=1, skipped=3, failed=1)
    assert reasons == {
        "test_needs_tflite": "needs 'litert-torch' from the 'tflite' extra, which is not "
                             'installed; install it with: pip install -e ".[tflite]"',
        "test_bare_marker_and_a_fixture_that_finds_no_toolchain":
            "Core ML export needs 'coremltools', which is not installed; install it with: "
            "pip install -c constraints.txt 'edgekit[coreml]'",
        "test_bare_marker_and_a_call_that_finds_no_toolchain":
            "TFLite export needs 'litert-torch', which is not installed; install it with: "
            "pip install -c constraints.txt 'edgekit[tflite]'",
    }


def test_installed_extras_run(pytester: pytest.Pytester) -> None:
    from conftest import missing_toolchain

    result, reasons = _run(pytester, "-k", "needs_tflite or needs_onnx")
    missing = {f"test_needs_{e}": missing_toolchain(e) for e in ("tflite", "onnx")}
    result.assert_outcomes(passed=sum(r is None for r in missing.values()), skipped=len(reasons))
    assert reasons == {k: v for k, v in missing.items() if v is not None}


def test_unknown_extra_is_a_usage_error() -> None:
    from conftest import extra_requirements, missing_toolchain

    assert "litert-torch" in extra_requirements("tflite")
    with pytest.raises(pytest.UsageError, match=r"names 'tflit', which is not an extra of edgekit"):
        missing_toolchain("tflit")
