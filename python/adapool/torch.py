"""adapool for PyTorch: custom operators with autograd, drop-in modules, patch().

    import adapool.torch
    y = adapool.torch.adaptive_avg_pool2d(x, (5, 7))     # like F.adaptive_avg_pool2d
    m, i = adapool.torch.adaptive_max_pool2d(x, 7, return_indices=True)  # F.adaptive_max_pool2d
    pool = adapool.torch.AdaptiveAvgPool2d((5, 7))        # like nn.AdaptiveAvgPool2d
    pool = adapool.torch.AdaptiveMaxPool2d((5, 7))        # like nn.AdaptiveMaxPool2d
    adapool.torch.patch(model)                            # swaps every such module in place
    with adapool.torch.patch_functional(): model(x)      # and F.adaptive_{avg,max}_pool*d calls

The operators (torch.ops.adapool.adaptive_avg_pool, adaptive_max_pool and
their ..._backward) run on CPU tensors of float32, float64, float16 and
bfloat16 in any layout, give results in the layout PyTorch's own kernels
give (channels-last kept), support double backward, and have fake
implementations so torch.compile and torch.export trace them. Max pooling
returns PyTorch's values and int64 indices (a NaN in a window wins, else the
first maximum); its backward adds each gradient at its index, bit for bit as
PyTorch does. The functions and modules call the kernel directly, without
the operator's dispatch, where nothing needs it (see _direct): a plain CPU
tensor that autograd does not record, outside torch.compile and tracing.
"""

from __future__ import annotations

import contextlib
from typing import Dict, Iterator, List, Optional, Tuple

import torch
from torch import Tensor

from . import _core
from ._shapes import OutputSize, layout_strides, resolve_output_size

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
    "patch",
    "patch_functional",
    "result_pool_limit",
    "set_result_pool_limit",
]

_DTYPES = {
    torch.float32: _core.FLOAT32,
    torch.float64: _core.FLOAT64,
    torch.float16: _core.FLOAT16,
    torch.bfloat16: _core.BFLOAT16,
}


def _check(tensor: Tensor, name: str) -> None:
    if tensor.dtype not in _DTYPES:
        raise TypeError(
            f"{name} has dtype {tensor.dtype}; adapool takes float32, float64, float16 or bfloat16"
        )
    if tensor.device.type not in ("cpu", "meta"):
        raise ValueError(f"{name} is on {tensor.device}; adapool runs on CPU tensors")


def _strides_like_channels_last(sizes: List[int], strides: List[int]) -> bool:
    """PyTorch's reading of 4-d strides as channels-last (c10's
    is_channels_last_strides_2d, behind suggest_memory_format): strides grow in
    the order C, W, H, N, size-1 dimensions aside, and ambiguous cases are NCHW."""
    if strides[1] == 0:
        return False
    smallest = 0
    for d in (1, 3, 2, 0):
        if sizes[d] == 0 or strides[d] < smallest:
            return False
        if d == 0 and smallest == strides[1]:
            return False
        smallest = strides[d] * (sizes[d] if sizes[d] > 1 else 1)
    return True


def _output_channels_last(input: Tensor, spatial_dims: int) -> bool:
    """Whether PyTorch's CPU kernel gives a channels-last result for input: only
    batched 1-d and 2-d pooling of an input whose strides read as channels-last
    do (1-d pools as (N, C, 1, L)); unbatched inputs and 3-d pooling give
    contiguous results."""
    if input.dim() != spatial_dims + 2 or spatial_dims == 3:
        return False
    view = input.unsqueeze(-2) if spatial_dims == 1 else input
    return _strides_like_channels_last(list(view.shape), list(view.stride()))


_INT64_MAX = 2**63 - 1


def _empty(
    like: Tensor,
    shape: List[int],
    channels_last: bool,
    spatial_dims: int,
    dtype: Optional[torch.dtype] = None,
) -> Tensor:
    strides = layout_strides(shape, spatial_dims, channels_last)
    if max(strides, default=0) > _INT64_MAX:  # torch's allocator says it overflows
        return like.new_empty(shape, dtype=dtype)
    return like.new_empty_strided(shape, strides, dtype=dtype)


