"""adapool against PyTorch: adaptive average and max pooling, side by side in one process.

    .venv/bin/python bench/bench.py            # every case (about 10 minutes on 2 cores)
    .venv/bin/python bench/bench.py --quick    # smoke run: batch / 8, short timings
    .venv/bin/python bench/bench.py --filter 'pspnet|56-to-7' --directions backward
    .venv/bin/python bench/bench.py --ops max  # max pooling only

For every case, operation (avg, max), layout (NCHW / NHWC), direction and
thread count it checks that adapool agrees with torch, then times both,
interleaved, and prints adapool's time, torch's time, the speedup, adapool's
GB/s and that as a share of the machine's copy bandwidth (measured in the same
run on buffers far larger than the last-level cache). Results go to
bench/results/: results.json, results.csv, speedup.png and summary.md. Targets
(issue 5 for average pooling, issue 8 for max pooling) are reported, never
asserted.

Timing: forward is what a user calls: F.adaptive_avg_pool*d (which for a 1x1
output is torch's mean() shortcut) against adapool.torch.adaptive_avg_pool*d,
and F.adaptive_max_pool*d(..., return_indices=True) against
adapool.torch.adaptive_max_pool*d(..., return_indices=True): training needs the
indices for the backward. Backward calls each library's backward kernel
directly, with no autograd engine around it: torch's
aten._adaptive_avg_pool{2,3}d_backward and aten.adaptive_max_pool{2,3}d_backward
(the ops AdaptiveAvgPool*DBackward0 and AdaptiveMaxPool*DBackward0 run; 1-d
goes through 2-d on (N, C, 1, L) as torch's own adaptive_{avg,max}_pool1d do)
against what adapool's autograd formulas run, adapool.torch._avg_backward and
_max_backward (the operators torch.ops.adapool.adaptive_{avg,max}_pool_backward,
or their CPU kernels without the operator's dispatch where nothing needs it, as
here), given the grad_input strides those formulas pass. Both max backwards read the same grad_output and torch's
indices (adapool's forward gives equal ones, checked in the forward). Both
sides allocate their result on every call, as they do in training. The
speedup, GB/s and share of copy bandwidth use these times. The "kernel ms"
column also times adapool's C++ kernel alone (adapool.torch._run or _run_max
into preallocated results): the difference is the custom op's dispatch and the
results' allocation.

Correctness: average pooling within RTOL / ATOL of torch (adapool sums in
double); max pooling exactly (values, NaN equal to NaN, indices and gradients
compared with torch.equal).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime
import gc
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy
import torch
import torch.nn.functional as F

import adapool
import adapool.torch as adapool_torch

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPOSITORY = Path(__file__).resolve().parent.parent
DTYPE = torch.float32
# Average pooling: float32 sums of thousands of elements (torch's) against
# double sums (adapool's). Max pooling must match exactly.
RTOL, ATOL = 1e-4, 1e-5

OPS = ("avg", "max")
LAYOUTS = ("NCHW", "NHWC")
DIRECTIONS = ("forward", "backward")

# Every case at least as fast as torch: issue 5 (average), issue 8 (max).
TARGET_EVERY_CASE = 1.0
# The rest are issue 5's, for average pooling.
TARGET_GEOMEAN = 3.0
TARGET_BACKWARD_HEAVY = 20.0
TARGET_COPY_SHARE = 0.70
BACKWARD_HEAVY = re.compile(r"^(pspnet-|56-to-7$)")
# Above this 1-minute load average other work shares the cores and timings drift.
BUSY_LOAD = 0.5


# ----------------------------------------------------------------------------
# Cases


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    source: str  # the model it comes from
    input_size: Tuple[int, ...]  # (N, C, *spatial)
    output_size: Tuple[int, ...]  # spatial only

    @property
    def spatial_dims(self) -> int:
        return len(self.output_size)

    @property
    def shape_text(self) -> str:
        n, c, *spatial = self.input_size
        return f"{n}x{c}x{'x'.join(map(str, spatial))}->{'x'.join(map(str, self.output_size))}"

    def with_batch(self, divisor: int) -> "Case":
        n, *rest = self.input_size
        return dataclasses.replace(self, input_size=(max(1, n // divisor), *rest))

    def elements(self) -> Tuple[int, int]:
        """Element counts of the input and of the output."""
        n, c, *spatial = self.input_size
        return n * c * math.prod(spatial), n * c * math.prod(self.output_size)


CASES: List[Case] = [
    Case("resnet50-head", "ResNet-50 global pool", (32, 2048, 7, 7), (1, 1)),
    Case("vgg-14-to-7", "VGG head", (32, 512, 14, 14), (7, 7)),
    Case("vgg-15-to-7", "VGG head, odd size", (32, 512, 15, 15), (7, 7)),
    Case("pspnet-6", "PSPNet pyramid", (8, 2048, 65, 65), (6, 6)),
    Case("pspnet-3", "PSPNet pyramid", (8, 2048, 65, 65), (3, 3)),
    Case("pspnet-2", "PSPNet pyramid", (8, 2048, 65, 65), (2, 2)),
    Case("pspnet-1", "PSPNet pyramid", (8, 2048, 65, 65), (1, 1)),
    Case("image-resize", "1080p image to 224x224", (1, 3, 1080, 1920), (224, 224)),
    Case("upsample-5-to-13", "output larger than input", (16, 64, 5, 5), (13, 13)),
    Case("56-to-7", "56x56 feature map to 7x7", (64, 256, 56, 56), (7, 7)),
    # Swin-T's classifier pool (Microsoft's reference code and Hugging Face's
    # SwinModel): AdaptiveAvgPool1d(1) over the 7x7 = 49 tokens of dimension 768,
    # fed x.transpose(1, 2) of a (B, L, C) tensor, i.e. the NLC layout.
    Case("swin-t-pool-1d", "Swin-T head, AdaptiveAvgPool1d", (32, 768, 49), (1,)),
    # torchvision's r3d_18 / mc3_18 / r2plus1d_18 head: AdaptiveAvgPool3d(1) over
    # layer4's (512, 2, 7, 7) for a 16-frame 112x112 clip.
    Case("r3d-18-head-3d", "R3D-18 video head, AdaptiveAvgPool3d", (32, 512, 2, 7, 7), (1, 1, 1)),
]


def make_input(case: Case, layout: str, generator: torch.Generator) -> torch.Tensor:
    """A random input in the layout: NCHW is contiguous; NHWC has the channel
    innermost (channels_last, channels_last_3d, or (N, L, C).transpose(1, 2) in 1-d)."""
    if layout == "NCHW":
        return torch.randn(case.input_size, generator=generator, dtype=DTYPE)
    n, c, *spatial = case.input_size
    stored = torch.randn((n, *spatial, c), generator=generator, dtype=DTYPE)
    return stored.movedim(-1, 1)


# ----------------------------------------------------------------------------
# The two libraries

Outputs = Tuple[torch.Tensor, ...]


def _as_tuple(result) -> Outputs:
    return result if isinstance(result, tuple) else (result,)


@dataclasses.dataclass(frozen=True)
class Op:
    """One pooling operation as each library exposes it. Its forward gives a
    tuple of outputs: the pooled values, and for max pooling the int64 indices,
    which the backward reads as well ("saved": what it takes besides
    grad_output). Every call below is written once for both operations; the
    fields hold what differs."""

    name: str
    title: str
    outputs: Tuple[str, ...]  # names of the forward's outputs, for messages
    forward_options: Dict[str, object]  # keywords both forwards take
    torch_forward: Dict[int, Callable]  # spatial dims -> torch.nn.functional's
    adapool_forward: Dict[int, Callable]  # spatial dims -> adapool.torch's
    torch_backward: Dict[int, Callable]  # 2, 3 -> aten kernel(grad_output, input, *saved)
    adapool_backward: Callable  # op(grad_output, *saved, size, strides, spatial_dims, threads)
    kernel: Callable  # adapool.torch._run or _run_max
    exact: bool  # must equal torch's results (else within RTOL / ATOL)
    index_bytes: int  # bytes of indices per output element: 8 for max, none for avg
    issue: int  # whose targets the summary reports (average pooling has more)
    geomean_target: Optional[float]  # of the speedup's geometric mean, if any

    def forward_torch(self, x: torch.Tensor, case: Case) -> Outputs:
        pool = self.torch_forward[case.spatial_dims]
        return _as_tuple(pool(x, case.output_size, **self.forward_options))

    def forward_adapool(self, x: torch.Tensor, case: Case, threads: int) -> Outputs:
        pool = self.adapool_forward[case.spatial_dims]
        return _as_tuple(pool(x, case.output_size, **self.forward_options, threads=threads))

    def backward_torch(
        self, case: Case, grad_output: torch.Tensor, x: torch.Tensor, saved: Outputs
    ) -> torch.Tensor:
        if case.spatial_dims == 1:
            # torch has no 1-d kernels: adaptive_{avg,max}_pool1d pool (N, C, 1, L)
            # in 2-d, and autograd runs the 2-d backward on those views.
            views = [t.unsqueeze(-2) for t in (grad_output, x, *saved)]
            return self.torch_backward[2](*views).squeeze(-2)
        return self.torch_backward[case.spatial_dims](grad_output, x, *saved)

    def data_bytes(self, case: Case) -> int:
        """Bytes one call reads plus writes, either direction: forward reads the
        input and writes the outputs (max: values and indices), backward reads
        grad_output (max: and the indices) and writes grad_input."""
        inputs, outputs = case.elements()
        value_bytes = torch.finfo(DTYPE).bits // 8
        return inputs * value_bytes + outputs * (value_bytes + self.index_bytes)


AVG = Op(
    name="avg",
    title="average pooling",
    outputs=("output",),
    forward_options={},
    torch_forward={1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d},
    adapool_forward={
        1: adapool_torch.adaptive_avg_pool1d,
        2: adapool_torch.adaptive_avg_pool2d,
        3: adapool_torch.adaptive_avg_pool3d,
    },
    torch_backward={
        2: torch.ops.aten._adaptive_avg_pool2d_backward,
        3: torch.ops.aten._adaptive_avg_pool3d_backward,
    },
    adapool_backward=adapool_torch._avg_backward,
    kernel=adapool_torch._run,
    exact=False,
    index_bytes=0,
    issue=5,
    geomean_target=TARGET_GEOMEAN,
)

MAX = Op(
    name="max",
    title="max pooling",
    outputs=("values", "indices"),
    # What training calls: the backward needs the indices.
    forward_options={"return_indices": True},
    torch_forward={1: F.adaptive_max_pool1d, 2: F.adaptive_max_pool2d, 3: F.adaptive_max_pool3d},
    adapool_forward={
        1: adapool_torch.adaptive_max_pool1d,
        2: adapool_torch.adaptive_max_pool2d,
        3: adapool_torch.adaptive_max_pool3d,
    },
    torch_backward={
        2: torch.ops.aten.adaptive_max_pool2d_backward,
        3: torch.ops.aten.adaptive_max_pool3d_backward,
    },
    adapool_backward=adapool_torch._max_backward,
    kernel=adapool_torch._run_max,
    exact=True,
    index_bytes=torch.iinfo(torch.int64).bits // 8,
    issue=8,
    geomean_target=None,
)

OP_BY_NAME = {op.name: op for op in (AVG, MAX)}
assert tuple(OP_BY_NAME) == OPS


def grad_input_strides(op: Op, case: Case, x: torch.Tensor) -> List[int]:
    """The grad_input strides adapool's autograd formula passes its backward op
    (empty_like(input)'s for average pooling, the forward result's layout for
    max pooling): read off a gradient taken through adapool's forward on a meta
    copy of x, which runs the operators' fake implementations and no kernel."""
    meta = x.detach().to("meta").requires_grad_()
    values = op.forward_adapool(meta, case, threads=1)[0]
    (grad,) = torch.autograd.grad(values, meta, torch.empty_like(values))
    return list(grad.stride())


