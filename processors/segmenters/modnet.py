"""MODNet family (Ke et al., 2022; portrait matting), as in its published ONNX demo: the
image is scaled so its short side is 512 (when it is not already between 512 on the short
side and 512 on the long side), both sides rounded down to a multiple of 32, normalised to
[-1, 1]; the output is already an alpha matte in [0, 1]."""

from __future__ import annotations

import numpy as np
from PIL import Image

from processors.segmenters.base import Segmenter, to_mask
from processors.segmenters.engines import Tensor

REFERENCE_SIZE = 512


def modnet_input_size(width: int, height: int, reference: int = REFERENCE_SIZE) -> tuple[int, int]:
    """The (width, height) MODNet's demo feeds the network for an image of this size."""
    if max(width, height) < reference or min(width, height) > reference:
        if width >= height:
            height, width = reference, int(width / height * reference)
        else:
            width, height = reference, int(height / width * reference)
    return max(width - width % 32, 32), max(height - height % 32, 32)


class MODNetSegmenter(Segmenter):
    family = "modnet"

    @classmethod
    def example_input(cls) -> Tensor:
        return np.zeros((1, 3, REFERENCE_SIZE, REFERENCE_SIZE), dtype=np.float32)

    def preprocess(self, image: Image.Image) -> Tensor:
        size = modnet_input_size(*image.size)
        small = image.resize(size, Image.Resampling.BOX)  # area averaging, as cv2.INTER_AREA
        array = np.asarray(small, dtype=np.float32) / 127.5 - 1.0
        return np.ascontiguousarray(array.transpose(2, 0, 1)[np.newaxis])

    def postprocess(
        self,
        output: Tensor,
        size: tuple[int, int],
        resample: Image.Resampling = Image.Resampling.LANCZOS,
    ) -> Image.Image:
        return to_mask(output[0, 0], size, resample)
