"""What every parity test shares: the two front ends, views, tolerances, the comparison.

Max pooling (compare_max) has no tolerances: values, indices and gradients must be
torch's bit for bit (NaN cells: NaN in both), so everything below about tolerances
is about average pooling.

The tolerances (README.md states them too):

forward, float64:   |adapool - torch| <= 1 ulp in 1-d and 2-d, 2 ulps in 3-d (exact ulp
    distance of the two doubles). Both sum the window in double in the same order;
    adapool divides once by kd*kh*kw (correctly rounded, <= 1/2 ulp from the exact
    quotient of that sum); torch divides in steps, (sum / kh) / kw in 2-d (< 3/2 ulp
    off: 1 apart at most) and ((sum / kd) / kh) / kw in 3-d (< 5/2 ulp off: 2 apart at
    most; test_known_differences.py shows one). The exception is torch's 1x1 (1x1x1)
    output, which is `mean()` with its own summation order: that case uses the formula
    below with u = 2^-53.

forward, float32 / float16 / bfloat16, per output cell o:
    |adapool - torch| <= (count(o) + 3) * u_acc * mean_{window(o)} |x|  +  ulp_dtype(|torch(o)|)
    count(o) = the window's size, u_acc = the unit roundoff of the type torch's CPU
    kernel sums in: 2^-24 (float) for float32, and for float16/bfloat16 in 1-d and 2-d;
    the dtype's own (2^-11, 2^-8) for float16/bfloat16 in 3-d, whose kernel sums in the
    dtype itself. Recursive summation errs by < (count - 1) u sum|x|, divided by count,
    plus up to three roundings of the divides; adapool sums in double. Both results are
    then rounded to the output dtype, which can split them by one ulp_dtype.

backward, per input cell i (every dtype):
    |adapool - torch| <= (m(i) + 3) * u_bwd * sum_{o covers i} |dy(o)| / count(o)  +  ulp_dtype(|torch(i)|)
    m(i) = how many output windows hold i; u_bwd = the unit roundoff of the dtype
    itself: torch's backward kernels accumulate in the tensor's own type (float16
    and bfloat16 included), adapool in double.

never worse than torch (float32 / float16 / bfloat16, forward and backward):
    max|adapool - oracle| <= max|torch - oracle| + ulp_dtype(M) / 2 + ulp_f32(M)
    oracle = torch in float64 on the upcast inputs, M = max|oracle|. adapool's result
    is the float64 value rounded once to the dtype (through float32 for float16 /
    bfloat16, as torch does), so its own error is half an ulp plus at most one
    float32 ulp of double rounding; the slack allows exactly that when torch happens
    to be exact.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

import adapool
import adapool.torch as at

TORCH_POOL = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}
OURS = {1: at.adaptive_avg_pool1d, 2: at.adaptive_avg_pool2d, 3: at.adaptive_avg_pool3d}
NUMPY_POOL = {
    1: adapool.adaptive_avg_pool1d,
    2: adapool.adaptive_avg_pool2d,
    3: adapool.adaptive_avg_pool3d,
}
NUMPY_BACKWARD = {
    1: adapool.adaptive_avg_pool1d_backward,
    2: adapool.adaptive_avg_pool2d_backward,
    3: adapool.adaptive_avg_pool3d_backward,
}

TORCH_MAX = {1: F.adaptive_max_pool1d, 2: F.adaptive_max_pool2d, 3: F.adaptive_max_pool3d}
OURS_MAX = {1: at.adaptive_max_pool1d, 2: at.adaptive_max_pool2d, 3: at.adaptive_max_pool3d}
NUMPY_MAX = {
    1: adapool.adaptive_max_pool1d,
    2: adapool.adaptive_max_pool2d,
    3: adapool.adaptive_max_pool3d,
}
NUMPY_MAX_BACKWARD = {
    1: adapool.adaptive_max_pool1d_backward,
    2: adapool.adaptive_max_pool2d_backward,
    3: adapool.adaptive_max_pool3d_backward,
}

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
NUMPY_DTYPES = {torch.float32, torch.float64, torch.float16}

# Significand bits (with the implicit one) and the smallest normal exponent.
_FORMAT = {
    torch.float64: (53, -1022),
    torch.float32: (24, -126),
    torch.float16: (11, -14),
    torch.bfloat16: (8, -126),
}
UNIT_ROUNDOFF = {dtype: 2.0 ** -bits for dtype, (bits, _) in _FORMAT.items()}
# float64 forward: torch's divides in steps (one per pooled dimension after the first)
# against adapool's single correctly rounded divide.
F64_ULPS = {1: 1, 2: 1, 3: 2}


def forward_accumulation(dtype: torch.dtype, spatial_dims: int) -> torch.dtype:
    """The type torch's CPU forward kernel sums in: float for float16/bfloat16 in 1-d
    and 2-d, but the dtype itself in 3-d (found by this suite; see README.md)."""
    if dtype in (torch.float16, torch.bfloat16) and spatial_dims != 3:
        return torch.float32
    return dtype

# ---------------------------------------------------------------------------
# Profiles and counting (conftest.py selects the profile and prints the counts).

PROFILES = {
    # name: (forward/backward examples per rank, non-finite per rank, gradcheck per rank,
    #        derandomize)
    "ci": (700, 100, 30, True),
    "thorough": (7000, 1000, 300, False),
}
profile_name = os.environ.get("ADAPOOL_PARITY_PROFILE", "ci")
MIN_GENERATED_CI = 2000

# Max pooling (test_max_generated.py): forward+backward, non-finite and gradcheck
# examples per rank. Exact comparisons need fewer cases than tolerances do to
# find a difference, and the ci profile must stay quick.
MAX_PROFILES = {
    "ci": (200, 60, 8),
    "thorough": (2000, 600, 80),
}
MIN_MAX_GENERATED_CI = 600

counts: Dict[str, int] = collections.Counter()
counts_by_test: Dict[str, int] = collections.Counter()
features: Dict[str, int] = collections.Counter()
max_features: Dict[str, int] = collections.Counter()


def count(category: str, test: Optional[str] = None) -> None:
    counts[category] += 1
    if test is not None:
        counts_by_test[test] += 1


def profile() -> Tuple[int, int, int, bool]:
    if profile_name not in PROFILES:
        raise ValueError(
            f"parity profile {profile_name!r} is not one of {sorted(PROFILES)} "
            "(ADAPOOL_PARITY_PROFILE or --parity-profile)"
        )
    return PROFILES[profile_name]


def max_profile() -> Tuple[int, int, int, bool]:
    """The max pooling example counts of the profile, and whether it is derandomized."""
    derandomize = profile()[3]
    return MAX_PROFILES[profile_name] + (derandomize,)


# ---------------------------------------------------------------------------
# The window rule, written out independently of adapool (SEMANTICS.md's integer form).


def windows(in_size: int, out_size: int) -> List[Tuple[int, int]]:
    return [((o * in_size) // out_size, -((-(o + 1) * in_size) // out_size)) for o in range(out_size)]


def window_counts(spatial_in: Sequence[int], spatial_out: Sequence[int]) -> torch.Tensor:
    """count(o) for every output cell, shaped like the pooled dimensions."""
    result = torch.ones((), dtype=torch.float64)
    for in_size, out_size in zip(spatial_in, spatial_out):
        counts_1d = torch.tensor([e - b for b, e in windows(in_size, out_size)], dtype=torch.float64)
        result = result.unsqueeze(-1) * counts_1d
    return result


def coverage(spatial_in: Sequence[int], spatial_out: Sequence[int]) -> torch.Tensor:
    """m(i): how many output windows hold each input cell, shaped like the pooled dims."""
    result = torch.ones((), dtype=torch.float64)
    for in_size, out_size in zip(spatial_in, spatial_out):
        held = [0] * in_size
        for b, e in windows(in_size, out_size):
            for i in range(b, e):
                held[i] += 1
        result = result.unsqueeze(-1) * torch.tensor(held, dtype=torch.float64)
    return result


# ---------------------------------------------------------------------------
# Floating-point helpers.


def ulp(magnitude: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The spacing of `dtype` at |magnitude| (a float64 tensor), subnormals included."""
    bits, min_exponent = _FORMAT[dtype]
    value = magnitude.abs().to(torch.float64)
    _, exponent = torch.frexp(value)  # value = m * 2^exponent, m in [0.5, 1)
    exponent = torch.clamp(exponent.to(torch.float64) - 1, min=min_exponent)
    exponent = torch.where(torch.isfinite(value), exponent, torch.full_like(exponent, min_exponent))
    return torch.pow(2.0, exponent - (bits - 1))


