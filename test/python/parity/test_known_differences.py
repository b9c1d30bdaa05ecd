"""Known, intended differences from torch, each asserted (not skipped).

SEMANTICS.md, "Where PyTorch is inconsistent with itself", lists the first four; the
rest were found by this suite (README.md). Each test shows torch's behaviour and
adapool's, so a torch upgrade that changes either side fails here and gets a look.
Max pooling's (at the end) are counted apart, as "max-known-difference".
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import parity_support as support
from parity_support import OURS, TORCH_POOL


def _input(shape, dtype=torch.float32, seed=0, values="normal"):
    return support.make_input(shape, dtype, support.plain_layout(len(shape)), seed, values)


@pytest.mark.parametrize("spatial_dims,shape", [
    (1, (2, 3, 0)), (2, (2, 3, 0, 10)), (2, (3, 10, 0)), (3, (1, 2, 0, 3, 3)), (3, (2, 3, 3, 0)),
])
def test_mean_shortcut_accepts_an_empty_pooled_dimension(spatial_dims, shape):
    """Output 1x1 (1x1x1; 1-d pools as (1, L)) is torch's mean() shortcut, which skips the
    shape checks: an empty pooled dimension gives NaN. adapool checks every output size
    alike and rejects it, naming the shape."""
    x = torch.ones(shape)
    theirs = TORCH_POOL[spatial_dims](x, 1)
    assert bool(theirs.isnan().all()) and theirs.numel() > 0
    with pytest.raises(ValueError, match=str(list(shape)).replace("[", r"\[").replace("]", r"\]")):
        OURS[spatial_dims](x, 1)
    with pytest.raises(RuntimeError, match="non-zero size"):  # any other output size
        TORCH_POOL[spatial_dims](x, 2)
    support.count("known-difference")


@pytest.mark.parametrize("spatial_dims,shape,output_size", [
    (2, (2, 2, 3, 4, 4), 1), (2, (2, 2, 3, 4, 4), (1, 1)), (2, (3, 4), 1),
    (3, (1, 2, 4, 4, 4, 4), 1), (3, (1, 2, 4, 4, 4, 4), (1, 1, 1)),
])
def test_mean_shortcut_accepts_other_ranks(spatial_dims, shape, output_size):
    """The same shortcut takes inputs of any rank >= the pooled dimensions' (extra leading
    dimensions, or none for the channel, as for (3, 4) -> (1, 1)); adapool takes exactly
    the unbatched and batched ranks."""
    x = _input(shape)
    theirs = TORCH_POOL[spatial_dims](x, output_size)
    assert theirs.dim() == x.dim()
    with pytest.raises(ValueError, match="expects a"):
        OURS[spatial_dims](x, output_size)
    support.count("known-difference")


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128], ids=str)
def test_mean_shortcut_accepts_complex(dtype):
    """mean() is defined for complex tensors, so torch pools them to 1x1 (and nowhere
    else); adapool takes the four real floating dtypes only."""
    x = _input((1, 2, 3, 4)).to(dtype)
    assert TORCH_POOL[2](x, 1).dtype == dtype
    with pytest.raises(NotImplementedError):
        TORCH_POOL[2](x, 2)
    with pytest.raises(TypeError, match=str(dtype)):
        OURS[2](x, 1)
    support.count("known-difference")


@pytest.mark.parametrize("spatial_dims,shape,output_size", [
    (1, (1, 64), 0), (1, (2, 3, 9), 0), (2, (1, 64, 10, 9), 0), (2, (2, 3, 10, 9), (0, 4)),
    (3, (1, 64, 10, 9, 4), 0), (3, (2, 3, 4, 5, 6), (2, 0, 2)),
])
def test_backward_of_an_empty_output(spatial_dims, shape, output_size):
    """torch's test_adaptive_pooling_empty_output_size: the backward of an output with a
    zero-sized pooled dimension raises in torch. adapool returns the mathematically right
    gradient: zeros of the input's shape."""
    x = _input(shape).requires_grad_(True)
    with pytest.raises(RuntimeError, match="Expected grad_output to have non-zero size"):
        TORCH_POOL[spatial_dims](x, output_size).sum().backward()
    x.grad = None
    OURS[spatial_dims](x, output_size).sum().backward()
    assert x.grad.shape == x.shape and not bool(x.grad.any())
    support.count("known-difference")


def test_divide_rounding_differs_between_torch_layouts():
    """torch divides (sum / kh) / kw on NCHW and sum / (kh * kw) channels-last, so its two
    layouts can differ in the last bit; adapool gives the same bits for every layout and
    thread count, within 1 ulp of both of torch's."""
    found = False
    for seed in range(20):
        x = _input((2, 8, 10, 9), torch.float64, seed=seed)
        channels_last = support.to_channels_last(x, 2)
        nchw, nhwc = TORCH_POOL[2](x, (7, 5)), TORCH_POOL[2](channels_last, (7, 5))
        if torch.equal(nchw, nhwc):
            continue
        found = True
        ours = [OURS[2](view, (7, 5), threads=threads)
                for view in (x, channels_last) for threads in (1, 2, 3)]
        for other in ours[1:]:
            assert torch.equal(ours[0], other)
        assert support.ulp_distance_f64(ours[0], nchw) <= 1
        assert support.ulp_distance_f64(ours[0], nhwc) <= 1
        break
    assert found, "torch's NCHW and channels-last results agree bitwise on every seed now"
    support.count("known-difference")


