"""U²-Net family (u2net, u2netp): 320×320 input, ImageNet normalisation (Qin et al., 2020)."""

from __future__ import annotations

from processors.segmenters.base import SaliencySegmenter


class U2NetSegmenter(SaliencySegmenter):
    family = "u2net"
    input_size = (320, 320)
    mean = (0.485, 0.456, 0.406)
    std = (0.229, 0.224, 0.225)