def ulp_distance_f64(a: torch.Tensor, b: torch.Tensor) -> int:
    """The largest number of float64 values between a and b, element by element."""
    if a.numel() == 0:
        return 0
    ia = a.detach().contiguous().view(torch.int64)
    ib = b.detach().contiguous().view(torch.int64)
    # Map the sign-magnitude bit patterns onto a monotonic integer line.
    ia = torch.where(ia < 0, torch.iinfo(torch.int64).min - ia, ia)
    ib = torch.where(ib < 0, torch.iinfo(torch.int64).min - ib, ib)
    return int((ia - ib).abs().max())


def max_abs(t: torch.Tensor) -> float:
    return float(t.abs().max()) if t.numel() else 0.0


# ---------------------------------------------------------------------------
# Views: every layout is an as_strided view of one flat storage, so non-finite
# values can be written through any of them.


@dataclasses.dataclass(frozen=True)
class Layout:
    kind: str
    order: Tuple[int, ...]  # dimensions from outermost to innermost in storage
    steps: Tuple[int, ...]  # slicing step per dimension
    offsets: Tuple[int, ...]  # slicing start per dimension
    broadcast: Tuple[bool, ...]  # stride 0 (expanded) per dimension


def plain_layout(rank: int) -> Layout:
    return Layout("contiguous", tuple(range(rank)), (1,) * rank, (0,) * rank, (False,) * rank)


