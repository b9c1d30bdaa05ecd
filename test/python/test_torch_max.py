"""adapool.torch max pooling: operators, autograd (double backward), modules, patch,
patch_functional, compile, export."""

import copy

import pytest
import torch
import torch.nn.functional as F

import adapool.torch as at

TORCH_POOL = {1: F.adaptive_max_pool1d, 2: F.adaptive_max_pool2d, 3: F.adaptive_max_pool3d}
OURS = {1: at.adaptive_max_pool1d, 2: at.adaptive_max_pool2d, 3: at.adaptive_max_pool3d}

CASES = [
    (1, (2, 3, 10), 7),
    (1, (3, 10), 13),
    (2, (2, 3, 10, 9), (5, 7)),
    (2, (3, 7, 5), (None, 3)),
    (2, (2, 2, 3, 2), (7, 5)),
    (3, (2, 2, 5, 6, 7), (3, 4, 5)),
    (3, (2, 5, 4, 3), 2),
]


# Smaller ones for gradcheck, whose numerical Jacobian takes a forward per input cell.
GRADCHECK_CASES = [
    (1, (2, 3, 10), 7),
    (1, (3, 10), 13),
    (2, (2, 3, 6, 5), (4, 7)),
    (2, (3, 7, 5), (None, 3)),
    (2, (1, 2, 3, 2), (7, 5)),
    (3, (1, 2, 4, 5, 3), (3, 2, 5)),
    (3, (2, 3, 4, 3), 2),
]


def channels_last(x: torch.Tensor, spatial_dims: int) -> torch.Tensor:
    channel = x.dim() - spatial_dims - 1
    order = list(range(channel)) + list(range(channel + 1, x.dim())) + [channel]
    inverse = sorted(range(x.dim()), key=order.__getitem__)
    return x.permute(order).contiguous().permute(inverse)


def distinct(shape, seed=0) -> torch.Tensor:
    """float64 values without ties (max pooling is differentiable only there)."""
    generator = torch.Generator().manual_seed(seed)
    count = torch.Size(shape).numel()
    return (torch.randperm(count, generator=generator).double() / 8).reshape(shape)


@pytest.mark.parametrize("spatial_dims,shape,output_size", GRADCHECK_CASES)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_gradcheck_and_gradgradcheck(spatial_dims, shape, output_size, layout):
    x = distinct(shape)
    if layout == "channels_last":
        x = channels_last(x, spatial_dims)
    x.requires_grad_(True)

    def pool(t):
        return OURS[spatial_dims](t, output_size)

    assert torch.autograd.gradcheck(pool, (x,))
    assert torch.autograd.gradgradcheck(pool, (x,))


def test_double_backward_is_the_gather_torch_computes():
    """The gradient of the backward with respect to grad_output, against torch's."""
    x = distinct((2, 3, 5, 4)).requires_grad_(True)
    results = []
    for pool in (F.adaptive_max_pool2d, at.adaptive_max_pool2d):
        grad_output = torch.randn(2, 3, 7, 3, dtype=torch.float64, generator=torch.Generator()
                                  .manual_seed(1)).requires_grad_(True)
        (grad_input,) = torch.autograd.grad(pool(x, (7, 3)), x, grad_output, create_graph=True)
        weight = torch.randn(x.shape, dtype=torch.float64,
                             generator=torch.Generator().manual_seed(2))
        (second,) = torch.autograd.grad((grad_input * weight).sum(), grad_output)
        results.append((grad_input.detach(), second))
    assert torch.equal(results[0][0], results[1][0])
    assert torch.equal(results[0][1], results[1][1])