@dataclasses.dataclass
class Calls:
    """The two zero-argument calls one measurement compares, each giving a tuple
    of results, and adapool's C++ kernel alone: given adapool's results, a call
    that writes them again in place."""

    adapool: Callable[[], Outputs]
    torch: Callable[[], Outputs]
    kernel: Callable[[Outputs], Callable[[], None]]
    names: Tuple[str, ...]  # of the results, for messages


def make_calls(case: Case, op: Op, direction: str, x: torch.Tensor, threads: int) -> Calls:
    """The kernel-only call is adapool.torch's own _run or _run_max into the
    preallocated results, without the custom op's Python dispatch or the
    results' allocation (page faults on first touch of a fresh buffer), which
    the op's time includes."""
    dims = case.spatial_dims
    if direction == "forward":
        return Calls(
            adapool=lambda: op.forward_adapool(x, case, threads),
            torch=lambda: op.forward_torch(x, case),
            kernel=lambda outputs: lambda: op.kernel(True, x, *outputs, dims, threads),
            names=op.outputs,
        )
    # grad_output in the layout torch's forward gives: randn_like keeps strides.
    # Both backwards read torch's indices (max pooling), which adapool's equal.
    values, *saved = op.forward_torch(x, case)
    grad_output = torch.randn_like(values)
    size, strides = list(x.shape), grad_input_strides(op, case, x)
    return Calls(
        adapool=lambda: (
            op.adapool_backward(grad_output, *saved, size, strides, dims, threads),
        ),
        torch=lambda: (op.backward_torch(case, grad_output, x, saved),),
        kernel=lambda outputs: lambda: op.kernel(
            False, grad_output, *outputs, *saved, dims, threads
        ),
        names=("grad_input",),
    )


