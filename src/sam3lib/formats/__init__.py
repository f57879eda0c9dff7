"""Mask formats for export: COCO RLE and COCO polygons, in pure numpy.

- :func:`encode_rle` / :func:`decode_rle`: compressed COCO run-length encoding, byte-identical
  to pycocotools; :func:`encode_cropped_rle` for a mask held as its crop;
- :func:`mask_to_polygons`: exact pixel-edge polygons that rasterise back to the same mask.
"""

from sam3lib.formats.polygons import mask_to_polygons
from sam3lib.formats.rle import decode_rle, encode_cropped_rle, encode_rle

__all__ = ["decode_rle", "encode_cropped_rle", "encode_rle", "mask_to_polygons"]
