"""adapool.torch: operators, autograd (double backward), modules, patch, compile, export."""

import copy
import os
import signal

import numpy
import pytest
import torch
import torch.nn.functional as F

import adapool.torch as at

TORCH_POOL = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}
OURS = {1: at.adaptive_avg_pool1d, 2: at.adaptive_avg_pool2d, 3: at.adaptive_avg_pool3d}

CASES = [
    (1, (2, 3, 10), 7),
    (1, (3, 10), 13),
    (2, (2, 3, 10, 9), (5, 7)),
    (2, (3, 7, 5), (None, 3)),
    (3, (2, 2, 5, 6, 7), (3, 4, 5)),
    (3, (2, 5, 4, 3), 2),
]


def channels_last(x: torch.Tensor, spatial_dims: int) -> torch.Tensor:
    channel = x.dim() - spatial_dims - 1
    order = list(range(channel)) + list(range(channel + 1, x.dim())) + [channel]
    inverse = sorted(range(x.dim()), key=order.__getitem__)
    return x.permute(order).contiguous().permute(inverse)


@pytest.mark.parametrize("spatial_dims,shape,output_size", CASES)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_gradcheck_and_gradgradcheck(spatial_dims, shape, output_size, layout):
    torch.manual_seed(0)
    x = torch.randn(shape, dtype=torch.float64)
    if layout == "channels_last":
        x = channels_last(x, spatial_dims)
    x.requires_grad_(True)

    def pool(t):
        return OURS[spatial_dims](t, output_size)

    assert torch.autograd.gradcheck(pool, (x,))
    assert torch.autograd.gradgradcheck(pool, (x,))


@pytest.mark.parametrize("spatial_dims,shape,output_size", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_forward_backward_and_layout_match_torch(spatial_dims, shape, output_size, dtype):
    torch.manual_seed(1)
    for layout in ("contiguous", "channels_last"):
        x = torch.randn(shape).to(dtype)
        if layout == "channels_last":
            x = channels_last(x, spatial_dims)
        ours_in = x.clone().requires_grad_(True)
        theirs_in = x.clone().requires_grad_(True)
        ours = OURS[spatial_dims](ours_in, output_size)
        theirs = TORCH_POOL[spatial_dims](theirs_in, output_size)
        assert ours.shape == theirs.shape
        assert ours.stride() == theirs.stride(), layout
        tolerance = {torch.float64: 1e-14, torch.float32: 1e-6, torch.float16: 2e-3,
                     torch.bfloat16: 1.6e-2}[dtype]
        torch.testing.assert_close(ours, theirs, rtol=tolerance, atol=tolerance)
        grad = torch.randn(ours.shape).to(dtype)
        ours.backward(grad)
        theirs.backward(grad)
        assert ours_in.grad.stride() == theirs_in.grad.stride(), layout
        torch.testing.assert_close(ours_in.grad, theirs_in.grad, rtol=tolerance, atol=tolerance)


def test_modules_are_drop_ins():
    for ours, theirs, size in [(at.AdaptiveAvgPool1d, torch.nn.AdaptiveAvgPool1d, 3),
                               (at.AdaptiveAvgPool2d, torch.nn.AdaptiveAvgPool2d, (5, None)),
                               (at.AdaptiveAvgPool3d, torch.nn.AdaptiveAvgPool3d, (1, 2, 3))]:
        module = ours(size)
        assert repr(module) == repr(theirs(size))
        assert isinstance(module, theirs)
        assert module.output_size == theirs(size).output_size
        assert module.state_dict() == {}


def test_patch_swaps_modules_and_keeps_results_and_state_dict():
    torch.manual_seed(2)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d((5, 7)),
        torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(140, 10)),
        torch.nn.Unflatten(1, (1, 10)), torch.nn.AdaptiveAvgPool1d(4))
    reference = copy.deepcopy(model)
    model.eval()
    assert at.patch(model) == 2
    assert at.patch(model) == 0  # already patched
    assert type(model[1]) is at.AdaptiveAvgPool2d and not model[1].training
    x = torch.randn(2, 3, 12, 11)
    torch.testing.assert_close(model(x), reference(x))
    # A state_dict saved from the unpatched model loads into the patched one.
    model.load_state_dict(reference.state_dict())


