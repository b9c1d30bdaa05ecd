"""adapool for ONNX: adaptive pooling that torch's ONNX exporters export exactly, at any size.

    import adapool.onnx
    adapool.onnx.export(model, (x,), "model.onnx")   # torch.onnx.export of a patched copy
    adapool.onnx.export(model, (x,), "model.onnx", dynamo=False,
                        input_names=["x"], dynamic_axes={"x": {2: "h", 3: "w"}})
    exported = adapool.onnx.exportable(model)        # a patched copy, for your own export call
    adapool.onnx.patch(model)                        # or swap the modules in place
    with adapool.onnx.patch_functional(): ...        # and F.adaptive_{avg,max}_pool*d calls

ONNX has no adaptive pooling operator, and torch's exporters translate only
part of it (docs/ONNX.md has the measurements). Here every
nn.AdaptiveAvgPool{1,2,3}d and nn.AdaptiveMaxPool{1,2,3}d (return_indices
too) becomes tensor operations that both exporters translate, and that
compute what torch computes:

- average, where every pooled axis has a fixed equivalent (in % out == 0,
  15 -> 7, out == 1): avg_pool, which is ONNX AveragePool;
- average otherwise: window sums with a 0/1 pooling matrix per axis (two
  MatMuls in 2-d, Y = P_h X P_w^T), divided once by the window's cell count.
  Non-finite inputs are pooled apart, so a NaN or an Inf reaches only its own
  windows, as in torch;
- max: every window gathered into a [..., out, K] tensor padded to the
  longest window, the padding masked; the first position of the largest value
  (ties keep the first) unless the window holds a NaN (then the last NaN, as
  torch scans), the value read back at that position, so its bits are the
  input's; indices are the flat input index (h * W + w in 2-d), as torch's.

The windows come from adapool.windows for the size the exporter traces; where
a pooled size is dynamic they are computed in the graph from its shape.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
from typing import Any, Iterator, List, NamedTuple, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from . import fixed_pool_equivalent, windows
from ._shapes import OutputSize, resolve_output_size

__all__ = [
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "export",
    "exportable",
    "patch",
    "patch_functional",
]

# A size as the tracers hand it over: an int, torch.export's SymInt for a
# dynamic axis, or a 0-d tensor under the TorchScript tracer.
Size = Union[int, torch.SymInt, Tensor]


class _Axis(NamedTuple):
    """The windows of one pooled axis, tables over its output cells: numpy
    arrays when the sizes are known at export time (constants in the graph),
    else tensors computed in the graph."""

    size: Size  # input size
    out: Size  # output size
    begin: Any  # [out] first input cell of each window
    count: Any  # [out] cells in each window
    longest: Size  # a bound on count: the padded window length
    index: Any  # [out, longest] input cell of each step, padding reading the first
    inside: Any  # [out, longest] whether the step is the window's own


@functools.lru_cache(maxsize=256)
def _constant_axis(size: int, out: int) -> _Axis:
    found = windows(size, out)
    begin = np.array([w.begin for w in found], dtype=np.int64)
    count = np.array([w.count for w in found], dtype=np.int64)
    longest = int(count.max(initial=1))
    steps = np.arange(longest)
    inside = steps < count[:, None]
    index = np.where(inside, begin[:, None] + steps, begin[:, None])
    return _Axis(size, out, begin, count, longest, index, inside)


def _graph_axis(size: Size, out: Size, device) -> _Axis:
    """The windows as tensor operations on the input's size, so that an exported
    graph computes them for whatever size it is given.

    This is the rule of include/adapool/windows.hpp written a second time, in
    its integer form (begin = floor(o * in / out), end = ceil((o + 1) * in / out)):
    a graph cannot call the library. test_onnx.py checks it against
    adapool.windows over every in, out up to 40, and exported graphs at sizes
    where o * in exceeds float32's integers: `//` exports as an integer Div,
    where torch.div(rounding_mode="floor") would go through float32.
    """
    cells = torch.arange(out, device=device)
    begin = cells * size // out
    end = ((cells + 1) * size - 1) // out + 1
    count = end - begin
    # No window holds more than ceil(in / out) + 1 cells; the padding is masked.
    longest = (size + out - 1) // out + 1 if not isinstance(out, int) or out > 0 else 1
    steps = torch.arange(longest, device=device)
    inside = steps < count.unsqueeze(-1)
    index = torch.where(inside, begin.unsqueeze(-1) + steps, begin.unsqueeze(-1))
    return _Axis(size, out, begin, count, longest, index, inside)


def _tensor(table, device) -> Tensor:
    return torch.from_numpy(table).to(device) if isinstance(table, np.ndarray) else table


def _members(axis: _Axis, dtype: torch.dtype, device) -> Tensor:
    """The 0/1 pooling matrix [out, in]: which input cells each window holds."""
    if isinstance(axis.begin, np.ndarray):
        cells = np.arange(axis.size)
        begin = axis.begin[:, None]
        members = (cells >= begin) & (cells < begin + axis.count[:, None])
        return torch.from_numpy(members).to(device=device, dtype=dtype)
    cells = torch.arange(axis.size, device=device)
    begin = axis.begin.unsqueeze(-1)
    return ((cells >= begin) & (cells < begin + axis.count.unsqueeze(-1))).to(dtype)


def _is_symbolic(size: Size) -> bool:
    return isinstance(size, (torch.SymInt, Tensor))


def _axes(input: Tensor, output_size: OutputSize, spatial_dims: int, dynamic) -> List[_Axis]:
    """The windows of every pooled axis. dynamic: True computes them in the graph
    for every axis; None for the axes torch.export traces as dynamic (SymInt);
    False never (a dynamic axis is then specialized to its traced size)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
    if not input.is_floating_point():
        raise TypeError(f"input has dtype {input.dtype}; adaptive pooling takes floating point")
    shape = list(input.shape)
    outputs = resolve_output_size(shape, spatial_dims, output_size)
    axes = []
    for axis in range(input.dim() - spatial_dims, input.dim()):
        size, out = shape[axis], outputs[axis]
        if isinstance(size, int) and size == 0:
            raise ValueError(
                f"input has shape {shape}; adaptive pooling needs non-empty pooled dimensions"
            )
        in_graph = dynamic is True or (dynamic is None and isinstance(size, torch.SymInt))
        if in_graph:
            axes.append(_graph_axis(size, out, input.device))
        else:
            axes.append(_constant_axis(int(size), int(out)))
    return axes


