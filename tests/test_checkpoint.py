"""Local weights: ``create_model(..., checkpoint=PATH)`` and ``load_checkpoint``.

Every file here is written by the test itself (safetensors, torch state dicts, wrapped and
prefixed dicts, mismatched and malicious files); nothing is downloaded.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from edgekit.errors import ConfigError
from edgekit.models import create_model, load_checkpoint

NAME = "test_replknet"
X = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))


def _trained_state() -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """A state dict that differs from any fresh init (weights and BN statistics), and its logits."""
    model = create_model(NAME)
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.rand(t.shape, generator=gen) * 0.2 + 0.9 if t.dim() <= 1
                        else torch.randn(t.shape, generator=gen) * 0.05)
        ref = model(X)
    return {k: v.clone() for k, v in model.state_dict().items()}, ref


def _check_loaded(model: torch.nn.Module, ref: torch.Tensor) -> None:
    with torch.no_grad():
        torch.testing.assert_close(model(X), ref, rtol=0, atol=0)


def test_safetensors_roundtrip(tmp_path: Path) -> None:
    state, ref = _trained_state()
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    _check_loaded(create_model(NAME, checkpoint=path), ref)


@pytest.mark.parametrize("wrap", ["plain", "state_dict", "model", "module_prefix"])
def test_torch_file_roundtrip(tmp_path: Path, wrap: str) -> None:
    state, ref = _trained_state()
    obj: object = {
        "plain": state,
        "state_dict": {"state_dict": state, "epoch": 3},
        "model": {"model": state},
        "module_prefix": {f"module.{k}": v for k, v in state.items()},
    }[wrap]
    path = tmp_path / "w.pth"
    torch.save(obj, path)
    _check_loaded(create_model(NAME, checkpoint=str(path)), ref)


def test_deploy_after_checkpoint_uses_loaded_weights(tmp_path: Path) -> None:
    state, ref = _trained_state()
    path = tmp_path / "w.pt"
    torch.save(state, path)
    deployed = create_model(NAME, checkpoint=path, deploy=True)
    with torch.no_grad():
        torch.testing.assert_close(deployed(X), ref, rtol=1e-4, atol=1e-5)


def test_mismatch_names_missing_and_unexpected_keys(tmp_path: Path) -> None:
    state, _ = _trained_state()
    state.pop("head.fc.weight")
    state["head.classifier.weight"] = torch.zeros(10, 48)
    path = tmp_path / "bad.safetensors"
    save_file(state, str(path))
    with pytest.raises(ConfigError) as info:
        create_model(NAME, checkpoint=path)
    assert str(info.value) == (
        f"checkpoint '{path}' does not match model '{NAME}': 1 missing keys: "
        "head.fc.weight; 1 unexpected keys: head.classifier.weight (check the model name and "
        "--checkpoint file)")


def test_other_model_checkpoint_is_rejected_with_counts(tmp_path: Path) -> None:
    path = tmp_path / "mnv4.pth"
    torch.save(create_model("test_mobilenetv4").state_dict(), path)
    with pytest.raises(ConfigError, match=r"does not match model 'RepLKNet': \d+ missing keys: "
                                          r".*\(\+\d+ more\); \d+ unexpected keys: "):
        load_checkpoint(create_model(NAME), path)


def test_shape_mismatch_is_named(tmp_path: Path) -> None:
    path = tmp_path / "ten_vs_three.safetensors"
    save_file(create_model(NAME).state_dict(), str(path))
    with pytest.raises(ConfigError, match=r"2 shape mismatches: head\.fc\.bias \(10,\) vs \(3,\), "
                                          r"head\.fc\.weight \(10, 48\) vs \(3, 48\)"):
        create_model(NAME, checkpoint=path, num_classes=3)


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("this must never run",))


def test_torch_file_is_loaded_weights_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "evil.pth"
    with path.open("wb") as f:
        torch.save({"x": _Evil()}, f, pickle_module=pickle)
    with pytest.raises(ConfigError, match=r"cannot be loaded: it holds Python objects besides "
                                          r"tensors.*or a \.safetensors file"):
        create_model(NAME, checkpoint=path)
    assert "this must never run" not in capsys.readouterr().out


@pytest.mark.parametrize(("content", "pattern"), [
    (None, r"checkpoint '.*missing\.safetensors' does not exist"),
    (b"not a safetensors file", r"checkpoint '.*missing\.safetensors' is not a readable "
                                r"safetensors file"),
])
def test_bad_files(tmp_path: Path, content: bytes | None, pattern: str) -> None:
    path = tmp_path / "missing.safetensors"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=pattern):
        create_model(NAME, checkpoint=path)


def test_torch_file_holding_a_tensor_is_not_a_state_dict(tmp_path: Path) -> None:
    path = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), path)
    with pytest.raises(ConfigError, match=r"holds a Tensor, not a state_dict"):
        create_model(NAME, checkpoint=path)


@pytest.mark.parametrize("content", [bytes(range(256)) * 8, b"PK\x03\x04garbage"])
def test_garbage_torch_file_gets_edgekits_message(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "garbage.pt"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=r"cannot be loaded: it is not a torch checkpoint") as exc:
        create_model(NAME, checkpoint=path)
    assert "weights_only" not in str(exc.value)  # not torch's advice to run the file's code