# ----------------------------------------------------------------------------
# Correctness


def _strides_of_real_dims(t: torch.Tensor) -> List[int]:
    # Strides of size-1 dimensions are arbitrary and do not change the layout.
    return [s for s, n in zip(t.stride(), t.shape) if n != 1]


def _equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    """torch.equal, with NaN equal to NaN (max pooling passes NaN through)."""
    if a.is_floating_point():
        nan = a.isnan()
        if not torch.equal(nan, b.isnan()):
            return False
        a, b = a.masked_fill(nan, 0), b.masked_fill(nan, 0)
    return torch.equal(a, b)


def _value_mismatch(ours: torch.Tensor, reference: torch.Tensor, exact: bool) -> Optional[str]:
    """Why ours does not match reference's values, or None."""
    if exact:
        if _equal(ours, reference):
            return None
        differ = ours != reference
        if ours.is_floating_point():
            differ &= ~(ours.isnan() & reference.isnan())
        return f"{int(differ.sum())} of {ours.numel()} elements differ (exact match required)"
    if torch.allclose(ours, reference, rtol=RTOL, atol=ATOL):
        return None
    worst = (ours - reference).abs().max().item()
    return f"max abs error {worst:.3g} (rtol {RTOL:g}, atol {ATOL:g})"


LAYOUT_NOTE = "ok, strides differ"


