"""torchvision.datasets.vision stand-in: VisionDataset as an import-time base class only."""

import torch.utils.data


class VisionDataset(torch.utils.data.Dataset):
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("torchvision stand-in: datasets are not provided")