def _output(input: Tensor, output_size: List[int], spatial_dims: int) -> Tensor:
    shape = list(input.shape[: input.dim() - spatial_dims]) + list(output_size)
    return _empty(input, shape, _output_channels_last(input, spatial_dims), spatial_dims)


# The operators' `threads` argument: a count, 0 for every hardware thread, or
# FOLLOW_TORCH to read torch.get_num_threads() when the kernel runs (reading
# it while tracing would break torch.compile's graph).
FOLLOW_TORCH = -1


def _layout(tensor: Tensor) -> Tuple[List[int], List[int]]:
    """Sizes and strides in elements, as _core takes them."""
    return list(tensor.shape), list(tensor.stride())


def _buffer(tensor: Tensor) -> Tuple[int, List[int], List[int]]:
    """A tensor as _core takes it: address, sizes and strides in elements."""
    return (tensor.data_ptr(), *_layout(tensor))


# Where a gradient's memory comes from. From POOLED_RESULT_BYTES up:
# _core.pooled_buffer, which hands the memory of a dead result of the same
# size out again, or fresh zeros (huge pages) where it has none: page
# faults on fresh memory took up to half of a large backward (see
# ResultPool in python/src/core.cpp). The pool keeps at most
# result_pool_limit() bytes. Smaller ones: torch's allocator.
POOLED_RESULT_BYTES = 1 << 20
_FROM_TORCH, _FROM_POOL = range(2)


def _gradient_memory(like: Tensor, size: List[int], strides: List[int]) -> Tuple[int, int]:
    """Where a gradient of these sizes and strides comes from (_gradient),
    and the bytes it spans."""
    span = 1 + sum((n - 1) * s for n, s in zip(size, strides)) if all(size) else 0
    bytes = span * like.element_size()
    if bytes < POOLED_RESULT_BYTES or min(strides, default=0) < 0:
        return _FROM_TORCH, bytes
    return _FROM_POOL, bytes


def _gradient(
    like: Tensor, size: List[int], strides: List[int], memory: int, bytes: int
) -> Tuple[Tensor, bool]:
    """like.new_empty_strided(size, strides) on the memory _gradient_memory
    chose (spanning `bytes`), and whether it holds zeros."""
    if memory == _FROM_TORCH:
        return like.new_empty_strided(size, strides), False
    buffer, fresh = _core.pooled_buffer(bytes)
    return torch.from_numpy(buffer).view(like.dtype).as_strided(size, strides), fresh


def result_pool_limit() -> int:
    """The most bytes of dead gradients adapool keeps for the next ones of
    the same size (1 GiB unless set; at most 64 MiB of those under 32 MiB).
    The system takes the pages of those of 32 MiB and more, but the newest,
    back under memory pressure."""
    return _core.result_pool_limit()


def set_result_pool_limit(bytes: int) -> None:
    """Keeps at most `bytes` of dead gradients from now on; 0 keeps none and
    hands every dead one back to the system at once."""
    if bytes < 0:
        raise ValueError(f"bytes = {bytes} is negative; expected a byte count, 0 for none")
    _core.set_result_pool_limit(bytes)


def _thread_count(threads: int) -> int:
    return torch.get_num_threads() if threads == FOLLOW_TORCH else threads


# The kernels alone, into results the caller made: bench.py's kernel-only timing.
def _run(forward: bool, source: Tensor, destination: Tensor, spatial_dims: int, threads: int):
    _core.run(
        forward,
        _DTYPES[source.dtype],
        spatial_dims,
        *_buffer(source),
        *_buffer(destination),
        _thread_count(threads),
    )


