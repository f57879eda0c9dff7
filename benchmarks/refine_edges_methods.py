"""Which edge-smoothing method should ``refine_edges`` use? Measures three candidates.

Candidates, each a pure torch function of (N, H, W) bool masks and a level 1..5:

- ``gaussian``: Gaussian blur of the 0/1 mask (sigma = level), then > 0.5: the library's
  ``refine_edges``, the method chosen from these numbers;
- ``open-close``: morphological opening then closing with a disk of radius = level, each
  erosion or dilation one ``conv2d`` counting the pixels under the disk (not optimised);
- ``majority``: box filter of side 2·level + 1, then > 0.5 (a majority vote), from running
  sums;

On synthetic 1008² masks with noisy boundaries, against the clean shape:

- ``len-`` (%): boundary length removed, the count of fg/bg 4-neighbour pairs, relative to the
  noisy mask (disk with pixel speckle, disk with a wobbly radius, square with pixel speckle);
- ``IoU``: with the clean shape (the noisy inputs' IoU is printed first, as ``noisy``);
- ``edge px``: the largest shift of a straight edge, on a clean square (rows and columns away
  from its corners) and on a clean half-plane touching the image border (everywhere);
- ``thin w=2/3/5`` (%): pixels kept of isolated straight lines 2, 3 and 5 px wide, half of them
  horizontal, half diagonal;
- ``ms``: median time of one 1008² mask on this machine's CPU.

    python benchmarks/refine_edges_methods.py
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from sam3lib.postprocess import mask_iou, refine_edges

SIZE = 1008
CENTRE = SIZE / 2
LEVELS = (1, 2, 3, 5)
Method = Callable[[torch.Tensor, int], torch.Tensor]


# --- candidates ---------------------------------------------------------------------------------


def majority(masks: torch.Tensor, level: int) -> torch.Tensor:
    side = 2 * level + 1
    values = F.pad(masks.float().unsqueeze(1), (level,) * 4, mode="replicate").squeeze(1)
    votes = _window_sum(_window_sum(values, side, dim=2), side, dim=1)
    return votes > side * side / 2


def open_close(masks: torch.Tensor, level: int) -> torch.Tensor:
    offsets = torch.arange(-level, level + 1)
    disk = ((offsets[:, None] ** 2 + offsets[None, :] ** 2) <= level * level).float()
    opened = _dilate(_erode(masks, disk), disk)
    return _erode(_dilate(opened, disk), disk)


def _window_sum(values: torch.Tensor, side: int, dim: int) -> torch.Tensor:
    """Sums over windows of ``side`` along ``dim`` from a running sum (exact for 0/1 counts)."""
    running = torch.cumsum(values, dim=dim)
    running = torch.cat([torch.zeros_like(running.narrow(dim, 0, 1)), running], dim=dim)
    length = values.shape[dim] - side + 1
    return running.narrow(dim, side, length) - running.narrow(dim, 0, length)


def _count(masks: torch.Tensor, disk: torch.Tensor) -> torch.Tensor:
    radius = (disk.shape[0] - 1) // 2
    values = F.pad(masks.float().unsqueeze(1), (radius,) * 4, mode="replicate")
    return F.conv2d(values, disk[None, None]).squeeze(1)


def _dilate(masks: torch.Tensor, disk: torch.Tensor) -> torch.Tensor:
    return _count(masks, disk) > 0.5


def _erode(masks: torch.Tensor, disk: torch.Tensor) -> torch.Tensor:
    return _count(masks, disk) > float(disk.sum()) - 0.5


METHODS: dict[str, Method] = {
    "gaussian": refine_edges,  # the chosen method, as the library runs it
    "open-close": open_close,
    "majority": majority,
}


# --- synthetic shapes ---------------------------------------------------------------------------


def _grid() -> tuple[torch.Tensor, torch.Tensor]:
    coordinates = torch.arange(SIZE, dtype=torch.float32) + 0.5 - CENTRE
    rows, columns = torch.meshgrid(coordinates, coordinates, indexing="ij")
    return rows, columns


def _disk(radius: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Clean disk and each pixel's distance to its boundary."""
    y, x = _grid()
    distance = torch.sqrt(x**2 + y**2) - radius
    return distance <= 0, distance.abs()


def _square(half_side: float) -> tuple[torch.Tensor, torch.Tensor]:
    y, x = _grid()
    distance = torch.maximum(x.abs(), y.abs()) - half_side
    return distance <= 0, distance.abs()


def _speckle(clean: torch.Tensor, distance: torch.Tensor, seed: int) -> torch.Tensor:
    """Flips 35% of the pixels within 2 px of the clean boundary."""
    generator = torch.Generator().manual_seed(seed)
    flip = (torch.rand(clean.shape, generator=generator) < 0.35) & (distance <= 2)
    return clean ^ flip