def channels_last_order(rank: int, spatial_dims: int) -> Tuple[int, ...]:
    channel = rank - spatial_dims - 1
    return tuple(range(channel)) + tuple(range(channel + 1, rank)) + (channel,)


def strided_geometry(shape: Sequence[int], layout: Layout) -> Tuple[int, List[int], int]:
    """(storage size, strides, storage offset) of `shape` laid out as `layout`."""
    rank = len(shape)
    padded = []
    for d in range(rank):
        if layout.broadcast[d] or shape[d] == 0:
            padded.append(1 if layout.broadcast[d] else 0)
        else:
            padded.append((shape[d] - 1) * layout.steps[d] + 1 + layout.offsets[d])
    storage_strides = [0] * rank
    running = 1
    for d in reversed(layout.order):
        storage_strides[d] = running
        running *= max(padded[d], 1)
    size = math.prod(padded)
    strides = [
        0 if layout.broadcast[d] else storage_strides[d] * layout.steps[d] for d in range(rank)
    ]
    offset = 0 if size == 0 else sum(
        layout.offsets[d] * storage_strides[d] for d in range(rank) if not layout.broadcast[d]
    )
    return size, strides, offset


VALUE_KINDS = ["normal", "uniform", "mixed_scale", "integers"]
# Max pooling: ties decide indices, so most kinds make many: "ties" draws from
# five values, "constant" makes every window one big tie; "distinct" has none
# (gradcheck: a max is differentiable only where it is unique).
MAX_VALUE_KINDS = ["normal", "integers", "ties", "constant", "uniform"]