@pytest.mark.parametrize("spatial_dims,shape,output_size", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_forward_backward_and_layout_are_torch_bit_for_bit(spatial_dims, shape, output_size,
                                                           dtype):
    generator = torch.Generator().manual_seed(1)
    for layout in ("contiguous", "channels_last"):
        x = torch.randint(-3, 4, shape, generator=generator).to(dtype)  # ties
        if layout == "channels_last":
            x = channels_last(x, spatial_dims)
        ours_in = x.clone().requires_grad_(True)
        theirs_in = x.clone().requires_grad_(True)
        ours, ours_indices = OURS[spatial_dims](ours_in, output_size, return_indices=True)
        theirs, theirs_indices = TORCH_POOL[spatial_dims](theirs_in, output_size, True)
        assert ours.stride() == theirs.stride(), layout
        assert ours_indices.stride() == theirs_indices.stride(), layout
        assert torch.equal(ours, theirs) and torch.equal(ours_indices, theirs_indices)
        assert ours.requires_grad and not ours_indices.requires_grad
        grad = torch.randn(ours.shape, generator=generator).to(dtype)
        (ours_grad,) = torch.autograd.grad(ours, ours_in, grad)
        (theirs_grad,) = torch.autograd.grad(theirs, theirs_in, grad)
        assert ours_grad.stride() == theirs_grad.stride(), layout
        assert torch.equal(ours_grad, theirs_grad)


def test_return_indices_forms():
    x = torch.randn(2, 3, 8, 8)
    values = at.adaptive_max_pool2d(x, 3)
    assert isinstance(values, torch.Tensor)
    pair = at.adaptive_max_pool2d(x, 3, True)
    assert isinstance(pair, tuple) and len(pair) == 2
    assert torch.equal(pair[0], values) and pair[1].dtype == torch.int64
    assert torch.equal(at.adaptive_max_pool2d(x, 3, return_indices=True)[1], pair[1])
    values_op, indices_op = torch.ops.adapool.adaptive_max_pool(x, [3, 3], 2, 1)
    assert torch.equal(values_op, values) and torch.equal(indices_op, pair[1])


def test_modules_are_drop_ins():
    for ours, theirs, size in [(at.AdaptiveMaxPool1d, torch.nn.AdaptiveMaxPool1d, 3),
                               (at.AdaptiveMaxPool2d, torch.nn.AdaptiveMaxPool2d, (5, None)),
                               (at.AdaptiveMaxPool3d, torch.nn.AdaptiveMaxPool3d, (1, 2, 3))]:
        for return_indices in (False, True):
            module = ours(size, return_indices)
            reference = theirs(size, return_indices=return_indices)
            assert repr(module) == repr(reference)
            assert isinstance(module, theirs)
            assert module.output_size == reference.output_size
            assert module.return_indices == return_indices
            assert module.state_dict() == {}
    x = torch.randn(2, 3, 9, 7)
    values, indices = at.AdaptiveMaxPool2d((4, None), return_indices=True)(x)
    expected = torch.nn.AdaptiveMaxPool2d((4, None), return_indices=True)(x)
    assert torch.equal(values, expected[0]) and torch.equal(indices, expected[1])


def test_patch_swaps_max_and_avg_modules_and_keeps_results_and_state_dict():
    torch.manual_seed(2)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveMaxPool2d((5, 7)),
        torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(140, 10)),
        torch.nn.Unflatten(1, (1, 10)), torch.nn.AdaptiveMaxPool1d(4),
        torch.nn.AdaptiveAvgPool1d(2))
    reference = copy.deepcopy(model)
    model.eval()
    assert at.patch(model) == 3
    assert at.patch(model) == 0  # already patched
    assert type(model[1]) is at.AdaptiveMaxPool2d and not model[1].training
    assert type(model[4]) is at.AdaptiveMaxPool1d and type(model[5]) is at.AdaptiveAvgPool1d
    x = torch.randn(2, 3, 12, 11, requires_grad=True)
    y = model(x)
    (grad,) = torch.autograd.grad(y.sum(), x)
    y_reference = reference(x)
    (grad_reference,) = torch.autograd.grad(y_reference.sum(), x)
    assert torch.equal(y, y_reference)
    torch.testing.assert_close(grad, grad_reference)
    model.load_state_dict(reference.state_dict())


def test_patch_keeps_return_indices():
    pool = torch.nn.Sequential(torch.nn.AdaptiveMaxPool3d(2, return_indices=True))
    assert at.patch(pool) == 1
    assert type(pool[0]) is at.AdaptiveMaxPool3d and pool[0].return_indices
    x = torch.randn(1, 2, 5, 5, 5)
    values, indices = pool(x)
    expected = F.adaptive_max_pool3d(x, 2, True)
    assert torch.equal(values, expected[0]) and torch.equal(indices, expected[1])


@pytest.fixture
def max_calls(monkeypatch):
    """Counts the max pooling kernels adapool runs (forward True, backward False)."""
    calls = []
    original = at._core.run_max

    def counting(*args):
        calls.append(args[0])
        return original(*args)

    monkeypatch.setattr(at._core, "run_max", counting)
    return calls


