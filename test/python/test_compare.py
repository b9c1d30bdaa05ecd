"""adapool.compare / conventions / scan_conventions: other systems' windows.

The reference windows are checked against torch itself, and the float32
conventions against numpy's float32 arithmetic written from each system's
formula (docs/CONVENTIONS.md), independently of the C++ code.
"""

import numpy as np
import pytest
import torch

import adapool
from adapool.compare import Difference

FLOAT32 = ("float32_bounds", "float32_end", "float32_two_sizes")


def exact_windows(in_size, out_size):
    return [(o * in_size // out_size, -((-(o + 1) * in_size) // out_size)) for o in range(out_size)]


def float32_windows(name, in_size, out_size):
    """MXNet/Paddle, OpenVINO and Keras (JAX) formulas in numpy float32."""
    o = np.arange(out_size, dtype=np.int64)
    denominator = np.float32(out_size)
    begin_float = np.floor((o * in_size).astype(np.float32) / denominator).astype(np.int64)
    end = np.ceil(((o + 1) * in_size).astype(np.float32) / denominator).astype(np.int64)
    if name == "float32_end":
        return list(zip((o * in_size) // out_size, end))
    if name == "float32_bounds":
        return list(zip(begin_float, end))
    small = -(-in_size // out_size)
    size = np.where(end - begin_float == small + 1, small + 1, small)
    return list(zip(begin_float, begin_float + size))


def test_conventions_are_listed_pytorch_first():
    listed = adapool.conventions()
    names = [convention.name for convention in listed]
    assert names[0] == "pytorch"
    assert len(names) == len(set(names)) == 9
    assert set(FLOAT32) <= set(names)
    assert all(convention.computes and convention.used_by for convention in listed)
    assert "Equinox" in listed[names.index("partition")].used_by


def test_ten_to_seven():
    result = adapool.compare(10, 7)
    assert result.input == (10,) and result.output == (7,)
    assert [c.name for c in result.conventions] == [c.name for c in adapool.conventions()]
    reference = result["pytorch"]
    assert reference.agrees is True
    assert [tuple(w) for w in reference.axes[0].windows] == exact_windows(10, 7)

    derived = result["derived_kernel"]
    assert derived.agrees is False
    axis = derived.axes[0]
    assert (axis.name, axis.kernel, axis.stride, axis.status) == ("length", 4, 1, "usable")
    assert [tuple(w) for w in axis.windows] == [(o, o + 4) for o in range(7)]
    assert axis.differing_outputs == list(range(7)) and derived.differing_cells == 7

    partition = result["partition"]
    assert [tuple(w) for w in partition.axes[0].windows] == [
        (0, 2), (2, 4), (4, 6), (6, 7), (7, 8), (8, 9), (9, 10)]
    assert partition.axes[0].differing_outputs == [1, 2, 3, 4, 5, 6]
    assert partition.axes[0].windows[0].count == 2

    equal = result["equal_kernel_stride"]
    assert equal.agrees is None
    assert equal.undefined == "kernel = stride = 1 gives 10 outputs, not 7"
    assert equal.axes[0].status == "other_count" and equal.axes[0].outputs == 10
    assert equal.random is None and equal.image is None

    refused = result["multiple_only"]
    assert refused.agrees is None and refused.axes[0].status == "refuses"
    assert refused.axes[0].windows == []
    assert refused.undefined == "refused: 7 does not divide 10"

    for name in FLOAT32:
        assert result[name].agrees is True
        assert result[name].random == Difference(0.0, 0.0)

    with pytest.raises(KeyError, match="no convention named 'mxnet'"):
        result["mxnet"]


@pytest.mark.parametrize("in_size,out_size", [(10, 7), (5, 13), (65, 6), (224, 7), (1, 4)])
def test_reference_windows_are_torchs(in_size, out_size):
    windows = adapool.compare(in_size, out_size)["pytorch"].axes[0].windows
    x = np.random.default_rng(3).random(in_size)
    ours = np.array([x[w.begin:w.end].mean() for w in windows])
    theirs = torch.nn.functional.adaptive_avg_pool1d(
        torch.from_numpy(x)[None, None], out_size)[0, 0].numpy()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-15)


def test_values_follow_from_the_windows():
    result = adapool.compare((10, 10), (5, 7))
    assert [axis.name for axis in result["partition"].axes] == ["height", "width"]
    # Equinox: the height agrees, 6 of 7 widths differ.
    assert (result["partition"].differing_cells, result["partition"].cells) == (30, 35)
    assert result["derived_kernel"].differing_cells == 35
    for convention in result.conventions:
        if convention.agrees is None:
            assert convention.random is None
            continue
        for difference in (convention.random, convention.image):
            assert 0 <= difference.mean_abs <= difference.max_abs
        assert convention.random.max_abs < 1 and convention.image.max_abs <= 255
        assert (convention.random.max_abs == 0) == convention.agrees


@pytest.mark.parametrize("in_size,out_size", [(4097, 4098), (8193, 8192), (100000, 99999),
                                              (12345, 6789)])
@pytest.mark.parametrize("name", FLOAT32)
def test_float32_conventions_match_numpy_float32(name, in_size, out_size):
    axis = adapool.compare(in_size, out_size)[name].axes[0]
    expected = exact_windows(in_size, out_size)
    drifted = float32_windows(name, in_size, out_size)
    differing = [o for o in range(out_size) if tuple(drifted[o]) != expected[o]]
    assert axis.differing_count == len(differing)
    assert axis.differing_outputs == differing[:32]


def test_first_drift_is_the_last_cell_of_4097_to_4098():
    result = adapool.compare(4097, 4098)
    for name in FLOAT32:
        assert result[name].axes[0].differing_outputs == [4096]
        assert result[name].differing_cells == 1
        assert result[name].random.max_abs > 0
    assert result["pytorch"].axes[0].windows is None  # more than 1024 windows are left out


def test_unmeasurable_windows_are_reported():
    result = adapool.compare(4047, 91005)
    assert result["float32_bounds"].agrees is False
    assert result["float32_bounds"].random is None
    assert result["float32_bounds"].not_measured == (
        "not measured: window 91004 of dimension 0 is [4046, 4048), outside the input of 4047 cells")


def test_mps_refuses_upsampling_in_one_dimension():
    result = adapool.compare(5, 15)
    mps = result["multiple_either_way"]
    assert mps.axes[0].status == "usable"
    assert mps.agrees is None and "1-d pools as 2-d" in mps.undefined
    assert adapool.compare((5, 4), (15, 8))["multiple_either_way"].agrees is True


def test_scan():
    scan = adapool.scan_conventions(20, 30)
    assert (scan.input_max, scan.output_max) == (20, 30)
    for convention in scan.conventions:
        assert convention.states.shape == (20, 30)
        counts = [int(np.count_nonzero(convention.states == code)) for code in range(3)]
        assert counts == [convention.agrees, convention.differs, convention.undefined]
    assert scan["pytorch"].agrees_fraction == 1.0
    partition = scan["partition"].states
    for in_size in range(1, 21):
        for out_size in range(1, 31):
            expected = 2 if out_size > in_size else (0 if in_size % out_size == 0 else 1)
            assert partition[in_size - 1, out_size - 1] == expected, (in_size, out_size)
    assert scan.search_max_side == 65536
    for name in FLOAT32:
        first = scan.first_float32_disagreement[name]
        assert (first.input, first.output, first.cell) == (4097, 4098, 4096)
        assert tuple(first.window) == (4095, 4096) and tuple(first.pytorch_window) == (4095, 4097)


@pytest.mark.parametrize("args,error,message", [
    ((10, 0), ValueError, r"compare: sizes \[10\] -> \[0\]: 0 is outside 1..67108864"),
    ((2**27, 5), ValueError, "134217728 is outside"),
    (((10, 10), (5, 5, 5)), ValueError, r"in_size \[10, 10\] has 2 sizes but out_size \[5, 5, 5\] has 3"),
    (((1, 2, 3, 4), 1), ValueError, "expected 1 to 3 input sizes"),
    (("10", 7), TypeError, "in_size holds '10'"),
    ((10.5, 7), TypeError, "in_size holds 10.5"),
    ((True, 3), TypeError, "in_size holds True"),
])
def test_compare_errors(args, error, message):
    with pytest.raises(error, match=message):
        adapool.compare(*args)


def test_scan_errors():
    with pytest.raises(ValueError, match=r"a scan of 1..0 x 1..5: each bound must be 1..2048"):
        adapool.scan_conventions(0, 5)
    with pytest.raises(ValueError, match=r"1..4000: each bound must be 1..2048"):
        adapool.scan_conventions(5, 4000)
