"""Connected components of binary masks in pure torch (CPU and GPU), and their areas.

The labelling is the "label equivalence" scheme of GPU connected-component labelling
(Kalentev et al., 2011): every foreground pixel starts as its own tree, labelled with its flat
index; each round, the root of every pixel's tree is hooked onto the smallest label among the
pixel's neighbours, then every pixel follows pointers to its root (pointer jumping). Trees
merge along whole fronts at once, so even a spiral or a long snake, whose diameter is a large
part of the image, takes a few dozen rounds rather than one round per pixel of path length.
At the end each component carries the smallest flat index among its pixels, which gives the
label convention below.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import torch

from sam3lib.errors import InputError
from sam3lib.postprocess._checks import check_masks, describe
from sam3lib.postprocess._chunks import CHUNK_PIXELS, chunks

__all__ = ["Connectivity", "component_areas", "connected_components"]

Connectivity: TypeAlias = Literal[4, 8]


def connected_components(masks: torch.Tensor, connectivity: Connectivity = 8) -> torch.Tensor:
    """Labels the connected components of each mask.

    Args:
        masks: (N, H, W) bool.
        connectivity: 8 (default) joins pixels that share an edge or a corner, 4 only pixels
            that share an edge.

    Returns:
        (N, H, W) int64 labels on the device of ``masks``: 0 on background; on foreground,
        ``1 + y * W + x`` of the component's first pixel (y, x) in raster order. Labels are
        therefore unique within a mask, between 1 and H·W, and not consecutive.

    Raises:
        InputError: ``masks`` is not an (N, H, W) bool tensor or ``connectivity`` is not 4 or 8.

    Example:
        >>> masks = torch.tensor([[[True, False, True], [False, True, False]]])
        >>> connected_components(masks).tolist()
        [[[1, 0, 1], [0, 1, 0]]]
        >>> connected_components(masks, connectivity=4).tolist()
        [[[1, 0, 3], [0, 5, 0]]]
    """
    check_masks(masks)
    if type(connectivity) is not int or connectivity not in (4, 8):
        raise InputError(f"connectivity: expected 4 or 8, got {connectivity!r}")
    labels = torch.empty(masks.shape, dtype=torch.int64, device=masks.device)
    # Components never cross masks, so chunks are labelled on their own; int64 work arrays
    # are 8 bytes a pixel, hence a quarter of the float budget.
    for chunk in chunks(masks.shape[0], masks.shape[1] * masks.shape[2], CHUNK_PIXELS // 4):
        labels[chunk] = _label(masks[chunk], connectivity)
    return labels


def _label(masks: torch.Tensor, connectivity: Connectivity) -> torch.Tensor:
    """(N, H, W) bool -> (N, H, W) int64 labels: hook roots onto neighbours, jump, repeat."""
    count, height, width = masks.shape
    pixels = masks.numel()
    # Background points at an extra slot holding `pixels`, above every real label: it is never
    # the minimum of a neighbourhood and pointer jumping leaves it in place.
    background = pixels
    flat_index = torch.arange(pixels, device=masks.device)
    labels = torch.cat(
        [torch.where(masks.flatten(), flat_index, background), flat_index.new_full((1,), pixels)]
    )
    while True:
        roots = labels[:pixels]
        smallest = _neighbourhood_min(roots.view(count, height, width), connectivity)
        smallest = torch.where(masks, smallest, background).flatten()
        hooked = _jump_to_roots(labels.scatter_reduce(0, roots, smallest, reduce="amin"))
        if torch.equal(hooked, labels):
            break
        labels = hooked
    first_pixel = labels[:pixels].view(count, height, width) % (height * width)
    return torch.where(masks, first_pixel + 1, 0)


def component_areas(labels: torch.Tensor) -> torch.Tensor:
    """The area of the component each pixel belongs to.

    Args:
        labels: (N, H, W) int64 labels in [0, H·W], 0 for background, as
            :func:`connected_components` returns (any labelling within that range works).

    Returns:
        (N, H, W) int64 on the device of ``labels``: the number of pixels of the same mask
        carrying the pixel's label; 0 on background.

    Raises:
        InputError: ``labels`` is not an (N, H, W) int64 tensor with values in [0, H·W].

    Example:
        >>> labels = torch.tensor([[[1, 1, 0], [0, 0, 6]]])
        >>> component_areas(labels).tolist()
        [[[2, 2, 0], [0, 0, 1]]]
    """
    if not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64 or labels.ndim != 3:
        raise InputError(f"labels: expected an (N, H, W) int64 tensor, got {describe(labels)}")
    count, height, width = labels.shape
    slots = height * width + 1  # one bin per possible label of a mask, background included
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= slots):
        raise InputError(
            f"labels: values must lie in [0, H*W] = [0, {slots - 1}], "
            f"got [{int(labels.min())}, {int(labels.max())}]"
        )
    mask_offset = torch.arange(count, device=labels.device).view(count, 1, 1) * slots
    keys = labels + mask_offset
    areas = torch.bincount(keys.flatten(), minlength=count * slots)[keys]
    return areas.masked_fill_(labels == 0, 0)


def _neighbourhood_min(labels: torch.Tensor, connectivity: Connectivity) -> torch.Tensor:
    """(N, H, W) -> the minimum over each pixel and its 4- or 8-neighbours."""
    along_rows = _min_with_adjacent(labels, dim=2)
    if connectivity == 8:
        # The minimum over a 3×3 square is separable: rows first, then columns.
        return _min_with_adjacent(along_rows, dim=1)
    return torch.minimum(along_rows, _min_with_adjacent(labels, dim=1))


def _min_with_adjacent(values: torch.Tensor, dim: int) -> torch.Tensor:
    """The minimum of each element and its two neighbours along ``dim`` (edges: one)."""
    result = values.clone()
    length = values.shape[dim]
    if length > 1:
        later, earlier = result.narrow(dim, 1, length - 1), result.narrow(dim, 0, length - 1)
        torch.minimum(later, values.narrow(dim, 0, length - 1), out=later)
        torch.minimum(earlier, values.narrow(dim, 1, length - 1), out=earlier)
    return result


def _jump_to_roots(parents: torch.Tensor) -> torch.Tensor:
    """Pointer jumping: replaces every parent by its root (parents only ever point lower)."""
    while True:
        grandparents = parents[parents]
        if torch.equal(grandparents, parents):
            return parents
        parents = grandparents
