"""torchvision.datasets stand-in: only datasets.vision.VisionDataset, a base class that sam3's
training-data module (imported by its model code for a type) subclasses at import time."""

from . import vision  # noqa: F401
