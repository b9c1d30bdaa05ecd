"""Equivalents of PyTorch's own adaptive average pooling tests (torch 2.15), rewritten.

Sources read: test/nn/test_pooling.py (size None, zero batch, channels-last with and
without slicing, lower precision, 1x1 / 1x1x1 output, unsupported dtypes, empty
output backward, odd sizes, bfloat16 ops); torch/testing/_internal/common_modules.py
(module_inputs_torch_nn_AdaptiveAvgPool{1,2,3}d); common_methods_invocations.py
(sample_inputs_adaptive_avg_pool{1,2,3}d). Their error inputs are in test_errors.py,
the empty-output backward in test_known_differences.py.

Every case goes through parity_support.compare: shape, layout, values (forward and
backward) against torch, and the numpy front end where the dtype allows.
"""

from __future__ import annotations

import pytest
import torch

import parity_support as support
from parity_support import compare, to_channels_last

FLOATS = [torch.float32, torch.float64]
ALL = support.DTYPES


def _input(shape, dtype, seed=0, values="normal"):
    return support.make_input(shape, dtype, support.plain_layout(len(shape)), seed, values)


def _check(spatial_dims, x, output_size, **options):
    compare(spatial_dims, x, output_size, numpy_front=True, **options)
    support.count("torch-derived")


# The module cases: (spatial_dims, constructor argument, input shape, description).
MODULE_CASES = [
    (1, 3, (1, 3, 5), "single"),
    (1, 3, (3, 5), "no_batch_dim"),
    (1, 1, (1, 3, 5), "one_output"),
    (2, 3, (1, 3, 5, 6), "single"),
    (2, 3, (3, 5, 6), "no_batch_dim"),
    (2, 1, (1, 3, 5, 6), "single_1x1output"),
    (2, (3, 4), (1, 3, 5, 6), "tuple"),
    (2, (3, None), (1, 3, 5, 6), "tuple_none"),
    (3, 3, (2, 3, 5, 2, 7), "single"),
    (3, 3, (3, 5, 2, 7), "no_batch_dim"),
    (3, (3, 4, 5), (2, 3, 5, 3, 7), "tuple"),
    (3, (None, 4, 5), (2, 3, 5, 3, 7), "tuple_none"),
    (3, (3, 2, 2), (1, 1, 3, 2, 6), "last_dim"),
]


@pytest.mark.parametrize("dtype", ALL, ids=str)
@pytest.mark.parametrize("spatial_dims,output_size,shape,desc", MODULE_CASES,
                         ids=[f"{c[0]}d-{c[3]}" for c in MODULE_CASES])
def test_module_cases(spatial_dims, output_size, shape, desc, dtype):
    """The nn module database: adapool's module against torch's, forward and backward."""
    x = _input(shape, dtype)
    modules = {
        1: (torch.nn.AdaptiveAvgPool1d, support.at.AdaptiveAvgPool1d),
        2: (torch.nn.AdaptiveAvgPool2d, support.at.AdaptiveAvgPool2d),
        3: (torch.nn.AdaptiveAvgPool3d, support.at.AdaptiveAvgPool3d),
    }[spatial_dims]
    theirs_module, ours_module = modules[0](output_size), modules[1](output_size)
    assert repr(ours_module) == repr(theirs_module)
    theirs, ours = theirs_module(x), ours_module(x)
    assert ours.shape == theirs.shape
    # The unbatched case equals the batched one with a batch of one (no_batch_dim_reference_fn).
    if desc == "no_batch_dim":
        torch.testing.assert_close(ours, ours_module(x.unsqueeze(0)).squeeze(0), rtol=0, atol=0)
    _check(spatial_dims, x, output_size)


# The functional sample inputs: each batched and unbatched (the shape without dim 0).
FUNCTIONAL_CASES = [
    (1, (0, 8, 8), (5,)),
    (1, (3, 8, 8), 5),
    (1, (3, 8, 8), 1),
    (2, (1, 8, 8, 8), (5, 7)),
    (2, (2, 8, 8, 8), (None, 7)),
    (2, (1, 8, 4, 3), (5, None)),
    (2, (1, 8, 4, 3), (None, None)),
    (2, (1, 8, 4, 3), 5),
    (3, (0, 8, 8, 8, 8), (5, 7, 4)),
    (3, (1, 8, 4, 3, 7), (None, None, None)),
    (3, (1, 8, 4, 3, 7), (1, 1, 1)),
    (3, (3, 3, 8, 8, 6), (5, 7, None)),
    (3, (1, 3, 8, 8, 6), (5, None, 2)),
    (3, (3, 3, 8, 8, 6), (None, 3, 2)),
]


