"""Shape arithmetic shared by the numpy and PyTorch front ends.

Pure Python on purpose: torch.compile traces it, and it never touches
windows (those live in the C++ header windows.hpp).
"""

from __future__ import annotations

import operator
from typing import List, Optional, Sequence, Union

OutputSize = Union[int, None, Sequence[Optional[int]]]


def resolve_output_size(
    input_shape: Sequence[int], spatial_dims: int, output_size: OutputSize
) -> List[int]:
    """The full output shape: leading dimensions kept, pooled ones replaced.

    As PyTorch takes it: one int for every pooled dimension, or a list or
    tuple with one entry per pooled dimension, where None (2-d and 3-d only)
    keeps that input size. Booleans are not sizes.
    """
    rank = len(input_shape)
    if rank not in (spatial_dims + 1, spatial_dims + 2):
        raise ValueError(
            f"{spatial_dims}-d adaptive pooling expects a {spatial_dims + 1}-d (unbatched) or "
            f"{spatial_dims + 2}-d (batched) input, got shape {list(input_shape)}"
        )
    if isinstance(output_size, (list, tuple)):
        if len(output_size) != spatial_dims:
            raise ValueError(
                f"output_size {tuple(output_size)} has {len(output_size)} entries; expected "
                f"{spatial_dims}, or one int for every pooled dimension"
            )
        entries = list(output_size)
    elif output_size is None:
        raise TypeError(
            "output_size None is not an int; None keeps an input size only as an entry of a "
            f"{spatial_dims}-entry tuple"
        )
    else:
        entries = [output_size] * spatial_dims
    shape = list(input_shape)
    for d, entry in enumerate(entries):
        axis = rank - spatial_dims + d
        if entry is None and spatial_dims > 1:
            continue  # keeps the input size
        if entry is None or isinstance(entry, bool):
            raise TypeError(
                f"output_size[{d}] = {entry!r} is not an int"
                + (" or None" if spatial_dims > 1 else "")
            )
        try:
            size = operator.index(entry)
        except TypeError:
            raise TypeError(f"output_size[{d}] = {entry!r} is not an int or None") from None
        if size < 0:
            raise ValueError(
                f"output_size[{d}] = {size} is negative; expected a size >= 0"
                + (" or None" if spatial_dims > 1 else "")
            )
        shape[axis] = size
    return shape


def layout_order(rank: int, spatial_dims: int, channels_last: bool) -> List[int]:
    """Dimensions from outermost to innermost: row-major, or channel innermost."""
    if not channels_last:
        return list(range(rank))
    channel = rank - spatial_dims - 1
    return list(range(channel)) + list(range(channel + 1, rank)) + [channel]


def layout_strides(shape: Sequence[int], spatial_dims: int, channels_last: bool) -> List[int]:
    """Element strides of a dense tensor of shape stored in layout_order: what
    PyTorch gives torch.empty(shape) or its channels_last form (a dimension of
    size 0 strides like one of size 1)."""
    strides = [0] * len(shape)
    step = 1
    for d in reversed(layout_order(len(shape), spatial_dims, channels_last)):
        strides[d] = step
        step *= max(shape[d], 1)
    return strides