def random_values(size: int, kind: str, generator: torch.Generator) -> torch.Tensor:
    if kind == "normal":
        return torch.randn(size, generator=generator, dtype=torch.float64)
    if kind == "uniform":  # all positive: no cancellation, the accurate regime
        return torch.rand(size, generator=generator, dtype=torch.float64) + 0.5
    if kind == "mixed_scale":  # magnitudes 1e-3..1e3 side by side
        scale = torch.pow(10.0, torch.rand(size, generator=generator, dtype=torch.float64) * 6 - 3)
        return torch.randn(size, generator=generator, dtype=torch.float64) * scale
    if kind == "integers":  # exact sums: any difference is a window or divide error
        return torch.randint(-8, 9, (size,), generator=generator).to(torch.float64)
    if kind == "ties":
        return torch.randint(-2, 3, (size,), generator=generator).to(torch.float64)
    if kind == "constant":
        return torch.full((size,), 0.5, dtype=torch.float64)
    if kind == "distinct":  # no two alike, spaced 1/16 apart (exact in float32 and float64)
        return torch.randperm(size, generator=generator).to(torch.float64) / 16 - size / 32
    raise ValueError(kind)


def make_input(
    shape: Sequence[int],
    dtype: torch.dtype,
    layout: Layout,
    seed: int,
    values: str = "normal",
    specials: Sequence[Tuple[Tuple[int, ...], float]] = (),
    sprinkle: Optional[Tuple[Sequence[float], float]] = None,
) -> torch.Tensor:
    """A tensor of `shape` viewed through `layout`, with `specials` written at logical
    indices and, with sprinkle = (values, fraction), about that fraction of the storage
    replaced by values drawn from the list (non-finite windows for max pooling)."""
    size, strides, offset = strided_geometry(shape, layout)
    generator = torch.Generator().manual_seed(seed)
    storage = random_values(size, values, generator)
    if sprinkle is not None and size:
        choices, fraction = sprinkle
        hit = torch.rand(size, generator=generator, dtype=torch.float64) < fraction
        pick = torch.randint(0, len(choices), (size,), generator=generator)
        drawn = torch.tensor(list(choices), dtype=torch.float64)[pick]
        storage = torch.where(hit, drawn, storage)
    storage = storage.to(dtype)
    for index, value in specials:
        position = offset + sum(i * s for i, s in zip(index, strides))
        storage[position] = value
    return storage.as_strided(tuple(shape), tuple(strides), offset)


def with_layout(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """A copy of x's values laid out as `layout` (broadcast dimensions must have size 1 in x)."""
    size, strides, offset = strided_geometry(x.shape, layout)
    storage = torch.zeros(size, dtype=x.dtype)
    view = storage.as_strided(tuple(x.shape), tuple(strides), offset)
    if any(layout.broadcast):
        raise ValueError("with_layout cannot copy into a broadcast layout")
    view.copy_(x)
    return view


def to_channels_last(x: torch.Tensor, spatial_dims: int) -> torch.Tensor:
    rank = x.dim()
    layout = Layout(
        "channels_last", channels_last_order(rank, spatial_dims), (1,) * rank, (0,) * rank,
        (False,) * rank,
    )
    return with_layout(x, layout)


# ---------------------------------------------------------------------------
# The comparison.


def resolved_output(shape: Sequence[int], spatial_dims: int, output_size) -> List[int]:
    """The pooled sizes torch will produce (None keeps the input size)."""
    spatial_in = list(shape[len(shape) - spatial_dims :])
    if not isinstance(output_size, (list, tuple)):
        output_size = [output_size] * spatial_dims
    return [i if o is None else int(o) for i, o in zip(spatial_in, output_size)]


def is_mean_shortcut(spatial_out: Sequence[int]) -> bool:
    """torch's composite op computes an all-ones output as mean() (1-d pools as (1, L))."""
    return all(o == 1 for o in spatial_out)


def assert_same_layout(ours: torch.Tensor, theirs: torch.Tensor, what: str) -> None:
    """Strides must agree on every dimension whose size is > 1 (others carry no layout)."""
    assert ours.shape == theirs.shape, f"{what}: shape {tuple(ours.shape)} vs torch {tuple(theirs.shape)}"
    if ours.numel() == 0:
        return
    ours_strides = [s for s, n in zip(ours.stride(), ours.shape) if n > 1]
    theirs_strides = [s for s, n in zip(theirs.stride(), theirs.shape) if n > 1]
    assert ours_strides == theirs_strides, (
        f"{what}: strides {ours.stride()} vs torch {theirs.stride()} (shape {tuple(ours.shape)})"
    )


def assert_within(ours, theirs, tolerance, what: str) -> None:
    difference = (ours.to(torch.float64) - theirs.to(torch.float64)).abs()
    bad = difference > tolerance
    if bool(bad.any()):
        index = tuple(int(i) for i in bad.nonzero()[0])
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {bad.numel()} values out of tolerance; first at "
            f"{index}: adapool {float(ours[index])!r}, torch {float(theirs[index])!r}, "
            f"|diff| {float(difference[index]):.3e} > tol {float(tolerance[index]):.3e}"
        )


