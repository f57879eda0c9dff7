"""A minimal torchvision stand-in, only for running Meta's `sam3` SAM 3 *image* detector on CPU.

There is no torchvision build for the torch in use here (2.13.0+cpu). This package provides
just the names Meta's image-model code path imports, implemented in plain torch. Anything the
image detector does not need raises NotImplementedError, so nothing silently pretends to be
torchvision. NOT a general torchvision replacement.
"""

__version__ = "0.0.0+sam3-cpu-stand-in"

from . import datasets, ops, transforms  # noqa: F401
