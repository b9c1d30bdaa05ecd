"""adapool.onnx: adaptive pooling exported to ONNX at any size, run in onnxruntime.

Every exported graph passes the ONNX checker and matches torch: average within
float32 tolerance, max values bit for bit and its indices exactly. Both of
torch's exporters (TorchScript, dynamo=False; and dynamo=True), static and
dynamic pooled sizes, and torchvision's resnet18, squeezenet1_1 and vgg11 (its
7x7 head fed a 300x180 image, so 9x5 -> 7x7).
"""

import contextlib
import io
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision

import adapool
import adapool.onnx as ao

# Pinned in python/requirements-test.txt, so `make test` has them; a virtualenv
# made for other work skips this file instead of failing to collect it.
onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")  # what torch.onnx.export(dynamo=True) translates with

EXPORTERS = ["torchscript", "dynamo"]


def export(model, x, exporter, *, dynamic=False, **options) -> bytes:
    """adapool.onnx.export to bytes; dynamic makes every pooled axis of x dynamic."""
    buffer = io.BytesIO()
    pooled = range(2, x.dim())
    if exporter == "torchscript":
        options["dynamo"] = False
        if dynamic:
            options["input_names"] = ["x"]
            options["dynamic_axes"] = {"x": {axis: f"s{axis}" for axis in pooled}}
    else:
        options["dynamo"] = True
        if dynamic:
            dims = {axis: torch.export.Dim(f"s{axis}", min=2, max=64) for axis in pooled}
            options["dynamic_shapes"] = (dims,)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        ao.export(model, (x,), buffer, **options)
    data = buffer.getvalue()
    # full_check adds shape inference: cheap, except on vgg11's 530 MB.
    onnx.checker.check_model(onnx.load_from_string(data), full_check=len(data) < 100 << 20)
    return data


def session(data: bytes):
    return onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])


def run(runner, x):
    return runner.run(None, {runner.get_inputs()[0].name: x.numpy()})


def expected(model, x):
    with torch.no_grad():
        y = model(x)
    return [t.numpy() for t in (y if isinstance(y, (tuple, list)) else (y,))]


def assert_matches(got, want, kinds):
    """Average within float32 (or float64) tolerance, max and indices exactly."""
    assert len(got) == len(want)
    for ours, theirs, kind in zip(got, want, kinds):
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, kind
        if kind == "avg":
            tolerance = 1e-5 if theirs.dtype == np.float32 else 1e-12
            np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=tolerance)
        elif kind == "max":
            assert np.array_equal(ours.view(np.uint8), theirs.view(np.uint8)), "bits differ"
        else:
            np.testing.assert_array_equal(ours, theirs)


class Pools(torch.nn.Module):
    """torch's pooling modules, average and max (with indices) for each output
    size, all fed the same input; adapool.onnx.export swaps them."""

    def __init__(self, dims: int, sizes):
        super().__init__()
        self.pools = torch.nn.ModuleList()
        self.kinds = []
        for size in sizes:
            self.pools.append(getattr(torch.nn, f"AdaptiveAvgPool{dims}d")(size))
            module = getattr(torch.nn, f"AdaptiveMaxPool{dims}d")
            self.pools.append(module(size, return_indices=True))
            self.kinds += ["avg", "max", "indices"]

    def forward(self, x):
        outputs = []
        for pool in self.pools:
            y = pool(x)
            outputs.extend(y if isinstance(y, tuple) else [y])
        return tuple(outputs)


# Per dims: an input shape and output sizes that are divisible (a fixed
# AvgPool: 15 -> 5 and 10 -> 5 in 2-d), non-divisible (10 -> 7), with a fixed
# equivalent on one axis only (15 -> 7), upsampling (-> 13), global, None.
CASES = {
    1: ((2, 3, 15), [5, 7, 13, 1]),
    2: ((2, 3, 15, 10), [(5, 5), (7, 7), (13, 4), 1, (None, 3)]),
    3: ((1, 2, 6, 15, 10), [(3, 5, 5), (4, 7, 7), (2, None, 13)]),
}