def assert_no_worse(ours, theirs, oracle, dtype, what: str) -> None:
    magnitude = torch.tensor(max_abs(oracle), dtype=torch.float64)
    slack = float(ulp(magnitude, dtype)) / 2
    if dtype != torch.float32:
        slack += float(ulp(magnitude, torch.float32))
    error_ours = max_abs(ours.to(torch.float64) - oracle)
    error_theirs = max_abs(theirs.to(torch.float64) - oracle)
    assert error_ours <= error_theirs + slack, (
        f"{what}: adapool's error against the float64 oracle {error_ours:.3e} exceeds "
        f"torch's {error_theirs:.3e} + slack {slack:.3e}"
    )


def _grad(pool, x: torch.Tensor, output_size, grad_output: torch.Tensor) -> torch.Tensor:
    leaf = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(pool(leaf, output_size), leaf, grad_output)
    return grad


def compare(
    spatial_dims: int,
    x: torch.Tensor,
    output_size,
    *,
    seed: int = 0,
    backward: bool = True,
    numpy_front: bool = False,
    threads: Optional[int] = None,
) -> None:
    """adapool against torch on one input: shape, layout, values, gradient, front ends."""
    dtype = x.dtype
    rank = x.dim()
    spatial_in = list(x.shape[rank - spatial_dims :])
    spatial_out = resolved_output(x.shape, spatial_dims, output_size)
    shortcut = is_mean_shortcut(spatial_out)
    what = (
        f"{spatial_dims}-d {tuple(x.shape)} strides {x.stride()} {dtype} -> {output_size!r}"
    )

    theirs = TORCH_POOL[spatial_dims](x, output_size)
    ours = OURS[spatial_dims](x, output_size)
    assert ours.dtype == dtype, what
    assert ours.shape == theirs.shape, f"{what}: shape {tuple(ours.shape)} vs {tuple(theirs.shape)}"
    assert_same_layout(ours, theirs, what)
    x64 = x.to(torch.float64)
    oracle = TORCH_POOL[spatial_dims](x64, output_size)
    if dtype == torch.float64 and not shortcut:
        distance = ulp_distance_f64(ours, theirs)
        allowed = F64_ULPS[spatial_dims]
        assert distance <= allowed, f"{what}: {distance} ulps from torch (allowed {allowed})"
    elif ours.numel():
        mean_abs = TORCH_POOL[spatial_dims](x64.abs(), output_size)
        counts_ = window_counts(spatial_in, spatial_out)
        u = UNIT_ROUNDOFF[forward_accumulation(dtype, spatial_dims)]
        tolerance = (counts_ + 3) * u * mean_abs + ulp(theirs, dtype)
        assert_within(ours, theirs, tolerance, what + " forward")
    if dtype != torch.float64:
        assert_no_worse(ours, theirs, oracle, dtype, what + " forward")

    if numpy_front and dtype in NUMPY_DTYPES:
        array = x.detach().numpy()
        via_numpy = NUMPY_POOL[spatial_dims](array, output_size, threads=threads)
        assert via_numpy.shape == tuple(ours.shape), what
        # One library, one rule: the same bits whatever the front end, layout or threads.
        np.testing.assert_array_equal(via_numpy, ours.numpy(), err_msg=what + " numpy front end")

    if not backward:
        return
    generator = torch.Generator().manual_seed(seed + 1)
    grad_output = torch.randn(ours.shape, generator=generator, dtype=torch.float64).to(dtype)
    if 0 in spatial_out:
        # Known difference (SEMANTICS.md): torch's backward raises, adapool's gradient is 0.
        grad_ours = _grad(OURS[spatial_dims], x, output_size, grad_output)
        assert grad_ours.shape == x.shape and not bool(grad_ours.any()), what
        try:
            _grad(TORCH_POOL[spatial_dims], x, output_size, grad_output)
        except RuntimeError as error:
            assert "non-zero size" in str(error), str(error)
        else:
            raise AssertionError(f"{what}: torch's backward of an empty output now succeeds")
        return
    grad_theirs = _grad(TORCH_POOL[spatial_dims], x, output_size, grad_output)
    grad_ours = _grad(OURS[spatial_dims], x, output_size, grad_output)
    assert grad_ours.shape == x.shape and grad_ours.dtype == dtype, what
    grad_oracle = _grad(TORCH_POOL[spatial_dims], x64, output_size, grad_output.to(torch.float64))
    if grad_ours.numel():
        spread = _grad(
            TORCH_POOL[spatial_dims], x64, output_size, grad_output.to(torch.float64).abs()
        )
        held = coverage(spatial_in, spatial_out)
        tolerance = (held + 3) * UNIT_ROUNDOFF[dtype] * spread + ulp(grad_theirs, dtype)
        assert_within(grad_ours, grad_theirs, tolerance, what + " backward")
    if dtype != torch.float64:
        assert_no_worse(grad_ours, grad_theirs, grad_oracle, dtype, what + " backward")

    if numpy_front and dtype in NUMPY_DTYPES:
        via_numpy = NUMPY_BACKWARD[spatial_dims](
            grad_output.numpy(), x.detach().numpy(), threads=threads
        )
        np.testing.assert_array_equal(
            via_numpy, grad_ours.numpy(), err_msg=what + " numpy front end backward"
        )


