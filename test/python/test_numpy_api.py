"""The numpy front end: strided views, layouts, dtypes, backward, errors, threads."""

import threading

import numpy as np
import pytest
import torch

import adapool

RNG = np.random.default_rng(0)


def torch_pool(x: np.ndarray, output_size, spatial_dims: int) -> np.ndarray:
    pool = [None, torch.nn.functional.adaptive_avg_pool1d,
            torch.nn.functional.adaptive_avg_pool2d, torch.nn.functional.adaptive_avg_pool3d]
    # The oracle in float64 from the same (rounded) inputs.
    return pool[spatial_dims](torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64)),
                              output_size).numpy()


POOLS = {1: adapool.adaptive_avg_pool1d, 2: adapool.adaptive_avg_pool2d,
         3: adapool.adaptive_avg_pool3d}
BACKWARDS = {1: adapool.adaptive_avg_pool1d_backward, 2: adapool.adaptive_avg_pool2d_backward,
             3: adapool.adaptive_avg_pool3d_backward}
TOLERANCE = {np.float64: 1e-14, np.float32: 2e-7, np.float16: 1e-3}


def views(base: np.ndarray, spatial_dims: int):
    """The same logical tensor as several strided views."""
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
    flipped = base[..., ::-1].copy()[..., ::-1]  # negative last stride
    yield "flipped", flipped
    expanded_shape = list(base.shape)
    yield "expanded", np.broadcast_to(base.take([0], axis=channel), expanded_shape)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("spatial_dims,shape,output_size", [
    (1, (2, 3, 10), 7),
    (1, (3, 5), 13),
    (2, (2, 3, 10, 10), (5, 7)),
    (2, (3, 15, 9), (7, None)),
    (3, (2, 2, 6, 7, 8), (3, 4, 5)),
    (3, (2, 5, 4, 3), (None, 7, 2)),
])
def test_forward_matches_torch_on_every_view(dtype, spatial_dims, shape, output_size):
    base = RNG.standard_normal(shape).astype(dtype)
    for name, x in views(base, spatial_dims):
        y = POOLS[spatial_dims](x, output_size, threads=2)
        expected = torch_pool(x, output_size, spatial_dims)
        assert y.dtype == dtype, name
        assert y.shape == expected.shape, name
        np.testing.assert_allclose(y, expected, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype],
                                   err_msg=name)


def test_result_layout_follows_the_input():
    x = np.ascontiguousarray(RNG.standard_normal((2, 9, 9, 3)).astype(np.float32))
    channels_last = x.transpose(0, 3, 1, 2)  # (N, C, H, W) view of NHWC memory
    y = adapool.adaptive_avg_pool2d(channels_last, 4)
    assert y.shape == (2, 3, 4, 4)
    assert y.strides == (4 * 4 * 3 * 4, 4, 4 * 3 * 4, 3 * 4)  # NHWC
    assert adapool.adaptive_avg_pool2d(np.ascontiguousarray(channels_last), 4).flags.c_contiguous
    dx = adapool.adaptive_avg_pool2d_backward(y, channels_last)
    assert dx.strides == channels_last.strides


def test_no_copy_of_the_input():
    # A read-only view is read in place: nothing writes to it, nothing copies it.
    x = RNG.standard_normal((1, 2, 8, 8))
    view = x.transpose(0, 1, 3, 2)
    view.flags.writeable = False
    np.testing.assert_allclose(adapool.adaptive_avg_pool2d(view, 2),
                               torch_pool(view, 2, 2), rtol=1e-14)