# What a call passes the kernel besides the data: the checks, the result's
# sizes and strides and the core's arguments depend only on sizes, strides
# and dtypes (and output_size, or the gradient's layout), so they are worked
# out once and kept in _PREPARED. Worked out afresh on every call, they cost more
# than a small kernel: run after the kernel has swept the caches, that Python
# took 20-50 us a call in the benchmark's small cases, against 1-5 us warm.
_PREPARED: Dict[tuple, tuple] = {}
_PREPARED_LIMIT = 1024  # entries; the cache starts over when full
_SIZE_TYPES = frozenset((int, type(None)))
_SIZE_SEQUENCES = (tuple, list, torch.Size)  # torch.Size: x.shape[-2:]


def _size_key(output_size: OutputSize) -> Optional[object]:
    """output_size as part of a _PREPARED key: ints and None only, since keys
    that compare equal must resolve alike (True == 1 and 5.0 == 5, but neither
    is a size); None for anything else, which takes the unprepared path."""
    if type(output_size) is int:
        return output_size
    if type(output_size) in _SIZE_SEQUENCES and _SIZE_TYPES.issuperset(map(type, output_size)):
        return tuple(output_size)
    return None


def _remember(key: tuple, prepared: tuple) -> tuple:
    if len(_PREPARED) >= _PREPARED_LIMIT:
        _PREPARED.clear()
    _PREPARED[key] = prepared
    return prepared


def _forward_prepared(
    input: Tensor, output_size: OutputSize, size_key: object, spatial_dims: int
) -> tuple:
    key = ("forward", input.shape, input.stride(), input.dtype, size_key, spatial_dims)
    return _PREPARED.get(key) or _prepare_forward(key, input, output_size, spatial_dims)


def _prepare_forward(
    key: tuple, input: Tensor, output_size: OutputSize, spatial_dims: int
) -> tuple:
    """_PREPARED[key] for a forward pooling, average or max alike (both results
    take the layout PyTorch gives average pooling's): the core's dtype, the
    input's sizes and strides, and the result's."""
    _check(input, "input")
    shape = resolve_output_size(input.shape, spatial_dims, output_size)
    like = torch.empty_strided(input.shape, input.stride(), dtype=input.dtype, device="meta")
    result = _output(like, shape[input.dim() - spatial_dims :], spatial_dims)
    return _remember(key, (_DTYPES[input.dtype], _layout(input), _layout(result)))


def _backward_prepared(
    grad_output: Tensor, input_size: List[int], input_strides: List[int], spatial_dims: int
) -> tuple:
    key = (
        "backward",
        grad_output.shape,
        grad_output.stride(),
        grad_output.dtype,
        tuple(input_size),
        tuple(input_strides),
        spatial_dims,
    )
    return _PREPARED.get(key) or _prepare_backward(key, grad_output, input_size, input_strides)


def _prepare_backward(
    key: tuple, grad_output: Tensor, input_size: List[int], input_strides: List[int]
) -> tuple:
    """_PREPARED[key] for a backward, average or max: the core's dtype,
    grad_output's sizes and strides, grad_input's, and where grad_input's
    memory comes from with the bytes it spans (_gradient_memory)."""
    result = (list(input_size), list(input_strides))
    prepared = (
        _DTYPES[grad_output.dtype],
        _layout(grad_output),
        result,
        _gradient_memory(grad_output, *result),
    )
    return _remember(key, prepared)


def _new_gradient(
    grad_output: Tensor, input_size: List[int], input_strides: List[int], spatial_dims: int
) -> tuple:
    """A backward's core dtype, grad_output's and grad_input's sizes and
    strides, a new grad_input, and whether it holds zeros. The operators'
    callers reach the backwards with any tensor: grad_output is checked on
    every call, not only when the call is prepared."""
    _check(grad_output, "grad_output")
    dtype, source, result, memory = _backward_prepared(
        grad_output, input_size, input_strides, spatial_dims
    )
    return (dtype, source, result, *_gradient(grad_output, *result, *memory))


def _pool_prepared(
    input: Tensor, prepared: tuple, spatial_dims: int, thread_count: int
) -> Tensor:
    dtype, source, result = prepared
    output = input.new_empty_strided(*result)
    _core.run(
        True,
        dtype,
        spatial_dims,
        input.data_ptr(),
        *source,
        output.data_ptr(),
        *result,
        thread_count,
    )
    return output