def _on_output_axis(table: Tensor, axis: int, count: int) -> Tensor:
    """table, indexed by the output cells of pooled axis `axis` of `count`, shaped
    to broadcast against [..., out_0, ..., out_{count-1}]."""
    for _ in range(count - 1 - axis):
        table = table.unsqueeze(-1)
    return table


def _gather_windows(input: Tensor, axes: List[_Axis]) -> Tuple[Tensor, Tensor]:
    """Every window's cells: values [..., out_0, .., out_n, K], row-major within
    the window (the order torch scans it) and padded to K = prod(longest), and
    the mask [out_0, .., out_n, K] of the cells that are the window's own."""
    count = len(axes)
    lead = input.dim() - count
    values = input
    masks = []
    for d, axis in enumerate(axes):
        index = _tensor(axis.index, input.device)
        values = values.index_select(lead + 2 * d, index.flatten())
        values = values.unflatten(lead + 2 * d, (axis.out, axis.longest))
        # [out, longest] placed at positions d and count + d of 2 * count axes.
        mask = _tensor(axis.inside, input.device)
        for _ in range(count - 1):
            mask = mask.unsqueeze(1)
        for _ in range(d):
            mask = mask.unsqueeze(0)
        for _ in range(count - 1 - d):
            mask = mask.unsqueeze(-1)
        masks.append(mask)
    order = list(range(lead))
    order += [lead + 2 * d for d in range(count)] + [lead + 2 * d + 1 for d in range(count)]
    values = values.permute(order).flatten(-count)
    mask = functools.reduce(torch.logical_and, masks).flatten(-count)
    return values, mask


