"""DTW distance between feature sequences (dtaidistance's C implementation)."""

from __future__ import annotations

import math

import numpy as np
from dtaidistance import dtw_ndim

from enrollment_core.verification.features import RESAMPLE_POINTS

# Sakoe-Chiba band as a fraction of the sequence length: a genuine signature never needs to warp
# by more than a fifth of its length, and the band cuts the cost by ~2.5x. Same EER as no band.
WINDOW_FRACTION = 0.2


def dtw_distance(a: np.ndarray, b: np.ndarray) -> float:
    """DTW distance normalised per sample: sqrt(sum of squared differences along the warping path)
    / sqrt(RESAMPLE_POINTS), i.e. roughly the RMS gap per point in normalised signature units.
    Sequences have the fixed resampled length, so this normalisation is also by path length."""
    window = max(1, int(WINDOW_FRACTION * max(len(a), len(b))))
    return float(dtw_ndim.distance_fast(a, b, window=window)) / math.sqrt(RESAMPLE_POINTS)