def check(calls: Calls, op: Op, direction: str) -> Tuple[str, str, Optional[Outputs]]:
    """(verdict, detail, adapool's results): verdict 'ok', LAYOUT_NOTE, 'FAIL ...'
    or 'ERROR ...'.

    Values must match torch's: average pooling within RTOL / ATOL, max pooling
    exactly (values, indices and gradients). So must the forward results'
    layout (the contract follows torch there); a gradient's layout is free, and
    torch's own differs by path (its 3-d average pooling backward kernel
    returns contiguous gradients for channels-last inputs, which autograd then
    copies to the input's layout), so a backward layout difference is noted,
    and timed."""
    try:
        ours = calls.adapool()
    except Exception as error:  # a broken kernel must not stop the benchmark
        detail = f"{type(error).__name__}: {error}"
        return "ERROR " + detail.splitlines()[0][:60], detail, None
    reference = calls.torch()
    if len(ours) != len(reference):
        return "FAIL outputs", f"{len(ours)} results, torch gives {len(reference)}", ours
    restrided = ""
    for name, mine, theirs in zip(calls.names, ours, reference):
        if mine.shape != theirs.shape:
            detail = f"{name}: shape {list(mine.shape)} != torch's {list(theirs.shape)}"
            return "FAIL shape", detail, ours
        if mine.dtype != theirs.dtype:
            return "FAIL dtype", f"{name}: {mine.dtype} != torch's {theirs.dtype}", ours
        mismatch = _value_mismatch(mine, theirs, op.exact)
        if mismatch:
            verdict = "FAIL indices" if name == "indices" else "FAIL values"
            return verdict, f"{name}: {mismatch}", ours
        if not restrided and _strides_of_real_dims(mine) != _strides_of_real_dims(theirs):
            restrided = f"{name}: strides {mine.stride()} != torch's {theirs.stride()}"
    if restrided:
        return ("FAIL layout" if direction == "forward" else LAYOUT_NOTE), restrided, ours
    return "ok", "", ours


# ----------------------------------------------------------------------------
# Timing


@dataclasses.dataclass(frozen=True)
class Budget:
    """How long to time one measurement (both libraries together)."""

    min_reps: int  # repetitions wanted before target_s may end it
    target_s: float
    cap_s: float  # past this, stop as soon as FLOOR_REPS are in
    sample_s: float  # a sample repeats the call until it lasts this long
    max_reps: int


FLOOR_REPS = 3
FULL_BUDGET = Budget(min_reps=5, target_s=0.6, cap_s=2.0, sample_s=2e-3, max_reps=400)
QUICK_BUDGET = Budget(min_reps=3, target_s=0.1, cap_s=0.4, sample_s=1e-3, max_reps=100)


@dataclasses.dataclass(frozen=True)
class Timing:
    median_s: float
    min_s: float
    reps: int


def _seconds_per_call(call: Callable[[], object], repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        call()
    return (time.perf_counter() - start) / repeats


def _repeats_per_sample(call: Callable[[], object], sample_s: float) -> int:
    # Calls far shorter than sample_s are batched, so timer and loop overhead
    # and scheduler jitter do not dominate one sample.
    once = _seconds_per_call(call, 1)
    return max(1, math.ceil(sample_s / max(once, 1e-9)))


def time_interleaved(functions: Sequence[Callable[[], object]], budget: Budget) -> List[Timing]:
    """Times the functions in turn (A B C A B C ...), so drift in the machine's
    load hits all alike; one Timing per function."""
    repeats = [_repeats_per_sample(f, budget.sample_s) for f in functions]
    samples: List[List[float]] = [[] for _ in functions]
    start = time.perf_counter()
    gc.disable()  # a collection inside one sample would skew it
    try:
        while True:
            for function, count, kept in zip(functions, repeats, samples):
                kept.append(_seconds_per_call(function, count))
            reps, elapsed = len(samples[0]), time.perf_counter() - start
            if (
                reps >= budget.max_reps
                or (reps >= budget.min_reps and elapsed >= budget.target_s)
                or (reps >= FLOOR_REPS and elapsed >= budget.cap_s)
            ):
                break
    finally:
        gc.enable()
    return [Timing(statistics.median(s), min(s), len(s)) for s in samples]


# ----------------------------------------------------------------------------
# The machine


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _parse_cache_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip()
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)


def last_level_cache_bytes() -> int:
    """Size of cpu0's highest-level data or unified cache, from sysfs."""
    best_level, best_size = 0, 0
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            if (index / "type").read_text().strip() == "Instruction":
                continue
            level = int((index / "level").read_text())
            size = _parse_cache_size((index / "size").read_text())
        except (OSError, ValueError):
            continue
        if level > best_level:
            best_level, best_size = level, size
    return best_size


def measure_copy_bandwidth(threads: Sequence[int], llc_bytes: int, reps: int) -> Dict[int, float]:
    """Bytes per second of torch's copy_ between float32 buffers four times the
    last-level cache (at least 1 GiB each), counted as bytes read plus bytes
    written, for each thread count."""
    elements = max(1 << 30, 4 * llc_bytes) // 4
    source = torch.ones(elements, dtype=torch.float32)
    destination = torch.zeros_like(source)  # touched now, so no page faults timed
    moved = 2 * source.numel() * source.element_size()
    bandwidth = {}
    for count in threads:
        torch.set_num_threads(count)
        destination.copy_(source)
        seconds = [_seconds_per_call(lambda: destination.copy_(source), 1) for _ in range(reps)]
        bandwidth[count] = moved / statistics.median(seconds)
    del source, destination
    return bandwidth


def _git(*arguments: str) -> str:
    try:
        done = subprocess.run(
            ["git", *arguments], cwd=REPOSITORY, capture_output=True, text=True, timeout=20
        )
        return done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_metadata(llc_bytes: int, threads: Sequence[int]) -> dict:
    import matplotlib

    commit = _git("rev-parse", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "llc_bytes": llc_bytes,
        "threads": list(threads),
        "dtype": str(DTYPE).replace("torch.", ""),
        "versions": {
            "adapool": adapool.__version__,
            "torch": torch.__version__,
            "numpy": numpy.__version__,
            "matplotlib": matplotlib.__version__,
            "python": platform.python_version(),
        },
        "git_commit": commit + ("-dirty" if dirty else ""),
        "load_average_at_start": os.getloadavg(),
    }


