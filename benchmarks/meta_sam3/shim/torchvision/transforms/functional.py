"""torchvision.transforms.functional stand-in: imported by sam3.model.io_utils (video/image
file loading helpers the detector does not use); nothing is provided."""


def __getattr__(name):
    raise NotImplementedError(f"torchvision stand-in: transforms.functional.{name} not provided")
