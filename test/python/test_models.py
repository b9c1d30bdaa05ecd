"""Real models as clients: torchvision networks (weights=None, fixed seed) give the
same outputs and input gradients after patch(model) (and, for the functional
calls DenseNet and MobileNetV3 make, inside patch_functional()) as before."""

import copy

import pytest
import torch
import torchvision

import adapool.torch as at

MODELS = ["resnet18", "vgg11", "squeezenet1_1", "densenet121", "mobilenet_v3_small"]
SIZES = [(224, 224), (231, 231), (300, 180)]


@pytest.fixture(scope="module", params=MODELS)
def models(request):
    torch.manual_seed(0)
    reference = getattr(torchvision.models, request.param)(weights=None).eval()
    patched = copy.deepcopy(reference)
    swapped = at.patch(patched)
    # DenseNet pools only through F.adaptive_avg_pool2d.
    assert swapped >= (0 if request.param == "densenet121" else 1)
    return request.param, reference, patched


@pytest.fixture
def adapool_calls(monkeypatch):
    """Counts the kernels adapool runs, to prove the patched model used it."""
    calls = []
    original = at._core.run

    def counting(*args):
        calls.append(args[0])
        return original(*args)

    monkeypatch.setattr(at._core, "run", counting)
    return calls


def run(model, x):
    x = x.clone().requires_grad_(True)
    y = model(x)
    y.backward(torch.ones_like(y))
    return y.detach(), x.grad


def run_patched(model, x):
    with at.patch_functional():
        return run(model, x)


def close(ours, theirs, tolerance):
    scale = max(theirs.abs().max().item(), 1e-30)
    return (ours - theirs).abs().max().item() <= tolerance * scale


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_float32_outputs_and_input_gradients_match(models, size, batch, layout, adapool_calls):
    name, reference, patched = models
    torch.manual_seed(1)
    x = torch.randn(batch, 3, *size)
    if layout == "channels_last":
        x = x.to(memory_format=torch.channels_last)
    y_ref, dx_ref = run(reference, x)
    assert not adapool_calls
    y_ours, dx_ours = run_patched(patched, x)
    assert True in adapool_calls and False in adapool_calls, "forward and backward ran on adapool"
    assert close(y_ours, y_ref, 1e-5), name
    assert close(dx_ours, dx_ref, 1e-5), name


def test_float64_outputs_and_input_gradients_match(models, adapool_calls):
    name, reference, patched = models
    torch.manual_seed(2)
    x = torch.randn(1, 3, 231, 231, dtype=torch.float64)
    y_ref, dx_ref = run(copy.deepcopy(reference).double(), x)
    y_ours, dx_ours = run_patched(copy.deepcopy(patched).double(), x)
    assert adapool_calls
    assert close(y_ours, y_ref, 1e-12), name
    assert close(dx_ours, dx_ref, 1e-12), name
