"""BiRefNet family (Zheng et al., 2024; e.g. birefnet-general): 1024×1024 input, ImageNet
normalisation, logits output (sigmoid, then min-max normalised). BRIA RMBG-2.0 is a
BiRefNet whose published ONNX graph ends in the sigmoid already (rembg min-max normalises
its output as it is): the ``bria`` family."""

from __future__ import annotations

from processors.segmenters.base import SaliencySegmenter


class BiRefNetSegmenter(SaliencySegmenter):
    family = "birefnet"
    input_size = (1024, 1024)
    mean = (0.485, 0.456, 0.406)
    std = (0.229, 0.224, 0.225)
    logits = True


class BriaSegmenter(BiRefNetSegmenter):
    family = "bria"
    logits = False
