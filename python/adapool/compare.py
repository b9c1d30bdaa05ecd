"""Other systems' adaptive-pooling windows beside PyTorch's.

The Python side of ``adapool explain IN OUT --compare`` and ``--scan``, with the
same facts::

    result = adapool.compare(10, 7)                # or compare((10, 10), (5, 7))
    result["derived_kernel"].agrees                # False
    result["derived_kernel"].random                # Difference(max_abs=..., mean_abs=...)
    adapool.conventions()                          # name, formula and users of each
    scan = adapool.scan_conventions(64, 64)        # agreement over 1..64 x 1..64
    scan["partition"].agrees_fraction

docs/CONVENTIONS.md cites the source of every convention.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core

Sizes = Union[int, Sequence[int]]

_DIMENSION_NAMES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}


@dataclass(frozen=True)
class Convention:
    """A way of choosing the windows: what it computes and who computes it."""

    name: str
    computes: str
    used_by: str


@dataclass(frozen=True)
class Difference:
    """Absolute differences between a convention's output and PyTorch's.

    mean_abs is over every output cell, equal ones included.
    """

    max_abs: float
    mean_abs: float


@dataclass(frozen=True)
class AxisComparison:
    """One pooled dimension under one convention.

    status: "usable" (comparable with PyTorch), "other_count" (``outputs``
    windows, not ``output``) or "refuses" (no windows; ``reason`` says why).
    windows: every window when there are at most 1024, else None.
    differing_outputs: the first 32 outputs whose window differs from
    PyTorch's; differing_count counts them all.
    """

    name: str
    input: int
    output: int
    status: str
    outputs: int
    kernel: Optional[int]
    stride: Optional[int]
    reason: Optional[str]
    windows: Optional[list]
    differing_count: int
    differing_outputs: List[int]


@dataclass(frozen=True)
class ConventionComparison:
    """A convention against PyTorch for these sizes.

    agrees: True or False, or None when the convention is undefined here
    (``undefined`` says why: it refuses the sizes or produces another number
    of outputs). random/image: None when not measured (``not_measured`` says
    why) or undefined.
    """

    convention: Convention
    agrees: Optional[bool]
    undefined: Optional[str]
    axes: List[AxisComparison]
    differing_cells: int
    cells: int
    random: Optional[Difference]
    image: Optional[Difference]
    not_measured: Optional[str]

    @property
    def name(self) -> str:
        return self.convention.name


@dataclass(frozen=True)
class Comparison:
    """Every convention for one pooling, PyTorch's first.

    The random input is uniform in [0, 1) from numpy-independent
    std::mt19937_64 draws with ``seed``; the image is the built-in demo
    picture's gray levels (0..255) tiled to the input size.
    """

    input: Tuple[int, ...]
    output: Tuple[int, ...]
    seed: int
    conventions: List[ConventionComparison]

    def __getitem__(self, name: str) -> ConventionComparison:
        for convention in self.conventions:
            if convention.name == name:
                return convention
        raise KeyError(f"no convention named {name!r}; there are {[c.name for c in self.conventions]}")


@dataclass(frozen=True)
class ConventionScan:
    """Agreement of one convention with PyTorch over the scanned grid.

    states[in - 1, out - 1]: 0 agrees, 1 differs, 2 undefined.
    """

    convention: Convention
    agrees: int
    differs: int
    undefined: int
    states: np.ndarray

    @property
    def name(self) -> str:
        return self.convention.name

    @property
    def agrees_fraction(self) -> float:
        return self.agrees / self.states.size


@dataclass(frozen=True)
class Float32Disagreement:
    """The first pair (smallest max(in, out), then in, then out) where a
    float32 convention's window differs from PyTorch's."""

    convention: str
    input: int
    output: int
    cell: int
    window: tuple
    pytorch_window: tuple


@dataclass(frozen=True)
class Scan:
    """``scan_conventions``'s result; first_float32_disagreement maps each
    float32 convention to its first disagreement, or None when there is none
    with max(in, out) <= search_max_side."""

    input_max: int
    output_max: int
    conventions: List[ConventionScan]
    first_float32_disagreement: dict
    search_max_side: int

    def __getitem__(self, name: str) -> ConventionScan:
        for convention in self.conventions:
            if convention.name == name:
                return convention
        raise KeyError(f"no convention named {name!r}; there are {[c.name for c in self.conventions]}")


def conventions() -> List[Convention]:
    """Every window convention adapool knows, PyTorch's first."""
    return [Convention(*entry) for entry in _core.conventions()]


