"""Tests of sam3lib.postprocess.refine: holes, small regions, edges and the refinement pipeline.

Expected masks are drawn by hand or computed here with the flood fill from conftest.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
import torch

from conftest import Labeller
from sam3lib.errors import InputError
from sam3lib.postprocess import (
    MaskRefinement,
    compose,
    fill_holes,
    refine_edges,
    remove_small_regions,
)


def _draw(*rows: str) -> torch.Tensor:
    """One (1, H, W) mask drawn as text: '#' foreground, anything else background."""
    return torch.tensor([[[char == "#" for char in row] for row in rows]])


def _boundary_length(masks: torch.Tensor) -> int:
    """Number of fg/bg pairs of 4-neighbours."""
    across = (masks[:, :, 1:] != masks[:, :, :-1]).sum()
    down = (masks[:, 1:, :] != masks[:, :-1, :]).sum()
    return int(across + down)


def _in_windows(masks: torch.Tensor) -> torch.Tensor:
    """Random (3, 30, 40) masks kept inside a different window each, one the whole image.

    Away from the border, as objects usually are: labelling works on each mask's bounding box.
    """
    windows = torch.zeros_like(masks)
    windows[0, 3:20, 5:30] = True
    windows[1, 10:28, 0:15] = True
    windows[2] = True
    return masks & windows


def _areas(labels: torch.Tensor) -> torch.Tensor:
    """Component areas by counting equal labels, for one (H, W) labelling."""
    counts = {int(label): int((labels == label).sum()) for label in labels.unique()}
    return labels.apply_(lambda label: counts[label] if label else 0)


# --- fill_holes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("hole_area", [3, 4, 5])
def test_a_hole_is_filled_iff_its_area_is_at_most_max_area(hole_area: int) -> None:
    masks = torch.ones(1, 7, 12, dtype=torch.bool)
    masks[0, 3, 2 : 2 + hole_area] = False

    filled = fill_holes(masks, max_area=4)

    assert bool(filled.all()) is (hole_area <= 4)
    if hole_area > 4:
        assert torch.equal(filled, masks)


def test_background_touching_the_border_is_never_filled() -> None:
    masks = _draw(
        "#####.####",
        "#####.####",
        "#####.####",
        "#........#",
        "##########",
    )

    assert torch.equal(fill_holes(masks, max_area=1000), masks)


def test_a_hole_meeting_the_outside_only_at_a_corner_is_a_hole() -> None:
    # The centre pixel touches the outside only diagonally: closed under 8-connected
    # foreground, so it is a hole of the 4-connected background.
    masks = _draw(
        "......",
        ".###..",
        ".#.#..",
        ".##...",
        "......",
    )

    filled = fill_holes(masks, max_area=1)

    expected = masks.clone()
    expected[0, 2, 2] = True
    assert torch.equal(filled, expected)


def test_only_the_small_holes_of_a_mask_are_filled_and_masks_are_independent() -> None:
    masks = torch.ones(2, 12, 12, dtype=torch.bool)
    masks[0, 2, 2] = False  # area 1
    masks[0, 5:8, 5:8] = False  # area 9
    masks[1, 2:4, 2:4] = False  # area 4

    filled = fill_holes(masks, max_area=4)

    assert filled[0, 2, 2] and not filled[0, 5:8, 5:8].any()
    assert filled[1].all()


def test_fill_holes_matches_a_flood_fill_on_random_masks(
    flood_fill_labels: Labeller, device: torch.device
) -> None:
    generator = torch.Generator().manual_seed(0)
    masks = _in_windows(torch.rand(3, 30, 40, generator=generator) < 0.6)

    filled = fill_holes(masks.to(device), max_area=3)

    assert filled.device == device
    for mask, result in zip(masks, filled.cpu(), strict=True):
        labels = flood_fill_labels(~mask, 4)
        outside = set(labels[0].tolist() + labels[-1].tolist() + labels[:, 0].tolist())
        outside |= set(labels[:, -1].tolist())
        areas = _areas(labels.clone())
        holes = torch.tensor([[label not in outside for label in row] for row in labels.tolist()])
        expected = mask | (holes & (areas <= 3))
        assert torch.equal(result, expected)


# --- remove_small_regions ------------------------------------------------------------------------


@pytest.mark.parametrize("island_area", [4, 5, 6])
def test_an_island_is_removed_iff_its_area_is_below_min_area(island_area: int) -> None:
    masks = torch.zeros(1, 12, 20, dtype=torch.bool)
    masks[0, 0:10, 0:10] = True  # area 100
    masks[0, 11, 12 : 12 + island_area] = True

    cleaned = remove_small_regions(masks, min_area=5)

    assert torch.equal(cleaned[0, :, :11], masks[0, :, :11])  # the large region is untouched
    assert bool(cleaned[0, 11].any()) is (island_area >= 5)


def test_diagonal_neighbours_form_one_region() -> None:
    masks = _draw(
        "#....",
        ".#...",
        "....#",
    )

    cleaned = remove_small_regions(masks, min_area=2)

    assert cleaned.int().tolist() == [[[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 0, 0, 0]]]


def test_remove_small_regions_matches_a_flood_fill_on_random_masks(
    flood_fill_labels: Labeller, device: torch.device
) -> None:
    generator = torch.Generator().manual_seed(1)
    masks = _in_windows(torch.rand(3, 30, 40, generator=generator) < 0.35)

    cleaned = remove_small_regions(masks.to(device), min_area=4)

    assert cleaned.device == device
    for mask, result in zip(masks, cleaned.cpu(), strict=True):
        assert torch.equal(result, _areas(flood_fill_labels(mask, 8)) >= 4)


# --- refine_edges --------------------------------------------------------------------------------


@pytest.mark.parametrize("level", [1, 2, 3, 4, 5])
def test_refine_edges_keeps_straight_edges_in_place(level: int) -> None:
    vertical = torch.zeros(1, 40, 50, dtype=torch.bool)
    vertical[0, :, :17] = True  # touches three image borders
    horizontal = torch.zeros(1, 40, 50, dtype=torch.bool)
    horizontal[0, 23:, :] = True
    rectangle = torch.zeros(1, 60, 60, dtype=torch.bool)
    rectangle[0, 10:50, 12:45] = True

    assert torch.equal(refine_edges(vertical, level), vertical)
    assert torch.equal(refine_edges(horizontal, level), horizontal)
    # Corners get rounded; the sides, away from them, do not move by a single pixel.
    refined = refine_edges(rectangle, level)
    margin = 3 * level
    assert torch.equal(
        refined[0, 10 + margin : 50 - margin], rectangle[0, 10 + margin : 50 - margin]
    )
    assert torch.equal(
        refined[0, :, 12 + margin : 45 - margin], rectangle[0, :, 12 + margin : 45 - margin]
    )


@pytest.mark.parametrize("level", [1, 2, 3, 4, 5])
def test_refine_edges_shortens_a_noisy_boundary(level: int, device: torch.device) -> None:
    generator = torch.Generator().manual_seed(level)
    columns = torch.arange(64).view(1, 64)
    jitter = torch.randint(-2, 3, (64, 1), generator=generator)
    masks = (columns < 32 + jitter).unsqueeze(0)
    near_edge = (columns - 32).abs() <= 3
    masks ^= near_edge & (torch.rand(64, 64, generator=generator) < 0.2)

    refined = refine_edges(masks.to(device), level)

    assert refined.device == device
    assert _boundary_length(refined.cpu()) < _boundary_length(masks)


def test_refine_edges_removes_a_bump_and_fills_a_notch() -> None:
    masks = torch.zeros(1, 15, 15, dtype=torch.bool)
    masks[0, :, :7] = True
    masks[0, 4, 7] = True  # a bump
    masks[0, 10, 6] = False  # a notch

    refined = refine_edges(masks, level=1)

    expected = torch.zeros(1, 15, 15, dtype=torch.bool)
    expected[0, :, :7] = True
    assert torch.equal(refined, expected)


def test_refine_edges_treats_each_mask_on_its_own() -> None:
    generator = torch.Generator().manual_seed(2)
    masks = torch.rand(4, 25, 30, generator=generator) < 0.5

    together = refine_edges(masks, 2)
    alone = torch.cat([refine_edges(mask[None], 2) for mask in masks])

    assert torch.equal(together, alone)


# --- steps in common -----------------------------------------------------------------------------

STEPS: dict[str, tuple[Callable[[torch.Tensor, int], torch.Tensor], str]] = {
    "fill_holes": (fill_holes, "max_area"),
    "remove_small_regions": (remove_small_regions, "min_area"),
    "refine_edges": (refine_edges, "level"),
}


@pytest.mark.parametrize("name", STEPS)
def test_a_zero_parameter_returns_an_equal_new_tensor(name: str) -> None:
    step, _ = STEPS[name]
    masks = torch.rand(2, 9, 9, generator=torch.Generator().manual_seed(3)) < 0.5

    result = step(masks, 0)

    assert torch.equal(result, masks)
    assert result.data_ptr() != masks.data_ptr()


@pytest.mark.parametrize("name", STEPS)
def test_steps_leave_their_input_unchanged(name: str) -> None:
    step, _ = STEPS[name]
    masks = torch.rand(2, 16, 16, generator=torch.Generator().manual_seed(4)) < 0.5
    before = masks.clone()

    step(masks, 3)

    assert torch.equal(masks, before)


@pytest.mark.parametrize("name", STEPS)
def test_steps_accept_no_masks(name: str) -> None:
    step, _ = STEPS[name]

    assert step(torch.zeros(0, 5, 6, dtype=torch.bool), 2).shape == (0, 5, 6)


@pytest.mark.parametrize("name", STEPS)
@pytest.mark.parametrize("value", [-1, 1.5, True, None])
def test_steps_reject_a_bad_parameter(name: str, value: object) -> None:
    step, argument = STEPS[name]

    with pytest.raises(InputError, match=rf"^{argument}:"):
        step(torch.zeros(1, 3, 3, dtype=torch.bool), value)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", STEPS)
@pytest.mark.parametrize(
    "masks",
    [
        torch.zeros(1, 3, 3),
        torch.zeros(3, 3, dtype=torch.bool),
        torch.zeros(1, 3, 0, dtype=torch.bool),
    ],
)
def test_steps_reject_non_masks(name: str, masks: torch.Tensor) -> None:
    step, _ = STEPS[name]

    with pytest.raises(InputError, match=r"^masks:"):
        step(masks, 1)


# --- MaskRefinement and compose ------------------------------------------------------------------


def test_refinement_fills_holes_before_removing_small_regions() -> None:
    # A ring of 8 pixels around a 1-pixel hole: filled first it has 9 pixels and stays; removed
    # first (8 < 9) it would vanish.
    masks = torch.zeros(1, 7, 7, dtype=torch.bool)
    masks[0, 2:5, 2:5] = True
    masks[0, 3, 3] = False

    cleaned = MaskRefinement(fill_holes_max_area=1, min_region_area=9)(masks)

    expected = torch.zeros(1, 7, 7, dtype=torch.bool)
    expected[0, 2:5, 2:5] = True
    assert torch.equal(cleaned, expected)


def test_refinement_smooths_edges_last() -> None:
    # A 2-pixel speck beside a block: smoothing first would leave the block with a bump;
    # removing the speck first leaves the block's straight edge alone.
    masks = torch.zeros(1, 20, 20, dtype=torch.bool)
    masks[0, :, :8] = True
    masks[0, 9:11, 10] = True

    cleaned = MaskRefinement(min_region_area=3, edge_level=1)(masks)

    expected = torch.zeros(1, 20, 20, dtype=torch.bool)
    expected[0, :, :8] = True
    assert torch.equal(cleaned, expected)


def test_refinement_applies_the_three_steps_in_order() -> None:
    masks = torch.rand(2, 40, 40, generator=torch.Generator().manual_seed(5)) < 0.55

    cleaned = MaskRefinement(fill_holes_max_area=6, min_region_area=5, edge_level=2)(masks)

    expected = refine_edges(remove_small_regions(fill_holes(masks, 6), 5), 2)
    assert torch.equal(cleaned, expected)


def test_an_empty_refinement_returns_an_equal_new_tensor() -> None:
    masks = torch.eye(4, dtype=torch.bool)[None]

    cleaned = MaskRefinement()(masks)

    assert torch.equal(cleaned, masks) and cleaned.data_ptr() != masks.data_ptr()


@pytest.mark.parametrize("field", ["fill_holes_max_area", "min_region_area", "edge_level"])
@pytest.mark.parametrize("value", [-1, 2.0, False, "3"])
def test_refinement_rejects_fields_that_are_not_non_negative_ints(
    field: str, value: object
) -> None:
    with pytest.raises(InputError, match=rf"^{field}:"):
        MaskRefinement(**{field: value})  # type: ignore[arg-type]


def test_refinement_rejects_non_masks() -> None:
    with pytest.raises(InputError, match=r"^masks:"):
        MaskRefinement(edge_level=1)(torch.zeros(1, 4, 4))


def test_level_zero_is_no_refinement_and_levels_only_grow() -> None:
    presets = [MaskRefinement.from_level(level) for level in range(6)]

    assert presets[0] == MaskRefinement()
    for weaker, stronger in itertools.pairwise(presets):
        assert stronger.fill_holes_max_area > weaker.fill_holes_max_area
        assert stronger.min_region_area > weaker.min_region_area
        assert stronger.edge_level >= weaker.edge_level


def test_a_higher_level_removes_larger_specks() -> None:
    masks = torch.zeros(1, 64, 64, dtype=torch.bool)
    masks[0, 20:28, 20:28] = True  # 64 pixels

    assert MaskRefinement.from_level(2)(masks).any()  # removes regions below 64
    assert not MaskRefinement.from_level(3)(masks).any()  # removes regions below 256


@pytest.mark.parametrize("level", [-1, 6, 2.0, True, None])
def test_from_level_rejects_levels_outside_0_to_5(level: object) -> None:
    with pytest.raises(InputError, match=r"^level:"):
        MaskRefinement.from_level(level)  # type: ignore[arg-type]


def test_compose_applies_steps_left_to_right() -> None:
    masks = torch.tensor([[[True, False, False, False]]])

    def shift_right(m: torch.Tensor) -> torch.Tensor:
        return torch.roll(m, 1, dims=2)

    def keep_first_two(m: torch.Tensor) -> torch.Tensor:
        return m & torch.tensor([True, True, False, False])

    assert compose(shift_right, keep_first_two)(masks).tolist() == [[[False, True, False, False]]]
    assert compose(keep_first_two, shift_right)(masks).tolist() == [[[False, True, False, False]]]
    assert compose(shift_right, shift_right, keep_first_two)(masks).tolist() == [
        [[False, False, False, False]]
    ]
    assert compose(keep_first_two, shift_right, shift_right)(masks).tolist() == [
        [[False, False, True, False]]
    ]


def test_compose_of_nothing_is_the_identity_and_takes_refinements() -> None:
    masks = torch.ones(1, 3, 3, dtype=torch.bool)
    masks[0, 1, 1] = False

    assert compose()(masks) is masks
    assert compose(MaskRefinement(fill_holes_max_area=1), torch.logical_not)(masks).sum() == 0


def test_compose_rejects_a_step_that_is_not_callable() -> None:
    with pytest.raises(InputError, match=r"^steps\[1\]:"):
        compose(torch.logical_not, 3)  # type: ignore[arg-type]
