"""Equivalents of PyTorch's own adaptive max pooling tests (torch 2.15), rewritten.

Sources read: test/nn/test_pooling.py (size None, zero batch, channels-last with and
without slicing, lower precision, indices of an arange input and their gradient,
indices changed in place, unbatched indices, all-NaN and all -inf windows, odd sizes,
unsupported dtypes, size overflow); torch/testing/_internal/common_modules.py
(module_inputs_torch_nn_AdaptiveMaxPool{1,2,3}d); common_methods_invocations.py
(sample_inputs_adaptive_max_pool{1,2,3}d). Their error inputs are in test_max_errors.py,
the empty-output backward in test_known_differences.py.

Every case goes through parity_support.compare_max: shapes, layouts, values, indices
and gradients exactly torch's, and the numpy front end where the dtype allows.
"""

from __future__ import annotations

import pytest
import torch

import parity_support as support
from parity_support import compare_max, to_channels_last

ALL = support.DTYPES
MODULES = {
    1: (torch.nn.AdaptiveMaxPool1d, support.at.AdaptiveMaxPool1d),
    2: (torch.nn.AdaptiveMaxPool2d, support.at.AdaptiveMaxPool2d),
    3: (torch.nn.AdaptiveMaxPool3d, support.at.AdaptiveMaxPool3d),
}


def _input(shape, dtype, seed=0, values="normal"):
    return support.make_input(shape, dtype, support.plain_layout(len(shape)), seed, values)


def _check(spatial_dims, x, output_size, **options):
    compare_max(spatial_dims, x, output_size, numpy_front=True, **options)
    support.count("max-torch-derived")


# The module cases: (spatial_dims, constructor argument, input shape, description).
MODULE_CASES = [
    (1, 3, (1, 3, 5), "single"),
    (1, 3, (3, 5), "no_batch_dim"),
    (2, 3, (1, 3, 5, 6), "single"),
    (2, 3, (3, 5, 6), "no_batch_dim"),
    (2, (3, 4), (1, 3, 5, 6), "tuple"),
    (2, (3, None), (1, 3, 5, 6), "tuple_none"),
    (3, 3, (2, 3, 5, 6, 7), "single"),
    (3, 3, (3, 5, 6, 7), "no_batch_dim"),
    (3, (3, 4, 5), (2, 3, 5, 6, 7), "tuple"),
    (3, (3, None, 5), (2, 3, 5, 6, 7), "tuple_none"),
    (3, 3, (2, 3, 12, 9, 3), "single_nonatomic"),
    (3, (3, 4, 5), (2, 3, 6, 4, 10), "tuple_nonatomic"),
]


@pytest.mark.parametrize("dtype", ALL, ids=str)
@pytest.mark.parametrize("spatial_dims,output_size,shape,desc", MODULE_CASES,
                         ids=[f"{c[0]}d-{c[3]}" for c in MODULE_CASES])
def test_module_cases(spatial_dims, output_size, shape, desc, dtype):
    """The nn module database: adapool's module against torch's, with and without indices."""
    x = _input(shape, dtype)
    theirs_class, ours_class = MODULES[spatial_dims]
    for return_indices in (False, True):
        theirs_module = theirs_class(output_size, return_indices)
        ours_module = ours_class(output_size, return_indices)
        assert repr(ours_module) == repr(theirs_module)
        theirs, ours = theirs_module(x), ours_module(x)
        if return_indices:
            support.assert_identical(ours[1], theirs[1], desc + " indices")
            ours, theirs = ours[0], theirs[0]
        support.assert_identical(ours, theirs, desc)
    # The unbatched case equals the batched one with a batch of one (no_batch_dim_reference_fn).
    if desc == "no_batch_dim":
        batched = ours_class(output_size, True)(x.unsqueeze(0))
        unbatched = ours_class(output_size, True)(x)
        support.assert_identical(unbatched[0], batched[0].squeeze(0), desc)
        support.assert_identical(unbatched[1], batched[1].squeeze(0), desc + " indices")
    _check(spatial_dims, x, output_size)


# The functional sample inputs: each batched and unbatched (the shape without dim 0).
FUNCTIONAL_CASES = [
    (1, (3, 4, 4), 3),
    (1, (3, 4, 4), 1),
    (1, (2, 3, 7), 4),
    (2, (1, 4, 4, 4), (2, 3)),
    (2, (2, 4, 4, 4), (None, 3)),
    (2, (2, 4, 4, 4), (1, 1)),
    (2, (1, 4, 4, 3), (3, None)),
    (2, (1, 4, 4, 3), (None, None)),
    (2, (1, 4, 4, 3), 3),
    (2, (2, 3, 7, 11), (4, 5)),
    (2, (2, 3, 4, 10), (8, 5)),
    (3, (1, 4, 4, 3, 5), (None, None, None)),
    (3, (1, 4, 4, 3, 5), (1, 1, 1)),
    (3, (3, 3, 4, 4, 6), (2, 3, None)),
    (3, (1, 3, 4, 4, 6), (3, None, 2)),
    (3, (3, 3, 4, 4, 6), (None, 3, 2)),
]