def test_float64_3d_is_two_ulps_from_torch():
    """Found by this suite (thorough profile): in 3-d torch divides a window's double sum
    three times, ((sum / kd) / kh) / kw, each rounding, so it can land 1.5 ulps from the
    exact quotient while adapool's single divide is correctly rounded: 2 ulps apart.
    Checked with exact rational arithmetic on the sum both compute."""
    from fractions import Fraction

    x = support.make_input((1, 1, 26, 43, 67), torch.float64, support.plain_layout(5), 1)
    theirs, ours = TORCH_POOL[3](x, (1, 3, 4)), OURS[3](x, (1, 3, 4))
    assert support.ulp_distance_f64(ours, theirs) == 2
    (h0, h1), (w0, w1) = support.windows(43, 3)[0], support.windows(67, 4)[2]
    total = 0.0
    for value in x[0, 0, :, h0:h1, w0:w1].flatten().tolist():  # depth, height, width order
        total += value
    exact = Fraction(total) / (26 * (h1 - h0) * (w1 - w0))
    spacing = Fraction(float(support.ulp(torch.tensor(float(exact)), torch.float64)))
    error_ours = abs(Fraction(float(ours[0, 0, 0, 0, 2])) - exact) / spacing
    error_theirs = abs(Fraction(float(theirs[0, 0, 0, 0, 2])) - exact) / spacing
    assert error_ours <= Fraction(1, 2) < 1 < error_theirs
    support.count("known-difference")


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_reduced_precision_backward_accumulation(dtype, layout):
    """torch's backward kernels accumulate float16 and bfloat16 gradients in the dtype
    itself, in both layouts (SEMANTICS.md names bfloat16 NCHW only); adapool accumulates
    in double and rounds once. Upsampling (3, 2) -> (70, 80) sums ~1000 terms per cell:
    torch's error against the float64 oracle is many ulps, adapool's under one."""
    x = _input((2, 3, 3, 2), dtype)
    if layout == "channels_last":
        x = support.to_channels_last(x, 2)
    grad = _input((2, 3, 70, 80), dtype, seed=1)
    theirs = support._grad(TORCH_POOL[2], x, (70, 80), grad)
    ours = support._grad(OURS[2], x, (70, 80), grad)
    oracle = support._grad(TORCH_POOL[2], x.double(), (70, 80), grad.double())
    error_theirs = support.max_abs(theirs.double() - oracle)
    error_ours = support.max_abs(ours.double() - oracle)
    one_ulp = float(support.ulp(torch.tensor(support.max_abs(oracle)), dtype))
    assert error_ours <= one_ulp
    assert error_theirs > 4 * one_ulp
    support.count("known-difference")


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_reduced_precision_3d_forward_accumulation(dtype, layout):
    """Found by this suite: torch's 3-d forward kernel sums float16 and bfloat16 windows in
    the dtype itself (its 1-d and 2-d kernels, and mean(), sum in float). adapool sums
    every dtype in double. A 4x4x300 -> 1x1x2 pool of values in [1, 2): torch's error is
    many ulps, adapool's under one; the 2-d kernel on the same data is as good as adapool."""
    x = (_input((2, 3, 4, 4, 300), torch.float64, values="uniform") + 0.5).to(dtype)
    if layout == "channels_last":
        x = support.to_channels_last(x, 3)
    oracle = TORCH_POOL[3](x.double(), (1, 1, 2))
    one_ulp = float(support.ulp(torch.tensor(support.max_abs(oracle)), dtype))
    error_theirs = support.max_abs(TORCH_POOL[3](x, (1, 1, 2)).double() - oracle)
    error_ours = support.max_abs(OURS[3](x, (1, 1, 2)).double() - oracle)
    assert error_ours <= one_ulp
    assert error_theirs > 4 * one_ulp
    flat = x.reshape(2, 3, 16, 300)
    error_2d = support.max_abs(
        TORCH_POOL[2](flat, (1, 2)).double() - TORCH_POOL[2](flat.double(), (1, 2))
    )
    assert error_2d <= one_ulp
    support.count("known-difference")


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize("size", [np.int64(2), torch.tensor(2)], ids=["numpy_int", "tensor_int"])
def test_integer_like_output_size(spatial_dims, size):
    """torch is inconsistent here: F.adaptive_avg_pool2d/3d reject a bare numpy or 0-d
    tensor integer (their Python wrapper calls len() on anything not an int), while
    adaptive_avg_pool1d takes it and all three take such integers inside a tuple. adapool
    takes any integer (operator.index) everywhere, with torch's result. An intended,
    documented difference (README.md)."""
    x = _input((1, 2) + (5,) * spatial_dims)
    with pytest.raises(TypeError, match="len"):
        TORCH_POOL[spatial_dims](x, size)
    expected = TORCH_POOL[spatial_dims](x, (int(size),) * spatial_dims)
    assert torch.equal(TORCH_POOL[spatial_dims](x, (size,) * spatial_dims), expected)
    torch.testing.assert_close(OURS[spatial_dims](x, size), expected)
    torch.testing.assert_close(OURS[spatial_dims](x, (size,) * spatial_dims), expected)
    flat = x.flatten(2)
    expected_1d = TORCH_POOL[1](flat, size)
    assert expected_1d.shape[-1] == 2
    torch.testing.assert_close(OURS[1](flat, size), expected_1d)
    support.count("known-difference")


