"""Kernel micro-benchmarks: the suite, case artifacts, runtime tables, ``calibrate --runtime``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

from edgekit.bench import kernels
from edgekit.bench.kernel_artifacts import case_artifact
from edgekit.bench.kernels import KernelCase, calib_runtime, get_case, suite
from edgekit.cli import main
from edgekit.errors import ConfigError, ExportError, ToolchainMissingError, UnknownNameError
from edgekit.roofline.opclass import OpClass
from edgekit.runtime import table as rtable
from edgekit.runtime.table import (RuntimeTable, check_table, default_table_path,
                                   host_fingerprint, read_table, write_table)

ALL = suite()


# --- the suite -----------------------------------------------------------------------------------
def test_names_unique_and_quick_subset_covers_every_class() -> None:
    names = [c.name for c in ALL]
    assert len(set(names)) == len(names)
    quick = suite(quick=True)
    assert 12 <= len(quick) <= 24 and set(quick) <= set(ALL)
    work_classes = set(OpClass) - {OpClass.CONSTANT}
    assert {c.op_class for c in ALL} == work_classes
    assert {c.op_class for c in quick} == work_classes
    assert {c.param("n") for c in ALL if c.kind == "chain"} == {1, 4, 16}
    assert any(c.kind == "partition_chain" for c in quick)
    assert all(c.fixed_cost == (c.kind in ("chain", "partition_chain")) for c in ALL)


def test_pool_chain_cases_come_in_pairs_of_the_same_ops() -> None:
    pools = [c for c in ALL if c.pool_chain]
    groups: dict[str, set[str]] = {}
    for c in pools:
        groups.setdefault(c.param("group"), set()).add(c.param("order"))
    assert len(groups) >= 2 and all(g == {"alt", "blk"} for g in groups.values())
    assert any(c.pool_chain for c in suite(quick=True))
    assert not any(c.pool_chain for c in suite(pool_chains=False))
    alt, blk = (get_case(f"pool_{o}_pw_dw_n8_c64_h28") for o in ("alt", "blk"))
    kinds = [[type(m).__name__ + str(m.groups) for m in c.module().body] for c in (alt, blk)]
    assert sorted(kinds[0]) == sorted(kinds[1]) and kinds[0] != kinds[1]
    assert kinds[0][:2] == ["Conv2d1", "Conv2d64"] and kinds[1][7:9] == ["Conv2d1", "Conv2d64"]


def test_weight_chain_cases_are_the_same_convs_on_shared_or_distinct_weights() -> None:
    import torch

    pair = [c for c in ALL if c.weight_chain]
    assert {c.param("weights") for c in pair} == {"shared", "distinct"}
    assert len({c.param("group") for c in pair}) == 1 and all(c.paired for c in pair)
    assert not any(c.weight_chain for c in suite(weight_chains=False))
    assert not any(c.fixed_cost or c.pool_chain for c in pair)
    shared, distinct = (get_case(f"weights_{w}_pw_n16_c768_h7").module() for w in
                        ("shared", "distinct"))
    n_params = [sum(p.numel() for p in m.parameters()) for m in (shared, distinct)]
    assert n_params[1] == 16 * n_params[0] == 16 * (768 * 768 + 768)
    x = torch.randn(1, 768, 7, 7)
    calls: list[int] = []
    for m in (shared, distinct):
        hooks = [c.register_forward_hook(lambda *_: calls.append(1)) for c in m.convs]
        assert m(x).shape == (1, 7, 7, 768)
        for h in hooks:
            h.remove()
    assert len(calls) == 32  # 16 convolutions run in each


def test_suite_sweeps_the_shapes_that_matter() -> None:
    dw = [c for c in ALL if c.op_class == OpClass.DEPTHWISE]
    assert {c.param("k") for c in dw if c.param("stride") == 1} >= {3, 5, 7, 9, 13, 31}
    assert len({c.input_shape for c in dw if c.param("k") == 31}) >= 2
    assert any(c.param("stride") == 2 for c in dw)
    dense = [c for c in ALL if c.op_class == OpClass.DENSE_CONV]
    assert {(c.param("k"), c.param("stride")) for c in dense} >= {(1, 1), (3, 1), (3, 2)}
    assert {c.kind for c in ALL if c.op_class == OpClass.MATMUL} == {"bmm_qk", "bmm_av", "fc_act"}
    acts = {c.param("fn") for c in ALL if c.kind == "act"}
    assert acts >= {"gelu_erf", "gelu_tanh", "hardswish", "sigmoid", "relu6"}


@pytest.mark.parametrize("case", ALL, ids=[c.name for c in ALL])
def test_case_module_runs_and_is_deterministic(case: KernelCase) -> None:
    import torch

    a, b = case.module(), case.module()
    assert not a.training
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], rtol=0, atol=0)
    x = case.example()
    assert tuple(x.shape) == case.input_shape
    with torch.no_grad():
        y = a(x)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y, b(x).detach(), rtol=0, atol=0)
    # The case's seed is its own: the caller's RNG stream is untouched.
    before = torch.random.get_rng_state()
    case.module()
    assert torch.equal(before, torch.random.get_rng_state())


def test_get_case_did_you_mean() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'chain_add_mul_n4'"):
        get_case("chain_add_mul_n5")


# --- runtimes ------------------------------------------------------------------------------------
def test_calib_runtime_defaults_and_bad_values() -> None:
    assert calib_runtime("litert-xnnpack")[1].value == "int8"
    assert calib_runtime("onnxruntime-cpu")[1].value == "fp32"
    assert calib_runtime("litert-builtin", "FP32")[1].value == "fp32"
    with pytest.raises(UnknownNameError, match="did you mean 'litert-xnnpack'"):
        calib_runtime("litert-xnnpak")
    with pytest.raises(ConfigError, match="litert-gpu cannot be measured on this host; choose "
                                          "litert-xnnpack, litert-builtin, onnxruntime-cpu"):
        calib_runtime("litert-gpu")
    with pytest.raises(ConfigError, match="--precision int8 is not measured for --runtime "
                                          "onnxruntime-cpu; choose fp32"):
        calib_runtime("onnxruntime-cpu", "int8")


# --- artifacts -----------------------------------------------------------------------------------
@pytest.mark.toolchain("tflite")
def test_case_artifact_round_trip_and_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgekit.export.registry import get_exporter

    case = get_case("chain_add_mul_n4")
    path = case_artifact(case, "tflite", "int8", cache_dir=tmp_path)
    assert path.is_file() and path.parent == tmp_path
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary files left
    exporter = get_exporter("tflite")
    ops = {r.op: r.count for r in exporter.inventory(path).ops}
    assert ops.get("ADD") == 2 and ops.get("MUL") == 2 and "TRANSPOSE" not in ops, ops
    runner = exporter.load(path, threads=1, delegates=False)
    assert runner.inputs[0].shape == (1, 4, 4, 8) and runner.inputs[0].dtype == "int8"

    def no_export(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached case was exported again")

    monkeypatch.setattr(type(exporter), "convert", no_export)
    assert case_artifact(case, "tflite", "int8", cache_dir=tmp_path) == path
    with pytest.raises(ExportError, match="exported again"):  # another precision: another file
        case_artifact(case, "tflite", "fp32", cache_dir=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # the failed export left nothing


@pytest.mark.toolchain("onnx")
def test_case_artifact_onnx_takes_the_case_shape(tmp_path: Path) -> None:
    from edgekit.export.registry import get_exporter

    case = get_case("layernorm_c512_t49")
    path = case_artifact(case, "onnx", "fp32", cache_dir=tmp_path)
    ins, _ = get_exporter("onnx").io(path)
    assert ins[0].shape == case.input_shape


# --- runtime tables ------------------------------------------------------------------------------
def _table(**changes: object) -> RuntimeTable:
    timings = pd.DataFrame([
        {"case": "chain_add_mul_n1", "op_class": "elementwise", "median_s": 1.5e-5, "k": None},
        {"case": "conv3x3_s1_c128_128_h28", "op_class": "dense_conv", "median_s": 2e-3, "k": 3}])
    t = RuntimeTable(runtime="litert-xnnpack", precision="int8", threads=1, host="a host",
                     host_fingerprint=host_fingerprint(),
                     versions=kernels.runtime_versions("litert-xnnpack"),
                     date="2026-01-01T00:00:00+00:00", peak_mac_s=4e10, mem_bytes_s=1e10,
                     timings=timings, fit={"summary": [{"case": "x", "eta": 0.5}], "fixed": {}})
    return dataclasses.replace(t, **changes)


def test_table_json_is_strict(tmp_path: Path) -> None:
    import numpy as np

    t = _table(fit={"eta": float("nan"), "n": np.int64(3), "points": [np.float32(0.5)]})
    back = read_table(write_table(t, tmp_path / "t.json"))
    assert back.fit == {"eta": None, "n": 3, "points": [0.5]}


def test_table_round_trip(tmp_path: Path) -> None:
    t = _table()
    path = write_table(t, tmp_path / "sub" / "t.json")
    assert [p.name for p in path.parent.iterdir()] == ["t.json"]
    back = read_table(path)
    assert back == t  # every field but the timings, compared next
    pd.testing.assert_frame_equal(back.timings, t.timings, check_dtype=False)
    assert check_table(back, runtime="litert-xnnpack", precision="int8",
                       allow_foreign=False) == []


def test_default_table_path() -> None:
    p = default_table_path("litert-builtin", "fp32", 2)
    assert p.parent.name == "runtime-tables" and p.name == "litert-builtin-fp32-2t.json"


@pytest.mark.parametrize("text", [None, "{not json", "[]", '{"schema": 1}'])
def test_read_table_bad_file(tmp_path: Path, text: str | None) -> None:
    path = tmp_path / "t.json"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=f"runtime table '{path}'"):
        read_table(path)


def test_check_table_refuses_foreign_tables() -> None:
    foreign = _table(host_fingerprint="0123456789ab",
                     versions={**_table().versions, "ai-edge-litert": "0.0.1"})
    with pytest.raises(ConfigError) as err:
        check_table(foreign, runtime="litert-xnnpack", precision="int8", allow_foreign=False)
    msg = str(err.value)
    assert f"host fingerprint {host_fingerprint()} here vs 0123456789ab in the table" in msg
    assert "ai-edge-litert" in msg and "vs 0.0.1 in the table" in msg
    assert "pass --allow-foreign-table to use it anyway" in msg
    warnings = check_table(foreign, runtime="litert-xnnpack", precision="int8",
                           allow_foreign=True)
    assert len(warnings) == 2 and all("--allow-foreign-table" in w for w in warnings)
    with pytest.raises(ConfigError, match="is for litert-xnnpack int8, but litert-builtin int8"):
        check_table(_table(), runtime="litert-builtin", precision="int8", allow_foreign=True)
    # edgekit's own version is recorded, not compared
    newer = _table(versions={**_table().versions, "edgekit": "99.0"})
    assert check_table(newer, runtime="litert-xnnpack", precision="int8", allow_foreign=False) == []


def test_host_fingerprint_is_short_and_stable() -> None:
    assert host_fingerprint() == rtable.host_fingerprint() and len(host_fingerprint()) == 12


# --- the CLI -------------------------------------------------------------------------------------
BAD = [
    (["calibrate", "--runtime", "litert-xnnpak"], "did you mean 'litert-xnnpack'?"),
    (["calibrate", "--runtime", "litert-xnnpack", "--precision", "fp16"],
     "--precision fp16 is not measured for --runtime litert-xnnpack; choose int8, fp32"),
    (["calibrate", "--runtime", "litert-xnnpack", "--precision", "fp64"],
     "unknown precision 'fp64'"),
    (["calibrate", "--runtime", "litert-gpu"], "cannot be measured on this host"),
    (["calibrate", "--runtime", "litert-xnnpack", "--name", "host-x"],
     "--name applies without --runtime"),
    (["calibrate", "--precision", "int8"], "--precision applies with --runtime ID only"),
    (["calibrate", "--runtime", "onnxruntime-cpu", "--threads", "100000"], "--threads must be"),
]


@pytest.mark.parametrize(("argv", "message"), BAD, ids=[" ".join(a[1:]) for a, _ in BAD])
def test_calibrate_runtime_bad_input(argv: list[str], message: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("edgekit: error: ") and err.count("\n") == 1, err
    assert message in err, err


def test_calibrate_runtime_missing_toolchain(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    rt = kernels.CALIB_RUNTIMES["onnxruntime-cpu"]
    monkeypatch.setitem(kernels.CALIB_RUNTIMES, "onnxruntime-cpu", dataclasses.replace(
        rt, modules=(("edgekit_no_such_module", "no-such-runtime"),)))
    monkeypatch.setattr(type(_exporter("onnx")), "check_toolchain", lambda self, p: None)
    with pytest.raises(ToolchainMissingError, match=r"needs 'no-such-runtime'.*edgekit\[onnx\]"):
        kernels.check_toolchain("onnxruntime-cpu", calib_runtime("onnxruntime-cpu")[1])
    assert main(["calibrate", "--runtime", "onnxruntime-cpu"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "edgekit[onnx]" in err, err


def _exporter(fmt: str) -> object:
    from edgekit.export.registry import get_exporter

    return get_exporter(fmt)


def _fake_timings(cases: list[KernelCase], *args: object, **kwargs: object) -> pd.DataFrame:
    return pd.DataFrame([{"case": c.name, "kind": c.kind, "op_class": c.op_class,
                          "fixed_cost": c.fixed_cost, "artifact": f"/nowhere/{c.name}",
                          "latency_s": 9.5e-5, "median_s": 1e-4, "p10_s": 9e-5,
                          "p90_s": 2e-4, "runs": 9,
                          "ops": "ADD:1", "n_ops": 1, "partitions": 1} for c in cases])


@pytest.fixture
def fake_measurement(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """calibrate --runtime without exporting or timing kernels: fake timings and fit."""
    from edgekit.fit import kernel_fit

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(kernels, "check_toolchain", lambda rt, p: None)
    monkeypatch.setattr(kernels, "time_cases", _fake_timings)

    def fit(timings: pd.DataFrame, **kw: object) -> dict[str, object]:
        calls.append(kw)
        return {"summary": [{"case": timings["case"].iloc[0], "eta": 0.25}]}

    monkeypatch.setattr(kernel_fit, "fit_kernel_table", fit)
    return calls


def test_calibrate_runtime_writes_table(tmp_path: Path, fake_measurement: list[dict[str, object]],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tables" / "x.json"
    assert main(["calibrate", "--runtime", "litert-builtin", "--quick", "--table", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert f"wrote {out}" in stdout and "chain_add_mul_n1" in stdout
    t = read_table(out)
    assert (t.runtime, t.precision, t.threads) == ("litert-builtin", "int8", 1)
    # 1 thread: no thread-pool switches, so no pool-chain cases
    assert len(t.timings) == len(suite(quick=True, pool_chains=False))
    assert t.fit["summary"][0]["eta"] == 0.25
    assert t.peak_mac_s > 0 and t.mem_bytes_s > 0
    assert fake_measurement[0]["runtime"] == "litert-builtin"
    assert fake_measurement[0]["peak_mac_s"] == t.peak_mac_s


def test_calibrate_runtime_json(tmp_path: Path, fake_measurement: list[dict[str, object]],
                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.json"
    assert main(["calibrate", "--runtime", "onnxruntime-cpu", "--quick", "--table", str(out),
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["precision"] == "fp32" and doc["table"] == str(out) and doc["cases"]


def test_interrupted_calibrate_leaves_no_table(tmp_path: Path,
                                               fake_measurement: list[dict[str, object]],
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(*args: object, **kwargs: object) -> pd.DataFrame:
        raise KeyboardInterrupt

    monkeypatch.setattr(kernels, "time_cases", interrupted)
    out = tmp_path / "x.json"
    assert main(["calibrate", "--runtime", "litert-xnnpack", "--quick", "--table", str(out)]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_keeps_the_old_table(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_table(_table(), tmp_path / "t.json")
    before = path.read_bytes()

    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(rtable.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        write_table(_table(threads=2), path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["t.json"]


# --- real exports (slow) -------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.toolchain("tflite")
def test_quick_suite_int8_artifacts_hold_their_op(tmp_path: Path) -> None:
    """Every quick case converts, and (but for the transpose case) without layout transposes."""
    from edgekit.export.registry import get_exporter

    exporter = get_exporter("tflite")
    for case in suite(quick=True):
        path = case_artifact(case, "tflite", "int8", cache_dir=tmp_path)
        ops = {r.op for r in exporter.inventory(path).ops}
        if case.param("fn") != "transpose" and case.kind not in ("bmm_qk",):
            assert "TRANSPOSE" not in ops, (case.name, ops)


@pytest.mark.slow
@pytest.mark.toolchain("tflite")
def test_time_cases_rows(tmp_path: Path) -> None:
    cases = [get_case("chain_add_mul_n1"), get_case("partition_fc_softmax_n4")]
    lines: list[str] = []
    df = kernels.time_cases(cases, "litert-xnnpack", "int8", min_time_s=0.01, rounds=2,
                            progress=lines.append, cache_dir=tmp_path)
    assert list(df["case"]) == [c.name for c in cases]
    assert (df["median_s"] > 0).all() and (df["p10_s"] <= df["p90_s"]).all()
    assert (df["latency_s"] <= df["median_s"]).all()  # the fastest of the round medians
    assert df.loc[1, "partitions"] > df.loc[0, "partitions"]  # int8 SOFTMAX falls off XNNPACK
    assert any(line.startswith("[time 4/4]") for line in lines)


def test_table_drift_re_times_the_quick_cases_the_table_holds(monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """Drift: ``now / then`` per re-timed case; fixed-cost cases and cases the table lacks are
    not re-timed; beyond 10% the line says to re-calibrate."""
    quick = [c for c in suite(quick=True, pool_chains=False) if not c.fixed_cost][:2]
    then = pd.DataFrame([{"case": quick[0].name, "median_s": 1e-3},
                         {"case": quick[1].name, "median_s": 2e-3},
                         {"case": "chain_add_mul_n1", "median_s": 1e-5}])
    seen: list[list[str]] = []

    def fake_time(cases: list[KernelCase], runtime: str, precision: str, **kw: object
                  ) -> pd.DataFrame:
        seen.append([c.name for c in cases])
        assert (runtime, precision, kw["threads"], kw["rounds"]) == ("litert-xnnpack", "int8", 1, 3)
        assert kw["profile"] is False  # the drift check needs timings only
        return pd.DataFrame({"case": [c.name for c in cases],
                             "latency_s": [1.2e-3, 2.6e-3][:len(cases)]})

    monkeypatch.setattr(kernels, "time_cases", fake_time)
    monkeypatch.setattr("edgekit.bench.micro.stream_bandwidth", lambda threads: 8e9)
    d = kernels.table_drift(_table(timings=then))
    assert seen == [[quick[0].name, quick[1].name]]
    assert d["cases"] == 2 and d["by_case"][quick[1].name] == pytest.approx(1.3)
    assert d["median_ratio"] == pytest.approx(1.25)
    # the table streamed at 10 GB/s, the host now at 8: a stream takes x1.25 its table time
    assert d["mem_ratio"] == pytest.approx(1.25) and d["mem_gb_s"] == pytest.approx(8.0)
    line = kernels.drift_line(d)
    assert "x1.25" in line and "re-run edgekit calibrate" in line
    assert "a memory stream takes x1.25 its table time (8.0 GB/s now)" in line
    calm = kernels.drift_line({**d, "median_ratio": 1.04})
    assert "x1.04" in calm and "calibrate" not in calm
    assert kernels.table_drift(_table(timings=then.iloc[2:]))["cases"] == 0
    # a table that keeps the fastest round is compared on it, not on the rounds' median
    fastest = then.assign(latency_s=then["median_s"] / 2)
    assert kernels.table_drift(_table(timings=fastest))["median_ratio"] == pytest.approx(2.5)
    assert kernels.table_drift(_table(timings=fastest), bandwidth=lambda t: 2e10
                               )["mem_ratio"] == pytest.approx(0.5)


def test_fastest_window_keeps_the_least_contended_profile_whole() -> None:
    """The window whose fastest run was fastest is kept as it is (its split between nodes not
    mixed with another window's); a window without a run time loses to any that has one."""
    calm = {"<layout>": 28e-6, "/conv/Conv": 72e-6, "<run>": 124e-6}
    busy = {"<layout>": 87e-6, "/conv/Conv": 60e-6, "<run>": 218e-6}  # a faster conv, but busy
    unknown = {"<layout>": 1e-6, "/conv/Conv": 1e-6}
    assert kernels.fastest_window([busy, calm, unknown]) == calm
    assert kernels.fastest_window([unknown]) == unknown
    with pytest.raises(ValueError):
        kernels.fastest_window([])


def test_profiled_nodes_takes_windows_in_separate_passes(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    """Each profiled case is profiled once per pass over the suite (not ``windows`` times in a
    row), fixed-cost cases never; each keeps its fastest window."""
    from edgekit.bench import runners

    cases = [get_case("chain_add_mul_n1"), get_case("conv1x1_s1_c128_128_h28"),
             get_case("add_c64_h56")]
    paths = [tmp_path / f"{c.name}.onnx" for c in cases]
    calls: list[str] = []
    run_ms = {cases[1].name: [0.30, 0.20, 0.25], cases[2].name: [0.05, 0.07, 0.06]}

    def fake_profile(path: str, **kw: object) -> pd.DataFrame:
        name = Path(path).stem
        k = sum(c == name for c in calls)
        calls.append(name)
        df = pd.DataFrame({"onnx_node": ["op"], "ort_ops": ["X"], "time_ms": [run_ms[name][k]],
                           "min_ms": [run_ms[name][k] * 0.9]})
        df.attrs.update(run_ms=run_ms[name][k], run_min_ms=run_ms[name][k])
        return df

    monkeypatch.setattr(runners, "profile_onnxruntime", fake_profile)
    lines: list[str] = []
    out = kernels._profiled_nodes(cases, paths, "onnxruntime-cpu", 2, lines.append, windows=3)
    assert calls == [cases[1].name, cases[2].name] * 3
    assert out[0] == ""
    assert json.loads(out[1]) == pytest.approx({"op": 0.18e-3, "<run>": 0.20e-3})
    assert json.loads(out[2]) == pytest.approx({"op": 0.045e-3, "<run>": 0.05e-3})
    assert lines[-1].startswith("[profile 6/6]")
    assert kernels._profiled_nodes(cases, paths, "litert-xnnpack", 2, lines.append) == [""] * 3
