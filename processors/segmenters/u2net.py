"""U²-Net family (u2net, u2netp): 320×320 input, ImageNet normalisation, saliency output.

Pre- and post-processing follow the published U²-Net/rembg recipe so the classic weights
give the masks they were trained to give.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image

from processors.segmenters.base import Segmenter

_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


class U2NetSegmenter(Segmenter):
    """Salient-object segmentation with U²-Net (Qin et al., 2020)."""

    family = "u2net"
    input_size = (320, 320)

    def preprocess(self, image: Image.Image) -> npt.NDArray[np.float32]:
        """RGB image → float32 tensor [1, 3, 320, 320], scaled by its max then normalised."""
        small = image.resize(self.input_size, Image.Resampling.LANCZOS)
        array = np.asarray(small, dtype=np.float32)
        array /= max(float(array.max()), 1e-6)
        array = (array - _MEAN) / _STD
        return np.ascontiguousarray(array.transpose(2, 0, 1)[np.newaxis], dtype=np.float32)

    def predict(self, image: Image.Image) -> Image.Image:
        (saliency, *_) = self.session.run(None, {self.input_name: self.preprocess(image)})
        prediction = saliency[0, 0]
        low, high = float(prediction.min()), float(prediction.max())
        scaled = (prediction - low) / max(high - low, 1e-6)
        mask = Image.fromarray(np.rint(scaled * 255).astype(np.uint8), mode="L")
        return mask.resize(image.size, Image.Resampling.LANCZOS)