@pytest.mark.parametrize("dtype", ALL, ids=str)
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("spatial_dims,shape,output_size", FUNCTIONAL_CASES)
def test_functional_samples(spatial_dims, shape, output_size, batched, dtype):
    shape = shape if batched else shape[1:]
    _check(spatial_dims, _input(shape, dtype, values="integers"), output_size)


@pytest.mark.parametrize("dtype", ALL, ids=str)
def test_functional_sample_channels_last(dtype):
    """The sample inputs' channels-last (2, 3, 7, 7) -> (4, 4)."""
    _check(2, to_channels_last(_input((2, 3, 7, 7), dtype), 2), (4, 4))


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_size_none_keeps_the_last_dimension(spatial_dims):
    """test_adaptive_pooling_size_none, the max modules."""
    output_size = (2,) * (spatial_dims - 1) + (None,)
    x = _input((4,) * (spatial_dims + 1), torch.float32)
    y = MODULES[spatial_dims][1](output_size)(x)
    assert tuple(y.shape) == (4,) + (2,) * (spatial_dims - 1) + (4,)
    _check(spatial_dims, x, output_size)


@pytest.mark.parametrize("spatial_dims,shape", [
    (1, (0, 16, 50)), (2, (0, 16, 50, 32)), (3, (0, 16, 50, 44, 31)),
])
def test_zero_batch(spatial_dims, shape):
    """test_AdaptiveMaxPool_zero_batch_dim: an empty batch gives an empty result and an
    empty gradient (an empty channel dimension is an error: test_max_errors.py)."""
    x = torch.randn(shape)
    y = MODULES[spatial_dims][1](3)(x)
    assert y.shape == shape[:2] + (3,) * spatial_dims
    _check(spatial_dims, x, 3)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("contiguous", [True, False], ids=["dense", "sliced_channels"])
@pytest.mark.parametrize("shape,output_size", [
    ((4, 8, 10, 10), (7, 7)), ((4, 8, 9, 14), (5, 8)), ((4, 8, 11, 11), (1, 1)),
    ((2, 1, 3, 3), (1, 1)), ((4, 8, 10, 10, 10), (7, 7, 7)), ((4, 8, 11, 11, 11), (1, 1, 1)),
    ((2, 1, 3, 3, 3), (1, 1, 1)),
])
def test_channels_last(shape, output_size, contiguous, dtype):
    """test_adaptive_pooling_max_nhwc: channels-last inputs of integers 1..9 (many ties)
    and integer gradients, dense or sliced along C, equal the contiguous computation;
    2-d results and indices stay channels-last (3-d ones come out contiguous)."""
    spatial_dims = len(output_size)
    generator = torch.Generator().manual_seed(0)
    x = to_channels_last(torch.randint(1, 10, shape, generator=generator).to(dtype), spatial_dims)
    out_shape = shape[:2] + output_size
    grad = to_channels_last(torch.randint(1, 10, out_shape, generator=generator).to(dtype),
                            spatial_dims)
    if not contiguous:
        x, grad = x[:, ::2], grad[:, ::2]
    ours_in = x.detach().requires_grad_(True)
    reference_in = x.detach().contiguous().requires_grad_(True)
    ours, ours_indices = MODULES[spatial_dims][1](output_size, True)(ours_in)
    ours.backward(grad)
    reference, reference_indices = MODULES[spatial_dims][1](output_size, True)(reference_in)
    reference.backward(grad.contiguous())
    if spatial_dims == 2:
        assert ours.is_contiguous(memory_format=torch.channels_last)
        assert ours_indices.is_contiguous(memory_format=torch.channels_last)
    assert reference.is_contiguous() and reference_indices.is_contiguous()
    support.assert_identical(ours, reference, "values")
    support.assert_identical(ours_indices, reference_indices, "indices")
    support.assert_identical(ours_in.grad, reference_in.grad, "gradient")
    _check(spatial_dims, x, output_size, grad_output=grad)


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
def test_lower_precision(dtype, layout):
    """test_adaptive_pooling_lower_precision with AdaptiveMaxPool2d: (3, 19, 8, 8) -> 7x7
    of integers 1..9 in a reduced dtype is the float32 result; output and gradient keep
    dtype and layout."""
    generator = torch.Generator().manual_seed(0)
    base = torch.randint(1, 10, (3, 19, 8, 8), generator=generator).float()
    if layout == "channels_last":
        base = to_channels_last(base, 2)
    low = base.detach().to(dtype).requires_grad_(True)
    full = base.detach().requires_grad_(True)
    pool = support.at.AdaptiveMaxPool2d((7, 7))
    out_low, out_full = pool(low), pool(full)
    out_low.sum().backward()
    out_full.sum().backward()
    assert out_low.dtype == dtype and low.grad.dtype == dtype
    if layout == "channels_last":
        assert out_low.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out_low.float(), out_full, atol=0.1, rtol=0)
    torch.testing.assert_close(low.grad.float(), full.grad, atol=0.1, rtol=0)
    _check(2, base.detach().to(dtype), (7, 7))