def _pool_cpu(input: Tensor, output_size: List[int], spatial_dims: int, threads: int) -> Tensor:
    _check(input, "input")  # the operator's callers reach here with any tensor
    prepared = _forward_prepared(input, output_size, tuple(output_size), spatial_dims)
    return _pool_prepared(input, prepared, spatial_dims, _thread_count(threads))


_pool = torch.library.custom_op("adapool::adaptive_avg_pool", _pool_cpu, mutates_args=())


@_pool.register_fake
def _(input: Tensor, output_size: List[int], spatial_dims: int, threads: int) -> Tensor:
    return _output(input, output_size, spatial_dims)


# grad_input takes the strides PyTorch gives it: those of empty_like(input).
def _pool_backward_cpu(
    grad_output: Tensor,
    input_size: List[int],
    input_strides: List[int],
    spatial_dims: int,
    threads: int,
) -> Tensor:
    dtype, source, result, grad_input, _ = _new_gradient(
        grad_output, input_size, input_strides, spatial_dims
    )
    _core.run(
        False,
        dtype,
        spatial_dims,
        grad_output.data_ptr(),
        *source,
        grad_input.data_ptr(),
        *result,
        _thread_count(threads),
    )
    return grad_input


_pool_backward = torch.library.custom_op(
    "adapool::adaptive_avg_pool_backward", _pool_backward_cpu, mutates_args=()
)


@_pool_backward.register_fake
def _(
    grad_output: Tensor,
    input_size: List[int],
    input_strides: List[int],
    spatial_dims: int,
    threads: int,
) -> Tensor:
    return grad_output.new_empty_strided(input_size, input_strides)


def _pool_setup(ctx, inputs, output) -> None:
    input, _, spatial_dims, threads = inputs
    ctx.input_size = list(input.shape)
    ctx.input_strides = list(torch.empty_like(input, device="meta").stride())
    ctx.spatial_dims = spatial_dims
    ctx.threads = threads


def _avg_backward(
    grad_output: Tensor,
    input_size: List[int],
    input_strides: List[int],
    spatial_dims: int,
    threads: int,
) -> Tensor:
    """The operator adaptive_avg_pool_backward, or its CPU kernel where nothing
    needs the operator (_direct): what autograd runs for the forward."""
    backward = _pool_backward_cpu if _direct(grad_output) else _pool_backward
    return backward(grad_output, input_size, input_strides, spatial_dims, threads)


def _pool_grad(ctx, grad_output: Tensor):
    grad_input = _avg_backward(
        grad_output, ctx.input_size, ctx.input_strides, ctx.spatial_dims, ctx.threads
    )
    return grad_input, None, None, None


def _pool_backward_setup(ctx, inputs, output) -> None:
    grad_output, _, _, spatial_dims, threads = inputs
    ctx.output_size = list(grad_output.shape[grad_output.dim() - spatial_dims :])
    ctx.spatial_dims = spatial_dims
    ctx.threads = threads


def _pool_backward_grad(ctx, grad_grad_input: Tensor):
    # The backward is linear in grad_output with the forward as its adjoint:
    # its own gradient is the forward pooling of the incoming gradient.
    grad_grad_output = _pool(grad_grad_input, ctx.output_size, ctx.spatial_dims, ctx.threads)
    return grad_grad_output, None, None, None, None


_pool.register_autograd(_pool_grad, setup_context=_pool_setup)
_pool_backward.register_autograd(_pool_backward_grad, setup_context=_pool_backward_setup)


# Max pooling. The forward always computes the indices (the backward needs
# them); values and indices share the layout PyTorch gives them, that of the
# average pooling's result.


