"""What torch's ONNX exporters do with adaptive pooling, measured (issue 9).

    python scripts/onnx_probe.py             # torch's two exporters, a Markdown table
    python scripts/onnx_probe.py --adapool   # and the same cases through adapool.onnx.export
    python scripts/onnx_probe.py --timing    # onnxruntime's time, torch's export and adapool's

For each pooling module, input size -> output size, exporter (torch.onnx.export
with dynamo=False, the TorchScript exporter, and dynamo=True) and shape mode
(static, or the pooled axes dynamic), it records whether the export succeeds
(the error when not), which ONNX ops the graph holds, whether the ONNX checker
accepts it, and the largest difference from torch when onnxruntime runs it: at
the traced size and, for dynamic exports, at a second input size. Needs torch,
onnx, onnxruntime and onnxscript (python/requirements-test.txt pins them).
docs/ONNX.md holds the table and what it means.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

import numpy as np
import onnx
import onnxruntime
import torch


@contextlib.contextmanager
def quiet():
    """Silences the exporters' progress and diagnostics, Python's and C++'s."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        os.dup2(null.fileno(), 2)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


@dataclass(frozen=True)
class Case:
    kind: str  # "avg" or "max"
    dims: int
    in_size: int
    out_size: int
    other_size: int  # the second input size a dynamic export is run at
    indices: bool = False

    @property
    def name(self) -> str:
        suffix = ", indices" if self.indices else ""
        return f"{self.kind}{self.dims}d{suffix}"

    def module(self) -> torch.nn.Module:
        if self.kind == "avg":
            return getattr(torch.nn, f"AdaptiveAvgPool{self.dims}d")(self.out_size)
        return getattr(torch.nn, f"AdaptiveMaxPool{self.dims}d")(
            self.out_size, return_indices=self.indices
        )

    def input(self, size: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(size)
        return torch.randn(1, 3, *[size] * self.dims, generator=generator)


# in -> out: divisible (a plain AvgPool), non-divisible with a fixed-pool
# equivalent (15 -> 7 is kernel 3, stride 2), without one (10 -> 7), upsampling.
# The second size of a dynamic export changes the windows' largest count and
# whether out divides in (5 -> 13 becomes 40 -> 13, pooling down).
SIZES = [(14, 7, 29), (15, 7, 10), (10, 7, 31), (5, 13, 40)]


def cases() -> List[Case]:
    found = []
    for dims in (1, 2, 3):
        for kind in ("avg", "max"):
            for in_size, out_size, other in SIZES:
                found.append(Case(kind, dims, in_size, out_size, other))
    for in_size, out_size, other in SIZES:
        found.append(Case("max", 2, in_size, out_size, other, indices=True))
    return found


def first_line(error: BaseException) -> str:
    """The innermost cause's first line: the dynamo exporter wraps the reason
    (a missing ONNX function) in two generic ConversionErrors."""
    while error.__cause__ is not None:
        error = error.__cause__
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    text = re.sub(r"\s+", " ", text).replace("|", "/")
    text = text.split(" Please feel free to request support")[0]
    text = text.split(" [Caused by the value")[0]
    text = re.sub(r"<OpOverload\(op='([^']+)', overload='[^']+'\)>", r"\1", text)
    return f"{type(error).__name__}: {text[:120].strip()}"


def export_torchscript(model, x, dynamic: bool, dims: int) -> bytes:
    buffer = io.BytesIO()
    axes = {"x": {2 + d: f"s{d}" for d in range(dims)}} if dynamic else None
    torch.onnx.export(
        model, (x,), buffer, dynamo=False, input_names=["x"], dynamic_axes=axes
    )
    return buffer.getvalue()


def export_dynamo(model, x, dynamic: bool, dims: int) -> bytes:
    shapes = None
    if dynamic:
        shapes = ({2 + d: torch.export.Dim(f"s{d}", min=2) for d in range(dims)},)
    program = torch.onnx.export(model, (x,), dynamo=True, dynamic_shapes=shapes)
    return program.model_proto.SerializeToString()


def exporters(with_adapool: bool) -> List[Tuple[str, Callable]]:
    found = [("torchscript", export_torchscript), ("dynamo", export_dynamo)]
    if with_adapool:
        import adapool.onnx

        def through_adapool(dynamo: bool):
            def export(model, x, dynamic, dims):
                buffer = io.BytesIO()
                kwargs = {}
                if dynamic and dynamo:
                    kwargs["dynamic_shapes"] = (
                        {2 + d: torch.export.Dim(f"s{d}", min=2) for d in range(dims)},
                    )
                elif dynamic:
                    kwargs["input_names"] = ["x"]
                    kwargs["dynamic_axes"] = {"x": {2 + d: f"s{d}" for d in range(dims)}}
                adapool.onnx.export(model, (x,), buffer, dynamo=dynamo, **kwargs)
                return buffer.getvalue()

            return export

        found += [
            ("adapool + torchscript", through_adapool(False)),
            ("adapool + dynamo", through_adapool(True)),
        ]
    return found


def op_summary(model: onnx.ModelProto) -> str:
    counts: Counter = Counter()

    def visit(graph):
        for node in graph.node:
            counts[node.op_type] += 1
            for attribute in node.attribute:
                if attribute.g.node:
                    visit(attribute.g)

    visit(model.graph)
    for function in model.functions:
        for node in function.node:
            counts[node.op_type] += 1
    counts.pop("Constant", None)
    if len(counts) > 6:
        top = ", ".join(op for op, _ in counts.most_common(4))
        return f"{sum(counts.values())} nodes, {len(counts)} op types ({top}, ...)"
    return ", ".join(f"{op}" + (f"x{n}" if n > 1 else "") for op, n in sorted(counts.items()))


def compare(session, case: Case, size: int) -> str:
    x = case.input(size)
    with torch.no_grad():
        expected = case.module()(x)
    expected = expected if isinstance(expected, tuple) else (expected,)
    try:
        got = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    except Exception as error:  # noqa: BLE001 - the probe reports every failure
        return "runs: " + first_line(error)[:60]
    if len(got) != len(expected):
        return f"{len(got)} outputs, expected {len(expected)}"
    if got[0].shape != tuple(expected[0].shape):
        return f"shape {list(got[0].shape)}, expected {list(expected[0].shape)}"
    text = f"{np.abs(got[0] - expected[0].numpy()).max():.1e}"
    if len(expected) == 2:
        wrong = int((got[1] != expected[1].numpy()).sum())
        text += ", indices exact" if wrong == 0 else f", {wrong} indices wrong"
    return text


def probe(case: Case, exporter: Callable, dynamic: bool) -> List[str]:
    x = case.input(case.in_size)
    try:
        with quiet():
            data = exporter(case.module().eval(), x, dynamic, case.dims)
    except Exception as error:  # noqa: BLE001
        return ["fails: " + first_line(error), "", "", "", ""]
    model = onnx.load_from_string(data)
    try:
        onnx.checker.check_model(model, full_check=True)
        checked = "yes"
    except Exception as error:  # noqa: BLE001
        checked = "no: " + first_line(error)[:60]
    try:
        session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as error:  # noqa: BLE001
        return ["yes", op_summary(model), checked, "loads: " + first_line(error)[:60], ""]
    at_trace = compare(session, case, case.in_size)
    at_other = compare(session, case, case.other_size) if dynamic else ""
    return ["yes", op_summary(model), checked, at_trace, at_other]


# Shapes from real heads: vgg11 at 300x180, a PSPNet-like pyramid level, an
# upsampling; (input shape, output size).
TIMING_SHAPES = [
    ((1, 512, 9, 5), 7),
    ((1, 2048, 65, 65), 6),
    ((4, 64, 50, 50), 13),
    ((1, 64, 20, 20), 45),
]


def timing() -> None:
    """onnxruntime's time (one thread, median of 20 runs) for the ways of
    exporting a non-divisible 2-d average pooling."""
    import time

    import adapool.onnx

    def with_adapool(assume_finite):
        def export(model, x):
            buffer = io.BytesIO()
            adapool.onnx.export(model, (x,), buffer, dynamo=True, assume_finite=assume_finite)
            return buffer.getvalue()

        return export

    class GatherAverage(torch.nn.Module):
        """The alternative adapool.onnx does not take for average pooling: its
        max pooling's gathered windows, padding masked to 0, ReduceSum, divided."""

        def __init__(self, out):
            super().__init__()
            self.out = out

        def forward(self, x):
            axes = adapool.onnx._axes(x, self.out, 2, None)
            values, mask = adapool.onnx._gather_windows(x, axes)
            sums = torch.where(mask, values, 0.0).sum(-1)
            return sums / adapool.onnx._counts(axes, x.dtype, x.device)

    def gathered(model, x):
        return export_dynamo(GatherAverage(model.output_size), x, False, 2)

    ways = [
        ("torch dynamo", lambda model, x: export_dynamo(model, x, False, 2)),
        ("gather + ReduceSum", gathered),
        ("adapool.onnx", with_adapool(False)),
        ("adapool.onnx, assume_finite", with_adapool(True)),
    ]
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    print("| input -> output | " + " | ".join(f"{name} (ms)" for name, _ in ways) + " |")
    print("|---|" + "---|" * len(ways))
    for shape, out in TIMING_SHAPES:
        x = torch.randn(*shape)
        model = torch.nn.AdaptiveAvgPool2d(out).eval()
        cells = []
        for _, export in ways:
            with quiet():
                data = export(model, x)
            session = onnxruntime.InferenceSession(
                data, options, providers=["CPUExecutionProvider"]
            )
            feed = {session.get_inputs()[0].name: x.numpy()}
            session.run(None, feed)
            times = []
            for _ in range(20):
                start = time.perf_counter()
                session.run(None, feed)
                times.append(time.perf_counter() - start)
            cells.append(f"{1000 * sorted(times)[len(times) // 2]:.3f}")
        print(f"| {list(shape)} -> {out}x{out} | " + " | ".join(cells) + " |", flush=True)


def versions() -> str:
    import onnxscript

    return (
        f"torch {torch.__version__}, onnx {onnx.__version__}, onnxruntime "
        f"{onnxruntime.__version__}, onnxscript {onnxscript.__version__}, "
        f"default opset {torch.onnx._constants.ONNX_DEFAULT_OPSET}"
    )


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapool", action="store_true", help="also export through adapool.onnx")
    parser.add_argument("--filter", default="", help="only cases whose row contains this text")
    parser.add_argument(
        "--timing", action="store_true", help="only onnxruntime's time for the ways to export"
    )
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    print(versions())
    print()
    if args.timing:
        timing()
        return 0
    header = ["module", "in -> out", "exporter", "shapes", "export", "ONNX ops", "checker",
              "max abs diff (traced size)", "max abs diff (second size)"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for case in cases():
        for exporter_name, exporter in exporters(args.adapool):
            for dynamic in (False, True):
                sizes = f"{case.in_size} -> {case.out_size}"
                if dynamic:
                    sizes += f" (then {case.other_size})"
                row = [case.name, sizes, exporter_name, "dynamic" if dynamic else "static"]
                if args.filter and args.filter not in " ".join(row):
                    continue
                row += probe(case, exporter, dynamic)
                print("| " + " | ".join(row) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
