"""Read the SVC2004 Task 1 development set (evaluation and tests only; no licence for product use).

Each file ``U<u>S<s>`` (in ``training/`` or ``testing/``) is a numpy.save array of shape (4, N):
x, y, time (ms), pen-down flag. S1-S20 are genuine, S21-S40 skilled forgeries.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from enrollment_core.strokes import Stroke

USERS = tuple(range(1, 41))
GENUINE = tuple(range(1, 21))
SKILLED_FORGERIES = tuple(range(21, 41))
# Project root / ../shared/datasets/svc2004-task1, resolved from this file, not from the cwd.
DEFAULT_DATASET = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "svc2004-task1"


class DatasetMissing(FileNotFoundError):
    """The SVC2004 folder (or one of its files) is not where it was expected."""


def to_strokes(arr: np.ndarray, timed: bool = True) -> list[Stroke]:
    """Split a (4, N) SVC2004 array into pen-down strokes of x, y, t (ms from the first sample), or
    with NaN time (timed=False: x, y and pen lifts only, as the canvas gives).

    Pen-up samples (hover) are dropped: neither the canvas nor a touch screen sees the pen in the air.
    The tablet's clock steps back by a few ms in 59 of the 1600 files; times are made non-decreasing
    (the product refuses backwards time within a stroke).
    """
    x, y, t, down = np.asarray(arr, dtype=np.float64)
    t = np.maximum.accumulate(t - t[0]) if timed and len(t) else np.full(len(x), np.nan)
    pen = down > 0
    # Boundaries of consecutive pen-down runs.
    edges = np.flatnonzero(np.diff(np.concatenate([[0], pen.astype(np.int8), [0]])))
    return [np.column_stack([x[start:stop], y[start:stop], t[start:stop]])
            for start, stop in zip(edges[::2], edges[1::2], strict=True)]


def without_time(strokes: list[Stroke]) -> list[Stroke]:
    """The same strokes with NaN time (the shape-only view of a drawing)."""
    return [np.column_stack([s[:, :2], np.full(len(s), np.nan)]) for s in strokes]


def check_dataset(root: Path) -> None:
    if not (root / "training").is_dir() or not (root / "testing").is_dir():
        raise DatasetMissing(f"SVC2004 Task 1 dataset not found at {root} (expected training/ and testing/)")


def load_signature(root: Path, user: int, sample: int, timed: bool = True) -> list[Stroke]:
    name = f"U{user}S{sample}"
    for folder in ("training", "testing"):
        path = root / folder / name
        if path.is_file():
            with path.open("rb") as fh:
                return to_strokes(np.load(fh, allow_pickle=False), timed)
    raise DatasetMissing(f"{name} not found under {root}")


def load_user(root: Path, user: int, timed: bool = True) -> dict[int, list[Stroke]]:
    """All 40 signatures of one user, keyed by sample number."""
    return {s: load_signature(root, user, s, timed) for s in GENUINE + SKILLED_FORGERIES}