def _run_max(
    forward: bool,
    source: Tensor,
    destination: Tensor,
    indices: Tensor,
    spatial_dims: int,
    threads: int,
    destination_zeroed: bool = False,
):
    _core.run_max(
        forward,
        _DTYPES[source.dtype],
        spatial_dims,
        *_buffer(source),
        *_buffer(destination),
        *_buffer(indices),
        _thread_count(threads),
        destination_zeroed,
    )


def _max_outputs(input: Tensor, output_size: List[int], spatial_dims: int) -> Tuple[Tensor, Tensor]:
    shape = list(input.shape[: input.dim() - spatial_dims]) + list(output_size)
    channels_last = _output_channels_last(input, spatial_dims)
    values = _empty(input, shape, channels_last, spatial_dims)
    indices = _empty(input, shape, channels_last, spatial_dims, torch.int64)
    return values, indices


def _max_pool_prepared(
    input: Tensor, prepared: tuple, spatial_dims: int, thread_count: int
) -> Tuple[Tensor, Tensor]:
    dtype, source, result = prepared
    values = input.new_empty_strided(*result)
    indices = input.new_empty_strided(*result, dtype=torch.int64)
    _core.run_max(
        True,
        dtype,
        spatial_dims,
        input.data_ptr(),
        *source,
        values.data_ptr(),
        *result,
        indices.data_ptr(),
        *result,
        thread_count,
        False,  # destination_zeroed
    )
    return values, indices


def _max_pool_cpu(
    input: Tensor, output_size: List[int], spatial_dims: int, threads: int
) -> Tuple[Tensor, Tensor]:
    _check(input, "input")
    prepared = _forward_prepared(input, output_size, tuple(output_size), spatial_dims)
    return _max_pool_prepared(input, prepared, spatial_dims, _thread_count(threads))


_max_pool = torch.library.custom_op("adapool::adaptive_max_pool", _max_pool_cpu, mutates_args=())


@_max_pool.register_fake
def _(input: Tensor, output_size: List[int], spatial_dims: int, threads: int):
    return _max_outputs(input, output_size, spatial_dims)


def _check_indices(indices: Tensor) -> None:
    if indices.dtype != torch.int64:
        raise TypeError(
            f"indices has dtype {indices.dtype}; expected torch.int64, as "
            "adaptive_max_pool*d(..., return_indices=True) returns them"
        )


def _max_pool_backward_cpu(
    grad_output: Tensor,
    indices: Tensor,
    input_size: List[int],
    input_strides: List[int],
    spatial_dims: int,
    threads: int,
) -> Tensor:
    _check_indices(indices)
    dtype, source, result, grad_input, zeroed = _new_gradient(
        grad_output, input_size, input_strides, spatial_dims
    )
    _core.run_max(
        False,
        dtype,
        spatial_dims,
        grad_output.data_ptr(),
        *source,
        grad_input.data_ptr(),
        *result,
        *_buffer(indices),
        _thread_count(threads),
        zeroed,
    )
    return grad_input


_max_pool_backward = torch.library.custom_op(
    "adapool::adaptive_max_pool_backward", _max_pool_backward_cpu, mutates_args=()
)


@_max_pool_backward.register_fake
def _(
    grad_output: Tensor,
    indices: Tensor,
    input_size: List[int],
    input_strides: List[int],
    spatial_dims: int,
    threads: int,
) -> Tensor:
    _check_indices(indices)
    return grad_output.new_empty_strided(input_size, input_strides)


def _max_pool_setup(ctx, inputs, output) -> None:
    input, _, spatial_dims, threads = inputs
    _, indices = output
    ctx.mark_non_differentiable(indices)
    ctx.save_for_backward(indices)
    ctx.input_size = list(input.shape)
    # PyTorch's max pooling backward gives grad_input the layout of the
    # forward's result (channels-last or contiguous), not empty_like(input).
    like = _empty(
        input.new_empty((), device="meta"),
        list(input.shape),
        _output_channels_last(input, spatial_dims),
        spatial_dims,
    )
    ctx.input_strides = list(like.stride())
    ctx.spatial_dims = spatial_dims
    ctx.threads = threads