# ----------------------------------------------------------------------------
# Running


@dataclasses.dataclass
class Row:
    case: str
    shape: str
    op: str  # "avg" or "max"
    layout: str
    direction: str
    threads: int
    check: str
    check_detail: str = ""
    adapool_ms: Optional[float] = None
    adapool_min_ms: Optional[float] = None
    kernel_ms: Optional[float] = None  # adapool's C++ kernel alone, results preallocated
    torch_ms: Optional[float] = None
    torch_min_ms: Optional[float] = None
    reps: Optional[int] = None
    speedup: Optional[float] = None  # torch time / adapool time
    gb_per_s: Optional[float] = None
    copy_share: Optional[float] = None  # adapool GB/s / copy GB/s, same threads
    data_mib: float = 0.0  # read plus written by one call
    exceeds_llc: bool = False

    @property
    def label(self) -> str:
        return f"{self.case} {self.op} {self.layout} {self.direction} t{self.threads}"

    @property
    def passed(self) -> bool:
        return self.check in ("ok", LAYOUT_NOTE)

    @property
    def timed(self) -> bool:
        return self.passed and self.speedup is not None


@dataclasses.dataclass
class Run:
    """What every measurement of one run shares."""

    budget: Budget
    llc_bytes: int
    copy_bandwidth: Dict[int, float]


def measure(
    case: Case, op: Op, layout: str, direction: str, threads: int, x: torch.Tensor, context: Run
) -> Row:
    torch.set_num_threads(threads)
    row = Row(case.name, case.shape_text, op.name, layout, direction, threads, check="")
    data_bytes = op.data_bytes(case)
    row.data_mib = data_bytes / (1 << 20)
    row.exceeds_llc = data_bytes > context.llc_bytes
    calls = make_calls(case, op, direction, x, threads)
    row.check, row.check_detail, results = check(calls, op, direction)  # also warms both up
    if not row.passed:
        return row
    functions = [calls.adapool, calls.torch, calls.kernel(results)]
    ours, theirs, *kernel_only = time_interleaved(functions, context.budget)
    row.adapool_ms, row.adapool_min_ms = ours.median_s * 1e3, ours.min_s * 1e3
    row.torch_ms, row.torch_min_ms = theirs.median_s * 1e3, theirs.min_s * 1e3
    row.kernel_ms = kernel_only[0].median_s * 1e3 if kernel_only else None
    row.reps = ours.reps
    row.speedup = theirs.median_s / ours.median_s
    row.gb_per_s = data_bytes / ours.median_s / 1e9
    row.copy_share = row.gb_per_s * 1e9 / context.copy_bandwidth[threads]
    return row


def run_cases(cases: Sequence[Case], arguments, context: Run) -> List[Row]:
    generator = torch.Generator().manual_seed(5)
    rows: List[Row] = []
    print_header()
    for case in cases:
        for layout in arguments.layouts:
            x = make_input(case, layout, generator)
            for op in arguments.ops:
                for direction in arguments.directions:
                    for threads in arguments.threads:
                        row = measure(case, op, layout, direction, threads, x, context)
                        print_row(row)
                        rows.append(row)
            del x
            gc.collect()  # large inputs: give memory back before the next one
    return rows


# ----------------------------------------------------------------------------
# Targets


def geometric_mean(values: Sequence[float]) -> float:
    return math.exp(sum(map(math.log, values)) / len(values))


def _verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


INDENT = "  "  # summary lines about one operation; summary.md nests them


def summary_lines(rows: Sequence[Row], context: Run) -> List[str]:
    lines = []
    for op in OP_BY_NAME.values():
        chosen = [r for r in rows if r.op == op.name]
        if chosen:
            lines.append(f"{op.title} ({op.name}), targets of issue {op.issue}:")
            lines += [INDENT + line for line in _op_lines(op, chosen, context)]
    lines.append(f"copy bandwidth (read + write): {_copy_text(context.copy_bandwidth)}")
    load = os.getloadavg()[0]
    if load > BUSY_LOAD:
        lines.append(
            f"machine busy: load average {load:.2f} at the end (> {BUSY_LOAD:g}); "
            "timings are noisy, those with 2 threads most"
        )
    return lines