def _counts(axes: List[_Axis], dtype: torch.dtype, device) -> Tensor:
    """Cells per window over [out_0, .., out_n], in dtype: the divisor."""
    grid = [
        _on_output_axis(_tensor(axis.count, device), d, len(axes)) for d, axis in enumerate(axes)
    ]
    return functools.reduce(torch.mul, grid).to(dtype)


def _fixed_pool(axes: List[_Axis]) -> Optional[Tuple[List[int], List[int]]]:
    """Kernel and stride of the AvgPool whose windows are the adaptive ones, when
    every axis has one and its size is known at export time."""
    kernels, strides = [], []
    for axis in axes:
        if _is_symbolic(axis.size) or _is_symbolic(axis.out):
            return None
        pool = fixed_pool_equivalent(axis.size, axis.out) if axis.out > 0 else None
        if pool is None:
            return None
        kernels.append(pool.kernel)
        strides.append(pool.stride)
    return kernels, strides


_AVG_POOLS = {
    1: torch.nn.functional.avg_pool1d,
    2: torch.nn.functional.avg_pool2d,
    3: torch.nn.functional.avg_pool3d,
}


def _pool_sums(plane: Tensor, matrices: List[Tensor]) -> Tensor:
    """Window sums with a 0/1 pooling matrix per axis (see _members): one
    MatMul each, so P_h X P_w^T in 2-d."""
    count = len(matrices)
    for d, members in enumerate(matrices):
        dim = d - count
        if dim == -1:
            plane = plane @ members.transpose(0, 1)
        elif dim == -2:
            plane = members @ plane
        else:
            plane = (plane.transpose(dim, -1) @ members.transpose(0, 1)).transpose(dim, -1)
    return plane


def _avg_matmul(input: Tensor, axes: List[_Axis]) -> Tensor:
    """Window sums by pooling matrices, divided by the windows' counts.

    A MatMul multiplies every input by every matrix entry, and 0 * Inf is NaN:
    a non-finite input would spoil its whole row and column of outputs. So the
    finite values are pooled with the non-finite ones as 0, and beside them two
    indicators (+Inf or NaN, -Inf or NaN) whose pooled counts say which windows
    hold which; a window then gets what its IEEE sum gives: NaN for a NaN or
    both infinities, otherwise the infinity it holds. (Finite inputs so large
    that a partial sum overflows still reach other windows as Inf * 0.)
    """
    largest = torch.finfo(input.dtype).max
    positive = ~(input <= largest)  # +Inf or NaN
    negative = ~(input >= -largest)  # -Inf or NaN
    matrices = [_members(axis, input.dtype, input.device) for axis in axes]
    sums = _pool_sums(torch.where(positive | negative, 0.0, input), matrices)
    positive = _pool_sums(positive.to(input.dtype), matrices) > 0
    negative = _pool_sums(negative.to(input.dtype), matrices) > 0
    average = sums / _counts(axes, input.dtype, input.device)
    average = torch.where(negative, -math.inf, average)
    average = torch.where(positive, math.inf, average)
    return torch.where(positive & negative, math.nan, average)


def _avg(input: Tensor, output_size: OutputSize, spatial_dims: int, dynamic, assume_finite):
    axes = _axes(input, output_size, spatial_dims, dynamic)
    fixed = _fixed_pool(axes)
    if fixed is not None:
        return _AVG_POOLS[spatial_dims](input, fixed[0], fixed[1])
    if assume_finite:
        matrices = [_members(axis, input.dtype, input.device) for axis in axes]
        return _pool_sums(input, matrices) / _counts(axes, input.dtype, input.device)
    return _avg_matmul(input, axes)