def test_graph_windows_match_the_library():
    """The one copy of the window rule outside windows.hpp (for dynamic sizes)."""
    for in_size in range(1, 41):
        for out_size in range(0, 41):
            axis = ao._graph_axis(in_size, out_size, "cpu")
            library = adapool.windows(in_size, out_size)
            assert axis.begin.tolist() == [w.begin for w in library], (in_size, out_size)
            assert axis.count.tolist() == [w.count for w in library], (in_size, out_size)
            assert axis.longest >= max((w.count for w in library), default=0)


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("dynamic", [None, True], ids=["constant", "in_graph"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_eager_results_match_torch(dims, dynamic, dtype):
    """The replacements are torch code: without exporting, they give torch's results."""
    shape, sizes = CASES[dims]
    torch.manual_seed(dims)
    reference = Pools(dims, sizes + [0])
    ours = ao.exportable(reference, dynamic=dynamic)
    for x in (torch.randn(shape, dtype=dtype), torch.randn(shape[1:], dtype=dtype)):
        assert_matches(expected(ours, x), expected(reference, x), reference.kinds)


@pytest.mark.parametrize("exporter", EXPORTERS)
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_static_export_matches_torch(exporter, dims):
    shape, sizes = CASES[dims]
    torch.manual_seed(dims)
    model = Pools(dims, sizes).eval()
    x = torch.randn(shape)
    got = run(session(export(model, x, exporter)), x)
    assert_matches(got, expected(model, x), model.kinds)


def test_fixed_windows_export_as_average_pool():
    x = torch.randn(1, 2, 15, 10)  # 15 -> 5 and 10 -> 5: kernels 3 and 2
    graph = onnx.load_from_string(export(torch.nn.AdaptiveAvgPool2d(5), x, "torchscript")).graph
    assert [node.op_type for node in graph.node] == ["AveragePool"]


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_dynamic_sizes_match_torch_at_every_size(exporter):
    """Exported at 15x10, run at sizes where the windows, their counts and
    whether out divides in all change, where the output is larger, and where
    an output size is None (the input's, so dynamic too)."""
    torch.manual_seed(4)
    model = Pools(2, [(7, 7), (13, None)]).eval()
    runner = session(export(model, torch.randn(2, 3, 15, 10), exporter, dynamic=True))
    for size in [(15, 10), (14, 14), (7, 5), (31, 40), (3, 2), (64, 9)]:
        x = torch.randn(2, 3, *size)
        assert_matches(run(runner, x), expected(model, x), model.kinds)


@pytest.mark.parametrize(
    "dims,exporter,traced,others",
    [(1, "torchscript", (9,), [(31,), (4,)]), (3, "dynamo", (6, 9, 5), [(3, 7, 11), (8, 8, 8)])],
)
def test_dynamic_1d_and_3d_sizes_match_torch(dims, exporter, traced, others):
    torch.manual_seed(dims)
    model = Pools(dims, [(5,) * dims]).eval()
    runner = session(export(model, torch.randn(1, 2, *traced), exporter, dynamic=True))
    for size in [traced] + others:
        x = torch.randn(1, 2, *size)
        assert_matches(run(runner, x), expected(model, x), model.kinds)


def test_dynamic_windows_exact_beyond_float32_integers():
    """o * in reaches 3e8 here: the in-graph windows stay integer arithmetic."""
    model = Pools(1, [4999]).eval()
    dims = {2: torch.export.Dim("length", min=2, max=1 << 20)}
    runner = session(export(model, torch.randn(1, 1, 10), "dynamo", dynamic_shapes=(dims,)))
    for length in (5003, 65537):
        x = torch.randn(1, 1, length)
        assert_matches(run(runner, x), expected(model, x), model.kinds)


def test_dynamic_batch_keeps_constant_windows():
    """Only the batch is dynamic: the windows stay constants in the graph."""
    model = torch.nn.AdaptiveAvgPool2d(7).eval()
    batch = {0: torch.export.Dim("batch", min=1, max=8)}
    data = export(model, torch.randn(2, 3, 10, 9), "dynamo", dynamic_shapes=(batch,))
    ops = {node.op_type for node in onnx.load_from_string(data).graph.node}
    assert "MatMul" in ops and "Range" not in ops and "Shape" not in ops
    runner = session(data)
    for batch_size in (1, 5):
        x = torch.randn(batch_size, 3, 10, 9)
        assert_matches(run(runner, x), expected(model, x), ["avg"])


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_ties_nan_and_infinities_as_torch(exporter):
    """Max: ties keep the first index, the last NaN of a window wins, -0.0 and
    0.0 keep their bits. Average: a NaN or an Inf reaches only its windows,
    +Inf with -Inf gives NaN."""
    x = torch.randint(0, 3, (2, 2, 10, 9), generator=torch.Generator().manual_seed(0)).float()
    x[0, 0, 2, 3] = x[0, 0, 3, 2] = x[0, 0, 9, 8] = math.nan
    x[0, 1, 5, 5] = x[1, 0, 0, 0] = math.inf
    x[0, 1, 5, 6] = x[1, 1, :4, :4] = -math.inf
    x[1, 0, 4:, 4:] = 0.0
    x[1, 0, 4::2, 4::3] = -0.0

    class Both(torch.nn.Module):
        kinds = ["max", "indices", "avg"]

        def forward(self, x):
            return F.adaptive_max_pool2d(x, (7, 4), return_indices=True) + (
                F.adaptive_avg_pool2d(x, (7, 4)),
            )

    model = Both()
    got = run(session(export(model, x, exporter)), x)
    want = expected(model, x)
    assert_matches(got[:2], want[:2], model.kinds[:2])
    ours, theirs = got[2], want[2]
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_array_equal(ours[np.isinf(theirs)], theirs[np.isinf(theirs)])
    finite = np.isfinite(theirs)
    assert 0 < finite.sum() < finite.size
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-6, atol=1e-6)


def test_assume_finite_is_the_bare_matmul():
    """The documented cost of assume_finite: one NaN spreads along its row and
    column of windows; finite inputs give the same results."""
    model = torch.nn.AdaptiveAvgPool2d(7)
    x = torch.randn(1, 1, 10, 9)
    runner = session(export(model, x, "torchscript", assume_finite=True))
    assert_matches(run(runner, x), expected(model, x), ["avg"])
    x[0, 0, 0, 0] = math.nan
    assert np.isnan(run(runner, x)[0]).sum() > np.isnan(expected(model, x)[0]).sum() == 1


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_float64_unbatched_input(exporter):
    x = torch.randn(3, 10, 9, dtype=torch.float64)
    model = Pools(2, [(7, 4)])
    got = run(session(export(model, x, exporter)), x)
    assert_matches(got, expected(model, x), model.kinds)


def test_functional_calls_are_exported_inside_patch_functional():
    class Functional(torch.nn.Module):
        def forward(self, x):
            _, indices = F.adaptive_max_pool2d_with_indices(x, 7)
            average = F.adaptive_avg_pool1d(x.flatten(2), 11)
            return average, F.adaptive_max_pool3d(x[None], 3), indices

    model = Functional()
    x = torch.randn(2, 3, 10, 9)
    got = run(session(export(model, x, "dynamo")), x)
    assert_matches(got, expected(model, x), ["avg", "max", "indices"])


def test_patch_swaps_modules_and_keeps_their_settings():
    model = torch.nn.Sequential(
        torch.nn.AdaptiveAvgPool2d((5, None)),
        torch.nn.Sequential(torch.nn.AdaptiveMaxPool1d(3, return_indices=True)),
        torch.nn.AdaptiveAvgPool3d(2).eval(),
    )
    original = [repr(module) for module in model.modules()]
    copy = ao.exportable(model, dynamic=True)
    assert [repr(module) for module in model.modules()] == original, "exportable copies"
    assert ao.patch(model, assume_finite=True) == 3
    assert [repr(module) for module in model.modules()] == original
    assert isinstance(model[0], ao.AdaptiveAvgPool2d) and model[0].assume_finite
    assert isinstance(model[1][0], ao.AdaptiveMaxPool1d) and model[1][0].return_indices
    assert copy[2].dynamic is True and not copy[2].training
    assert ao.patch(model) == 0, "patched modules are not patched again"


def test_adapool_torch_modules_are_swapped_too():
    """adapool.torch's modules run a custom operator no exporter translates."""
    import adapool.torch

    model = torch.nn.Sequential(adapool.torch.AdaptiveAvgPool2d(7))
    x = torch.randn(1, 2, 10, 9)
    data = export(model, x, "dynamo")
    assert isinstance(ao.exportable(model)[0], ao.AdaptiveAvgPool2d)
    assert_matches(run(session(data), x), expected(model, x), ["avg"])


def test_patch_functional_restores_torch():
    originals = {name: getattr(F, name) for name in ao._FUNCTIONAL_NAMES}
    with pytest.raises(RuntimeError, match="inside"):
        with ao.patch_functional():
            assert F.adaptive_avg_pool2d is not originals["adaptive_avg_pool2d"]
            raise RuntimeError("inside")
    assert {name: getattr(F, name) for name in ao._FUNCTIONAL_NAMES} == originals


def test_bad_arguments_raise():
    with pytest.raises(TypeError, match="int64"):
        ao.adaptive_avg_pool2d(torch.ones(1, 1, 4, 4, dtype=torch.int64), 2)
    with pytest.raises(ValueError, match="3 entries"):
        ao.adaptive_max_pool2d(torch.ones(1, 1, 4, 4), (1, 2, 3))
    with pytest.raises(ValueError, match="non-empty"):
        ao.adaptive_avg_pool2d(torch.ones(1, 1, 0, 4), 2)


def test_torch_alone_cannot_export_these_at_the_pinned_version():
    """Why adapool.onnx exists (docs/ONNX.md): the TorchScript exporter refuses
    a non-divisible size, the dynamo exporter has no adaptive max pooling, and
    a dynamic export by the dynamo exporter keeps the traced windows."""
    x = torch.randn(1, 3, 10, 10)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        with pytest.raises(Exception):
            torch.onnx.export(torch.nn.AdaptiveAvgPool2d(7), (x,), io.BytesIO(), dynamo=False)
        with pytest.raises(Exception):
            torch.onnx.export(torch.nn.AdaptiveMaxPool2d(7), (x,), dynamo=True)
        dims = {2: torch.export.Dim("h"), 3: torch.export.Dim("w")}
        program = torch.onnx.export(torch.nn.AdaptiveAvgPool2d(7), (x,), dynamic_shapes=(dims,))
    other = torch.randn(1, 3, 31, 31)
    got = run(session(program.model_proto.SerializeToString()), other)[0]
    want = F.adaptive_avg_pool2d(other, 7).numpy()
    assert got.shape != want.shape or not np.allclose(got, want, atol=1e-3)


def close(ours, theirs, tolerance=1e-5):
    return np.abs(ours - theirs).max() <= tolerance * max(np.abs(theirs).max(), 1e-30)


@pytest.mark.parametrize("exporter", EXPORTERS)
@pytest.mark.parametrize("name", ["resnet18", "squeezenet1_1"])
def test_torchvision_models(name, exporter):
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None).eval()
    x = torch.randn(1, 3, 64, 64)
    assert close(run(session(export(model, x, exporter)), x)[0], expected(model, x)[0])


def test_vgg11_with_a_non_divisible_head():
    """300x180 reaches the 7x7 head as 9x5: no fixed pooling, both axes."""
    torch.manual_seed(0)
    model = torchvision.models.vgg11(weights=None).eval()
    x = torch.randn(1, 3, 300, 180)
    data = export(model, x, "dynamo")
    ops = {node.op_type for node in onnx.load_from_string(data).graph.node}
    assert "MatMul" in ops and "AveragePool" not in ops
    assert close(run(session(data), x)[0], expected(model, x)[0])


def test_resnet18_with_dynamic_height_and_width():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    runner = session(export(model, torch.randn(1, 3, 64, 64), "torchscript", dynamic=True))
    for size in [(64, 64), (97, 75)]:
        x = torch.randn(1, 3, *size)
        assert close(run(runner, x)[0], expected(model, x)[0])
