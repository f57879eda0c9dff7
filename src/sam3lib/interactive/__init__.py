"""Interactive segmentation: clicks, boxes and masks in, one object's mask out; and automatic
masks ("segment everything").

- :mod:`~sam3lib.interactive.prompts`: checking and encoding clicks, boxes and mask inputs;
- :mod:`~sam3lib.interactive.predictor`: the interactive head run on an encoded image;
- :mod:`~sam3lib.interactive.result`: :class:`InteractiveResult`;
- :mod:`~sam3lib.interactive.mask_generation`: the automatic generator's pure steps;
- :mod:`~sam3lib.interactive.generator`: the automatic generator, :class:`GeneratedMasks`.

Users reach them through :meth:`sam3lib.Segmenter.predict` and :meth:`~sam3lib.Segmenter.generate`.
"""

from sam3lib.interactive.generator import GeneratedMasks
from sam3lib.interactive.mask_generation import MaskGenerationOptions
from sam3lib.interactive.predictor import InteractivePredictor
from sam3lib.interactive.result import InteractiveResult

__all__ = ["GeneratedMasks", "InteractivePredictor", "InteractiveResult", "MaskGenerationOptions"]