def _max(input: Tensor, output_size: OutputSize, spatial_dims: int, return_indices, dynamic):
    axes = _axes(input, output_size, spatial_dims, dynamic)
    values, mask = _gather_windows(input, axes)
    longest = math.prod(axis.longest for axis in axes)  # K, the padded window's cells
    positions = torch.arange(longest, device=input.device)
    nan = torch.isnan(values)
    # torch's scan: a cell takes over when it is greater (so ties keep the
    # first) or NaN (so the last NaN wins).
    last_nan = torch.where(mask & nan, positions, -1).amax(-1)
    largest = torch.where(mask & ~nan, values, -math.inf).amax(-1, keepdim=True)
    first_largest = torch.where(mask & (values == largest), positions, longest).amin(-1)
    position = torch.where(last_nan >= 0, last_nan, first_largest)
    output = values.gather(-1, position.unsqueeze(-1)).squeeze(-1)
    if not return_indices:
        return output
    # The position in the padded window back to the flat input index. (No
    # zeros_like to start from: the TorchScript tracer would bake its shape.)
    index: Optional[Tensor] = None
    rest = position
    stride: Size = 1
    for d in reversed(range(len(axes))):
        axis = axes[d]
        # rest - quotient * longest, not rest % longest: the dynamo exporter
        # cannot translate a remainder by a symbolic size (onnxscript 0.7.2).
        quotient = rest // axis.longest
        within = rest - quotient * axis.longest
        rest = quotient
        coordinate = _on_output_axis(_tensor(axis.begin, input.device), d, len(axes)) + within
        index = coordinate * stride if index is None else index + coordinate * stride
        stride = stride * axis.size
    return output, index


def adaptive_avg_pool1d(
    input: Tensor,
    output_size: OutputSize,
    *,
    dynamic: Optional[bool] = None,
    assume_finite: bool = False,
) -> Tensor:
    """torch.nn.functional.adaptive_avg_pool1d in operations ONNX exporters translate.

    dynamic: None computes the windows in the graph for the sizes torch.export
    traces as dynamic and makes them constants otherwise; True computes them in
    the graph always (what the TorchScript exporter needs with dynamic_axes);
    False never.
    assume_finite: skip pooling the non-finite inputs apart (several times
    faster on large inputs); a NaN or an Inf then spoils every window sharing
    a row or a column of the pooling matrices with it.
    """
    return _avg(input, output_size, 1, dynamic, assume_finite)


def adaptive_avg_pool2d(
    input: Tensor,
    output_size: OutputSize,
    *,
    dynamic: Optional[bool] = None,
    assume_finite: bool = False,
) -> Tensor:
    """torch.nn.functional.adaptive_avg_pool2d in operations ONNX exporters translate."""
    return _avg(input, output_size, 2, dynamic, assume_finite)


def adaptive_avg_pool3d(
    input: Tensor,
    output_size: OutputSize,
    *,
    dynamic: Optional[bool] = None,
    assume_finite: bool = False,
) -> Tensor:
    """torch.nn.functional.adaptive_avg_pool3d in operations ONNX exporters translate."""
    return _avg(input, output_size, 3, dynamic, assume_finite)


def adaptive_max_pool1d(
    input: Tensor,
    output_size: OutputSize,
    return_indices: bool = False,
    *,
    dynamic: Optional[bool] = None,
):
    """torch.nn.functional.adaptive_max_pool1d in operations ONNX exporters translate.

    With return_indices, (values, indices), an index being the input position
    of the window's maximum, flat over the pooled axes as torch gives it.
    dynamic: as for adaptive_avg_pool1d.
    """
    return _max(input, output_size, 1, return_indices, dynamic)


def adaptive_max_pool2d(
    input: Tensor,
    output_size: OutputSize,
    return_indices: bool = False,
    *,
    dynamic: Optional[bool] = None,
):
    """torch.nn.functional.adaptive_max_pool2d in operations ONNX exporters translate."""
    return _max(input, output_size, 2, return_indices, dynamic)


