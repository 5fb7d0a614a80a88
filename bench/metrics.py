"""Salient-object metrics: MAE, maximum F-measure (beta² = 0.3) and IoU.

The maximum F-measure follows the usual SOD protocol: precision and recall are computed
per image at each of 256 thresholds, averaged over images, and the best F over the
thresholds is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

BETA2 = 0.3


@dataclass
class Scores:
    """Accumulates per-image statistics; read the summary from the properties."""

    maes: list[float] = field(default_factory=list)
    ious: list[float] = field(default_factory=list)
    precisions: list[npt.NDArray[np.float64]] = field(default_factory=list)
    recalls: list[npt.NDArray[np.float64]] = field(default_factory=list)

    def add(self, prediction: npt.NDArray[np.uint8], truth: npt.NDArray[np.uint8]) -> None:
        """Score one 8-bit prediction against its 8-bit ground truth (same shape)."""
        if prediction.shape != truth.shape:
            raise ValueError(f"shapes differ: {prediction.shape} vs {truth.shape}")
        foreground = truth > 127
        self.maes.append(float(np.abs(prediction / 255.0 - foreground).mean()))
        predicted = prediction > 127
        union = (predicted | foreground).sum()
        self.ious.append(float((predicted & foreground).sum() / union) if union else 1.0)
        # Histograms give, for every threshold t, the pixels predicted >= t.
        positives = np.bincount(prediction[foreground], minlength=256)[::-1].cumsum()[::-1]
        negatives = np.bincount(prediction[~foreground], minlength=256)[::-1].cumsum()[::-1]
        predicted_total = positives + negatives
        self.precisions.append(np.divide(positives, np.maximum(predicted_total, 1)))
        self.recalls.append(positives / max(int(foreground.sum()), 1))

    @property
    def count(self) -> int:
        return len(self.maes)

    @property
    def mae(self) -> float:
        return float(np.mean(self.maes))

    @property
    def iou(self) -> float:
        return float(np.mean(self.ious))

    @property
    def max_f(self) -> float:
        precision = np.mean(self.precisions, axis=0)
        recall = np.mean(self.recalls, axis=0)
        f = (1 + BETA2) * precision * recall / np.maximum(BETA2 * precision + recall, 1e-12)
        return float(f.max())
