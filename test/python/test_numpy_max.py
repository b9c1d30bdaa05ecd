"""The numpy front end of max pooling: values and indices against a plain reference
and torch, strided views (negative and zero strides too), result layouts, backward,
threads, errors."""

import itertools

import numpy as np
import pytest
import torch

import adapool

RNG = np.random.default_rng(0)

POOLS = {1: adapool.adaptive_max_pool1d, 2: adapool.adaptive_max_pool2d,
         3: adapool.adaptive_max_pool3d}
BACKWARDS = {1: adapool.adaptive_max_pool1d_backward, 2: adapool.adaptive_max_pool2d_backward,
             3: adapool.adaptive_max_pool3d_backward}
TORCH_POOLS = {1: torch.nn.functional.adaptive_max_pool1d,
               2: torch.nn.functional.adaptive_max_pool2d,
               3: torch.nn.functional.adaptive_max_pool3d}


def reference(x: np.ndarray, output_size, spatial_dims: int):
    """Max pooling written out: SEMANTICS.md's windows; in each, the last NaN if there is
    one, else the first maximum in row-major order; its flat index within the plane."""
    spatial_in = x.shape[x.ndim - spatial_dims:]
    if not isinstance(output_size, (tuple, list)):
        output_size = (output_size,) * spatial_dims
    spatial_out = [i if o is None else o for i, o in zip(spatial_in, output_size)]
    leading = x.shape[: x.ndim - spatial_dims]
    values = np.empty(leading + tuple(spatial_out), dtype=x.dtype)
    indices = np.empty(values.shape, dtype=np.int64)
    ranges = [[((o * i) // n, -((-(o + 1) * i) // n)) for o in range(n)]
              for i, n in zip(spatial_in, spatial_out)]
    for lead in itertools.product(*(range(n) for n in leading)):
        plane = x[lead]
        for cell in itertools.product(*(range(n) for n in spatial_out)):
            best, best_index = None, None
            window = [range(*ranges[d][o]) for d, o in enumerate(cell)]
            for position in itertools.product(*window):
                value = plane[position]
                flat = int(np.ravel_multi_index(position, spatial_in))
                if np.isnan(value) or best is None or (not np.isnan(best) and value > best):
                    best, best_index = value, flat
            values[lead + cell], indices[lead + cell] = best, best_index
    return values, indices


def views(base: np.ndarray, spatial_dims: int):
    """The same logical tensor as several strided views, read in place."""
    rank = base.ndim
    channel = rank - spatial_dims - 1
    yield "contiguous", base.copy()
    order = list(range(channel)) + list(range(channel + 1, rank)) + [channel]
    yield "channels_last", np.ascontiguousarray(base.transpose(order)).transpose(np.argsort(order))
    yield "fortran", np.asfortranarray(base)
    big = np.zeros([2 * s + 1 for s in base.shape], dtype=base.dtype)
    sliced = big[tuple(slice(1, None, 2) for _ in base.shape)]
    sliced[...] = base
    yield "sliced", sliced
    yield "flipped", base[..., ::-1].copy()[..., ::-1]  # negative last stride
    yield "flipped_all", base[(slice(None, None, -1),) * rank].copy()[
        (slice(None, None, -1),) * rank]  # negative strides everywhere


CASES = [
    (1, (2, 3, 10), 7),
    (1, (3, 5), 13),
    (2, (2, 3, 10, 9), (5, 7)),
    (2, (3, 15, 9), (7, None)),
    (2, (2, 2, 4, 3), (9, 8)),  # upsampling: overlapping windows of one or two cells
    (3, (2, 2, 6, 7, 8), (3, 4, 5)),
    (3, (2, 5, 4, 3), (None, 7, 2)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("spatial_dims,shape,output_size", CASES)
def test_forward_matches_the_reference_and_torch_on_every_view(dtype, spatial_dims, shape,
                                                               output_size):
    base = RNG.integers(-3, 4, shape).astype(dtype)  # many ties
    expected, expected_indices = reference(base, output_size, spatial_dims)
    theirs, theirs_indices = TORCH_POOLS[spatial_dims](torch.from_numpy(base), output_size, True)
    np.testing.assert_array_equal(expected, theirs.numpy())
    np.testing.assert_array_equal(expected_indices, theirs_indices.numpy())
    for name, x in views(base, spatial_dims):
        y, indices = POOLS[spatial_dims](x, output_size, True, threads=2)
        assert y.dtype == dtype and indices.dtype == np.int64, name
        np.testing.assert_array_equal(y, expected, err_msg=name)
        np.testing.assert_array_equal(indices, expected_indices, err_msg=name)
        np.testing.assert_array_equal(POOLS[spatial_dims](x, output_size), expected, err_msg=name)


@pytest.mark.parametrize("spatial_dims,shape,output_size", CASES)
def test_nan_and_infinite_windows_match_the_reference(spatial_dims, shape, output_size):
    """The last NaN of a window wins; an all -inf window reports its first cell."""
    base = RNG.standard_normal(shape)
    base[RNG.random(shape) < 0.3] = np.nan
    base[RNG.random(shape) < 0.2] = -np.inf
    base[RNG.random(shape) < 0.05] = np.inf
    expected, expected_indices = reference(base, output_size, spatial_dims)
    theirs, theirs_indices = TORCH_POOLS[spatial_dims](torch.from_numpy(base), output_size, True)
    np.testing.assert_array_equal(theirs_indices.numpy(), expected_indices)
    y, indices = POOLS[spatial_dims](base, output_size, True)
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(indices, expected_indices)
    minus_inf = np.full(shape, -np.inf)
    _, indices = POOLS[spatial_dims](minus_inf, output_size, True)
    np.testing.assert_array_equal(indices, reference(minus_inf, output_size, spatial_dims)[1])


def test_zero_strides_are_ties():
    """A broadcast (stride 0) view: every cell along a broadcast pooled axis is a tie, so
    the first of each window wins."""
    row = RNG.standard_normal((2, 3, 1, 9)).astype(np.float32)
    x = np.broadcast_to(row, (2, 3, 10, 9))
    assert x.strides[2] == 0
    y, indices = adapool.adaptive_max_pool2d(x, (4, 3), True)
    expected, expected_indices = reference(np.ascontiguousarray(x), (4, 3), 2)
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(indices, expected_indices)
    begins = [w.begin for w in adapool.windows(10, 4)]
    np.testing.assert_array_equal(indices // 9, np.broadcast_to(
        np.array(begins)[:, None], indices.shape))


def test_result_layout_follows_the_input():
    x = np.ascontiguousarray(RNG.standard_normal((2, 9, 9, 3)).astype(np.float32))
    channels_last = x.transpose(0, 3, 1, 2)  # (N, C, H, W) view of NHWC memory
    y, indices = adapool.adaptive_max_pool2d(channels_last, 4, return_indices=True)
    assert y.shape == indices.shape == (2, 3, 4, 4)
    assert y.strides == (4 * 4 * 3 * 4, 4, 4 * 3 * 4, 3 * 4)  # NHWC
    assert indices.strides == tuple(2 * s for s in y.strides)
    assert adapool.adaptive_max_pool2d(np.ascontiguousarray(channels_last), 4).flags.c_contiguous
    dy = np.ones(y.shape, np.float32)
    assert adapool.adaptive_max_pool2d_backward(dy, indices, channels_last).strides == \
        channels_last.strides
    assert adapool.adaptive_max_pool2d_backward(dy, indices, channels_last.shape).flags.c_contiguous


def test_no_copy_of_the_input():
    x = RNG.standard_normal((1, 2, 8, 8))
    view = x.transpose(0, 1, 3, 2)
    view.flags.writeable = False
    y, indices = adapool.adaptive_max_pool2d(view, 3, True)
    expected, expected_indices = reference(view, 3, 2)
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(indices, expected_indices)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("spatial_dims,shape,output_size", [
    (1, (2, 3, 10), 7), (2, (2, 3, 10, 10), (5, 7)), (3, (2, 4, 5, 6), (3, 4, 7)),
    (2, (2, 3, 3, 2), (70, 80)),  # heavy overlap: many gradients added into each cell
])
def test_backward_is_torch_bit_for_bit(dtype, spatial_dims, shape, output_size):
    """Each gradient is added at its index in output order, in the dtype itself (float16
    too), as torch does: the same bits, from a shape or an array, whatever the threads."""
    base = torch.from_numpy(RNG.integers(-3, 4, shape).astype(dtype)).requires_grad_(True)
    values, indices = TORCH_POOLS[spatial_dims](base, output_size, True)
    dy = torch.from_numpy(RNG.standard_normal(values.shape).astype(dtype))
    values.backward(dy)
    expected = base.grad.numpy()
    for threads in (1, 2, 3):
        from_shape = BACKWARDS[spatial_dims](dy.numpy(), indices.numpy(), shape, threads=threads)
        assert from_shape.tobytes() == expected.tobytes()
    from_array = BACKWARDS[spatial_dims](dy.numpy(), indices.numpy(), base.detach().numpy())
    assert from_array.tobytes() == expected.tobytes()
    # Strided gradient and indices are read in place.
    flipped_dy = dy.numpy()[..., ::-1].copy()[..., ::-1]
    strided_indices = np.asfortranarray(indices.numpy())
    strided = BACKWARDS[spatial_dims](flipped_dy, strided_indices, shape)
    assert strided.tobytes() == expected.tobytes()


def test_threads_do_not_change_bits_and_the_gil_is_released():
    import threading

    x = RNG.integers(0, 5, (4, 32, 65, 65)).astype(np.float32)
    reference_values, reference_indices = adapool.adaptive_max_pool2d(x, 6, True, threads=1)
    results = {}

    def work(index):
        results[index] = adapool.adaptive_max_pool2d(x, 6, True, threads=1 + index % 3)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for values, indices in results.values():
        assert values.tobytes() == reference_values.tobytes()
        assert indices.tobytes() == reference_indices.tobytes()


def test_empty_shapes():
    """torch's rules: an empty batch, an unbatched input with no channels and an empty
    output are fine (zero gradients); a batch with no channels is not."""
    assert adapool.adaptive_max_pool2d(np.zeros((0, 3, 4, 4)), 2).shape == (0, 3, 2, 2)
    values, indices = adapool.adaptive_max_pool2d(np.zeros((0, 4, 4)), 2, True)
    assert values.shape == indices.shape == (0, 2, 2)
    values, indices = adapool.adaptive_max_pool2d(np.ones((1, 2, 3, 3)), (0, 3), True)
    assert values.shape == (1, 2, 0, 3)
    gradient = adapool.adaptive_max_pool2d_backward(values, indices, (1, 2, 3, 3))
    assert gradient.shape == (1, 2, 3, 3) and not gradient.any()
    with pytest.raises(ValueError, match="dimension 1 has size 0"):
        adapool.adaptive_max_pool2d(np.zeros((2, 0, 4, 4)), 2)


def _pooled():
    x = RNG.standard_normal((2, 3, 6, 6)).astype(np.float32)
    values, indices = adapool.adaptive_max_pool2d(x, 3, True)
    return x, np.ones_like(values), indices


@pytest.mark.parametrize("call,error,message", [
    (lambda: adapool.adaptive_max_pool2d(np.zeros((3, 4), np.float32), 2), ValueError,
     r"\[3, 4\]"),
    (lambda: adapool.adaptive_max_pool1d(np.zeros((1, 0, 4), np.float32), 2), ValueError,
     "dimension 1 has size 0"),
    (lambda: adapool.adaptive_max_pool3d(np.zeros((1, 3, 4, 4, 4), np.float32), (1, 2)),
     ValueError, "2 entries"),
    (lambda: adapool.adaptive_max_pool2d(np.zeros((1, 3, 4, 4), np.float32), (2, -5)),
     ValueError, "-5"),
    (lambda: adapool.adaptive_max_pool2d(np.zeros((1, 3, 4, 4), np.int32), 2), TypeError,
     "int32"),
    (lambda: adapool.adaptive_max_pool2d(np.zeros((1, 3, 4, 4), ">f4"), 2), TypeError, ">f4"),
    (lambda: adapool.adaptive_max_pool2d("not an array", 2), TypeError, "str"),
    (lambda: adapool.adaptive_max_pool2d(np.zeros((1, 3, 4, 4), np.float32), 2, threads=-1),
     ValueError, "threads = -1"),
    # backward: indices of another dtype, shape or byte order; outside the input plane
    (lambda: adapool.adaptive_max_pool2d_backward(_pooled()[1], _pooled()[2].astype(np.int32),
                                                  (2, 3, 6, 6)), TypeError, "int32"),
    (lambda: adapool.adaptive_max_pool2d_backward(_pooled()[1], _pooled()[2].astype(">i8"),
                                                  (2, 3, 6, 6)), TypeError, ">i8"),
    (lambda: adapool.adaptive_max_pool2d_backward(_pooled()[1], _pooled()[2][:, :2],
                                                  (2, 3, 6, 6)), ValueError, "indices shape"),
    (lambda: adapool.adaptive_max_pool2d_backward(_pooled()[1], _pooled()[2] + 36,
                                                  (2, 3, 6, 6)), ValueError, "input plane"),
    (lambda: adapool.adaptive_max_pool2d_backward(_pooled()[1], _pooled()[2], (2, 4, 6, 6)),
     ValueError, "channel"),
    (lambda: adapool.adaptive_max_pool2d_backward(_pooled()[1], "indices", (2, 3, 6, 6)),
     TypeError, "str"),
])
def test_errors_name_the_bad_value(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_backward_takes_any_index_in_the_plane_and_rejects_the_rest():
    """As torch: an index outside its cell's window but inside the plane gets its
    gradient added there. One outside the plane among valid ones: ValueError naming it
    and where it is (torch would write out of bounds)."""
    x, dy, indices = _pooled()
    elsewhere = indices.copy()
    elsewhere[1, 2, 2, 2] = 0  # cell (2, 2)'s window is [4, 6) x [4, 6)
    expected = torch.ops.aten.adaptive_max_pool2d_backward(
        torch.from_numpy(dy), torch.from_numpy(x), torch.from_numpy(elsewhere))
    result = adapool.adaptive_max_pool2d_backward(dy, elsewhere, x)
    assert result.tobytes() == expected.numpy().tobytes()
    assert result[1, 2, 0, 0] >= 1
    for bad in (36, -1):
        outside = indices.copy()
        outside[1, 2, 2, 1] = bad
        with pytest.raises(ValueError, match=f"indices value {bad} at batch 1, channel 2, "
                                             r"output cell \(2, 1\) is outside the input plane"):
            adapool.adaptive_max_pool2d_backward(dy, outside, x)