def _op_lines(op: Op, rows: Sequence[Row], context: Run) -> List[str]:
    """Correctness, geometric mean and slowest case of one operation's rows,
    then, for average pooling, issue 5's other targets."""
    timed = [r for r in rows if r.timed]
    failed = [r for r in rows if not r.passed]
    restrided = [r for r in rows if r.check == LAYOUT_NOTE]
    lines = [
        f"correctness: {len(rows) - len(failed)}/{len(rows)} match torch"
        + (" exactly" if op.exact else "")
        + (
            " -- FAILED: " + "; ".join(f"{r.label}: {r.check_detail}" for r in failed)
            if failed
            else ""
        )
    ]
    if restrided:
        lines.append(
            f"gradient layout differs from torch's kernel in {len(restrided)} "
            "(values match, timed): "
            + "; ".join(f"{r.label}: {r.check_detail}" for r in restrided[:2])
            + ("; ..." if len(restrided) > 2 else "")
        )
    if not timed:
        return lines + ["no timed measurements"]

    per_threads = ", ".join(
        f"t{t} {geometric_mean([r.speedup for r in timed if r.threads == t]):.2f}x"
        for t in sorted({r.threads for r in timed})
    )
    mean = geometric_mean([r.speedup for r in timed])
    target = (
        "no target"
        if op.geomean_target is None
        else f"target >= {op.geomean_target:g}x: {_verdict(mean >= op.geomean_target)}"
    )
    lines.append(
        f"geometric mean speedup over {len(timed)} of {len(rows)}: {mean:.2f}x "
        f"({per_threads}); {target}"
    )

    slowest = min(timed, key=lambda r: r.speedup)
    below = sum(r.speedup < TARGET_EVERY_CASE for r in timed)
    lines.append(
        f"slowest case: {slowest.label} {slowest.speedup:.2f}x; {below} of {len(timed)} below "
        f"{TARGET_EVERY_CASE:g}x, {len(failed)} failed; target every case >= "
        f"{TARGET_EVERY_CASE:g}x: {_verdict(below == 0 and not failed)}"
    )
    return lines + (_average_target_lines(timed, context) if op is AVG else [])


def _average_target_lines(timed: Sequence[Row], context: Run) -> List[str]:
    """Issue 5's targets for the backward of large windows and for bandwidth."""
    lines = []
    heavy = [r for r in timed if r.direction == "backward" and BACKWARD_HEAVY.match(r.case)]
    if heavy:
        worst = min(heavy, key=lambda r: r.speedup)
        lines.append(
            f"backward PSPNet and 56->7: min {worst.speedup:.1f}x ({worst.label}), "
            f"geomean {geometric_mean([r.speedup for r in heavy]):.1f}x; "
            f"target each >= {TARGET_BACKWARD_HEAVY:g}x: "
            f"{_verdict(worst.speedup >= TARGET_BACKWARD_HEAVY)}"
        )
    else:
        lines.append("backward PSPNet and 56->7: not measured in this run")

    out_of_cache = [r for r in timed if r.exceeds_llc]
    llc_mib = context.llc_bytes / (1 << 20)
    if out_of_cache:
        worst = min(out_of_cache, key=lambda r: r.copy_share)
        lines.append(
            f"out-of-cache cases (data > {llc_mib:.0f} MiB LLC): {len(out_of_cache)}, "
            f"min {worst.copy_share:.0%} of copy bandwidth ({worst.label}); "
            f"target each >= {TARGET_COPY_SHARE:.0%}: "
            f"{_verdict(worst.copy_share >= TARGET_COPY_SHARE)}"
        )
    else:
        largest = max(timed, key=lambda r: r.data_mib)
        lines.append(
            f"out-of-cache cases: none (no case's data exceeds the {llc_mib:.0f} MiB LLC; "
            f"largest is {largest.case}, {largest.data_mib:.0f} MiB); "
            f"target >= {TARGET_COPY_SHARE:.0%} of copy bandwidth: not assessed "
            "(--llc-mib overrides the cache size)"
        )
    return lines


# ----------------------------------------------------------------------------
# Reports


@dataclasses.dataclass(frozen=True)
class Column:
    header: str
    width: int
    cell: Callable[[Row], str]
    numeric: bool = True  # numbers align right, words left


