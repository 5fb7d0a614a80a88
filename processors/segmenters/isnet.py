"""IS-Net family (DIS, Qin et al., 2022; e.g. isnet-general-use): 1024×1024 input,
normalised to [-0.5, 0.5] (mean 0.5, std 1), saliency output min-max normalised."""

from __future__ import annotations

from processors.segmenters.base import SaliencySegmenter


class ISNetSegmenter(SaliencySegmenter):
    family = "isnet"
    input_size = (1024, 1024)
    mean = (0.5, 0.5, 0.5)
    std = (1.0, 1.0, 1.0)
