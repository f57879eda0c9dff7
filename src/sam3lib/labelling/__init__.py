"""Dataset labelling at scale: a folder of images and some prompts in, a COCO, YOLO or JSON
lines dataset out, streaming, resumable after a crash, locally or on Ray.

One module per step: :mod:`.sources` (what to label) → :mod:`.loading` (decode ahead, in
threads) → :mod:`.labeller` (the model, one batch at a time) → :mod:`.shards` (atomic
commits) → :mod:`.assemble` with :mod:`.writers` (the dataset files). :mod:`.local_engine`
and :mod:`.ray_engine` drive the same labeller; :mod:`.run` is the entry point
(:func:`label`), :mod:`.command` the ``sam3lib label`` command.
"""

from sam3lib.labelling.manifest import RunMismatchError
from sam3lib.labelling.run import label
from sam3lib.labelling.settings import LabelSettings, ModelSpec, RunOptions
from sam3lib.labelling.summary import LabelSummary

__all__ = ["LabelSettings", "LabelSummary", "ModelSpec", "RunMismatchError", "RunOptions", "label"]