def _max_backward(
    grad_output: Tensor,
    indices: Tensor,
    input_size: List[int],
    input_strides: List[int],
    spatial_dims: int,
    threads: int,
) -> Tensor:
    """The operator adaptive_max_pool_backward, or its CPU kernel where nothing
    needs the operator (_direct): what autograd runs for the forward."""
    backward = _max_pool_backward_cpu if _direct(grad_output) else _max_pool_backward
    return backward(grad_output, indices, input_size, input_strides, spatial_dims, threads)


def _max_pool_grad(ctx, grad_output: Tensor, _grad_indices):
    (indices,) = ctx.saved_tensors
    grad_input = _max_backward(
        grad_output, indices, ctx.input_size, ctx.input_strides, ctx.spatial_dims, ctx.threads
    )
    return grad_input, None, None, None


def _max_pool_backward_setup(ctx, inputs, output) -> None:
    _, indices, _, _, spatial_dims, _ = inputs
    ctx.save_for_backward(indices)
    ctx.spatial_dims = spatial_dims


def _max_pool_backward_grad(ctx, grad_grad_input: Tensor):
    # The backward is linear in grad_output (a scatter-add at the indices): its
    # own gradient is the gather of the incoming gradient at the same indices.
    (indices,) = ctx.saved_tensors
    planes = grad_grad_input.flatten(start_dim=grad_grad_input.dim() - ctx.spatial_dims)
    flat_indices = indices.flatten(start_dim=indices.dim() - ctx.spatial_dims)
    grad_grad_output = planes.gather(-1, flat_indices).reshape(indices.shape)
    return grad_grad_output, None, None, None, None, None


_max_pool.register_autograd(_max_pool_grad, setup_context=_max_pool_setup)
_max_pool_backward.register_autograd(
    _max_pool_backward_grad, setup_context=_max_pool_backward_setup
)


def _threads(threads: Optional[int]) -> int:
    if threads is None:
        return FOLLOW_TORCH
    if threads < 0:
        raise ValueError(
            f"threads = {threads} is negative; expected None (follow torch.get_num_threads()), "
            "0 (every hardware thread) or a positive count"
        )
    return threads


# What _direct asks, looked up once: it runs on every call.
_get_num_threads = torch.get_num_threads
_is_grad_enabled = torch.is_grad_enabled
_is_compiling = torch.compiler.is_compiling
_is_tracing = torch._C._is_tracing
_dispatch_modes = torch._C._len_torch_dispatch_stack
_function_modes = torch._C._is_torch_function_mode_enabled
_functorch_wrapped = torch._C._functorch.is_functorch_wrapped_tensor


def _direct(input: Tensor) -> bool:
    """Whether a call may run the CPU kernel without the operator's dispatch
    (about 10 us of Python): a plain CPU tensor that autograd does not record,
    outside torch.compile, tracing, dispatch and function modes and functorch
    transforms, all of which need the operator."""
    return (
        type(input) is Tensor
        and input.is_cpu
        and not (input.requires_grad and _is_grad_enabled())
        and not _is_compiling()
        and not _is_tracing()
        and not _dispatch_modes()
        and not _function_modes()
        and not _functorch_wrapped(input)
    )