def test_threads_follow_torch_unless_told(monkeypatch):
    seen = []
    original = at._core.run

    def spy(*args):
        seen.append(args[-1])
        return original(*args)

    monkeypatch.setattr(at._core, "run", spy)
    x = torch.randn(1, 2, 8, 8)
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        at.adaptive_avg_pool2d(x, 3)
        at.adaptive_avg_pool2d(x, 3, threads=2)
        with pytest.raises(ValueError, match="threads = -2"):
            at.adaptive_avg_pool2d(x, 3, threads=-2)
    finally:
        torch.set_num_threads(previous)
    assert seen == [1, 2]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_two_threads_after_fork():
    """adapool runs its threads on OpenMP's pool, which torch shares and which
    does not survive fork(); a forked child pools on two threads all the same,
    on adapool's own workers (torch's own 2-thread ops would hang there)."""
    x = torch.randn(4, 64, 65, 65)
    expected = at.adaptive_avg_pool2d(x, 3, threads=2)
    values, indices = at.adaptive_max_pool2d(x, 3, True, threads=2)
    pid = os.fork()
    if pid == 0:  # the child: exit 0 when both match, 1 when not, killed if it hangs
        signal.alarm(60)
        same = torch.equal(at.adaptive_avg_pool2d(x, 3, threads=2), expected)
        again = at.adaptive_max_pool2d(x, 3, True, threads=2)
        same = same and torch.equal(again[0], values) and torch.equal(again[1], indices)
        os._exit(0 if same else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_large_gradients_fresh_and_reused_match_torch(layout):
    """Large gradients come from the result pool: fresh zeroed memory (huge
    pages) the first time, where max pooling's backward skips clearing
    them, then a dead one's memory, stale values and all, which it must
    clear. Each must still be torch's (max pooling's bit for bit; average
    pooling sums in double) and an ordinary tensor."""
    torch.manual_seed(3)
    x = torch.randn(2, 64, 260, 260)  # 34.6 MB of float32, a size no other test takes
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    for ours, theirs in ((at.adaptive_avg_pool2d, F.adaptive_avg_pool2d),
                         (at.adaptive_max_pool2d, F.adaptive_max_pool2d)):
        leaf = x.clone().requires_grad_()
        y = theirs(leaf, (7, 9))
        torch.manual_seed(4)
        y.backward(torch.randn_like(y))
        expected = leaf.grad
        limit = at.result_pool_limit()
        at.set_result_pool_limit(0)  # empties the pool: the first gradient is fresh
        at.set_result_pool_limit(limit)
        addresses = set()
        for _ in range(2):
            leaf = x.clone().requires_grad_()
            y = ours(leaf, (7, 9))
            torch.manual_seed(4)
            y.backward(torch.randn_like(y))
            grad = leaf.grad
            if ours is at.adaptive_max_pool2d:
                assert torch.equal(grad, expected)
            torch.testing.assert_close(grad, expected, rtol=1e-6, atol=1e-7)
            assert grad.stride() == expected.stride(), ours.__name__
            addresses.add(grad.data_ptr())
            grad.fill_(float("nan"))  # writable; stale values for the next one
            assert grad.numpy().size == x.numel()
            del leaf, grad
        assert len(addresses) == 1  # the second took the first one's memory


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_mid_sized_gradients_reuse_dead_ones_memory_and_match_torch(layout):
    """Gradients of at least POOLED_RESULT_BYTES take the memory
    of a dead gradient of the same size (not cleared: max pooling's backward
    must clear it itself); live ones never share memory."""
    torch.manual_seed(6)
    # 1.97 MB and 2.46 MB of float32: a size of its own for each layout, so
    # that the pool holds no other block of it.
    x = torch.randn(4 if layout == "contiguous" else 5, 64, 48, 40)
    assert at.POOLED_RESULT_BYTES <= x.numel() * x.element_size()
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    size, strides = list(x.shape), list(x.stride())
    values, indices = F.adaptive_max_pool2d(x, (5, 7), return_indices=True)
    expected_max = torch.ops.aten.adaptive_max_pool2d_backward(torch.ones_like(values), x, indices)
    expected_avg = torch.ops.aten._adaptive_avg_pool2d_backward(torch.ones_like(values), x)
    first = at._avg_backward(torch.ones_like(values), size, strides, 2, 1)
    second = at._max_backward(torch.ones_like(values), indices, size, strides, 2, 1)
    assert first.data_ptr() != second.data_ptr()
    torch.testing.assert_close(first, expected_avg)
    assert torch.equal(second, expected_max)
    address = first.data_ptr()
    first.fill_(float("nan"))  # stale values where the next gradient lands
    del first
    third = at._max_backward(torch.ones_like(values), indices, size, strides, 2, 1)
    fourth = at._avg_backward(torch.ones_like(values), size, strides, 2, 1)
    assert third.data_ptr() == address
    assert len({second.data_ptr(), third.data_ptr(), fourth.data_ptr()}) == 3
    assert torch.equal(third, expected_max) and torch.equal(second, expected_max)
    torch.testing.assert_close(fourth, expected_avg)
    assert third.stride() == x.stride()
    for _ in range(3):  # a training loop's backward, through autograd
        leaf = x.clone().requires_grad_()
        at.adaptive_max_pool2d(leaf, (5, 7)).sum().backward()
        assert torch.equal(leaf.grad, expected_max)


def test_the_result_pool_keeps_the_newest_blocks():
    """_core.pooled_buffer hands out the memory of the newest dead block of
    the same size (its old contents visible while the system has not taken
    the pages back, which it does only under memory pressure), never a live
    one, and makes room for the newest by unmapping the oldest (fresh
    memory reads zero, and says it is fresh)."""
    from adapool import _core

    limit = at.result_pool_limit()
    assert limit == 1 << 30
    at.set_result_pool_limit(0)  # what other tests left
    at.set_result_pool_limit(limit)
    try:
        # Of blocks under 32 MiB (not advised MADV_FREE) at most 64 MiB are
        # kept, whatever the limit: the oldest of five 14 MiB blocks goes.
        big = [_core.pooled_buffer(14 << 20)[0] for _ in range(5)]
        for block in big:
            block[:] = 1
        del big, block
        again = [_core.pooled_buffer(14 << 20) for _ in range(5)]
        assert [fresh for _, fresh in again] == [False] * 4 + [True]
        assert [block[-1] for block, _ in again] == [1] * 4 + [0]
        del again
        at.set_result_pool_limit(64 << 20)
        small, fresh = _core.pooled_buffer(3 << 20)
        assert fresh and small[-1] == 0
        small[-1] = 7
        del small
        again, fresh = _core.pooled_buffer(3 << 20)
        assert not fresh and again[-1] == 7
        twin, fresh = _core.pooled_buffer(3 << 20)  # while `again` lives
        assert fresh and twin[-1] == 0
        assert again.ctypes.data != twin.ctypes.data
        # A limit below what is kept unmaps the oldest at once; 0 keeps nothing.
        del again, twin
        at.set_result_pool_limit(0)
        block, fresh = _core.pooled_buffer(3 << 20)
        assert fresh and block[-1] == 0
        block[-1] = 5
        del block
        block, fresh = _core.pooled_buffer(3 << 20)
        assert fresh and block[-1] == 0
        with pytest.raises(ValueError, match="bytes = -1 is negative"):
            at.set_result_pool_limit(-1)
    finally:
        at.set_result_pool_limit(limit)


@pytest.mark.filterwarnings("ignore:`torch.jit.trace` is deprecated:FutureWarning")
def test_the_operator_runs_wherever_something_needs_it(monkeypatch):
    """Plain calls that autograd does not record run the kernel directly;
    autograd, dispatch modes and tracing see the operator."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Record(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ops = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.ops.append(str(func))
            return func(*args, **(kwargs or {}))

    calls = []
    for name in ("_pool", "_max_pool", "_pool_backward", "_max_pool_backward"):
        operator = getattr(at, name)
        monkeypatch.setattr(at, name, lambda *a, _op=operator, _n=name: calls.append(_n) or _op(*a))
    x = torch.randn(2, 3, 8, 8)
    expected = F.adaptive_avg_pool2d(x, 3)
    torch.testing.assert_close(at.adaptive_avg_pool2d(x, 3), expected)
    at.adaptive_max_pool2d(x, 3)
    with torch.no_grad():
        at.adaptive_avg_pool2d(x.requires_grad_(), 3)
    assert calls == []
    y = at.adaptive_avg_pool2d(x, 3)
    z = at.adaptive_max_pool2d(x, 3)
    assert y.grad_fn is not None and z.grad_fn is not None
    assert calls == ["_pool", "_max_pool"]
    # A backward that records nothing runs the kernels directly ...
    (y.sum() + z.sum()).backward(retain_graph=True)
    assert len(calls) == 2
    # ... one whose gradient is recorded (double backward) runs the operators.
    seed = torch.ones_like(y, requires_grad=True)
    torch.autograd.grad(y, x, seed, create_graph=True)
    torch.autograd.grad(z, x, seed, create_graph=True)
    assert calls[2:] == ["_pool_backward", "_max_pool_backward"]
    del calls[:]
    x.requires_grad_(False)
    with Record() as record:
        at.adaptive_avg_pool2d(x, 3)
        at.adaptive_max_pool2d(x, 3)
    assert record.ops == ["adapool.adaptive_avg_pool.default", "adapool.adaptive_max_pool.default"]
    traced = torch.jit.trace(lambda t: at.adaptive_avg_pool2d(t, 3), x)
    assert "adapool::adaptive_avg_pool" in str(traced.graph)
    torch.testing.assert_close(traced(x * 2), expected * 2)


def test_prepared_calls_follow_sizes_strides_and_types(monkeypatch):
    """Direct calls take their arguments from at._PREPARED, keyed by sizes,
    strides, dtype and output_size: each variant must still get its own
    layout, checks and errors, also once the cache has started over."""
    torch.manual_seed(5)
    x = torch.randn(2, 6, 9, 7)
    variants = [x, x.contiguous(memory_format=torch.channels_last), x.transpose(2, 3)]
    for limit in (at._PREPARED_LIMIT, 3):
        monkeypatch.setattr(at, "_PREPARED_LIMIT", limit)
        at._PREPARED.clear()
        for v in variants:
            for size in (3, (4, 2), [4, None], torch.Size([4, 2]), (numpy.int64(2), 3)):
                expected = F.adaptive_avg_pool2d(v, size)
                got = at.adaptive_avg_pool2d(v, size)
                torch.testing.assert_close(got, expected)
                assert got.stride() == expected.stride()
                values, indices = at.adaptive_max_pool2d(v, size, return_indices=True)
                expected_values, expected_indices = F.adaptive_max_pool2d(v, size, True)
                assert torch.equal(values, expected_values)
                assert torch.equal(indices, expected_indices)
                assert values.stride() == expected_values.stride() == indices.stride()
            assert len(at._PREPARED) <= limit
    # Equal to a cached key, but not a size: torch refuses these, so must adapool.
    at.adaptive_avg_pool2d(x, 1)
    at.adaptive_avg_pool2d(x, (3, 1))
    for size in (True, 1.0, (3, True), (3, 1.0)):
        with pytest.raises(TypeError, match="not an int"):
            at.adaptive_avg_pool2d(x, size)
        with pytest.raises(TypeError, match="not an int"):
            at.adaptive_max_pool2d(x, size)
    # Backward: one grad_output, gradients in two layouts.
    grad_output = torch.randn(2, 6, 3, 3)
    for v in variants[:2]:
        size, strides = list(v.shape), list(v.stride())
        expected = torch.ops.aten._adaptive_avg_pool2d_backward(grad_output, v)
        got = at._avg_backward(grad_output, size, strides, 2, 1)
        torch.testing.assert_close(got, expected)
        assert got.stride() == v.stride()
        _, indices = F.adaptive_max_pool2d(v, 3, True)
        got = at._max_backward(grad_output, indices, size, strides, 2, 1)
        expected = torch.ops.aten.adaptive_max_pool2d_backward(grad_output, v, indices)
        assert torch.equal(got, expected)
        assert got.stride() == v.stride()
    with pytest.raises(TypeError, match="int64"):
        at._max_backward(grad_output, indices.int(), size, strides, 2, 1)


def test_errors_name_the_bad_value():
    with pytest.raises(TypeError, match="int64"):
        at.adaptive_avg_pool2d(torch.zeros(1, 2, 4, 4, dtype=torch.int64), 2)
    with pytest.raises(ValueError, match="-2"):
        at.adaptive_avg_pool2d(torch.zeros(1, 2, 4, 4), (3, -2))
    with pytest.raises(ValueError, match=r"\[2, 4\]"):
        at.adaptive_avg_pool2d(torch.zeros(2, 4), 2)
    with pytest.raises(ValueError, match="dimension 2 has size 0"):
        at.adaptive_avg_pool2d(torch.zeros(1, 2, 0, 4), 2)
    with pytest.raises(TypeError, match="list"):
        at.adaptive_avg_pool2d([1.0, 2.0], 2)


def test_compile_of_a_patched_model_runs_and_matches():
    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(),
                                torch.nn.AdaptiveAvgPool2d((3, 5))).eval()
    x = torch.randn(2, 3, 17, 13)
    expected = model(x)
    at.patch(model)
    compiled = torch.compile(model, fullgraph=True)
    torch.testing.assert_close(compiled(x), expected)
    torch.testing.assert_close(compiled(x.to(memory_format=torch.channels_last)), expected)


def test_export_traces_the_operator():
    model = at.AdaptiveAvgPool2d((5, 7))
    exported = torch.export.export(model, (torch.randn(1, 3, 10, 10),))
    targets = [str(node.target) for node in exported.graph.nodes if node.op == "call_function"]
    assert any("adapool.adaptive_avg_pool" in target for target in targets), targets
    x = torch.randn(1, 3, 10, 10)
    torch.testing.assert_close(exported.module()(x), F.adaptive_avg_pool2d(x, (5, 7)))