def test_patch_functional_covers_every_max_entry_point(max_calls):
    """Inside patch_functional, F.adaptive_max_pool*d in all their forms run on adapool,
    and so do torch's own modules, which call them; outside, nothing does."""
    x = torch.randn(2, 3, 9, 8)
    names = [f"{prefix}adaptive_max_pool{d}d{suffix}" for d in (1, 2, 3)
             for prefix, suffix in (("", ""), ("", "_with_indices"), ("_", ""))]
    originals = {name: getattr(F, name) for name in names}
    with at.patch_functional():
        for spatial_dims, view in ((1, x[:, :, 0]), (2, x), (3, x.unsqueeze(2))):
            size = (2,) * spatial_dims
            name = f"adaptive_max_pool{spatial_dims}d"
            functional = getattr(F, name)
            values, indices = getattr(F, f"{name}_with_indices")(view, size)
            assert torch.equal(functional(view, size), values)
            assert torch.equal(functional(view, size, True)[1], indices)
            assert torch.equal(functional(view, size, return_indices=True)[1], indices)
            assert torch.equal(getattr(F, f"_{name}")(view, size), values)
        module_values = torch.nn.AdaptiveMaxPool2d(3)(x)
    assert len(max_calls) == 3 * 5 + 1
    assert all(getattr(F, name) is original for name, original in originals.items())
    assert torch.equal(module_values, F.adaptive_max_pool2d(x, 3))
    assert len(max_calls) == 3 * 5 + 1  # restored: torch's own kernels again


def test_threads_follow_torch_unless_told(monkeypatch):
    seen = []
    original = at._core.run_max

    def spy(*args):
        seen.append(args[-2])  # threads, then destination_zeroed
        return original(*args)

    monkeypatch.setattr(at._core, "run_max", spy)
    x = torch.randn(1, 2, 8, 8, requires_grad=True)
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        at.adaptive_max_pool2d(x, 3).sum().backward()
        at.adaptive_max_pool2d(x, 3, threads=2).sum().backward()
        with pytest.raises(ValueError, match="threads = -2"):
            at.adaptive_max_pool2d(x, 3, threads=-2)
    finally:
        torch.set_num_threads(previous)
    assert seen == [1, 1, 2, 2]


def test_errors_name_the_bad_value():
    with pytest.raises(TypeError, match="int64"):
        at.adaptive_max_pool2d(torch.zeros(1, 2, 4, 4, dtype=torch.int64), 2)
    with pytest.raises(ValueError, match="-2"):
        at.adaptive_max_pool2d(torch.zeros(1, 2, 4, 4), (3, -2))
    with pytest.raises(ValueError, match=r"\[2, 4\]"):
        at.adaptive_max_pool2d(torch.zeros(2, 4), 2)
    with pytest.raises(ValueError, match="dimension 1 has size 0"):
        at.adaptive_max_pool2d(torch.zeros(1, 0, 4, 4), 2)
    with pytest.raises(TypeError, match="list"):
        at.adaptive_max_pool2d([1.0, 2.0], 2)
    grad = torch.zeros(1, 2, 2, 2)
    with pytest.raises(TypeError, match="torch.int32"):
        torch.ops.adapool.adaptive_max_pool_backward(
            grad, torch.zeros(1, 2, 2, 2, dtype=torch.int32), [1, 2, 4, 4], [32, 16, 4, 1], 2, 1)
    with pytest.raises(ValueError, match="indices value 16 .* outside the input plane"):
        torch.ops.adapool.adaptive_max_pool_backward(
            grad, torch.full((1, 2, 2, 2), 16), [1, 2, 4, 4], [32, 16, 4, 1], 2, 1)


def test_compile_of_a_patched_model_runs_and_matches():
    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(),
                                torch.nn.AdaptiveMaxPool2d((3, 5))).eval()
    x = torch.randn(2, 3, 17, 13)
    expected = model(x)
    at.patch(model)
    compiled = torch.compile(model, fullgraph=True)
    assert torch.equal(compiled(x), expected)
    assert torch.equal(compiled(x.to(memory_format=torch.channels_last)), expected)


def test_compile_with_indices_and_backward():
    def step(t):
        values, indices = at.adaptive_max_pool2d(t, (4, 3), return_indices=True)
        return values * 2, indices

    compiled = torch.compile(step, fullgraph=True)
    x = torch.randn(2, 3, 9, 7, requires_grad=True)
    values, indices = compiled(x)
    (grad,) = torch.autograd.grad(values.sum(), x)
    expected_values, expected_indices = F.adaptive_max_pool2d(x, (4, 3), True)
    (expected_grad,) = torch.autograd.grad((expected_values * 2).sum(), x)
    assert torch.equal(values, expected_values * 2) and torch.equal(indices, expected_indices)
    assert torch.equal(grad, expected_grad)


def test_export_traces_the_operator():
    model = at.AdaptiveMaxPool2d((5, 7), return_indices=True)
    exported = torch.export.export(model, (torch.randn(1, 3, 10, 10),))
    targets = [str(node.target) for node in exported.graph.nodes if node.op == "call_function"]
    assert any("adapool.adaptive_max_pool" in target for target in targets), targets
    x = torch.randn(1, 3, 10, 10)
    values, indices = exported.module()(x)
    expected = F.adaptive_max_pool2d(x, (5, 7), True)
    assert torch.equal(values, expected[0]) and torch.equal(indices, expected[1])
