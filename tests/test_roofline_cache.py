"""The layer-table cache keeps the op_class column and never serves a table counted without it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgekit import cache_root
from edgekit.roofline import cache, layer_table
from edgekit.roofline.counting import COLUMNS


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(cache_root.ENV_VAR, str(tmp_path))
    return tmp_path


def test_op_class_survives_the_cache(own_cache: Path) -> None:
    first = layer_table("test_mobileone")
    hit = layer_table("test_mobileone")
    assert "op_class" in COLUMNS
    assert hit["op_class"].tolist() == first["op_class"].tolist()
    assert (hit["op_class"] == "depthwise").any()


def test_a_table_without_op_class_is_not_reused(own_cache: Path) -> None:
    """An entry written before the column existed (old column list, even under today's key) is
    ignored and rewritten, so no stale table reaches the fit."""
    first = layer_table("test_mobileone")
    path = next(cache.cache_dir().glob("*.json"))
    blob = json.loads(path.read_text(encoding="utf-8"))
    i = blob["columns"].index("op_class")
    blob["columns"].pop(i)
    for row in blob["data"]:
        row.pop(i)
    blob["data"][0][blob["columns"].index("macs")] = 123456789  # would show if it were read
    path.write_text(json.dumps(blob), encoding="utf-8")
    again = layer_table("test_mobileone")
    assert again["macs"].tolist() == first["macs"].tolist()
    assert json.loads(path.read_text(encoding="utf-8"))["columns"] == list(COLUMNS)


def test_key_carries_the_schema_and_the_counting_code() -> None:
    key = cache.make_key("registry", "m", 64, "random-init", True)
    assert key["schema"] == cache.SCHEMA >= 4
    assert key["code"] == cache.code_fingerprint()
