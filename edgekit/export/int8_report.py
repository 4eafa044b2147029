"""Where int8 breaks: float and int8 TFLite artifacts compared tensor by tensor on held-out images.

Both artifacts come from the same litert-torch graph (ai-edge-quantizer rewrites types, not
names), so every int8 op output has a float twin of the same name. LiteRT's interpreter keeps
every intermediate tensor with ``experimental_preserve_all_tensors=True``; int8 tensors are
dequantized with their scale and zero point (``real = scale * (q - zero_point)``).

Per layer (one row per op output, in execution order):

* ``sqnr_db``: signal-to-quantization-noise ratio of the whole tensor over the images;
* ``channel_sqnr_db``: the median over channels (last axis) of per-channel SQNR. A tensor whose
  range one outlier channel sets (a badly scaled layer) keeps a high whole-tensor SQNR, because
  the outlier carries the energy, while its other channels round to zero: the median shows it;
* ``max_abs_err``; ``drop_db``: how much channel SQNR this op lost against its best input.

The first layer whose ``channel_sqnr_db`` is below the threshold is named as where int8 breaks;
op types are ranked by their mean ``drop_db``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from matplotlib.figure import Figure

    from edgekit.export.appinfo import AppInfo
    from edgekit.export.pipeline import ExportResult

DEFAULT_THRESHOLD_DB = 15.0  # channel SQNR below this: the int8 tensor has lost its content
COLUMNS = ("depth", "op", "layer", "sqnr_db", "channel_sqnr_db", "drop_db", "max_abs_err",
           "scale", "zero_point", "tensor")


def layer_label(tensor_name: str) -> str:
    """A short module path from litert-torch's tensor name (``blocks.0.0.conv``)."""
    piece = [p for p in tensor_name.split(";") if p.strip() and not p.strip().isdigit()]
    if not piece:
        return tensor_name
    parts = piece[-1].split("/")[2:]  # drop the channel-last wrapper and the model class
    names = []
    for seg in parts:
        cls = seg.rsplit(".", 1)[-1]
        names.append(cls.split("_", 1)[1] if "_" in cls else cls)
    return ".".join(names) or tensor_name