def all_layout_kinds() -> List[str]:
    return ["contiguous", "channels_last", "transposed", "sliced", "channels_last_sliced", "expanded"]


def layout_of(kind: str, rank: int, spatial_dims: int, permutation=None, steps=None,
              offsets=None, broadcast=None) -> Layout:
    plain = plain_layout(rank)
    if kind == "contiguous":
        return plain
    if kind == "channels_last":
        return dataclasses.replace(plain, kind=kind, order=channels_last_order(rank, spatial_dims))
    if kind == "transposed":
        return dataclasses.replace(plain, kind=kind, order=tuple(permutation))
    if kind == "sliced":
        return dataclasses.replace(plain, kind=kind, steps=tuple(steps), offsets=tuple(offsets))
    if kind == "channels_last_sliced":
        return Layout(kind, channels_last_order(rank, spatial_dims), tuple(steps), tuple(offsets),
                      (False,) * rank)
    if kind == "expanded":
        return dataclasses.replace(plain, kind=kind, broadcast=tuple(broadcast))
    raise ValueError(kind)


# ---------------------------------------------------------------------------
# Max pooling: the same bits as torch, values, indices and gradients.


def assert_identical(ours: torch.Tensor, theirs: torch.Tensor, what: str) -> None:
    """Same shape, dtype and bits: NaN where torch has NaN (payloads aside), every other
    element bit for bit (so 0.0 and -0.0 differ)."""
    assert ours.shape == theirs.shape, (
        f"{what}: shape {tuple(ours.shape)} vs {tuple(theirs.shape)}"
    )
    assert ours.dtype == theirs.dtype, f"{what}: dtype {ours.dtype} vs {theirs.dtype}"
    if not ours.is_floating_point():
        same = ours == theirs
    else:
        bits = {8: torch.int64, 4: torch.int32, 2: torch.int16}[ours.element_size()]
        nan_ours, nan_theirs = ours.isnan(), theirs.isnan()
        same = (nan_ours & nan_theirs) | (
            ~nan_ours & ~nan_theirs & (ours.view(bits) == theirs.view(bits))
        )
    if not bool(same.all()):
        index = tuple(int(i) for i in (~same).nonzero()[0])
        raise AssertionError(
            f"{what}: {int((~same).sum())} of {same.numel()} elements differ; first at "
            f"{index}: adapool {ours[index].item()!r}, torch {theirs[index].item()!r}"
        )


