"""adapool: adaptive average and max pooling exactly as PyTorch computes them.

numpy API::

    y = adapool.adaptive_avg_pool2d(x, (5, 7))          # x: (N, C, H, W) or (C, H, W)
    dx = adapool.adaptive_avg_pool2d_backward(dy, x)     # gradient with respect to x
    m, i = adapool.adaptive_max_pool2d(x, (5, 7), return_indices=True)
    dx = adapool.adaptive_max_pool2d_backward(dm, i, x)  # gradient from the indices
    adapool.windows(10, 7)                               # which inputs feed which output
    adapool.fixed_pool_equivalent(15, 7)                 # FixedPool(kernel=3, stride=2)

Max pooling uses the same windows; a NaN in a window wins (the last one), else
the first maximum; indices are int64 flat positions within the pooled plane of
the input ((d * H + h) * W + w), as PyTorch reports them.

PyTorch operators, modules and ``patch(model)`` are in ``adapool.torch``; exact
ONNX export of adaptive average and max pooling at any size in ``adapool.onnx``;
other frameworks' windows beside PyTorch's in ``adapool.compare``.
"""

from __future__ import annotations

from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from ._shapes import OutputSize, layout_order, resolve_output_size
from .compare import compare, conventions, scan_conventions

__version__ = _core.__version__

__all__ = [
    "FixedPool",
    "Window",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool1d_backward",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool2d_backward",
    "adaptive_avg_pool3d",
    "adaptive_avg_pool3d_backward",
    "adaptive_max_pool1d",
    "adaptive_max_pool1d_backward",
    "adaptive_max_pool2d",
    "adaptive_max_pool2d_backward",
    "adaptive_max_pool3d",
    "adaptive_max_pool3d_backward",
    "compare",
    "conventions",
    "fixed_pool_equivalent",
    "scan_conventions",
    "windows",
]

_DTYPES = {
    np.dtype(np.float16): _core.FLOAT16,
    np.dtype(np.float32): _core.FLOAT32,
    np.dtype(np.float64): _core.FLOAT64,
}


class Window(NamedTuple):
    """Output cell's input range [begin, end)."""

    begin: int
    end: int

    @property
    def count(self) -> int:
        return self.end - self.begin


class FixedPool(NamedTuple):
    """An AvgPool(kernel, stride, padding=0) with exactly the adaptive windows."""

    kernel: int
    stride: int


def windows(in_size: int, out_size: int) -> List[Window]:
    """The input range of every output cell when pooling in_size cells to out_size."""
    return [Window(b, e) for b, e in _core.windows(in_size, out_size)]


def fixed_pool_equivalent(in_size: int, out_size: int) -> Optional[FixedPool]:
    """The AvgPool(kernel, stride) that reproduces the windows exactly, or None."""
    pool = _core.fixed_pool_equivalent(in_size, out_size)
    return None if pool is None else FixedPool(*pool)


def _dtype_code(array: np.ndarray, name: str) -> int:
    code = _DTYPES.get(array.dtype)
    if code is None:
        raise TypeError(
            f"{name} has dtype {array.dtype}; adapool takes float16, float32 or float64 "
            "arrays in native byte order (bfloat16 through adapool.torch)"
        )
    return code


def _element_strides(array: np.ndarray, name: str) -> List[int]:
    itemsize = array.itemsize
    if any(stride % itemsize for stride in array.strides):
        raise ValueError(
            f"{name} strides {array.strides} (bytes) are not multiples of its item size {itemsize}"
        )
    return [stride // itemsize for stride in array.strides]


def _as_array(value, name: str) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "__array__") or isinstance(value, (list, tuple)):
        return np.asarray(value)
    raise TypeError(f"{name} must be a numpy array, got {type(value).__name__}")


def _empty(shape: Sequence[int], dtype, channels_last: bool, spatial_dims: int) -> np.ndarray:
    order = layout_order(len(shape), spatial_dims, channels_last)
    stored = np.empty([shape[d] for d in order], dtype=dtype)
    return stored.transpose(np.argsort(order))


