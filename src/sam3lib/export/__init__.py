"""ONNX export: three graphs (image encoder, text encoder, decoder) and a manifest.

``export_onnx`` writes them; :mod:`sam3lib.export.prepare` finds or makes them for a
checkpoint (the onnxruntime and TensorRT backends start there); ``sam3lib export`` is the
command line (:mod:`sam3lib.export.command`).
"""

from sam3lib.export.graphs import GraphOptions
from sam3lib.export.manifest import ExportManifest, GraphManifest, TensorSpec
from sam3lib.export.onnx_export import export_onnx
from sam3lib.export.weights import weights_sha256

__all__ = [
    "ExportManifest",
    "GraphManifest",
    "GraphOptions",
    "TensorSpec",
    "export_onnx",
    "weights_sha256",
]