def _wobbly_disk(radius: float, amplitude: float, seed: int) -> torch.Tensor:
    """A disk whose radius varies by ±amplitude px, changing every ~2 px of perimeter."""
    generator = torch.Generator().manual_seed(seed)
    nodes = int(2 * math.pi * radius / 2)
    offsets = (torch.rand(nodes + 1, generator=generator) * 2 - 1) * amplitude
    offsets[-1] = offsets[0]
    y, x = _grid()
    position = (torch.atan2(y, x) + math.pi) / (2 * math.pi) * nodes
    low = position.floor().long().clamp(max=nodes - 1)
    fraction = position - low
    wobble = offsets[low] * (1 - fraction) + offsets[low + 1] * fraction
    return torch.sqrt(x**2 + y**2) <= radius + wobble


def _thin_lines(width: int) -> torch.Tensor:
    y, x = _grid()
    horizontal = (y >= -200) & (y < -200 + width) & (x.abs() < 300)
    # A diagonal band with the same perpendicular width.
    diagonal = ((x - y - 200).abs() < width / math.sqrt(2) * 1.0) & (x.abs() < 200)
    return horizontal | diagonal


# --- measurements -------------------------------------------------------------------------------


def boundary_length(mask: torch.Tensor) -> int:
    """Number of fg/bg pairs of 4-neighbours."""
    across = (mask[:, 1:] != mask[:, :-1]).sum()
    down = (mask[1:, :] != mask[:-1, :]).sum()
    return int(across + down)


def _edges(mask: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """First and last occupied index along ``dim`` of each row (dim=1) or column (dim=0)."""
    positions = torch.arange(mask.shape[dim]).view((1, -1) if dim == 1 else (-1, 1))
    first = torch.where(mask, positions, mask.shape[dim]).amin(dim=dim)
    last = torch.where(mask, positions, -1).amax(dim=dim)
    return first, last


def straight_edge_shift(method: Method, level: int) -> int:
    """Largest move of a straight edge: a clean square's sides and a border-touching half-plane."""
    square, _ = _square(300)
    middle = slice(int(CENTRE) - 200, int(CENTRE) + 200)  # away from the rounded corners
    half_plane = torch.zeros(SIZE, SIZE, dtype=torch.bool)
    half_plane[:, : SIZE // 3] = True
    shift = 0
    for clean, region, dims in ((square, middle, (0, 1)), (half_plane, slice(None), (1,))):
        refined = method(clean[None], level)[0]
        for dim in dims:
            for before, after in zip(_edges(clean, dim), _edges(refined, dim), strict=True):
                shift = max(shift, int((before - after)[region].abs().max()))
    return shift


def time_ms(method: Method, level: int, mask: torch.Tensor) -> float:
    """Median of four timed runs after one warm-up."""
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        method(mask[None], level)
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs[1:])


def iou(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(mask_iou(a[None], b[None])[0, 0])


def main() -> None:
    disk, disk_distance = _disk(300)
    square, square_distance = _square(300)
    cases = [
        (disk, _speckle(disk, disk_distance, seed=0)),
        (disk, _wobbly_disk(300, amplitude=3, seed=1)),
        (square, _speckle(square, square_distance, seed=2)),
    ]
    lines = [_thin_lines(width) for width in (2, 3, 5)]

    print(
        "| method | level | len- dS / dW / sS (%) | IoU dS / dW / sS | clean IoU disk / square "
        "| edge px | thin w=2/3/5 kept (%) | ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    noisy_ious = " / ".join(f"{iou(noisy, clean):.4f}" for clean, noisy in cases)
    print(f"| noisy input | - | - | {noisy_ious} | 1 / 1 | - | - | - |")
    for name, method in METHODS.items():
        for level in LEVELS:
            reductions, ious = [], []
            for clean, noisy in cases:
                refined = method(noisy[None], level)[0]
                before, after = boundary_length(noisy), boundary_length(refined)
                reductions.append(f"{100 * (before - after) / before:.1f}")
                ious.append(f"{iou(refined, clean):.4f}")
            clean_ious = [
                f"{iou(method(shape[None], level)[0], shape):.4f}" for shape in (disk, square)
            ]
            kept = [
                f"{100 * int((method(line[None], level)[0] & line).sum()) / int(line.sum()):.0f}"
                for line in lines
            ]
            print(
                f"| {name} | {level} | {' / '.join(reductions)} | {' / '.join(ious)} "
                f"| {' / '.join(clean_ious)} | {straight_edge_shift(method, level)} "
                f"| {' / '.join(kept)} | {time_ms(method, level, disk):.1f} |"
            )
    noisy_lengths = " / ".join(str(boundary_length(noisy)) for _, noisy in cases)
    print(
        "\ndS = disk + speckle, dW = disk + wobble, sS = square + speckle. Boundary length: "
        f"clean {boundary_length(disk)} (disk) and {boundary_length(square)} (square), "
        f"noisy {noisy_lengths}."
    )
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")


if __name__ == "__main__":
    main()
