"""Generated cases (hypothesis): forward and backward against torch, non-finite values,
gradcheck. Ranks 1-3, batched and unbatched, input sizes 1..70, output sizes 0..80 and
None, every layout kind, float32/float64/float16/bfloat16.

The ci profile is derandomized (a fixed seed per test) with no example database, so
every run checks the same cases; thorough draws ten times as many from a fresh seed.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional, Tuple

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import parity_support as support

FORWARD_EXAMPLES, NONFINITE_EXAMPLES, GRADCHECK_EXAMPLES, DERANDOMIZE = support.profile()

# Bounds that keep one case to a few milliseconds: each tensor's element count.
MAX_INPUT_ELEMENTS = 100_000
MAX_OUTPUT_ELEMENTS = 100_000


def _settings(examples: int):
    return settings(
        max_examples=examples,
        derandomize=DERANDOMIZE,
        database=None,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@dataclasses.dataclass
class Case:
    spatial_dims: int
    shape: Tuple[int, ...]
    output_size: object
    dtype: torch.dtype
    layout: support.Layout
    values: str
    seed: int
    numpy_front: bool
    threads: Optional[int]

    def input(self, specials=()) -> torch.Tensor:
        return support.make_input(
            self.shape, self.dtype, self.layout, self.seed, self.values, specials
        )


@st.composite
def cases(draw, spatial_dims: int, max_input=MAX_INPUT_ELEMENTS, max_output=MAX_OUTPUT_ELEMENTS,
          dtypes=tuple(support.DTYPES), max_in=70, max_out=80):
    batched = draw(st.booleans())
    spatial_in = []
    budget = max_input
    for _ in range(spatial_dims):
        size = draw(st.integers(1, max(1, min(max_in, budget))))
        spatial_in.append(size)
        budget //= size
    channels = draw(st.integers(1, max(1, min(6, budget))))
    budget //= channels
    leading = [channels]
    if batched:
        # An empty batch checks little beyond shapes: one draw in five.
        batch = draw(st.sampled_from([1, 2, 3, 0, 1]))
        leading.insert(0, min(batch, budget))

    # Output entries: 0..80, or None (keep the input size) where torch takes None (2-d, 3-d).
    out_budget = max_output // max(1, math.prod(leading))
    entries = []
    for size in spatial_in:
        choices = [st.integers(0, max(0, min(max_out, out_budget)))]
        if spatial_dims > 1 and size <= out_budget:
            choices.append(st.none())
        entry = draw(st.one_of(*choices))
        entries.append(entry)
        out_budget //= max(1, size if entry is None else entry)
    form = draw(st.sampled_from(["tuple", "list", "int"]))
    if form == "int" and len(set(entries)) == 1 and entries[0] is not None:
        output_size = entries[0]
    elif form == "list":
        output_size = list(entries)
    else:
        output_size = tuple(entries)

    shape = tuple(leading + spatial_in)
    rank = len(shape)
    kind = draw(st.sampled_from(support.all_layout_kinds()))
    permutation = steps = offsets = broadcast = None
    if kind == "transposed":
        permutation = draw(st.permutations(range(rank)))
    if kind in ("sliced", "channels_last_sliced"):
        sliced = draw(st.sets(st.integers(0, rank - 1), min_size=1, max_size=2))
        steps = [draw(st.integers(2, 3)) if d in sliced else 1 for d in range(rank)]
        offsets = [draw(st.integers(0, 1)) for _ in range(rank)]
    if kind == "expanded":
        chosen = draw(st.sets(st.integers(0, rank - 1), min_size=1, max_size=rank))
        broadcast = [d in chosen for d in range(rank)]
    layout = support.layout_of(kind, rank, spatial_dims, permutation, steps, offsets, broadcast)
    dtype = draw(st.sampled_from(dtypes))
    values = draw(st.sampled_from(support.VALUE_KINDS))
    seed = draw(st.integers(0, 2**31 - 1))
    numpy_front = draw(st.integers(0, 3)) == 0
    threads = draw(st.sampled_from([None, 1, 2, 3]))
    return Case(spatial_dims, shape, output_size, dtype, layout, values, seed, numpy_front, threads)


@pytest.mark.parametrize("spatial_dims", [1, 2, 3])
def test_generated_forward_backward(spatial_dims):
    name = f"forward_backward_{spatial_dims}d"

    @_settings(FORWARD_EXAMPLES)
    @given(case=cases(spatial_dims))
    def run(case):
        x = case.input()
        support.compare(
            spatial_dims, x, case.output_size, seed=case.seed,
            numpy_front=case.numpy_front, threads=case.threads,
        )
        support.count("generated", name)
        _record_features(case)

    run()


def _record_features(case: Case) -> None:
    """What the generated cases covered, printed in the session summary."""
    features = support.features
    features[str(case.dtype).replace("torch.", "")] += 1
    features[case.layout.kind] += 1
    batched = len(case.shape) == case.spatial_dims + 2
    features["batched" if batched else "unbatched"] += 1
    entries = case.output_size if isinstance(case.output_size, (list, tuple)) else [case.output_size]
    if any(entry is None for entry in entries):
        features["None in output_size"] += 1
    spatial_out = support.resolved_output(case.shape, case.spatial_dims, case.output_size)
    if 0 in spatial_out:
        features["empty output"] += 1
    if batched and case.shape[0] == 0:
        features["empty batch"] += 1
    if support.is_mean_shortcut(spatial_out):
        features["all-ones output"] += 1
    spatial_in = case.shape[len(case.shape) - case.spatial_dims:]
    if any(o > i for o, i in zip(spatial_out, spatial_in)):
        features["output > input"] += 1
    if case.numpy_front:
        features["numpy front end"] += 1


SPECIALS = [float("nan"), float("inf"), float("-inf")]


@pytest.mark.parametrize("spatial_dims", [1, 2, 3])
def test_generated_nonfinite(spatial_dims):
    """NaN and +/-Inf land in the same output (and gradient) cells, with the same signs."""
    name = f"nonfinite_{spatial_dims}d"

    @_settings(NONFINITE_EXAMPLES)
    @given(case=cases(spatial_dims, max_input=20_000, max_output=20_000), data=st.data())
    def run(case, data):
        numel = math.prod(case.shape)
        specials = []
        if numel:
            for _ in range(data.draw(st.integers(1, 6))):
                index = tuple(data.draw(st.integers(0, n - 1)) for n in case.shape)
                specials.append((index, data.draw(st.sampled_from(SPECIALS))))
        x = case.input(specials)
        pool, ours_pool = support.TORCH_POOL[spatial_dims], support.OURS[spatial_dims]
        theirs, ours = pool(x, case.output_size), ours_pool(x, case.output_size)
        assert_same_specials(ours, theirs, f"{case} forward")

        spatial_out = support.resolved_output(case.shape, spatial_dims, case.output_size)
        if ours.numel() == 0 or 0 in spatial_out:
            support.count("generated-nonfinite", name)
            return
        # Backward: non-finite gradient values, finite input.
        generator = torch.Generator().manual_seed(case.seed + 7)
        grad_output = torch.randn(ours.shape, generator=generator, dtype=torch.float64)
        for _ in range(data.draw(st.integers(1, 4))):
            index = tuple(data.draw(st.integers(0, n - 1)) for n in ours.shape)
            grad_output[index] = data.draw(st.sampled_from(SPECIALS))
        grad_output = grad_output.to(case.dtype)
        clean = case.input()
        grad_theirs = support._grad(pool, clean, case.output_size, grad_output)
        grad_ours = support._grad(ours_pool, clean, case.output_size, grad_output)
        assert_same_specials(grad_ours, grad_theirs, f"{case} backward")
        support.count("generated-nonfinite", name)

    run()


def assert_same_specials(ours: torch.Tensor, theirs: torch.Tensor, what: str) -> None:
    assert ours.shape == theirs.shape, what
    assert torch.equal(ours.isnan(), theirs.isnan()), (
        f"{what}: NaN cells differ: adapool {ours.isnan().nonzero().tolist()[:8]}, "
        f"torch {theirs.isnan().nonzero().tolist()[:8]}"
    )
    assert torch.equal(ours.isposinf(), theirs.isposinf()), f"{what}: +Inf cells differ"
    assert torch.equal(ours.isneginf(), theirs.isneginf()), f"{what}: -Inf cells differ"


@pytest.mark.parametrize("spatial_dims", [1, 2, 3])
def test_generated_gradcheck(spatial_dims):
    """torch.autograd.gradcheck and gradgradcheck of adapool's operator in float64."""
    name = f"gradcheck_{spatial_dims}d"

    @_settings(GRADCHECK_EXAMPLES)
    @given(case=cases(spatial_dims, max_input=120, max_output=120, dtypes=(torch.float64,),
                      max_in=9, max_out=11))
    def run(case):
        x = case.input()
        if case.layout.kind == "expanded":  # gradcheck perturbs storage, not logical cells
            x = torch.empty(x.shape, dtype=x.dtype).copy_(x)
        x = x.detach().requires_grad_(True)
        ours = support.OURS[spatial_dims]

        def pool(t):
            return ours(t, case.output_size)

        assert torch.autograd.gradcheck(pool, (x,))
        if x.numel() and pool(x).numel():
            assert torch.autograd.gradgradcheck(pool, (x,))
        support.count("generated-gradcheck", name)

    run()


def test_generated_case_count():
    """The ci profile must really run >= 2000 generated forward/backward cases."""
    expected = {f"forward_backward_{d}d" for d in (1, 2, 3)}
    ran = {name for name in support.counts_by_test if name in expected}
    if ran != expected:
        pytest.skip(f"only {sorted(ran)} of the generated tests ran in this session")
    total = sum(support.counts_by_test[name] for name in expected)
    if support.profile_name == "ci":
        assert total >= support.MIN_GENERATED_CI, (
            f"the ci profile ran {total} generated cases; it must run >= {support.MIN_GENERATED_CI}"
        )
