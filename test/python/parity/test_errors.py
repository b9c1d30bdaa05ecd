"""Errors: what torch rejects adapool rejects, with a clear message, and what torch
accepts adapool accepts.

torch raises RuntimeError, ValueError, TypeError, NotImplementedError, IndexError or
AttributeError depending on the layer that notices; adapool raises ValueError (bad value or shape) or
TypeError (bad type), and its message must name the bad value. Includes torch's own
error_inputs_adaptive_avg_pool{1,2,3}d, rewritten.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import parity_support as support

# AttributeError: torch's Python wrappers call .size() on a non-tensor input.
TORCH_ERRORS = (RuntimeError, ValueError, TypeError, NotImplementedError, IndexError, AttributeError)


def t(*shape, dtype=torch.float32):
    return torch.ones(shape).to(dtype)


# (id, spatial_dims, input, output_size, adapool's exception, text its message must hold)
REJECTED = [
    # wrong rank
    ("1d-rank1", 1, t(4), 2, ValueError, "[4]"),
    ("1d-rank4", 1, t(2, 2, 4, 4), 2, ValueError, "[2, 2, 4, 4]"),
    ("1d-rank4-out1", 1, t(2, 2, 4, 4), 1, ValueError, "[2, 2, 4, 4]"),
    ("2d-rank0", 2, torch.tensor(1.0), 2, ValueError, "[]"),
    ("2d-rank1", 2, t(4), (2, 2), ValueError, "[4]"),
    ("2d-rank2", 2, t(2, 2), (2, 2), ValueError, "[2, 2]"),  # torch: error_inputs, ValueError
    ("2d-rank5", 2, t(2, 2, 3, 4, 4), 2, ValueError, "[2, 2, 3, 4, 4]"),
    ("3d-rank2", 3, t(3, 4), (2, 2, 2), ValueError, "[3, 4]"),
    ("3d-rank3", 3, t(2, 2, 2), (2, 2, 2), ValueError, "[2, 2, 2]"),  # torch: error_inputs
    ("3d-rank6", 3, t(1, 2, 4, 4, 4, 4), 2, ValueError, "[1, 2, 4, 4, 4, 4]"),
    # an empty pooled dimension (outputs other than all-ones: see test_known_differences.py)
    ("1d-empty-length", 1, t(2, 3, 0), 2, ValueError, "[2, 3, 0]"),
    ("1d-unbatched-empty-length", 1, t(3, 0), 2, ValueError, "[3, 0]"),
    ("2d-empty-height", 2, t(2, 3, 0, 10), 2, ValueError, "[2, 3, 0, 10]"),
    ("2d-empty-width", 2, t(2, 3, 10, 0), (2, 3), ValueError, "[2, 3, 10, 0]"),
    ("2d-unbatched-empty-width", 2, t(3, 10, 0), (2, 3), ValueError, "[3, 10, 0]"),
    ("3d-empty-depth", 3, t(1, 2, 0, 3, 3), 2, ValueError, "[1, 2, 0, 3, 3]"),
    ("3d-unbatched-empty-width", 3, t(2, 3, 3, 0), 2, ValueError, "[2, 3, 3, 0]"),
    # torch's 3-d kernel also rejects empty channels in a batch (1-d and 2-d accept them)
    ("3d-batched-empty-channels", 3, t(1, 0, 2, 3, 3), 2, ValueError, "[1, 0, 2, 3, 3]"),
    # output_size of the wrong length (error_inputs: "should contain one int", "must be 2/3")
    ("1d-out-empty", 1, t(1, 2, 3), (), ValueError, "()"),
    ("1d-out-two", 1, t(1, 2, 3), (2, 3), ValueError, "(2, 3)"),
    ("2d-out-empty", 2, t(1, 2, 3, 4), (), ValueError, "()"),
    ("2d-out-three", 2, t(1, 2, 3, 4), (1, 2, 3), ValueError, "(1, 2, 3)"),
    ("3d-out-empty", 3, t(1, 2, 3, 4, 5), (), ValueError, "()"),
    ("3d-out-two", 3, t(1, 2, 3, 4, 5), (3, 3), ValueError, "(3, 3)"),
    ("3d-out-four", 3, t(1, 2, 3, 4, 5), (1, 2, 3, 4), ValueError, "(1, 2, 3, 4)"),
    # negative output sizes (error_inputs: "must be greater than or equal to 0")
    ("1d-out-negative", 1, t(1, 1, 1), (-1,), ValueError, "-1"),
    ("1d-out-negative-int", 1, t(1, 2, 3), -1, ValueError, "-1"),
    ("2d-out-negative", 2, t(1, 1, 1, 1), (-1, 0), ValueError, "-1"),
    ("2d-out-negative-int", 2, t(1, 2, 3, 4), -1, ValueError, "-1"),
    ("2d-out-negative-second", 2, t(1, 2, 3, 4), (2, -3), ValueError, "-3"),
    ("3d-out-negative", 3, t(1, 1, 1, 1, 1), (-1, 0, 2), ValueError, "-1"),
    # output_size entries of the wrong type
    ("2d-out-float", 2, t(1, 2, 3, 4), 2.5, TypeError, "2.5"),
    ("2d-out-float-entry", 2, t(1, 2, 3, 4), (2.0, 3), TypeError, "2.0"),
    ("2d-out-str-entry", 2, t(1, 2, 3, 4), ("2", 3), TypeError, "'2'"),
    ("1d-out-float", 1, t(1, 2, 3), 2.0, TypeError, "2.0"),
    # unsupported dtypes (test_adaptive_pooling_no_suppot_input and more)
    ("2d-int32", 2, t(1, 2, 3, 4, dtype=torch.int32), 2, TypeError, "int32"),
    ("2d-int64", 2, t(1, 2, 3, 4, dtype=torch.int64), 2, TypeError, "int64"),
    ("2d-uint8", 2, t(1, 2, 3, 4, dtype=torch.uint8), 2, TypeError, "uint8"),
    ("2d-bool", 2, t(1, 2, 3, 4, dtype=torch.bool), 2, TypeError, "bool"),
    ("2d-complex64", 2, t(1, 2, 3, 4, dtype=torch.complex64), 2, TypeError, "complex64"),
    ("3d-complex128", 3, t(1, 2, 3, 4, 5, dtype=torch.complex128), 2, TypeError, "complex128"),
    ("1d-int16", 1, t(1, 2, 3, dtype=torch.int16), 2, TypeError, "int16"),
    ("2d-float8", 2, t(1, 2, 3, 4, dtype=torch.float8_e4m3fn), 2, TypeError, "float8_e4m3fn"),
    ("2d-int32-out1", 2, t(1, 2, 3, 4, dtype=torch.int32), 1, TypeError, "int32"),
    # not a tensor at all
    ("2d-list", 2, [[[1.0]]], 1, TypeError, "list"),
    ("2d-ndarray", 2, np.ones((1, 2, 3)), 1, TypeError, "ndarray"),
    ("2d-none", 2, None, 1, TypeError, "NoneType"),
    ("1d-float", 1, 1.5, 1, TypeError, "float"),
    # Found by this suite (settled: adapool follows torch, python/adapool/_shapes.py,
    # resolve_output_size; README.md): one entry for 2-d/3-d, a bare None, None in a
    # 1-d size, bools.
    ("2d-out-one-entry", 2, t(1, 2, 3, 4), (3,), ValueError, "(3,)"),
    ("3d-out-one-entry", 3, t(1, 2, 3, 4, 5), (3,), ValueError, "(3,)"),
    ("2d-out-none-alone", 2, t(1, 2, 3, 4), None, TypeError, "None"),
    ("3d-out-none-alone", 3, t(1, 2, 3, 4, 5), None, TypeError, "None"),
    ("1d-out-none-alone", 1, t(1, 2, 3), None, TypeError, "None"),
    ("1d-out-none-entry", 1, t(1, 2, 3), (None,), TypeError, "None"),
    ("2d-out-one-none-entry", 2, t(1, 2, 3, 4), (None,), ValueError, "(None,)"),
    ("2d-out-bool", 2, t(1, 2, 3, 4), True, TypeError, "True"),
    ("2d-out-bool-entry", 2, t(1, 2, 3, 4), (True, 2), TypeError, "True"),
    ("1d-out-bool", 1, t(1, 2, 3), True, TypeError, "True"),
]


def params(cases):
    return [pytest.param(*case[1:], id=case[0]) for case in cases]


@pytest.mark.parametrize("spatial_dims,x,output_size,error,text", params(REJECTED))
def test_rejected_by_both(spatial_dims, x, output_size, error, text):
    with pytest.raises(TORCH_ERRORS):
        support.TORCH_POOL[spatial_dims](x, output_size)
    with pytest.raises(error) as raised:
        support.OURS[spatial_dims](x, output_size)
    assert text in str(raised.value), f"adapool's message does not name {text}: {raised.value}"
    support.count("error")


NUMPY_REJECTED = [case for case in REJECTED
                  if isinstance(case[2], torch.Tensor)
                  and case[2].dtype in (torch.float32, torch.int32, torch.int64, torch.uint8,
                                        torch.bool, torch.complex64, torch.complex128,
                                        torch.int16)]


@pytest.mark.parametrize("spatial_dims,x,output_size,error,text", params(NUMPY_REJECTED))
def test_rejected_by_numpy_front_end(spatial_dims, x, output_size, error, text):
    """The same inputs as numpy arrays: the numpy API rejects them alike."""
    with pytest.raises(error) as raised:
        support.NUMPY_POOL[spatial_dims](x.numpy(), output_size)
    assert text.replace("torch.", "") in str(raised.value), str(raised.value)
    support.count("error")


def test_numpy_rejects_non_native_byte_order():
    with pytest.raises(TypeError, match=">f4"):
        support.NUMPY_POOL[2](np.ones((1, 2, 3, 3), dtype=">f4"), 2)
    support.count("error")


@pytest.mark.parametrize("grad_shape,input_shape,text", [
    ((2, 3, 2, 2), (2, 4, 5, 5), "channel"),
    ((3, 3, 2, 2), (2, 3, 5, 5), "batch"),
    ((3, 2, 2), (2, 3, 5, 5), "rank"),
])
def test_backward_shape_mismatch_is_rejected(grad_shape, input_shape, text):
    """A gradient whose batch or channel sizes differ from the input's must be rejected.
    torch 2.15's CPU _adaptive_avg_pool{2,3}d_backward do not check this (in probes a
    (2, 4, 2, 2) gradient for a (2, 3, 5, 5) input segfaulted, and a (2, 2, 2, 2, 2)
    one for (2, 3, 5, 5, 5) returned garbage read out of bounds), so the suite does not
    call them; adapool must raise."""
    grad = np.ones(grad_shape, dtype=np.float32)
    with pytest.raises(ValueError, match=text):
        support.NUMPY_BACKWARD[2](grad, input_shape)
    support.count("error")


# What torch accepts, adapool must accept (and compute alike): the corners.
ACCEPTED = [
    ("2d-out-list-with-none", 2, (1, 2, 3, 4), [2, None]),
    ("2d-out-torch-size", 2, (1, 2, 3, 4), torch.Size([2, 2])),
    ("2d-out-numpy-ints", 2, (1, 2, 3, 4), (np.int64(2), np.int64(3))),
    ("1d-out-numpy-int", 1, (1, 2, 3), np.int64(2)),
    ("1d-out-list", 1, (1, 2, 3), [2]),
    ("2d-zero-output", 2, (1, 2, 3, 3), (0, 3)),
    ("2d-zero-batch-zero-output", 2, (0, 2, 3, 3), 0),
    # Found by this suite (settled: adapool follows torch, src/plan/plan.cpp, make_plan):
    # torch accepts empty channels in 1-d and 2-d (its check covers the pooled dimensions
    # only) and a zero leading dimension of any unbatched input.
    ("1d-batched-empty-channels", 1, (1, 0, 3), 2),
    ("2d-batched-empty-channels", 2, (2, 0, 10, 10), (5, 5)),
    ("2d-batched-empty-channels-out1", 2, (2, 0, 10, 10), 1),
    ("1d-unbatched-empty-channels", 1, (0, 10), 5),
    ("2d-unbatched-empty-channels", 2, (0, 10, 10), (5, 5)),
    ("3d-unbatched-empty-channels", 3, (0, 10, 10, 10), (5, 5, 5)),
    # ... and sizes whose window arithmetic would overflow, when there is nothing to pool:
    # torch never computes a window, and adapool checks the window arithmetic only where
    # there is data (src/plan/plan.cpp, make_plan), although SEMANTICS.md calls overflow
    # an error torch raises.
    ("1d-empty-batch-huge", 1, (0, 1, 2**32), 2**32),
    ("2d-empty-batch-huge", 2, (0, 1, 2**32, 1), (2**32, 1)),
]


@pytest.mark.parametrize("spatial_dims,shape,output_size", params(ACCEPTED))
def test_accepted_by_both(spatial_dims, shape, output_size):
    x = torch.empty(shape) if 0 in shape else torch.randn(shape)
    theirs = support.TORCH_POOL[spatial_dims](x, output_size)
    ours = support.OURS[spatial_dims](x, output_size)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    torch.testing.assert_close(ours, theirs)
    support.count("error")