@pytest.mark.parametrize("spatial_dims", [1, 2, 3])
def test_indices_of_an_arange_input(spatial_dims):
    """_test_maxpool_indices(adaptive=True): a (2, 2, 4, ...) arange pooled to 2 takes the
    last cell of every 2-wide window; its gradient of ones lands there; the indices do
    not require grad; changing them in place makes backward fail (autograd's version
    check on the saved indices)."""
    shape = (2, 2) + (4,) * spatial_dims
    x = torch.arange(1, 4 ** (spatial_dims + 1) + 1, dtype=torch.float32).view(shape)
    leaf = x.clone().requires_grad_(True)
    output, indices = MODULES[spatial_dims][1](2, return_indices=True)(leaf)
    assert output.requires_grad and not indices.requires_grad
    # The largest cell of each 2x..x2 block is its last: odd coordinates in each dimension.
    last = torch.zeros((4,) * spatial_dims, dtype=torch.bool)
    last[(slice(1, None, 2),) * spatial_dims] = True
    flat = torch.arange(4 ** spatial_dims).view((4,) * spatial_dims)
    expected_indices = flat[last].view((2,) * spatial_dims).expand(shape[:2] + (2,) * spatial_dims)
    assert torch.equal(indices, expected_indices)
    assert torch.equal(output, x[(slice(None), slice(None)) + (slice(1, None, 2),) * spatial_dims])
    output.backward(torch.ones_like(output), retain_graph=True)
    assert torch.equal(leaf.grad, last.float().expand(shape))
    indices.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        output.backward(torch.ones_like(output))
    _check(spatial_dims, x, 2)


@pytest.mark.parametrize("spatial_dims", [1, 2, 3])
def test_unbatched_indices_equal_a_batch_of_one(spatial_dims):
    """test_maxpool_indices_no_batch_dim, the adaptive modules."""
    x = torch.randn((3, 5, 6, 7)[: spatial_dims + 1])
    module = MODULES[spatial_dims][1](3, return_indices=True)
    _, unbatched = module(x)
    _, batched = module(x.unsqueeze(0))
    assert torch.equal(unbatched, batched.squeeze(0))
    _check(spatial_dims, x, 3)


@pytest.mark.parametrize("value", [float("nan"), float("-inf")], ids=["nan", "-inf"])
@pytest.mark.parametrize("spatial_dims", [1, 2, 3])
def test_nan_and_minus_inf_windows(spatial_dims, value):
    """test_max_pool_nan_inf: an all-NaN 3x..x3 input pooled to 1 is NaN, an all -inf one
    -inf, forward and backward; adapool also gives torch's index (the last NaN, the
    first -inf) and gradient."""
    x = torch.full((1, 1) + (3,) * spatial_dims, value)
    leaf = x.clone().requires_grad_(True)
    result = support.OURS_MAX[spatial_dims](leaf, 1)
    result.backward(torch.randn_like(result))
    if value != value:
        assert result.isnan().item()
    else:
        assert result.item() == value
    _check(spatial_dims, x, 1)


@pytest.mark.parametrize("spatial_dims,shape,output_size", [
    (2, (3, 587, 369), (352, 221)),  # torch's (11, 5873, 3693) -> (3527, 2219), scaled down
    (3, (2, 3, 587, 37), (3, 352, 23)),
])
def test_odd_sizes(spatial_dims, shape, output_size):
    """test_adaptive_pool_odd_size (gh-81409): sizes with no common factor, on integers
    0..255 as in torch's test (many ties). torch's own case needs ~1 GB."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, shape, generator=generator).float()
    _check(spatial_dims, x, output_size)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64],
                         ids=str)
@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_integer_inputs_are_rejected(spatial_dims, dtype):
    """test_adaptive_pooling_no_suppot_input, the max modules: torch raises 'not
    implemented' for integer dtypes; adapool raises TypeError naming the dtype."""
    x = torch.randn((4,) * (spatial_dims + 1)).to(dtype)
    with pytest.raises(NotImplementedError, match="not implemented"):
        MODULES[spatial_dims][0]((2,) * spatial_dims)(x)
    with pytest.raises(TypeError, match=str(dtype)):
        MODULES[spatial_dims][1]((2,) * spatial_dims)(x)
    support.count("max-torch-derived")


@pytest.mark.parametrize("spatial_dims", [1, 2, 3])
def test_overflowing_output_size(spatial_dims):
    """test_adaptive_pooling_size_overflow: AdaptiveMaxPool1d(0x3FFFFFFFFFFFFFFF) on a
    (2, 2, 2) input overflows the element count; an error in both (here in 1-3 d)."""
    x = torch.empty((2,) * (spatial_dims + 2))
    size = (0x3FFFFFFFFFFFFFFF,) + (2,) * (spatial_dims - 1)
    with pytest.raises(RuntimeError):
        support.TORCH_MAX[spatial_dims](x, size)
    with pytest.raises((RuntimeError, ValueError)):
        support.OURS_MAX[spatial_dims](x, size)
    support.count("max-torch-derived")
