"""Speed measurements of sam3lib, next to transformers' ``Sam3Model`` on the same weights.

The parts are small and separately testable: :mod:`~sam3lib.bench.flops` (image-encoder FLOPs
from the config), :mod:`~sam3lib.bench.roofline` (the machine's measured GEMM rate),
:mod:`~sam3lib.bench.weights` (random full-size weights and a checkpoint directory of them),
:mod:`~sam3lib.bench.runners` (our Segmenter and transformers' model behind one interface,
timed per stage), :mod:`~sam3lib.bench.isolated` (load time and peak memory in a fresh
process), :mod:`~sam3lib.bench.report` (medians, ratios, the table and the JSON) and
:mod:`~sam3lib.bench.command` (``sam3lib bench``).

Example:
    >>> from sam3lib.bench.flops import image_encoder_flops
    >>> from sam3lib.model import Sam3Config
    >>> round(image_encoder_flops(Sam3Config.sam3()).backbone / 1e12, 2)  # TFLOP
    5.4
"""
