"""Max pooling errors: what torch rejects adapool rejects, with a message naming the bad
value, and what torch accepts adapool accepts. Includes torch's own
error_inputs_adaptive_max_pool{1,2,3}d, rewritten.

Max pooling checks more than average pooling: torch's max kernels require every
dimension but the first to be non-empty, so a batch with no channels is an error in
1-d and 2-d too (average pooling accepts it), while an empty batch and an unbatched
input with no channels are fine.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import parity_support as support
from test_errors import REJECTED, TORCH_ERRORS, params, t

# Average pooling's rejected cases hold for max pooling as well: torch's max and
# average functions share the rank, output size and dtype checks.
SHARED = REJECTED

# Max pooling only (id, spatial_dims, input, output_size, adapool's exception, text).
MAX_ONLY = [
    # an empty channel dimension in a batch (test_AdaptiveMaxPool_zero_batch_dim)
    ("1d-batched-empty-channels", 1, t(1, 0, 50), 3, ValueError, "[1, 0, 50]"),
    ("2d-batched-empty-channels", 2, t(1, 0, 50, 32), 3, ValueError, "[1, 0, 50, 32]"),
    ("3d-batched-empty-channels", 3, t(1, 0, 50, 44, 31), 3, ValueError, "[1, 0, 50, 44, 31]"),
    ("2d-batched-empty-channels-out1", 2, t(2, 0, 10, 10), 1, ValueError, "[2, 0, 10, 10]"),
    # no mean() shortcut for max: an all-ones output of an empty pooled dimension is an
    # error in torch too, as are other ranks
    ("1d-empty-length-out1", 1, t(2, 3, 0), 1, ValueError, "[2, 3, 0]"),
    ("2d-empty-height-out1", 2, t(2, 3, 0, 10), 1, ValueError, "[2, 3, 0, 10]"),
    ("3d-empty-width-out1", 3, t(2, 3, 3, 0), (1, 1, 1), ValueError, "[2, 3, 3, 0]"),
    ("2d-rank5-out1", 2, t(2, 2, 3, 4, 4), (1, 1), ValueError, "[2, 2, 3, 4, 4]"),
    ("2d-rank2-out1", 2, t(3, 4), 1, ValueError, "[3, 4]"),
    ("2d-complex64-out1", 2, t(1, 2, 3, 4, dtype=torch.complex64), 1, TypeError, "complex64"),
]


@pytest.mark.parametrize("spatial_dims,x,output_size,error,text", params(SHARED + MAX_ONLY))
def test_rejected_by_both(spatial_dims, x, output_size, error, text):
    with pytest.raises(TORCH_ERRORS):
        support.TORCH_MAX[spatial_dims](x, output_size)
    for return_indices in (False, True):
        with pytest.raises(error) as raised:
            support.OURS_MAX[spatial_dims](x, output_size, return_indices)
        assert text in str(raised.value), f"adapool's message does not name {text}: {raised.value}"
    support.count("max-error")


NUMPY_REJECTED = [case for case in SHARED + MAX_ONLY
                  if isinstance(case[2], torch.Tensor)
                  and case[2].dtype in (torch.float32, torch.int32, torch.int64, torch.uint8,
                                        torch.bool, torch.complex64, torch.complex128,
                                        torch.int16)]


@pytest.mark.parametrize("spatial_dims,x,output_size,error,text", params(NUMPY_REJECTED))
def test_rejected_by_numpy_front_end(spatial_dims, x, output_size, error, text):
    """The same inputs as numpy arrays: the numpy API rejects them alike."""
    with pytest.raises(error) as raised:
        support.NUMPY_MAX[spatial_dims](x.numpy(), output_size, True)
    assert text.replace("torch.", "") in str(raised.value), str(raised.value)
    support.count("max-error")


def _pooled(shape=(2, 3, 6, 6), output_size=3):
    x = torch.randn(shape)
    values, indices = support.TORCH_MAX[2](x, output_size, True)
    return x, torch.randn_like(values), indices


def test_backward_indices_of_the_wrong_dtype():
    """torch: 'expected scalar type Long but found Int'; adapool: TypeError naming it."""
    x, grad, indices = _pooled()
    with pytest.raises(RuntimeError, match="Long"):
        torch.ops.aten.adaptive_max_pool2d_backward(grad, x, indices.int())
    with pytest.raises(TypeError, match="int32"):
        support.NUMPY_MAX_BACKWARD[2](grad.numpy(), indices.int().numpy(), x.numpy())
    with pytest.raises(TypeError, match="torch.int32"):
        torch.ops.adapool.adaptive_max_pool_backward(
            grad, indices.int(), list(x.shape), list(x.stride()), 2, 1
        )
    with pytest.raises(TypeError, match="float64"):
        support.NUMPY_MAX_BACKWARD[2](grad.numpy(), indices.double().numpy(), x.numpy())
    support.count("max-error")


@pytest.mark.parametrize("what", ["indices", "grad_output"])
def test_backward_indices_and_gradient_of_different_shapes(what):
    """torch: 'expected sizes [...] for `grad_output`'; adapool: ValueError."""
    x, grad, indices = _pooled()
    if what == "indices":
        indices = indices[:, :2]
    else:
        grad = grad[:, :2]
    with pytest.raises(RuntimeError, match="expected sizes"):
        torch.ops.aten.adaptive_max_pool2d_backward(grad, x, indices)
    with pytest.raises(ValueError):
        support.NUMPY_MAX_BACKWARD[2](grad.numpy(), indices.numpy(), x.numpy())
    support.count("max-error")


@pytest.mark.parametrize("grad_shape,input_shape", [
    ((2, 3, 2, 2), (2, 4, 5, 5)),
    ((3, 3, 2, 2), (2, 3, 5, 5)),
    ((3, 2, 2), (2, 3, 5, 5)),
])
def test_backward_shape_mismatch_is_rejected(grad_shape, input_shape):
    """A gradient (and indices) whose batch, channel or rank differ from the input's.
    adapool must raise; torch is not called (its average pooling backward read out of
    bounds on such calls, test_errors.py)."""
    grad = np.ones(grad_shape, dtype=np.float32)
    indices = np.zeros(grad_shape, dtype=np.int64)
    with pytest.raises(ValueError):
        support.NUMPY_MAX_BACKWARD[2](grad, indices, input_shape)
    support.count("max-error")


def test_backward_indices_outside_the_plane_are_rejected():
    """Indices past the pooled plane, or negative: adapool raises ValueError naming the
    index. torch is not called: its CPU backward writes out of bounds there ('double
    free or corruption'; test_known_differences.py)."""
    x, grad, indices = _pooled()
    for bad in (36, 1000, -1):
        wrong = indices.clone()
        wrong[1, 2, 2, 1] = bad
        with pytest.raises(ValueError, match=str(bad)):
            support.NUMPY_MAX_BACKWARD[2](grad.numpy(), wrong.numpy(), x.numpy())
        with pytest.raises(ValueError, match=str(bad)):
            torch.ops.adapool.adaptive_max_pool_backward(
                grad, wrong, list(x.shape), list(x.stride()), 2, 1
            )
    support.count("max-error")


@pytest.mark.parametrize("dtype", support.DTYPES, ids=str)
@pytest.mark.parametrize("spatial_dims", [1, 2, 3])
def test_backward_indices_anywhere_in_the_plane_are_accepted(spatial_dims, dtype):
    """torch's backward adds each gradient wherever its index points in the plane, in or
    out of the output cell's window, and so does adapool, bit for bit: here some
    indices moved to other windows' cells, several onto the same cell."""
    shape = (2, 3) + (5,) * spatial_dims
    x = support.make_input(shape, dtype, support.plain_layout(len(shape)), 0)
    _, indices = support.TORCH_MAX[spatial_dims](x, 4, True)
    grad = support.make_input(indices.shape, dtype, support.plain_layout(len(shape)), 1)
    plane = 5 ** spatial_dims
    moved = indices.clone().flatten(2)
    moved[:, :, ::3] = (moved[:, :, ::3] * 7 + 3) % plane
    moved[0, 1, :] = plane - 1  # the whole plane's gradient onto its last cell
    moved = moved.view(indices.shape)
    # torch's 1-d pooling is its 2-d pooling of (N, C, 1, L).
    if spatial_dims == 3:
        theirs = torch.ops.aten.adaptive_max_pool3d_backward(grad, x, moved)
    else:
        lift = (lambda t: t.unsqueeze(-2)) if spatial_dims == 1 else (lambda t: t)
        theirs = torch.ops.aten.adaptive_max_pool2d_backward(lift(grad), lift(x), lift(moved))
        theirs = theirs.view(shape)
    ours = torch.ops.adapool.adaptive_max_pool_backward(
        grad, moved, list(x.shape), list(x.stride()), spatial_dims, 2
    )
    support.assert_identical(ours, theirs, "in-plane indices")
    if dtype in support.NUMPY_DTYPES:
        via_numpy = support.NUMPY_MAX_BACKWARD[spatial_dims](
            grad.numpy(), moved.numpy(), x.numpy(), threads=3
        )
        support.assert_identical(torch.from_numpy(via_numpy), theirs, "numpy in-plane indices")
    support.count("max-error")


# What torch accepts, adapool must accept (and compute alike).
ACCEPTED = [
    ("2d-out-list-with-none", 2, (1, 2, 3, 4), [2, None]),
    ("2d-out-torch-size", 2, (1, 2, 3, 4), torch.Size([2, 2])),
    ("2d-out-numpy-ints", 2, (1, 2, 3, 4), (np.int64(2), np.int64(3))),
    ("1d-out-numpy-int", 1, (1, 2, 3), np.int64(2)),
    ("1d-out-list", 1, (1, 2, 3), [2]),
    ("2d-zero-output", 2, (1, 2, 3, 3), (0, 3)),
    ("3d-zero-output", 3, (1, 2, 3, 3, 3), (2, 0, 3)),
    ("2d-zero-batch-zero-output", 2, (0, 2, 3, 3), 0),
    ("1d-zero-batch", 1, (0, 16, 50), 3),
    ("3d-zero-batch", 3, (0, 2, 3, 3, 3), 2),
    ("1d-unbatched-empty-channels", 1, (0, 10), 5),
    ("2d-unbatched-empty-channels", 2, (0, 10, 10), (5, 5)),
    ("3d-unbatched-empty-channels", 3, (0, 10, 10, 10), (5, 5, 5)),
    ("1d-empty-batch-huge", 1, (0, 1, 2**32), 2**32),
    ("2d-empty-batch-huge", 2, (0, 1, 2**32, 1), (2**32, 1)),
]


@pytest.mark.parametrize("spatial_dims,shape,output_size", params(ACCEPTED))
def test_accepted_by_both(spatial_dims, shape, output_size):
    x = torch.empty(shape) if 0 in shape else torch.randn(shape)
    theirs, theirs_indices = support.TORCH_MAX[spatial_dims](x, output_size, True)
    ours, ours_indices = support.OURS_MAX[spatial_dims](x, output_size, True)
    support.assert_identical(ours, theirs, str(shape))
    support.assert_identical(ours_indices, theirs_indices, str(shape))
    support.count("max-error")