def adaptive_max_pool3d(
    input: Tensor,
    output_size: OutputSize,
    return_indices: bool = False,
    *,
    dynamic: Optional[bool] = None,
):
    """torch.nn.functional.adaptive_max_pool3d in operations ONNX exporters translate."""
    return _max(input, output_size, 3, return_indices, dynamic)


class _Settings:
    """The modules' dynamic and assume_finite (see adaptive_avg_pool1d): plain
    attributes, kept out of the state dict and the repr."""

    dynamic: Optional[bool] = None
    assume_finite: bool = False


class AdaptiveAvgPool1d(_Settings, torch.nn.AdaptiveAvgPool1d):
    """torch.nn.AdaptiveAvgPool1d that ONNX exporters translate at any size."""

    def forward(self, input: Tensor) -> Tensor:
        return _avg(input, self.output_size, 1, self.dynamic, self.assume_finite)


class AdaptiveAvgPool2d(_Settings, torch.nn.AdaptiveAvgPool2d):
    """torch.nn.AdaptiveAvgPool2d that ONNX exporters translate at any size."""

    def forward(self, input: Tensor) -> Tensor:
        return _avg(input, self.output_size, 2, self.dynamic, self.assume_finite)


class AdaptiveAvgPool3d(_Settings, torch.nn.AdaptiveAvgPool3d):
    """torch.nn.AdaptiveAvgPool3d that ONNX exporters translate at any size."""

    def forward(self, input: Tensor) -> Tensor:
        return _avg(input, self.output_size, 3, self.dynamic, self.assume_finite)


class AdaptiveMaxPool1d(_Settings, torch.nn.AdaptiveMaxPool1d):
    """torch.nn.AdaptiveMaxPool1d (return_indices too) that ONNX exporters translate."""

    def forward(self, input: Tensor):
        return _max(input, self.output_size, 1, self.return_indices, self.dynamic)


class AdaptiveMaxPool2d(_Settings, torch.nn.AdaptiveMaxPool2d):
    """torch.nn.AdaptiveMaxPool2d (return_indices too) that ONNX exporters translate."""

    def forward(self, input: Tensor):
        return _max(input, self.output_size, 2, self.return_indices, self.dynamic)


class AdaptiveMaxPool3d(_Settings, torch.nn.AdaptiveMaxPool3d):
    """torch.nn.AdaptiveMaxPool3d (return_indices too) that ONNX exporters translate."""

    def forward(self, input: Tensor):
        return _max(input, self.output_size, 3, self.return_indices, self.dynamic)


_REPLACEMENTS = {
    torch.nn.AdaptiveAvgPool1d: AdaptiveAvgPool1d,
    torch.nn.AdaptiveAvgPool2d: AdaptiveAvgPool2d,
    torch.nn.AdaptiveAvgPool3d: AdaptiveAvgPool3d,
    torch.nn.AdaptiveMaxPool1d: AdaptiveMaxPool1d,
    torch.nn.AdaptiveMaxPool2d: AdaptiveMaxPool2d,
    torch.nn.AdaptiveMaxPool3d: AdaptiveMaxPool3d,
}


def _replacement(
    module: torch.nn.Module, dynamic: Optional[bool], assume_finite: bool
) -> Optional[torch.nn.Module]:
    kind = _REPLACEMENTS.get(type(module))
    if kind is None and type(module).__module__ == "adapool.torch":
        # adapool.torch's drop-in modules run a custom operator that no ONNX
        # exporter translates; they subclass torch's, so swap them too.
        bases = [ours for base, ours in _REPLACEMENTS.items() if isinstance(module, base)]
        kind = bases[0] if bases else None
    if kind is None:
        return None
    if hasattr(module, "return_indices"):
        replacement = kind(module.output_size, module.return_indices)
    else:
        replacement = kind(module.output_size)
    replacement.dynamic = dynamic
    replacement.assume_finite = assume_finite
    return replacement.train(module.training)


