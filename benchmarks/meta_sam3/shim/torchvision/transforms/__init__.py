"""torchvision.transforms stand-in: v2 (used by sam3's Sam3Processor) and import-only names.

Normalize / Resize / ToTensor (v1) are imported by sam3's SAM 1 interactive-predictor utils,
which the image detector does not build; constructing them raises.
"""

from . import functional, v2  # noqa: F401


class _NotProvided:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError(
            f"torchvision stand-in: transforms.{type(self).__name__} is not provided"
        )


class Normalize(_NotProvided):
    pass


class Resize(_NotProvided):
    pass


class ToTensor(_NotProvided):
    pass


class Compose(_NotProvided):
    pass