@pytest.mark.parametrize("dtype", ALL, ids=str)
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("spatial_dims,shape,output_size", FUNCTIONAL_CASES)
def test_functional_samples(spatial_dims, shape, output_size, batched, dtype):
    shape = shape if batched else shape[1:]
    _check(spatial_dims, _input(shape, dtype, values="integers"), output_size)


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_size_none_keeps_the_last_dimension(spatial_dims):
    output_size = (2,) * (spatial_dims - 1) + (None,)
    x = _input((4,) * (spatial_dims + 1), torch.float32)
    y = support.OURS[spatial_dims](x, output_size)
    assert tuple(y.shape) == (4,) + (2,) * (spatial_dims - 1) + (4,)
    _check(spatial_dims, x, output_size)


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("spatial_dims,shape,output_size", [
    (1, (0, 4, 10), 5), (2, (0, 4, 10, 10), (5, 5)), (3, (0, 4, 10, 10, 10), (5, 5, 5)),
    (2, (0, 4, 10, 10), 1), (2, (0, 4, 10, 10), 0),
])
def test_zero_batch(spatial_dims, shape, output_size, dtype):
    """An empty batch gives an empty result (and an empty gradient)."""
    x = _input(shape, dtype)
    y = support.OURS[spatial_dims](x, output_size)
    assert y.numel() == 0
    _check(spatial_dims, x, output_size)


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("spatial_dims,shape,output_size", [
    (1, (0, 10), 5), (2, (0, 10, 10), (5, 5)), (3, (0, 10, 10, 10), (5, 5, 5)),
])
def test_zero_batch_unbatched_module_input(spatial_dims, shape, output_size, dtype):
    """torch's test_adaptive_pooling_zero_batch feeds the modules (0, 10), (0, 10, 10) and
    (0, 10, 10, 10): unbatched inputs with no channels, which torch accepts (an empty
    result), and so does adapool: the zero leading dimension of an unbatched input is
    not a pooled dimension (src/plan/plan.cpp, make_plan)."""
    _check(spatial_dims, _input(shape, dtype), output_size)


@pytest.mark.parametrize("sliced", [False, True], ids=["dense", "sliced_channels"])
def test_channels_last_forward_backward(sliced):
    """test_adaptive_pooling_avg_nhwc(_non_contiguous): a channels-last (4, 8, 8, 8) input
    pooled to 7x7 with integer values and gradients equals the contiguous computation."""
    x = to_channels_last(_input((4, 8, 8, 8), torch.float32, values="integers"), 2)
    if sliced:
        x = x[:, ::2]
    ours_in = x.detach().requires_grad_(True)
    reference_in = x.detach().contiguous().requires_grad_(True)
    grad = _input((4, 8, 7, 7), torch.float32, seed=1, values="integers")
    if sliced:
        grad = grad[:, ::2]
    ours = support.at.adaptive_avg_pool2d(ours_in, (7, 7))
    ours.backward(grad)
    reference = support.at.adaptive_avg_pool2d(reference_in, (7, 7))
    reference.backward(grad.contiguous())
    assert reference.is_contiguous()
    torch.testing.assert_close(ours, reference, rtol=0, atol=0)
    torch.testing.assert_close(ours_in.grad, reference_in.grad, rtol=0, atol=0)
    if not sliced:
        assert ours.is_contiguous(memory_format=torch.channels_last)
    _check(2, x, (7, 7))


@pytest.mark.parametrize("case", [
    pytest.param((2, lambda: to_channels_last(_input((4, 8, 8, 8), torch.float32), 2)[:, ::2],
                  (7, 7)), id="sliced_channels_last_2d"),
    pytest.param((1, lambda: _input((1, 2, 1), torch.float32).as_strided((1, 2, 1), (2, 1, 2)),
                  2), id="length_one_channels_last_1d"),
    pytest.param((1, lambda: _input((1, 5, 13), torch.float64).as_strided((1, 5, 13), (1, 1, 5)),
                  17), id="batch_of_one_unit_batch_stride_1d"),
])
def test_output_layout_follows_torch_heuristic(case):
    """torch picks the result's layout with input.suggest_memory_format(), a stride-order
    test: a channels-last batch sliced along C ([:, ::2], torch's
    test_adaptive_pooling_avg_nhwc_non_contiguous) still gives a channels-last result,
    and so does a (1, 2, 1) input with channels-last strides, while a (1, 5, 13) input
    with a unit batch stride comes out contiguous. adapool follows the same heuristic
    (python/adapool/torch.py, _strides_like_channels_last) for batched 1-d and 2-d."""
    spatial_dims, make, output_size = case
    x = make()
    theirs = support.TORCH_POOL[spatial_dims](x, output_size)
    ours = support.OURS[spatial_dims](x, output_size)
    support.count("torch-derived")
    support.assert_same_layout(ours, theirs, f"{tuple(x.shape)} strides {x.stride()}")


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
def test_lower_precision(dtype, layout):
    """test_adaptive_pooling_lower_precision: (3, 19, 8, 8) -> 7x7 in a reduced dtype is
    the float32 result within 0.1, output and gradient keep dtype and layout."""
    base = _input((3, 19, 8, 8), torch.float32, values="integers").abs() + 1
    if layout == "channels_last":
        base = to_channels_last(base, 2)
    low = base.detach().to(dtype).requires_grad_(True)
    full = base.detach().requires_grad_(True)
    out_low = support.at.adaptive_avg_pool2d(low, (7, 7))
    out_low.sum().backward()
    out_full = support.at.adaptive_avg_pool2d(full, (7, 7))
    out_full.sum().backward()
    assert out_low.dtype == dtype and low.grad.dtype == dtype
    if layout == "channels_last":
        assert out_low.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out_low.float(), out_full, atol=0.1, rtol=0)
    torch.testing.assert_close(low.grad.float(), full.grad, atol=0.1, rtol=0)
    _check(2, base.detach().to(dtype), (7, 7))


