"""``edgekit roofline`` reports progress on stderr and leaks no matplotlib warnings."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from edgekit.cli import main

pytestmark = pytest.mark.usefixtures("module_cache")


def test_plots_show_progress_and_no_warnings(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(["roofline", "test_mobilenetv4", "test_mobileone", "--device", "rp5",
                     "--device", "pixel6-cpu", "--workers", "1", "--plots", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "[layer tables 2/2]" in err and "[figures 4/4] test_mobileone on pixel6-cpu" in err
    leaked = [f"{w.category.__name__}: {w.message}" for w in caught
              if "matplotlib" in str(w.filename) or issubclass(w.category, UserWarning)]
    assert leaked == []
    assert len(list(tmp_path.glob("*.png"))) == 9
