"""Tests of sam3lib.postprocess.components: labelling and areas.

Expected labels are drawn by hand or produced by the breadth-first flood fill in conftest.py.
"""

from __future__ import annotations

import pytest
import torch

from conftest import Labeller
from sam3lib.errors import InputError
from sam3lib.postprocess import Connectivity, component_areas, connected_components


def _spiral(side: int) -> torch.Tensor:
    """A one-pixel-wide path spiralling inwards, with one-pixel walls between its turns."""
    path = [[False] * side for _ in range(side)]

    def taken(row: int, column: int) -> bool:
        return 0 <= row < side and 0 <= column < side and path[row][column]

    def free(row: int, column: int) -> bool:
        return 0 <= row < side and 0 <= column < side and not path[row][column]

    moves = [(0, 1), (1, 0), (0, -1), (-1, 0)]
    row, column, heading, turns_in_a_row = 0, 0, 0, 0
    path[0][0] = True
    while turns_in_a_row < 2:
        dy, dx = moves[heading]
        if free(row + dy, column + dx) and not taken(row + 2 * dy, column + 2 * dx):
            row, column = row + dy, column + dx
            path[row][column] = True
            turns_in_a_row = 0
        else:
            heading, turns_in_a_row = (heading + 1) % 4, turns_in_a_row + 1
    return torch.tensor(path)


def _snake(height: int, width: int) -> torch.Tensor:
    """Full rows every other row, joined alternately at the right and the left end."""
    snake = torch.zeros(height, width, dtype=torch.bool)
    snake[::2] = True
    snake[1::4, -1] = True
    snake[3::4, 0] = True
    return snake


def test_diagonal_neighbours_join_under_8_but_not_4_connectivity() -> None:
    masks = torch.tensor([[[True, False, False], [False, True, False], [False, False, True]]])

    eight = connected_components(masks, connectivity=8)
    four = connected_components(masks, connectivity=4)

    assert eight.tolist() == [[[1, 0, 0], [0, 1, 0], [0, 0, 1]]]
    assert four.tolist() == [[[1, 0, 0], [0, 5, 0], [0, 0, 9]]]


def test_labels_are_one_plus_the_raster_index_of_each_component_first_pixel() -> None:
    masks = torch.tensor(
        [
            [
                [False, False, True, True],
                [True, False, False, True],
                [True, True, False, False],
            ]
        ]
    )

    labels = connected_components(masks, connectivity=4)

    assert labels.dtype == torch.int64
    assert labels.tolist() == [[[0, 0, 3, 3], [5, 0, 0, 3], [5, 5, 0, 0]]]


@pytest.mark.parametrize("connectivity", [4, 8])
def test_a_spiral_path_is_one_component(connectivity: Connectivity) -> None:
    path = _spiral(61)

    labels = connected_components(path[None], connectivity=connectivity)[0]

    assert int(path.sum()) > 1800  # the path is long: about half the image
    assert labels[path].unique().tolist() == [1]
    assert not labels[~path].any()


@pytest.mark.parametrize("connectivity", [4, 8])
def test_a_long_snake_is_one_component(connectivity: Connectivity) -> None:
    snake = _snake(101, 80)

    labels = connected_components(snake[None], connectivity=connectivity)[0]

    assert labels[snake].unique().tolist() == [1]


def test_a_full_size_spiral_is_one_component() -> None:
    path = _spiral(301)

    labels = connected_components(path[None], connectivity=4)[0]

    assert labels[path].unique().tolist() == [1]


def test_isolated_pixels_are_each_their_own_component() -> None:
    grid = torch.zeros(20, 30, dtype=torch.bool)
    grid[::2, ::2] = True

    labels = connected_components(grid[None])[0]

    assert labels[grid].unique().numel() == 10 * 15
    assert torch.equal(component_areas(labels[None])[0], grid.long())