@dataclass(frozen=True, slots=True)
class Int8Report:
    """The layer table, where int8 first breaks, and the op types that lose most."""

    layers: pd.DataFrame = field(repr=False)
    threshold_db: float
    images: int
    first_below: dict[str, Any] | None
    op_loss: pd.DataFrame = field(repr=False)

    def render(self, rows: int = 12) -> str:
        """A printable summary: where it breaks, the worst op types, the worst layers."""
        t = self.layers
        lines = [f"int8 report on {self.images} held-out images ({len(t)} layers, threshold "
                 f"{self.threshold_db:g} dB channel SQNR)"]
        if self.first_below is None:
            lines.append("every layer stays above the threshold")
        else:
            f = self.first_below
            lines.append(f"first layer below the threshold: #{f['depth']} {f['op']} {f['layer']} "
                         f"(channel SQNR {f['channel_sqnr_db']:.1f} dB, tensor SQNR "
                         f"{f['sqnr_db']:.1f} dB, max abs error {f['max_abs_err']:.3g})")
        lines.append("op types by mean SQNR lost: " + ", ".join(
            f"{r.op} {r.mean_drop_db:.1f} dB (n={r.count})"
            for r in self.op_loss.head(5).itertuples()))
        worst = t.nsmallest(rows, "channel_sqnr_db").sort_values("depth")
        cols = ["depth", "op", "layer", "sqnr_db", "channel_sqnr_db", "drop_db", "max_abs_err"]
        lines.append(worst[cols].to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        return "\n".join(lines)

    def figure(self) -> Figure:
        """SQNR along the depth of the network, the threshold and the first layer below it."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(9, 4), layout="constrained")
        ax = fig.add_subplot()
        t = self.layers
        ax.plot(t["depth"], t["sqnr_db"], label="tensor SQNR", lw=1)
        ax.plot(t["depth"], t["channel_sqnr_db"], label="median channel SQNR", lw=1.5)
        ax.axhline(self.threshold_db, color="grey", ls="--", lw=1, label="threshold")
        if self.first_below is not None:
            f = self.first_below
            ax.axvline(f["depth"], color="red", lw=1)
            ax.annotate(f"{f['op']} {f['layer']}", (f["depth"], f["channel_sqnr_db"]),
                        textcoords="offset points", xytext=(5, 5), fontsize=8, color="red")
        ax.set_xlabel("op index (execution order)")
        ax.set_ylabel("SQNR vs float (dB)")
        ax.set_title(f"int8 vs float, layer by layer ({self.images} held-out images)")
        ax.legend(fontsize=8)
        return fig

    def write(self, out_dir: str | os.PathLike[str], stem: str = "int8_report") -> list[Path]:
        """``<stem>.csv`` (the layer table), ``<stem>_ops.csv`` and ``<stem>.png``."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        paths = [d / f"{stem}.csv", d / f"{stem}_ops.csv", d / f"{stem}.png"]
        self.layers.to_csv(paths[0], index=False)
        self.op_loss.to_csv(paths[1], index=False)
        fig = self.figure()
        FigureCanvasAgg(fig)
        fig.savefig(paths[2], dpi=120)
        return paths


def _interpreter(path: Path) -> Any:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_path=str(path), num_threads=1,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
                     experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    return it


def _feed(it: Any, image_nhwc: np.ndarray) -> None:
    import numpy as np

    d = it.get_input_details()[0]
    x = image_nhwc
    if np.dtype(d["dtype"]).kind in "iu":
        scale, zp = d["quantization"]
        info = np.iinfo(d["dtype"])
        x = np.clip(np.round(x / scale) + zp, info.min, info.max).astype(d["dtype"])
    it.set_tensor(d["index"], x)
    it.invoke()


def _sqnr(signal: Any, noise: Any) -> Any:
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(noise > 0, 10 * np.log10(np.maximum(signal, 1e-30) / noise), 999.0)


def compare_layers(float_artifact: str | os.PathLike[str], int8_artifact: str | os.PathLike[str],
                   images: np.ndarray, *, threshold_db: float = DEFAULT_THRESHOLD_DB
                   ) -> Int8Report:
    """Run both artifacts on ``images`` (normalised NCHW float32) and compare every int8 op
    output with its float twin (see the module docstring)."""
    import numpy as np
    import pandas as pd

    fl, q = _interpreter(Path(float_artifact)), _interpreter(Path(int8_artifact))
    f_idx = {t["name"]: t["index"] for t in fl.get_tensor_details()}
    q_tensors = q.get_tensor_details()
    rows: list[dict[str, Any]] = []
    producer: dict[int, int] = {}  # int8 tensor index -> row
    from edgekit.runtime.tflite_graph import ops_details

    for op in ops_details(q):
        for out in op["outputs"]:
            t = q_tensors[out] if out >= 0 else None
            if t is None or np.dtype(t["dtype"]) != np.int8 or t["name"] not in f_idx:
                continue
            scale, zp = t["quantization"]
            if not scale:
                continue
            producer[out] = len(rows)
            rows.append({"op": op["op_name"], "tensor": t["name"], "q": out,
                         "f": f_idx[t["name"]], "scale": float(scale), "zero_point": int(zp),
                         "inputs": [i for i in op["inputs"] if i >= 0]})
    if not rows:
        raise ConfigError(f"'{int8_artifact}' has no int8 tensor named as in '{float_artifact}'; "
                          "compare an int8 TFLite with the fp32 TFLite of the same model")
    sig: list[Any] = [0.0] * len(rows)
    noise: list[Any] = [0.0] * len(rows)
    max_err = [0.0] * len(rows)
    x = np.ascontiguousarray(np.asarray(images, np.float32).transpose(0, 2, 3, 1))
    for i in range(len(x)):
        _feed(fl, x[i:i + 1])
        _feed(q, x[i:i + 1])
        for k, r in enumerate(rows):
            ref = fl.get_tensor(r["f"]).astype(np.float64)
            got = (q.get_tensor(r["q"]).astype(np.float64) - r["zero_point"]) * r["scale"]
            c = ref.shape[-1] if ref.ndim else 1
            ref, got = ref.reshape(-1, c), got.reshape(-1, c)
            sig[k] = sig[k] + np.sum(ref**2, axis=0)
            noise[k] = noise[k] + np.sum((ref - got) ** 2, axis=0)
            max_err[k] = max(max_err[k], float(np.max(np.abs(ref - got))))
    table = []
    for k, r in enumerate(rows):
        ch = _sqnr(sig[k], noise[k])
        table.append({"depth": k, "op": r["op"], "layer": layer_label(r["tensor"]),
                      "sqnr_db": float(_sqnr(np.sum(sig[k]), np.sum(noise[k]))),
                      "channel_sqnr_db": float(np.median(ch)), "max_abs_err": max_err[k],
                      "scale": r["scale"], "zero_point": r["zero_point"], "tensor": r["tensor"]})
    for k, r in enumerate(rows):  # what this op lost against its best-preserved int8 input
        ins = [table[producer[i]]["channel_sqnr_db"] for i in r["inputs"] if i in producer]
        table[k]["drop_db"] = (max(ins) - table[k]["channel_sqnr_db"]) if ins else 0.0
    df = pd.DataFrame(table, columns=list(COLUMNS))
    below = df[df["channel_sqnr_db"] < threshold_db]
    first = None if below.empty else below.iloc[0].to_dict()
    if first is not None:
        first["depth"] = int(first["depth"])
    ops = (df.groupby("op")["drop_db"].agg(["mean", "count"]).reset_index()
           .rename(columns={"mean": "mean_drop_db"}).sort_values("mean_drop_db",
                                                                 ascending=False))
    return Int8Report(df, threshold_db, len(x), first, ops.reset_index(drop=True))


def held_out_images(calib: str | os.PathLike[str] | None, resolution: int,
                    mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """Images the int8 scales were not fit to: the held-out part of a --calib directory, or
    generated images of another seed than the generated calibration set's."""
    from edgekit.export.calibration import generated_set, load_image_dir, split_held_out

    if calib is not None:
        held = split_held_out(load_image_dir(calib, resolution, mean=mean, std=std).images)[1]
        if held is not None:
            return held
    return generated_set(resolution, count=32, seed=1, mean=mean, std=std).images


def report_for_export(result: ExportResult, model: Any, *,
                      calib: str | os.PathLike[str] | None = None,
                      checkpoint: str | os.PathLike[str] | None = None, pretrained: bool = False,
                      num_classes: int | None = None, app: AppInfo | None = None,
                      resolution: int | None = None,
                      threshold_db: float = DEFAULT_THRESHOLD_DB) -> Int8Report:
    """The int8 report of an int8 TFLite export: its float twin is converted in a temporary
    directory, both run on held-out images; CSV and PNG go beside the artifact."""
    import tempfile

    from edgekit.export.pipeline import export

    m = result.manifest
    if (m["format"], m["precision"]) != ("tflite", "int8"):
        raise ConfigError(f"the int8 report compares a TFLite int8 artifact with its float twin; "
                          f"got {m['format']} {m['precision']}")
    res = int(m["resolution"])
    pre = m["preprocessing"]
    images = held_out_images(calib, res, tuple(pre["mean"]), tuple(pre["std"]))
    with tempfile.TemporaryDirectory(prefix="edgekit-int8-report-") as tmp:
        fp32 = export(model, format="tflite", precision="fp32", out=tmp, checkpoint=checkpoint,
                      pretrained=pretrained, num_classes=num_classes, app=app,
                      resolution=resolution or (res if not isinstance(model, str) else None),
                      verify=False, log=None)
        report = compare_layers(fp32.artifact, result.artifact, images, threshold_db=threshold_db)
    report.write(result.artifact.parent)
    return report