def patch(
    model: torch.nn.Module, *, dynamic: Optional[bool] = None, assume_finite: bool = False
) -> int:
    """Swaps every torch adaptive pooling module inside model (average and max,
    1-d to 3-d; of subclasses, only adapool.torch's) for its exportable twin,
    in place, and returns how many it swapped; model itself stays (exportable
    swaps that too). dynamic, assume_finite: see adaptive_avg_pool1d.
    Functional calls in a forward are not modules: export inside
    patch_functional() for those."""
    swapped = 0
    for parent in model.modules():
        for name, child in list(parent.named_children()):
            replacement = _replacement(child, dynamic, assume_finite)
            if replacement is not None:
                setattr(parent, name, replacement)
                swapped += 1
    return swapped


def exportable(
    model: torch.nn.Module, *, dynamic: Optional[bool] = None, assume_finite: bool = False
) -> torch.nn.Module:
    """A copy of model with every adaptive pooling module swapped (see patch),
    model itself included when it is one."""
    replacement = _replacement(model, dynamic, assume_finite)
    if replacement is not None:
        return replacement
    model = copy.deepcopy(model)
    patch(model, dynamic=dynamic, assume_finite=assume_finite)
    return model


def _functional(name: str, dynamic: Optional[bool], assume_finite: bool):
    dims = int(name[len("adaptive_avg_pool")])
    if name.startswith("adaptive_avg"):
        return lambda input, output_size: _avg(input, output_size, dims, dynamic, assume_finite)
    if name.endswith("_with_indices"):
        return lambda input, output_size, return_indices=False: _max(
            input, output_size, dims, True, dynamic
        )
    return lambda input, output_size, return_indices=False: _max(
        input, output_size, dims, return_indices, dynamic
    )


_FUNCTIONAL_NAMES = [
    f"adaptive_{kind}_pool{dims}d{suffix}"
    for kind, suffixes in (("avg", ("",)), ("max", ("", "_with_indices")))
    for dims in (1, 2, 3)
    for suffix in suffixes
]


@contextlib.contextmanager
def patch_functional(
    *, dynamic: Optional[bool] = None, assume_finite: bool = False
) -> Iterator[None]:
    """Within the block, torch.nn.functional.adaptive_{avg,max}_pool{1,2,3}d (and
    adaptive_max_pool*d_with_indices) are the exportable versions: for models
    that call them in forward (DenseNet's head, MobileNetV3's
    squeeze-excitation); torch's pooling modules call them too. Not
    thread-safe: it swaps attributes of torch.nn.functional."""
    functional = torch.nn.functional
    originals = {name: getattr(functional, name) for name in _FUNCTIONAL_NAMES}
    try:
        for name in _FUNCTIONAL_NAMES:
            setattr(functional, name, _functional(name, dynamic, assume_finite))
        yield
    finally:
        for name, original in originals.items():
            setattr(functional, name, original)


def export(
    model: torch.nn.Module,
    args: Tuple[Any, ...] = (),
    f=None,
    *,
    dynamic: Optional[bool] = None,
    assume_finite: bool = False,
    **kwargs,
):
    """torch.onnx.export of a patched copy of model, inside patch_functional().
    Every other argument is torch.onnx.export's, and so is the return value.

    dynamic (see adaptive_avg_pool1d): None means, for the TorchScript exporter
    (dynamo=False), True when dynamic_axes is given, since its tracer cannot
    tell which sizes will vary; the dynamo exporter's torch.export knows, and
    None computes in the graph the windows of the dynamic sizes only.
    """
    if dynamic is None and kwargs.get("dynamo") is False and kwargs.get("dynamic_axes"):
        dynamic = True
    patched = exportable(model, dynamic=dynamic, assume_finite=assume_finite)
    with patch_functional(dynamic=dynamic, assume_finite=assume_finite):
        return torch.onnx.export(patched, args, f, **kwargs)