def compare_max(
    spatial_dims: int,
    x: torch.Tensor,
    output_size,
    *,
    seed: int = 0,
    backward: bool = True,
    numpy_front: bool = False,
    threads: Optional[int] = None,
    grad_output: Optional[torch.Tensor] = None,
) -> None:
    """adapool's max pooling against torch's on one input: shapes, layouts, values and
    indices, the gradient and its layout (random unless given), the numpy front end; all
    exact."""
    dtype = x.dtype
    spatial_out = resolved_output(x.shape, spatial_dims, output_size)
    what = (
        f"max {spatial_dims}-d {tuple(x.shape)} strides {x.stride()} {dtype} -> {output_size!r}"
        f" threads {threads}"
    )
    pool, ours_pool = TORCH_MAX[spatial_dims], OURS_MAX[spatial_dims]
    theirs, theirs_indices = pool(x, output_size, True)
    ours, ours_indices = ours_pool(x, output_size, True, threads=threads)
    assert_same_layout(ours, theirs, what + " values")
    assert_same_layout(ours_indices, theirs_indices, what + " indices")
    assert_identical(ours, theirs, what + " values")
    assert_identical(ours_indices, theirs_indices, what + " indices")
    assert_identical(ours_pool(x, output_size, threads=threads), theirs, what + " values only")

    if numpy_front and dtype in NUMPY_DTYPES:
        array = x.detach().numpy()
        values, indices = NUMPY_MAX[spatial_dims](array, output_size, True, threads=threads)
        assert_identical(torch.from_numpy(values), theirs, what + " numpy front end")
        assert_identical(torch.from_numpy(indices), theirs_indices, what + " numpy indices")

    if not backward:
        return
    if grad_output is None:
        generator = torch.Generator().manual_seed(seed + 1)
        grad_output = torch.randn(ours.shape, generator=generator, dtype=torch.float64).to(dtype)
    if 0 in spatial_out:
        # Known difference (as for average pooling): torch's backward raises, adapool's
        # gradient is 0.
        grad_ours = _grad(partial_max(ours_pool, threads), x, output_size, grad_output)
        assert grad_ours.shape == x.shape and not bool(grad_ours.any()), what
        try:
            _grad(pool, x, output_size, grad_output)
        except RuntimeError as error:
            assert "non-zero size" in str(error), str(error)
        else:
            raise AssertionError(f"{what}: torch's backward of an empty output now succeeds")
        return
    grad_theirs = _grad(pool, x, output_size, grad_output)
    grad_ours = _grad(partial_max(ours_pool, threads), x, output_size, grad_output)
    assert_same_layout(grad_ours, grad_theirs, what + " backward")
    assert_identical(grad_ours, grad_theirs, what + " backward")

    if numpy_front and dtype in NUMPY_DTYPES:
        via_numpy = NUMPY_MAX_BACKWARD[spatial_dims](
            grad_output.numpy(), ours_indices.numpy(), x.detach().numpy(), threads=threads
        )
        assert_identical(torch.from_numpy(via_numpy), grad_theirs, what + " numpy backward")


def partial_max(ours_pool, threads: Optional[int]):
    """adapool's functional max pooling with a thread count, called like torch's."""

    def pool(x, output_size):
        return ours_pool(x, output_size, threads=threads)

    return pool