# ---------------------------------------------------------------------------
# Max pooling (counted apart: "max-known-difference").


@pytest.mark.parametrize("spatial_dims,shape,output_size", [
    (1, (1, 64), 0), (1, (2, 3, 9), 0), (2, (1, 64, 10, 9), 0), (2, (2, 3, 10, 9), (0, 4)),
    (3, (1, 64, 10, 9, 4), 0), (3, (2, 3, 4, 5, 6), (2, 0, 2)),
])
def test_max_backward_of_an_empty_output(spatial_dims, shape, output_size):
    """test_adaptive_pooling_empty_output_size, max pooling: torch's backward of an output
    with a zero-sized pooled dimension raises; adapool returns zeros of the input's
    shape, as for average pooling."""
    x = _input(shape).requires_grad_(True)
    with pytest.raises(RuntimeError, match="Expected grad_output to have non-zero size"):
        support.TORCH_MAX[spatial_dims](x, output_size).sum().backward()
    x.grad = None
    support.OURS_MAX[spatial_dims](x, output_size).sum().backward()
    assert x.grad.shape == x.shape and not bool(x.grad.any())
    support.count("max-known-difference")


@pytest.mark.parametrize("bad", [-1, "plane"], ids=["negative", "past_the_plane"])
@pytest.mark.parametrize("spatial_dims", [1, 2, 3])
def test_max_backward_indices_outside_the_plane(spatial_dims, bad):
    """torch's CPU max pooling backward adds each gradient wherever its index points, and
    does not check that the index lies in the input plane: an index past it writes out
    of bounds (a probe ended in "double free or corruption"), so torch is not called
    here. adapool accepts any index in the plane, as torch does (test_max_errors.py),
    and raises ValueError for one outside it, naming the index, its batch, channel and
    output cell."""
    shape = (2, 3) + (6,) * spatial_dims
    x = _input(shape)
    _, indices = support.TORCH_MAX[spatial_dims](x, 3, True)
    grad = _input(indices.shape, seed=1)
    plane = 6 ** spatial_dims
    value = plane if bad == "plane" else bad
    wrong = indices.clone()
    cell = (1, 2) + (2,) * spatial_dims
    wrong[cell] = value
    where = ", ".join(["2"] * spatial_dims)
    message = (f"indices value {value} at batch 1, channel 2, output cell \\({where}\\) is "
               f"outside the input plane of {plane} cells")
    with pytest.raises(ValueError, match=message):
        support.NUMPY_MAX_BACKWARD[spatial_dims](grad.numpy(), wrong.numpy(), x.numpy())
    with pytest.raises(ValueError, match=message):
        torch.ops.adapool.adaptive_max_pool_backward(
            grad, wrong, list(x.shape), list(x.stride()), spatial_dims, 1
        )
    support.count("max-known-difference")


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize("size", [np.int64(2), torch.tensor(2)], ids=["numpy_int", "tensor_int"])
def test_max_integer_like_output_size(spatial_dims, size):
    """As for average pooling (test_integer_like_output_size): F.adaptive_max_pool2d/3d
    reject a bare numpy or 0-d tensor integer (len() in their Python wrapper), the 1-d
    one and every tuple take it; adapool takes it everywhere, with torch's result."""
    x = _input((1, 2) + (5,) * spatial_dims)
    with pytest.raises(TypeError, match="len"):
        support.TORCH_MAX[spatial_dims](x, size)
    expected = support.TORCH_MAX[spatial_dims](x, (int(size),) * spatial_dims, True)
    for ours in (support.OURS_MAX[spatial_dims](x, size, True),
                 support.OURS_MAX[spatial_dims](x, (size,) * spatial_dims, True)):
        support.assert_identical(ours[0], expected[0], "values")
        support.assert_identical(ours[1], expected[1], "indices")
    flat = x.flatten(2)
    expected_1d = support.TORCH_MAX[1](flat, size, True)
    ours_1d = support.OURS_MAX[1](flat, size, True)
    support.assert_identical(ours_1d[0], expected_1d[0], "1-d values")
    support.assert_identical(ours_1d[1], expected_1d[1], "1-d indices")
    support.count("max-known-difference")