@pytest.mark.parametrize("spatial_dims,shape,output_size", [
    (1, (2, 3, 10), 7), (2, (2, 3, 10, 10), (5, 7)), (3, (2, 4, 5, 6), (3, 4, 7)),
])
def test_backward_matches_torch_autograd(spatial_dims, shape, output_size):
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    pool = [None, torch.nn.functional.adaptive_avg_pool1d,
            torch.nn.functional.adaptive_avg_pool2d, torch.nn.functional.adaptive_avg_pool3d]
    y = pool[spatial_dims](x, output_size)
    dy = torch.randn_like(y)
    y.backward(dy)
    from_shape = BACKWARDS[spatial_dims](dy.numpy(), shape)
    from_array = BACKWARDS[spatial_dims](dy.numpy(), x.detach().numpy(), threads=3)
    np.testing.assert_allclose(from_shape, x.grad.numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(from_shape, from_array)


def test_round_trip_identity_and_global_mean():
    x = RNG.standard_normal((2, 3, 7, 5))
    np.testing.assert_array_equal(adapool.adaptive_avg_pool2d(x, (None, None)), x)
    np.testing.assert_allclose(adapool.adaptive_avg_pool2d(x, 1)[..., 0, 0],
                               x.mean(axis=(2, 3)), rtol=1e-14)


def test_threads_do_not_change_bits_and_the_gil_is_released():
    x = RNG.standard_normal((4, 64, 65, 65)).astype(np.float32)
    reference = adapool.adaptive_avg_pool2d(x, 6, threads=1)
    results = {}

    def work(index):
        results[index] = adapool.adaptive_avg_pool2d(x, 6, threads=1 + index % 3)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for result in results.values():
        assert result.tobytes() == reference.tobytes()


def test_windows_and_fixed_pool_equivalent():
    assert [w.begin for w in adapool.windows(10, 7)] == [0, 1, 2, 4, 5, 7, 8]
    assert [w.count for w in adapool.windows(10, 7)] == [2, 2, 3, 2, 3, 2, 2]
    assert adapool.windows(5, 0) == []
    assert adapool.fixed_pool_equivalent(15, 7) == adapool.FixedPool(kernel=3, stride=2)
    assert adapool.fixed_pool_equivalent(10, 7) is None
    with pytest.raises(ValueError, match="-3"):
        adapool.windows(-3, 2)


@pytest.mark.parametrize("call,error,message", [
    (lambda: adapool.adaptive_avg_pool2d(np.zeros((3, 4), np.float32), 2), ValueError, r"\[3, 4\]"),
    (lambda: adapool.adaptive_avg_pool2d(np.zeros((1, 3, 0, 4), np.float32), 2), ValueError,
     "dimension 2 has size 0"),
    (lambda: adapool.adaptive_avg_pool2d(np.zeros((1, 3, 4, 4), np.float32), (1, 2, 3)),
     ValueError, "3 entries"),
    (lambda: adapool.adaptive_avg_pool2d(np.zeros((1, 3, 4, 4), np.float32), (2, -5)),
     ValueError, "-5"),
    (lambda: adapool.adaptive_avg_pool2d(np.zeros((1, 3, 4, 4), np.int32), 2), TypeError, "int32"),
    (lambda: adapool.adaptive_avg_pool2d(np.zeros((1, 3, 4, 4), np.complex64), 2), TypeError,
     "complex64"),
    (lambda: adapool.adaptive_avg_pool2d(np.zeros((1, 3, 4, 4), ">f4"), 2), TypeError, ">f4"),
    (lambda: adapool.adaptive_avg_pool2d(np.zeros((1, 3, 4, 4), np.float32), 2.5), TypeError,
     "2.5"),
    (lambda: adapool.adaptive_avg_pool2d("not an array", 2), TypeError, "str"),
    (lambda: adapool.adaptive_avg_pool2d(np.zeros((1, 3, 4, 4), np.float32), 2, threads=-1),
     ValueError, "threads = -1"),
    (lambda: adapool.adaptive_avg_pool2d_backward(np.zeros((2, 3, 2, 2), np.float32),
                                                  (1, 3, 4, 4)), ValueError, "batch"),
])
def test_errors_name_the_bad_value(call, error, message):
    with pytest.raises(error, match=message):
        call()
