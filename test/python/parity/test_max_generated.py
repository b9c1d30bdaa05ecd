"""Generated max pooling cases (hypothesis) against torch, exact: values and int64
indices, gradients bit for bit (float16 and bfloat16 too), NaN and +/-Inf windows,
gradcheck and gradgradcheck in float64.

Shapes, output sizes (0..80 and None: divisible, non-divisible and upsampling cases),
layouts (contiguous, channels-last, transposed, sliced, expanded), dtypes and thread
counts come from test_generated.cases, as for average pooling; the values are drawn
for max pooling, where ties decide the indices (parity_support.MAX_VALUE_KINDS).
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import parity_support as support
from test_generated import _settings, cases

FORWARD_EXAMPLES, NONFINITE_EXAMPLES, GRADCHECK_EXAMPLES, _ = support.max_profile()

NAN, INF = float("nan"), float("inf")
# Non-finite values sprinkled over the input: the fraction of cells hit decides
# whether a window holds one special, several (the last NaN wins) or nothing else
# (all -inf: the first cell's index).
SPRINKLES = {
    "nan": [NAN],
    "-inf": [-INF],
    "+inf": [INF],
    "nan and -inf": [NAN, -INF],
    "nan, +inf, -inf": [NAN, INF, -INF],
}
FRACTIONS = [0.02, 0.2, 0.6, 1.0]


@st.composite
def max_cases(draw, spatial_dims: int, **bounds):
    case = draw(cases(spatial_dims, **bounds))
    return dataclasses.replace(case, values=draw(st.sampled_from(support.MAX_VALUE_KINDS)))


@pytest.mark.parametrize("spatial_dims", [1, 2, 3])
def test_max_generated_forward_backward(spatial_dims):
    name = f"max_forward_backward_{spatial_dims}d"

    @_settings(FORWARD_EXAMPLES)
    @given(case=max_cases(spatial_dims))
    def run(case):
        support.compare_max(
            spatial_dims, case.input(), case.output_size, seed=case.seed,
            numpy_front=case.numpy_front, threads=case.threads,
        )
        support.count("max-generated", name)
        _record_features(case)

    run()


def _record_features(case) -> None:
    """What the generated max cases covered, printed in the session summary."""
    features = support.max_features
    features[str(case.dtype).replace("torch.", "")] += 1
    features[case.layout.kind] += 1
    features[f"values {case.values}"] += 1
    batched = len(case.shape) == case.spatial_dims + 2
    features["batched" if batched else "unbatched"] += 1
    spatial_in = case.shape[len(case.shape) - case.spatial_dims:]
    spatial_out = support.resolved_output(case.shape, case.spatial_dims, case.output_size)
    if 0 in spatial_out:
        features["empty output"] += 1
    elif all(i % o == 0 for i, o in zip(spatial_in, spatial_out)):
        features["divisible"] += 1
    if any(o > i for o, i in zip(spatial_out, spatial_in)):
        features["output > input"] += 1
    if batched and case.shape[0] == 0:
        features["empty batch"] += 1
    if case.numpy_front:
        features["numpy front end"] += 1


@pytest.mark.parametrize("spatial_dims", [1, 2, 3])
def test_max_generated_nonfinite(spatial_dims):
    """NaN and +/-Inf in the input (values, indices and the gradient's destinations must
    be torch's), then non-finite gradient values on a finite input."""
    name = f"max_nonfinite_{spatial_dims}d"

    @_settings(NONFINITE_EXAMPLES)
    @given(case=max_cases(spatial_dims, max_input=20_000, max_output=20_000, max_in=24),
           data=st.data())
    def run(case, data):
        mix = data.draw(st.sampled_from(sorted(SPRINKLES)))
        fraction = data.draw(st.sampled_from(FRACTIONS))
        x = support.make_input(case.shape, case.dtype, case.layout, case.seed, case.values,
                               sprinkle=(SPRINKLES[mix], fraction))
        support.compare_max(spatial_dims, x, case.output_size, seed=case.seed,
                            numpy_front=case.numpy_front, threads=case.threads)

        spatial_out = support.resolved_output(case.shape, spatial_dims, case.output_size)
        if math.prod(case.shape) and 0 not in spatial_out:
            out_shape = list(case.shape[: len(case.shape) - spatial_dims]) + spatial_out
            generator = torch.Generator().manual_seed(case.seed + 7)
            grad_output = torch.randn(out_shape, generator=generator, dtype=torch.float64)
            if grad_output.numel():
                for _ in range(data.draw(st.integers(1, 4))):
                    index = tuple(data.draw(st.integers(0, n - 1)) for n in out_shape)
                    grad_output[index] = data.draw(st.sampled_from([NAN, INF, -INF]))
            support.compare_max(spatial_dims, case.input(), case.output_size,
                                threads=case.threads, grad_output=grad_output.to(case.dtype))
        support.count("max-generated-nonfinite", name)

    run()


@pytest.mark.parametrize("spatial_dims", [1, 2, 3])
def test_max_generated_gradcheck(spatial_dims):
    """torch.autograd.gradcheck and gradgradcheck of adapool's max pooling in float64, on
    inputs without ties (a maximum is differentiable only where it is unique)."""
    name = f"max_gradcheck_{spatial_dims}d"

    @_settings(GRADCHECK_EXAMPLES)
    @given(case=cases(spatial_dims, max_input=120, max_output=120, dtypes=(torch.float64,),
                      max_in=9, max_out=11))
    def run(case):
        case = dataclasses.replace(case, values="distinct")
        x = case.input()
        if case.layout.kind == "expanded":  # broadcast cells are ties: make them distinct
            x = torch.empty(x.shape, dtype=x.dtype).copy_(x)
            x += torch.arange(x.numel(), dtype=x.dtype).reshape(x.shape) / (64 * x.numel())
        x = x.detach().requires_grad_(True)
        ours = support.OURS_MAX[spatial_dims]

        def pool(t):
            return ours(t, case.output_size, threads=case.threads)

        assert torch.autograd.gradcheck(pool, (x,))
        if x.numel() and pool(x).numel():
            assert torch.autograd.gradgradcheck(pool, (x,))
        support.count("max-generated-gradcheck", name)

    run()


def test_max_generated_case_count():
    """The ci profile must really run its floor of generated max forward/backward cases."""
    expected = {f"max_forward_backward_{d}d" for d in (1, 2, 3)}
    ran = {name for name in support.counts_by_test if name in expected}
    if ran != expected:
        pytest.skip(f"only {sorted(ran)} of the generated max tests ran in this session")
    total = sum(support.counts_by_test[name] for name in expected)
    if support.profile_name == "ci":
        assert total >= support.MIN_MAX_GENERATED_CI, (
            f"the ci profile ran {total} generated max cases; it must run >= "
            f"{support.MIN_MAX_GENERATED_CI}"
        )