def test_a_checkerboard_is_one_component_under_8_and_all_pixels_under_4() -> None:
    rows, columns = torch.meshgrid(torch.arange(12), torch.arange(12), indexing="ij")
    board = ((rows + columns) % 2 == 0)[None]

    assert connected_components(board, 8)[0][board[0]].unique().numel() == 1
    assert connected_components(board, 4)[0][board[0]].unique().numel() == 72


def test_masks_in_a_batch_are_labelled_independently() -> None:
    generator = torch.Generator().manual_seed(0)
    masks = torch.rand(5, 17, 23, generator=generator) < 0.5

    together = connected_components(masks)
    alone = torch.cat([connected_components(mask[None]) for mask in masks])

    assert torch.equal(together, alone)


@pytest.mark.parametrize("connectivity", [4, 8])
@pytest.mark.parametrize("density", [0.3, 0.45, 0.6, 0.75])
def test_labels_match_a_flood_fill_on_random_masks(
    connectivity: Connectivity, density: float, flood_fill_labels: Labeller, device: torch.device
) -> None:
    generator = torch.Generator().manual_seed(int(density * 100) + connectivity)
    masks = torch.rand(3, 37, 53, generator=generator) < density

    labels = connected_components(masks.to(device), connectivity=connectivity)

    assert labels.device == device
    for mask, label in zip(masks, labels.cpu(), strict=True):
        assert torch.equal(label, flood_fill_labels(mask, connectivity))


def test_component_areas_count_the_pixels_of_each_component() -> None:
    masks = torch.tensor(
        [
            [[True, True, False, True], [False, True, False, False], [True, False, False, True]],
            [
                [False, False, False, False],
                [False, False, False, False],
                [False, False, False, True],
            ],
        ]
    )

    areas = component_areas(connected_components(masks, connectivity=8))

    assert areas.tolist() == [
        [[4, 4, 0, 1], [0, 4, 0, 0], [4, 0, 0, 1]],
        [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]],
    ]


def test_component_areas_accept_any_labelling_within_range(device: torch.device) -> None:
    labels = torch.tensor([[[2, 2, 0], [1, 2, 6]], [[6, 6, 6], [6, 6, 6]]], device=device)

    areas = component_areas(labels)

    assert areas.device == device
    assert areas.tolist() == [[[3, 3, 0], [1, 3, 1]], [[6, 6, 6], [6, 6, 6]]]


def test_no_masks_give_no_labels() -> None:
    labels = connected_components(torch.zeros(0, 4, 5, dtype=torch.bool))

    assert labels.shape == (0, 4, 5) and labels.dtype == torch.int64
    assert component_areas(labels).shape == (0, 4, 5)


def test_labelling_leaves_the_masks_unchanged() -> None:
    masks = torch.eye(5, dtype=torch.bool)[None]

    connected_components(masks)

    assert torch.equal(masks, torch.eye(5, dtype=torch.bool)[None])


@pytest.mark.parametrize(
    "masks",
    [
        torch.zeros(1, 3, 3, dtype=torch.uint8),
        torch.zeros(3, 3, dtype=torch.bool),
        torch.zeros(1, 0, 3, dtype=torch.bool),
    ],
)
def test_connected_components_reject_non_masks(masks: torch.Tensor) -> None:
    with pytest.raises(InputError, match=r"^masks:"):
        connected_components(masks)


@pytest.mark.parametrize("connectivity", [6, 0, True, "8", 8.0])
def test_connected_components_reject_other_connectivities(connectivity: object) -> None:
    with pytest.raises(InputError, match=r"^connectivity:"):
        connected_components(torch.ones(1, 2, 2, dtype=torch.bool), connectivity)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "labels",
    [
        torch.zeros(1, 2, 2),  # float
        torch.zeros(2, 2, dtype=torch.int64),  # no batch dimension
        torch.tensor([[[0, -1], [0, 0]]]),  # negative
        torch.tensor([[[0, 5], [0, 0]]]),  # above H*W = 4
    ],
)
def test_component_areas_reject_bad_labels(labels: torch.Tensor) -> None:
    with pytest.raises(InputError, match=r"^labels:"):
        component_areas(labels)
