"""Small holes and specks out of low-resolution mask logits, as text tracking cleans the
tracker's and the detector's masks (Meta ``fill_holes_in_mask_scores``, sam3 0.1.4).

Components are 8-connected, as Meta's ``cc_torch``/scikit-image labelling; every component
counts, also one touching the border.
"""

from __future__ import annotations

import torch

from sam3lib.postprocess import component_areas, connected_components
from sam3lib.postprocess._checks import check_float_tensor

__all__ = ["fill_holes_and_specks"]

HOLE_LOGIT = 0.1  # Meta: a filled hole becomes foreground with this small positive logit
SPECK_LOGIT = -0.1  # ... a removed speck background with this small negative one


def fill_holes_and_specks(mask_logits: torch.Tensor, max_area: int) -> torch.Tensor:
    """Fills background components of at most ``max_area`` pixels (logit := 0.1), then clears
    foreground components of at most ``min(max_area, area // 2)`` pixels (logit := −0.1),
    ``area`` being the mask's whole foreground after filling: a tiny object that is all one
    small component survives.

    Args:
        mask_logits: (N, h, w) float.
        max_area: component size limit in pixels (Meta ``fill_hole_area``, 16); 0 returns the
            logits unchanged.

    Returns:
        (N, h, w), a new tensor (or ``mask_logits`` itself when ``max_area`` is 0).

    Example:
        >>> logits = -torch.ones(1, 5, 5)
        >>> logits[0, :, :3] = 2.0   # an object ...
        >>> logits[0, 2, 1] = -2.0   # ... with a one-pixel hole
        >>> logits[0, 0, 4] = 3.0    # and a one-pixel speck
        >>> out = fill_holes_and_specks(logits, 1)
        >>> out[0, 2, 1].item(), out[0, 0, 4].item()
        (0.10000000149011612, -0.10000000149011612)
    """
    check_float_tensor(mask_logits, "mask_logits", 3, "(N, h, w)")
    if max_area <= 0 or mask_logits.shape[0] == 0:
        return mask_logits
    background = mask_logits <= 0
    holes = background & (component_areas(connected_components(background)) <= max_area)
    filled = torch.where(holes, HOLE_LOGIT, mask_logits)
    foreground = filled > 0
    limit = (foreground.sum(dim=(1, 2), keepdim=True) // 2).clamp(max=max_area)
    specks = foreground & (component_areas(connected_components(foreground)) <= limit)
    return torch.where(specks, SPECK_LOGIT, filled)