# The functionals' common call (an int output_size, threads=None) takes as few
# Python calls as it can: run after a kernel has swept the caches, as in a
# model, each call cost 1-3 us. An int skips _size_key, threads=None skips
# _threads and _thread_count.
def _functional(input: Tensor, output_size: OutputSize, spatial_dims: int, threads) -> Tensor:
    size_key = output_size if type(output_size) is int else _size_key(output_size)
    if size_key is not None and _direct(input):
        prepared = _forward_prepared(input, output_size, size_key, spatial_dims)
        count = _get_num_threads() if threads is None else _threads(threads)
        return _pool_prepared(input, prepared, spatial_dims, count)
    if not isinstance(input, Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
    _check(input, "input")
    shape = resolve_output_size(input.shape, spatial_dims, output_size)
    pool = _pool_cpu if _direct(input) else _pool
    return pool(input, shape[input.dim() - spatial_dims :], spatial_dims, _threads(threads))


def adaptive_avg_pool1d(input: Tensor, output_size: OutputSize, *, threads: Optional[int] = None):
    """torch.nn.functional.adaptive_avg_pool1d, computed by adapool.

    threads: None follows torch.get_num_threads(); results do not depend on it.
    """
    return _functional(input, output_size, 1, threads)


def adaptive_avg_pool2d(input: Tensor, output_size: OutputSize, *, threads: Optional[int] = None):
    """torch.nn.functional.adaptive_avg_pool2d, computed by adapool."""
    return _functional(input, output_size, 2, threads)


def adaptive_avg_pool3d(input: Tensor, output_size: OutputSize, *, threads: Optional[int] = None):
    """torch.nn.functional.adaptive_avg_pool3d, computed by adapool."""
    return _functional(input, output_size, 3, threads)


def _max_functional(
    input: Tensor, output_size: OutputSize, return_indices: bool, spatial_dims: int, threads
):
    size_key = output_size if type(output_size) is int else _size_key(output_size)
    if size_key is not None and _direct(input):
        prepared = _forward_prepared(input, output_size, size_key, spatial_dims)
        count = _get_num_threads() if threads is None else _threads(threads)
        values, indices = _max_pool_prepared(input, prepared, spatial_dims, count)
        return (values, indices) if return_indices else values
    if not isinstance(input, Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
    _check(input, "input")
    shape = resolve_output_size(input.shape, spatial_dims, output_size)
    pool = _max_pool_cpu if _direct(input) else _max_pool
    values, indices = pool(
        input, shape[input.dim() - spatial_dims :], spatial_dims, _threads(threads)
    )
    return (values, indices) if return_indices else values


def adaptive_max_pool1d(
    input: Tensor,
    output_size: OutputSize,
    return_indices: bool = False,
    *,
    threads: Optional[int] = None,
):
    """torch.nn.functional.adaptive_max_pool1d, computed by adapool: the values, or
    (values, indices) with return_indices.

    threads: None follows torch.get_num_threads(); results do not depend on it.
    """
    return _max_functional(input, output_size, return_indices, 1, threads)


def adaptive_max_pool2d(
    input: Tensor,
    output_size: OutputSize,
    return_indices: bool = False,
    *,
    threads: Optional[int] = None,
):
    """torch.nn.functional.adaptive_max_pool2d, computed by adapool."""
    return _max_functional(input, output_size, return_indices, 2, threads)


def adaptive_max_pool3d(
    input: Tensor,
    output_size: OutputSize,
    return_indices: bool = False,
    *,
    threads: Optional[int] = None,
):
    """torch.nn.functional.adaptive_max_pool3d, computed by adapool."""
    return _max_functional(input, output_size, return_indices, 3, threads)


class AdaptiveAvgPool1d(torch.nn.AdaptiveAvgPool1d):
    """torch.nn.AdaptiveAvgPool1d computed by adapool: same constructor, repr and state."""

    def forward(self, input: Tensor) -> Tensor:
        return adaptive_avg_pool1d(input, self.output_size)


class AdaptiveAvgPool2d(torch.nn.AdaptiveAvgPool2d):
    """torch.nn.AdaptiveAvgPool2d computed by adapool: same constructor, repr and state."""

    def forward(self, input: Tensor) -> Tensor:
        return adaptive_avg_pool2d(input, self.output_size)


class AdaptiveAvgPool3d(torch.nn.AdaptiveAvgPool3d):
    """torch.nn.AdaptiveAvgPool3d computed by adapool: same constructor, repr and state."""

    def forward(self, input: Tensor) -> Tensor:
        return adaptive_avg_pool3d(input, self.output_size)


class AdaptiveMaxPool1d(torch.nn.AdaptiveMaxPool1d):
    """torch.nn.AdaptiveMaxPool1d computed by adapool: same constructor, repr and state."""

    def forward(self, input: Tensor):
        return adaptive_max_pool1d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(torch.nn.AdaptiveMaxPool2d):
    """torch.nn.AdaptiveMaxPool2d computed by adapool: same constructor, repr and state."""

    def forward(self, input: Tensor):
        return adaptive_max_pool2d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool3d(torch.nn.AdaptiveMaxPool3d):
    """torch.nn.AdaptiveMaxPool3d computed by adapool: same constructor, repr and state."""

    def forward(self, input: Tensor):
        return adaptive_max_pool3d(input, self.output_size, self.return_indices)


_REPLACEMENTS = {
    torch.nn.AdaptiveAvgPool1d: AdaptiveAvgPool1d,
    torch.nn.AdaptiveAvgPool2d: AdaptiveAvgPool2d,
    torch.nn.AdaptiveAvgPool3d: AdaptiveAvgPool3d,
    torch.nn.AdaptiveMaxPool1d: AdaptiveMaxPool1d,
    torch.nn.AdaptiveMaxPool2d: AdaptiveMaxPool2d,
    torch.nn.AdaptiveMaxPool3d: AdaptiveMaxPool3d,
}
_MAX_MODULES = (AdaptiveMaxPool1d, AdaptiveMaxPool2d, AdaptiveMaxPool3d)


def patch(model: torch.nn.Module) -> int:
    """Swaps every torch adaptive average and max pooling module inside model for
    adapool's, in place, and returns how many it swapped. Functional calls
    (F.adaptive_avg_pool2d inside a forward) are not modules and stay as they are."""
    swapped = 0
    for parent in model.modules():
        for name, child in list(parent.named_children()):
            replacement = _REPLACEMENTS.get(type(child))
            if replacement is None:
                continue
            if issubclass(replacement, _MAX_MODULES):
                module = replacement(child.output_size, child.return_indices)
            else:
                module = replacement(child.output_size)
            module.train(child.training)
            setattr(parent, name, module)
            swapped += 1
    return swapped


def _stand_ins(dims: int, average_pool, max_pool):
    """adapool's stand-ins for torch.nn.functional's dims-d adaptive pooling names,
    with their signatures. F.adaptive_max_pool*d picks ..._with_indices or
    _adaptive_max_pool*d by return_indices (nn.AdaptiveMaxPool*d call it); the two
    helpers are module attributes that other code calls too, so each gets one."""

    def average(input, output_size):
        return average_pool(input, output_size)

    def maximum(input, output_size, return_indices=False):
        return max_pool(input, output_size, return_indices)

    def with_indices(input, output_size, return_indices=False):
        return max_pool(input, output_size, True)

    def values_only(input, output_size, return_indices=False):
        return max_pool(input, output_size, False)

    return {
        f"adaptive_avg_pool{dims}d": average,
        f"adaptive_max_pool{dims}d": maximum,
        f"adaptive_max_pool{dims}d_with_indices": with_indices,
        f"_adaptive_max_pool{dims}d": values_only,
    }


@contextlib.contextmanager
def patch_functional() -> Iterator[None]:
    """Within the block, torch.nn.functional.adaptive_avg_pool{1,2,3}d and
    adaptive_max_pool{1,2,3}d (with their ..._with_indices forms) run on
    adapool: for models that call them directly in forward (DenseNet's head,
    MobileNetV3's squeeze-excitation), which patch() cannot reach. Not
    thread-safe: it swaps module attributes of torch.nn.functional."""
    functional = torch.nn.functional
    ours = {
        **_stand_ins(1, adaptive_avg_pool1d, adaptive_max_pool1d),
        **_stand_ins(2, adaptive_avg_pool2d, adaptive_max_pool2d),
        **_stand_ins(3, adaptive_avg_pool3d, adaptive_max_pool3d),
    }
    originals = {name: getattr(functional, name) for name in ours}
    try:
        for name, replacement in ours.items():
            setattr(functional, name, replacement)
        yield
    finally:
        for name, original in originals.items():
            setattr(functional, name, original)
