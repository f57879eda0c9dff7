"""``manifest.json``: what an export directory holds, for the engines that run it.

Written beside the ONNX graphs by :func:`sam3lib.export.export_onnx` and read by the
onnxruntime and TensorRT backends: every graph's file and tensors (names, dtypes, shapes with
the symbolic sizes named: ``"prompts"``, ``"objects"``, ``"points"``), the build options, the
model configuration, the hash of the weights the graphs were made from, and the sam3lib
version that made them.

The input size is the config's ``vision.image_size`` (:attr:`ExportManifest.image_size`): the
model's own, or the ``resolution`` the graphs were exported at; it must be the size the image
encoder's ``pixels`` input declares.

Format 3 adds the interactive head's two graphs (listed only when exported) and their sizes.
Format 2 manifests (written before them) are still read: such an export serves the concept
detector, and asking it for clicks or boxes says to export again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sam3lib.errors import CheckpointError
from sam3lib.model.config import Sam3Config, TrackerConfig

MANIFEST_FILENAME = "manifest.json"
MANIFEST_FORMAT = 3  # bumped when the layout of the file or of the graphs changes
#: Formats this sam3lib reads: 2 lacks the interactive graphs (and their sizes), nothing else.
READABLE_FORMATS = (2, MANIFEST_FORMAT)
PROMPTS_AXIS = "prompts"  #: symbolic size: prompts per text-encode or decode call
OBJECTS_AXIS = "objects"  #: symbolic size: objects (one prompt each) per interactive decode
POINTS_AXIS = "points"  #: symbolic size: points (clicks, box corners, padding) per object
GRAPH_NAMES = ("image_encoder", "text_encoder", "decoder")  #: always exported
#: Exported together when the model has the interactive head, else neither.
INTERACTIVE_GRAPH_NAMES = ("interactive_encoder", "interactive_decoder")


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output: ``shape`` holds ints and the name of the symbolic axis."""

    name: str
    dtype: str  #: numpy dtype name: "float32", "int64", "bool"
    shape: tuple[int | str, ...]

    def concrete_shape(self, sizes: Mapping[str, int]) -> tuple[int, ...]:
        """The shape with each symbolic axis set to its size in ``sizes``.

        Example:
            >>> TensorSpec("point_labels", "int64", ("objects", "points")).concrete_shape(
            ...     {"objects": 1, "points": 3}
            ... )
            (1, 3)
        """
        return tuple(sizes[size] if isinstance(size, str) else int(size) for size in self.shape)


@dataclass(frozen=True)
class GraphManifest:
    """One ONNX graph: its file (and external-data file, for graphs over 1.5 GiB) and tensors."""

    file: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    external_data: str | None = None

    def files(self) -> tuple[str, ...]:
        return (self.file,) if self.external_data is None else (self.file, self.external_data)