def _size_list(value: Sizes, name: str) -> List[int]:
    single = isinstance(value, (int, str, bytes)) or not isinstance(value, Sequence)
    values = [value] if single else list(value)
    sizes = []
    for size in values:
        if isinstance(size, bool):
            raise TypeError(f"{name} holds {size!r}; sizes are integers")
        try:
            sizes.append(operator.index(size))
        except TypeError:
            raise TypeError(f"{name} holds {size!r}; sizes are integers") from None
    return sizes


def compare(in_size: Sizes, out_size: Sizes) -> Comparison:
    """Every convention's windows beside PyTorch's for pooling in_size to out_size.

    in_size: an int or 1 to 3 ints; out_size: the same, or one int for every
    dimension. Each size must be 1..2**26. Raises ValueError naming the sizes
    otherwise.
    """
    from . import Window  # the package's Window; imported here, after the package

    in_sizes = _size_list(in_size, "in_size")
    out_sizes = _size_list(out_size, "out_size")
    if len(out_sizes) == 1 and len(in_sizes) > 1:
        out_sizes = out_sizes * len(in_sizes)
    if len(out_sizes) != len(in_sizes):
        raise ValueError(
            f"in_size {in_sizes} has {len(in_sizes)} sizes but out_size {out_sizes} has {len(out_sizes)}"
        )
    raw = _core.compare(in_sizes, out_sizes)
    names = _DIMENSION_NAMES.get(len(in_sizes), ())
    infos = {convention.name: convention for convention in conventions()}
    result = []
    for entry in raw["conventions"]:
        axes = [
            AxisComparison(
                name=names[d],
                input=axis["input"],
                output=axis["output"],
                status=axis["status"],
                outputs=axis["outputs"],
                kernel=axis["kernel"],
                stride=axis["stride"],
                reason=axis["reason"],
                windows=None if axis["windows"] is None else [Window(*w) for w in axis["windows"]],
                differing_count=axis["differing_count"],
                differing_outputs=list(axis["differing_outputs"]),
            )
            for d, axis in enumerate(entry["axes"])
        ]
        result.append(
            ConventionComparison(
                convention=infos[entry["name"]],
                agrees=entry["agrees"],
                undefined=entry["undefined"],
                axes=axes,
                differing_cells=entry["differing_cells"],
                cells=entry["cells"],
                random=None if entry["random"] is None else Difference(*entry["random"]),
                image=None if entry["image"] is None else Difference(*entry["image"]),
                not_measured=entry["not_measured"],
            )
        )
    return Comparison(tuple(raw["input"]), tuple(raw["output"]), raw["seed"], result)


def scan_conventions(in_max: int, out_max: int) -> Scan:
    """Agreement of every convention with PyTorch over in = 1..in_max and
    out = 1..out_max (one dimension each, bounds 1..2048), and each float32
    convention's first disagreement beyond the grid."""
    from . import Window

    in_max, out_max = _size_list(in_max, "in_max")[0], _size_list(out_max, "out_max")[0]
    raw = _core.scan(in_max, out_max)
    infos = {convention.name: convention for convention in conventions()}
    scans = [
        ConventionScan(
            convention=infos[entry["name"]],
            agrees=entry["agrees"],
            differs=entry["differs"],
            undefined=entry["undefined"],
            states=np.frombuffer(entry["states"], dtype=np.uint8).reshape(in_max, out_max),
        )
        for entry in raw["conventions"]
    ]
    firsts = {}
    for entry in raw["first_float32_disagreement"]:
        firsts[entry["convention"]] = (
            Float32Disagreement(
                convention=entry["convention"],
                input=entry["input"],
                output=entry["output"],
                cell=entry["cell"],
                window=Window(*entry["window"]),
                pytorch_window=Window(*entry["pytorch_window"]),
            )
            if "input" in entry
            else None
        )
    return Scan(raw["input_max"], raw["output_max"], scans, firsts, raw["float32_search_max_side"])