def _run(forward: bool, source: np.ndarray, destination: np.ndarray, spatial_dims: int, threads):
    _core.run(
        forward,
        _dtype_code(source, "input" if forward else "grad_output"),
        spatial_dims,
        source.__array_interface__["data"][0],
        list(source.shape),
        _element_strides(source, "input" if forward else "grad_output"),
        destination.__array_interface__["data"][0],
        list(destination.shape),
        _element_strides(destination, "output" if forward else "grad_input"),
        0 if threads is None else threads,
    )


def _channels_last(array: np.ndarray, spatial_dims: int) -> bool:
    return _core.is_channels_last(
        list(array.shape), _element_strides(array, "input"), spatial_dims
    )


def _pool(x, output_size: OutputSize, spatial_dims: int, threads: Optional[int]) -> np.ndarray:
    x = _as_array(x, "input")
    _dtype_code(x, "input")
    shape = resolve_output_size(x.shape, spatial_dims, output_size)
    y = _empty(shape, x.dtype, _channels_last(x, spatial_dims), spatial_dims)
    _run(True, x, y, spatial_dims, threads)
    return y


def _pool_backward(grad_output, input_shape_or_input, spatial_dims: int, threads) -> np.ndarray:
    dy = _as_array(grad_output, "grad_output")
    _dtype_code(dy, "grad_output")
    if isinstance(input_shape_or_input, np.ndarray):
        shape = input_shape_or_input.shape
        channels_last = _channels_last(input_shape_or_input, spatial_dims)
    else:
        shape = tuple(int(size) for size in input_shape_or_input)
        channels_last = False
    dx = _empty(shape, dy.dtype, channels_last, spatial_dims)
    _run(False, dy, dx, spatial_dims, threads)
    return dx


def adaptive_avg_pool1d(x, output_size: OutputSize, *, threads: Optional[int] = None) -> np.ndarray:
    """Pools the last axis of x, (N, C, L) or (C, L), to output_size.

    threads: None uses every hardware thread; results do not depend on it.
    """
    return _pool(x, output_size, 1, threads)


def adaptive_avg_pool2d(x, output_size: OutputSize, *, threads: Optional[int] = None) -> np.ndarray:
    """Pools the last two axes of x, (N, C, H, W) or (C, H, W), to output_size.

    output_size: an int, or one entry per axis where None keeps that size. The
    result is channels-last when x is.
    """
    return _pool(x, output_size, 2, threads)


def adaptive_avg_pool3d(x, output_size: OutputSize, *, threads: Optional[int] = None) -> np.ndarray:
    """Pools the last three axes of x, (N, C, D, H, W) or (C, D, H, W), to output_size."""
    return _pool(x, output_size, 3, threads)


ShapeOrArray = Union[np.ndarray, Sequence[int]]


def adaptive_avg_pool1d_backward(
    grad_output, input_shape_or_input: ShapeOrArray, *, threads: Optional[int] = None
) -> np.ndarray:
    """Gradient with respect to the input of adaptive_avg_pool1d.

    The result has the input's shape, and its layout when an array is given.
    """
    return _pool_backward(grad_output, input_shape_or_input, 1, threads)


def adaptive_avg_pool2d_backward(
    grad_output, input_shape_or_input: ShapeOrArray, *, threads: Optional[int] = None
) -> np.ndarray:
    """Gradient with respect to the input of adaptive_avg_pool2d."""
    return _pool_backward(grad_output, input_shape_or_input, 2, threads)


def adaptive_avg_pool3d_backward(
    grad_output, input_shape_or_input: ShapeOrArray, *, threads: Optional[int] = None
) -> np.ndarray:
    """Gradient with respect to the input of adaptive_avg_pool3d."""
    return _pool_backward(grad_output, input_shape_or_input, 3, threads)


# Max pooling: the same windows; the indices are int64 positions within the
# input's pooled plane, in the values' layout, as PyTorch returns them.

_INDEX_DTYPE = np.dtype(np.int64)


def _address(array: np.ndarray) -> int:
    return array.__array_interface__["data"][0]


def _run_max(
    forward: bool,
    source: np.ndarray,
    destination: np.ndarray,
    indices: Optional[np.ndarray],
    spatial_dims: int,
    threads,
):
    source_name = "input" if forward else "grad_output"
    _core.run_max(
        forward,
        _dtype_code(source, source_name),
        spatial_dims,
        _address(source),
        list(source.shape),
        _element_strides(source, source_name),
        _address(destination),
        list(destination.shape),
        _element_strides(destination, "output" if forward else "grad_input"),
        0 if indices is None else _address(indices),
        None if indices is None else list(indices.shape),
        None if indices is None else _element_strides(indices, "indices"),
        0 if threads is None else threads,
    )