@dataclass(frozen=True)
class ExportManifest:
    """Everything the runtime backends need to know about an export directory.

    Example:
        >>> manifest = ExportManifest.load("sam3-onnx")  # doctest: +SKIP
        >>> manifest.graphs["decoder"].inputs[5].shape  # doctest: +SKIP
        ('prompts', 32, 256)
        >>> manifest.has_interactive, manifest.max_points  # doctest: +SKIP
        (True, 32)
    """

    sam3lib_version: str
    opset: int
    precision: str  #: the dtype of the graphs' weights and activations
    batch: int  #: images per image-encoder call
    max_prompts: int  #: upper bound of the "prompts" axis
    max_boxes: int  #: exemplar boxes per prompt (fewer are padded and masked)
    weights_sha256: str  #: :func:`sam3lib.export.weights.weights_sha256` of the exported model
    config: Sam3Config
    graphs: Mapping[str, GraphManifest]
    tokenizer_files: tuple[str, ...] = field(default=())  #: copied beside the graphs
    #: upper bounds of the interactive decoder's "objects" and "points" axes; None when the
    #: export has no interactive graphs
    max_objects: int | None = None
    max_points: int | None = None

    @property
    def has_interactive(self) -> bool:
        """Whether the interactive head's graphs were exported (clicks and boxes run)."""
        return all(name in self.graphs for name in INTERACTIVE_GRAPH_NAMES)

    @property
    def image_size(self) -> int:
        """The input size the graphs take, in pixels (``config.vision.image_size``: the
        model's own, or ``sam3lib export --resolution``); images are resized to it."""
        return self.config.vision.image_size

    @property
    def context_length(self) -> int:
        return self.config.text.context_length

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["config"] = self.config.to_dict()
        data["graphs"] = {name: asdict(graph) for name, graph in self.graphs.items()}
        if not self.has_interactive:  # sizes of graphs that are not there: left out
            del data["max_objects"], data["max_points"]
        return {"format": MANIFEST_FORMAT, **data}

    def save(self, directory: str | os.PathLike[str]) -> Path:
        path = Path(directory) / MANIFEST_FILENAME
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExportManifest:
        """Raises ``KeyError``/``TypeError``/``ValueError`` on a malformed dictionary."""
        written = data.get("format")
        if written not in READABLE_FORMATS:
            readable = " or ".join(map(str, READABLE_FORMATS))
            raise ValueError(f"manifest format {written!r}; this sam3lib reads {readable}")
        names = [*GRAPH_NAMES, *(n for n in INTERACTIVE_GRAPH_NAMES if n in data["graphs"])]
        graphs = {name: _graph_from_dict(data["graphs"][name]) for name in names}
        interactive = all(name in graphs for name in INTERACTIVE_GRAPH_NAMES)
        if not interactive and any(name in graphs for name in INTERACTIVE_GRAPH_NAMES):
            raise ValueError("the manifest lists one of the two interactive graphs, not both")
        config = dict(data["config"])
        if written == 2 and not config.get("tracker"):
            # Format 2 predates the interactive graphs, and its config section says nothing
            # reliable about the head (older sam3lib versions neither knew nor loaded it). Read
            # as SAM 3's head, so that clicks reach the backend, which says to export again.
            config["tracker"] = asdict(TrackerConfig())
        model_config = Sam3Config.from_dict(config)
        pixels = graphs["image_encoder"].inputs[0].shape[-1]
        if pixels != model_config.vision.image_size:  # what images are resized to
            raise ValueError(
                f"the image encoder takes {pixels} px images, the config says "
                f"{model_config.vision.image_size}"
            )
        return cls(
            sam3lib_version=str(data["sam3lib_version"]),
            opset=int(data["opset"]),
            precision=str(data["precision"]),
            batch=int(data["batch"]),
            max_prompts=int(data["max_prompts"]),
            max_boxes=int(data["max_boxes"]),
            weights_sha256=str(data["weights_sha256"]),
            config=model_config,
            graphs=graphs,
            tokenizer_files=tuple(data.get("tokenizer_files", ())),
            max_objects=int(data["max_objects"]) if interactive else None,
            max_points=int(data["max_points"]) if interactive else None,
        )

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> ExportManifest:
        """Read ``directory/manifest.json`` and check that every file it names is there.

        Raises:
            CheckpointError: no manifest, an unreadable one, or a missing graph file.
        """
        path = Path(directory) / MANIFEST_FILENAME
        if not path.is_file():
            raise CheckpointError(
                f"{directory} has no {MANIFEST_FILENAME}: export the graphs first with "
                "`sam3lib export CHECKPOINT OUT_DIR`"
            )
        try:
            manifest = cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as err:  # JSONDecodeError is a ValueError
            raise CheckpointError(
                f"{path} is not a sam3lib export manifest ({err}); export again"
            ) from err
        missing = [
            name
            for graph in manifest.graphs.values()
            for name in graph.files()
            if not (Path(directory) / name).is_file()
        ]
        if missing:
            raise CheckpointError(f"{directory} lacks {', '.join(missing)}; export again")
        return manifest


def _graph_from_dict(data: Mapping[str, Any]) -> GraphManifest:
    return GraphManifest(
        file=str(data["file"]),
        inputs=tuple(_tensor_from_dict(t) for t in data["inputs"]),
        outputs=tuple(_tensor_from_dict(t) for t in data["outputs"]),
        external_data=data.get("external_data"),
    )


def _tensor_from_dict(data: Mapping[str, Any]) -> TensorSpec:
    return TensorSpec(
        name=str(data["name"]),
        dtype=str(data["dtype"]),
        shape=tuple(s if isinstance(s, str) else int(s) for s in data["shape"]),
    )