def _number(value: Optional[float], spec: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def _percent(share: Optional[float]) -> str:
    return _number(None if share is None else 100 * share, ".0f", "%")


COLUMNS = [
    Column("case", 17, lambda r: r.case, numeric=False),
    Column("op", 3, lambda r: r.op, numeric=False),
    Column("layout", 6, lambda r: r.layout, numeric=False),
    Column("dir", 8, lambda r: r.direction, numeric=False),
    Column("thr", 3, lambda r: str(r.threads)),
    Column("adapool ms", 10, lambda r: _number(r.adapool_ms, ".3f")),
    Column("(min)", 9, lambda r: _number(r.adapool_min_ms, ".3f")),
    Column("kernel ms", 10, lambda r: _number(r.kernel_ms, ".3f")),
    Column("torch ms", 10, lambda r: _number(r.torch_ms, ".3f")),
    Column("(min)", 9, lambda r: _number(r.torch_min_ms, ".3f")),
    Column("speedup", 8, lambda r: _number(r.speedup, ".2f", "x")),
    Column("GB/s", 6, lambda r: _number(r.gb_per_s, ".1f")),
    Column("%copy", 5, lambda r: _percent(r.copy_share)),
    Column(">LLC", 4, lambda r: "yes" if r.exceeds_llc else "no"),
    Column("check", 0, lambda r: r.check, numeric=False),
]


def _line(cells: Sequence[str]) -> str:
    aligned = (
        f"{text:>{c.width}}" if c.numeric else f"{text:<{c.width}}"
        for c, text in zip(COLUMNS, cells)
    )
    return "  ".join(aligned).rstrip()


def print_header() -> None:
    print(_line([c.header for c in COLUMNS]))


def print_row(row: Row) -> None:
    print(_line([c.cell(row) for c in COLUMNS]), flush=True)


def write_json(
    path: Path, metadata: dict, cases: Sequence[Case], rows: Sequence[Row], summary: Sequence[str]
) -> None:
    document = {
        "metadata": metadata,
        "cases": [dataclasses.asdict(c) for c in cases],
        "rows": [dataclasses.asdict(r) for r in rows],
        "summary": list(summary),
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def write_csv(path: Path, rows: Sequence[Row]) -> None:
    fields = [f.name for f in dataclasses.fields(Row)]
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow(dataclasses.asdict(row))


def _copy_text(bytes_per_s: Dict[int, float]) -> str:
    return ", ".join(
        f"{t} thread{'s' * (t != 1)} {b / 1e9:.1f} GB/s" for t, b in bytes_per_s.items()
    )


def write_markdown(
    path: Path, metadata: dict, cases: Sequence[Case], rows: Sequence[Row], summary: Sequence[str]
) -> None:
    headers = [c.header for c in COLUMNS]
    versions = ", ".join(f"{k} {v}" for k, v in metadata["versions"].items())
    lines = [
        f"Run {metadata['date']} on {metadata['cpu_model']} ({metadata['cpu_count']} CPUs, "
        f"LLC {metadata['llc_bytes'] / (1 << 20):.0f} MiB), {versions}, "
        f"commit {metadata['git_commit'] or 'unknown'}, {metadata['dtype']}"
        + (", quick mode (batch / 8)" if metadata["quick"] else "")
        + ". NHWC means channel innermost: channels_last in 2-d, channels_last_3d in 3-d, "
        "(N, L, C).transpose(1, 2) in 1-d.",
        "",
        "| case | N x C x spatial -> output | from |",
        "|---|---|---|",
        *(f"| {c.name} | {c.shape_text} | {c.source} |" for c in cases),
        "",
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
        *("| " + " | ".join(c.cell(r) for c in COLUMNS) + " |" for r in rows),
        "",
        *(_bullet(line) for line in summary),
    ]
    path.write_text("\n".join(lines) + "\n")


def _bullet(line: str) -> str:
    """A summary line as a markdown list item; INDENTed lines nest."""
    depth = (len(line) - len(line.lstrip(" "))) // len(INDENT)
    return f"{INDENT * depth}- {line.strip()}"


def _speedup_label(speedup: float) -> str:
    return f"{speedup:.0f}" if speedup >= 10 else f"{speedup:.2g}"


def _draw_panel(
    axis,
    rows: Sequence[Row],
    cases: Sequence[str],
    threads: Sequence[int],
    geomean_target: Optional[float],
) -> None:
    """Grouped bars: one group per case, one bar per thread count, labelled
    with the speedup; a measurement that failed its check shows FAIL. A
    dashed line marks the geometric mean target where there is one."""
    from matplotlib.patches import Patch

    width = 0.8 / len(threads)
    for k, count in enumerate(threads):
        picked = {r.case: r for r in rows if r.threads == count}
        offset = (k - (len(threads) - 1) / 2) * width
        for i, case in enumerate(cases):
            row = picked.get(case)
            if row is None:
                continue
            if not row.timed:
                axis.text(
                    i + offset,
                    1,
                    "FAIL",
                    color="red",
                    rotation=90,
                    ha="center",
                    va="bottom",
                    fontsize=7,
                )
                continue
            axis.bar(i + offset, row.speedup, width, color=f"C{k}")
            axis.text(
                i + offset,
                row.speedup,
                _speedup_label(row.speedup),
                ha="center",
                va="bottom",
                fontsize=6,
            )
    axis.axhline(1.0, color="black", linewidth=1)
    if geomean_target is not None:
        axis.axhline(geomean_target, color="gray", linewidth=0.8, linestyle="--")
    axis.set_yscale("log")
    axis.set_xticks(range(len(cases)), cases, rotation=45, ha="right", fontsize=8)
    axis.grid(axis="y", which="both", alpha=0.3)
    # Proxy patches: a panel may lack a bar of some thread count to take the colour from.
    handles = [
        Patch(color=f"C{k}", label=f"{count} thread{'s' * (count != 1)}")
        for k, count in enumerate(threads)
    ]
    axis.legend(handles=handles, fontsize=8, loc="upper left")


def write_chart(path: Path, metadata: dict, rows: Sequence[Row]) -> None:
    """Speedup per case on a log scale: one panel per operation, layout and
    direction (two a line: each operation's NCHW, then its NHWC)."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render straight to the file
    import matplotlib.pyplot as plt

    cases = list(dict.fromkeys(r.case for r in rows))
    panels = [(o, l, d) for o in OPS for l in LAYOUTS for d in DIRECTIONS]
    panels = [p for p in panels if any((r.op, r.layout, r.direction) == p for r in rows)]
    columns = min(2, len(panels))
    lines = math.ceil(len(panels) / columns)
    # Wide enough for the case names and bar labels, and the title over one panel.
    panel_width = max(8.0, 2.0 + 0.55 * len(cases))
    figure, axes = plt.subplots(
        lines, columns, squeeze=False, sharey=True, figsize=(panel_width * columns, 4.8 * lines)
    )
    for axis, (op, layout, direction) in zip(axes.flat, panels):
        chosen = [r for r in rows if (r.op, r.layout, r.direction) == (op, layout, direction)]
        _draw_panel(axis, chosen, cases, metadata["threads"], OP_BY_NAME[op].geomean_target)
        axis.set_title(f"{OP_BY_NAME[op].title}: {layout} {direction}")
    for axis in axes.flat[len(panels) :]:
        axis.set_visible(False)
    for axis in axes[:, 0]:
        axis.set_ylabel("speedup: torch time / adapool time")
    figure.suptitle(
        f"adapool {metadata['versions']['adapool']} vs torch {metadata['versions']['torch']}, "
        f"{metadata['dtype']}, {metadata['cpu_model']}, {metadata['date']}"
        f"{' (quick)' if metadata['quick'] else ''}\n"
        "solid line: 1x (every case's target)"
        + (
            f"; dashed: {TARGET_GEOMEAN:g}x (average pooling's geometric mean target)"
            if any(op == AVG.name for op, _, _ in panels)
            else ""
        ),
        fontsize=10,
    )
    # Room for the two-line title above the panels, however many lines of them.
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.35 / figure.get_figheight()))
    figure.savefig(path, dpi=110)
    plt.close(figure)


# ----------------------------------------------------------------------------
# Command line


def parse_arguments(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="batch / 8 and short timings: a smoke run"
    )
    parser.add_argument(
        "--filter", default="", help="regular expression on case names, e.g. 'pspnet|56-to-7'"
    )
    parser.add_argument(
        "--threads", default="1,2", help="comma-separated thread counts (default 1,2)"
    )
    parser.add_argument(
        "--ops", nargs="+", choices=OPS, default=list(OPS), help="pooling operations (default both)"
    )
    parser.add_argument("--layouts", nargs="+", choices=LAYOUTS, default=list(LAYOUTS))
    parser.add_argument("--directions", nargs="+", choices=DIRECTIONS, default=list(DIRECTIONS))
    parser.add_argument(
        "--llc-mib", type=float, help="last-level cache size to assume (default: from sysfs)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS_DIR, help="where results go")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    arguments = parser.parse_args(argv)
    arguments.threads = [int(t) for t in arguments.threads.split(",") if t]
    # In OPS's order, once each, as the Op each names.
    arguments.ops = [OP_BY_NAME[name] for name in OPS if name in arguments.ops]
    return arguments


def select_cases(arguments: argparse.Namespace) -> List[Case]:
    pattern = re.compile(arguments.filter)
    chosen = [c for c in CASES if pattern.search(c.name)]
    return [c.with_batch(8) if arguments.quick else c for c in chosen]


def main(argv: Optional[Sequence[str]] = None) -> int:
    arguments = parse_arguments(argv)
    cases = select_cases(arguments)
    if arguments.list or not cases:
        for case in CASES:
            print(f"{case.name:<17} {case.shape_text:<28} {case.source}")
        return 0 if arguments.list else 2

    llc_bytes = (
        int(arguments.llc_mib * (1 << 20)) if arguments.llc_mib else last_level_cache_bytes()
    )
    metadata = machine_metadata(llc_bytes, arguments.threads)
    print(
        f"{metadata['cpu_model']}, {metadata['cpu_count']} CPUs, "
        f"LLC {llc_bytes / (1 << 20):.0f} MiB; "
        + ", ".join(f"{k} {v}" for k, v in metadata["versions"].items())
        + f"; load average {metadata['load_average_at_start'][0]:.2f}"
    )
    copy_bandwidth = measure_copy_bandwidth(
        arguments.threads, llc_bytes, reps=3 if arguments.quick else 5
    )
    print(f"copy bandwidth (read + write): {_copy_text(copy_bandwidth)}")
    context = Run(QUICK_BUDGET if arguments.quick else FULL_BUDGET, llc_bytes, copy_bandwidth)

    started = time.perf_counter()
    rows = run_cases(cases, arguments, context)
    summary = summary_lines(rows, context)
    metadata.update(
        quick=arguments.quick,
        filter=arguments.filter,
        ops=[op.name for op in arguments.ops],
        copy_gb_per_s={t: b / 1e9 for t, b in copy_bandwidth.items()},
        budget=dataclasses.asdict(context.budget),
        seconds=round(time.perf_counter() - started, 1),
        load_average_at_end=os.getloadavg(),
        forward_timing="F.adaptive_avg_pool*d vs adapool.torch.adaptive_avg_pool*d; "
        "F.adaptive_max_pool*d vs adapool.torch.adaptive_max_pool*d, both return_indices=True",
        backward_timing="direct kernel calls: aten._adaptive_avg_pool{2,3}d_backward and "
        "aten.adaptive_max_pool{2,3}d_backward (1-d through 2-d) vs "
        "what adapool's autograd runs: adapool.torch._avg_backward and _max_backward "
        "(the operators' CPU kernels without their dispatch where nothing needs it)",
        kernel_timing="adapool.torch._run / _run_max into preallocated results: "
        "no op dispatch, no allocation",
    )

    print()
    for line in summary:
        print(line)
    arguments.output.mkdir(parents=True, exist_ok=True)
    write_json(arguments.output / "results.json", metadata, cases, rows, summary)
    write_csv(arguments.output / "results.csv", rows)
    write_markdown(arguments.output / "summary.md", metadata, cases, rows, summary)
    write_chart(arguments.output / "speedup.png", metadata, rows)
    print(f"\nwrote results.json, results.csv, summary.md, speedup.png to {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