def _max_pool(x, output_size: OutputSize, return_indices: bool, spatial_dims: int, threads):
    x = _as_array(x, "input")
    _dtype_code(x, "input")
    shape = resolve_output_size(x.shape, spatial_dims, output_size)
    channels_last = _channels_last(x, spatial_dims)
    y = _empty(shape, x.dtype, channels_last, spatial_dims)
    indices = _empty(shape, _INDEX_DTYPE, channels_last, spatial_dims) if return_indices else None
    _run_max(True, x, y, indices, spatial_dims, threads)
    return (y, indices) if return_indices else y


def _max_pool_backward(
    grad_output, indices, input_shape_or_input, spatial_dims: int, threads
) -> np.ndarray:
    dy = _as_array(grad_output, "grad_output")
    _dtype_code(dy, "grad_output")
    indices = _as_array(indices, "indices")
    if indices.dtype != _INDEX_DTYPE:
        raise TypeError(
            f"indices has dtype {indices.dtype}; expected int64 in native byte order, as "
            "adaptive_max_pool*d(..., return_indices=True) returns them"
        )
    if isinstance(input_shape_or_input, np.ndarray):
        shape = input_shape_or_input.shape
        channels_last = _channels_last(input_shape_or_input, spatial_dims)
    else:
        shape = tuple(int(size) for size in input_shape_or_input)
        channels_last = False
    dx = _empty(shape, dy.dtype, channels_last, spatial_dims)
    _run_max(False, dy, dx, indices, spatial_dims, threads)
    return dx


def adaptive_max_pool1d(
    x, output_size: OutputSize, return_indices: bool = False, *, threads: Optional[int] = None
):
    """Max-pools the last axis of x, (N, C, L) or (C, L), to output_size.

    return_indices: also return the int64 position of each maximum along L,
    as (values, indices). threads: None uses every hardware thread; results
    do not depend on it.
    """
    return _max_pool(x, output_size, return_indices, 1, threads)


def adaptive_max_pool2d(
    x, output_size: OutputSize, return_indices: bool = False, *, threads: Optional[int] = None
):
    """Max-pools the last two axes of x, (N, C, H, W) or (C, H, W), to output_size.

    output_size as for adaptive_avg_pool2d. With return_indices, also the
    int64 indices h * W + w of the maxima, in the values' layout (channels-last
    when x is).
    """
    return _max_pool(x, output_size, return_indices, 2, threads)


def adaptive_max_pool3d(
    x, output_size: OutputSize, return_indices: bool = False, *, threads: Optional[int] = None
):
    """Max-pools the last three axes of x, (N, C, D, H, W) or (C, D, H, W), to output_size;
    indices are (d * H + h) * W + w."""
    return _max_pool(x, output_size, return_indices, 3, threads)


def adaptive_max_pool1d_backward(
    grad_output, indices, input_shape_or_input: ShapeOrArray, *, threads: Optional[int] = None
) -> np.ndarray:
    """Gradient with respect to the input of adaptive_max_pool1d, from the forward's
    indices: each grad_output value is added at its index, in output order.

    The result has the input's shape, and its layout when an array is given.
    An index may point anywhere in its input plane, as in PyTorch; one outside
    the plane raises ValueError.
    """
    return _max_pool_backward(grad_output, indices, input_shape_or_input, 1, threads)


def adaptive_max_pool2d_backward(
    grad_output, indices, input_shape_or_input: ShapeOrArray, *, threads: Optional[int] = None
) -> np.ndarray:
    """Gradient with respect to the input of adaptive_max_pool2d, from its indices."""
    return _max_pool_backward(grad_output, indices, input_shape_or_input, 2, threads)


def adaptive_max_pool3d_backward(
    grad_output, indices, input_shape_or_input: ShapeOrArray, *, threads: Optional[int] = None
) -> np.ndarray:
    """Gradient with respect to the input of adaptive_max_pool3d, from its indices."""
    return _max_pool_backward(grad_output, indices, input_shape_or_input, 3, threads)