@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "strided"])
def test_output_size_one_2d(layout):
    """test_adaptive_avg_pool2d_output_size_one: 1x1 is the spatial mean; a channels-last
    input gives strides (C, 1, C, C), the others (C, 1, 1, 1)."""
    x = _input((2, 3, 6, 6), torch.float32, values="integers")
    if layout == "channels_last":
        x = to_channels_last(x, 2)
    elif layout == "strided":
        x = x[::2, ::2, ::2, ::2]
    y = support.at.adaptive_avg_pool2d(x, (1, 1))
    torch.testing.assert_close(y, x.contiguous().mean((-1, -2)).view(x.shape[0], x.shape[1], 1, 1))
    c = y.shape[1]
    assert list(y.stride()) == ([c, 1, c, c] if layout == "channels_last" else [c, 1, 1, 1])
    _check(2, x, (1, 1))


def test_output_size_one_3d():
    x = _input((2, 3, 6, 6, 6), torch.float32)
    y = support.at.adaptive_avg_pool3d(x, 1)
    torch.testing.assert_close(y, x.mean((-1, -2, -3)).view(y.shape))
    assert y.is_contiguous() and list(y.stride()) == [3, 1, 1, 1, 1]
    _check(3, x, 1)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64],
                         ids=str)
@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_integer_inputs_are_rejected(spatial_dims, dtype):
    """test_adaptive_pooling_no_suppot_input: torch raises 'not implemented' for integer
    dtypes; adapool raises TypeError naming the dtype."""
    x = _input((4,) * (spatial_dims + 1), torch.float32).to(dtype)
    with pytest.raises(NotImplementedError, match="not implemented"):
        support.TORCH_POOL[spatial_dims](x, (2,) * spatial_dims)
    with pytest.raises(TypeError, match=str(dtype)):
        support.OURS[spatial_dims](x, (2,) * spatial_dims)
    support.count("torch-derived")


@pytest.mark.parametrize("spatial_dims,shape,output_size", [
    (2, (3, 587, 369), (352, 221)),  # torch's (11, 5873, 3693) -> (3527, 2219), scaled down
    (3, (2, 3, 587, 37), (3, 352, 23)),
])
def test_odd_sizes(spatial_dims, shape, output_size):
    """test_adaptive_pool_odd_size (gh-81409): sizes with no common factor. torch's own
    case needs ~1 GB; this keeps the prime-ish ratios at a tenth of the size."""
    _check(spatial_dims, _input(shape, torch.float32, values="uniform"), output_size)


@pytest.mark.parametrize("spatial_dims,shape,output_size", [
    (1, (8, 4, 16), 3), (2, (8, 4, 16, 16), (3, 5)), (3, (8, 4, 16, 16, 16), (3, 5, 7)),
])
def test_bfloat16_against_float32(spatial_dims, shape, output_size):
    """test_pooling_bfloat16 (a CUDA test in torch; here on CPU): bfloat16 results and
    gradients within 0.05 of float32's."""
    full = _input(shape, torch.float32).requires_grad_(True)
    low = full.detach().to(torch.bfloat16).requires_grad_(True)
    ours = support.OURS[spatial_dims]
    out_full, out_low = ours(full, output_size), ours(low, output_size)
    grad = torch.randn(out_full.shape)
    out_full.backward(grad)
    out_low.backward(grad.to(torch.bfloat16))
    torch.testing.assert_close(out_low.float(), out_full, atol=0.05, rtol=0.05)
    torch.testing.assert_close(low.grad.float(), full.grad, atol=0.05, rtol=0.05)
    _check(spatial_dims, low.detach(), output_size)


@pytest.mark.parametrize("spatial_dims", [1, 2, 3])
def test_overflowing_output_size(spatial_dims):
    """test_adaptive_pooling_size_overflow (written for max pooling): an output size whose
    element count overflows int64 is an error in both."""
    x = _input((2,) * (spatial_dims + 2), torch.float32)
    size = (0x3FFFFFFFFFFFFFFF,) + (2,) * (spatial_dims - 1)
    with pytest.raises(RuntimeError):
        support.TORCH_POOL[spatial_dims](x, size)
    with pytest.raises((RuntimeError, ValueError)):
        support.OURS[spatial_dims](x, size)
    support.count("torch-derived")
