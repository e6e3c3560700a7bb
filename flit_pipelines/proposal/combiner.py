"""The calibrated combiner: evidence features (``proposal.features``) -> the probability that a field
is the column's field (notes/map_proposal.md §4 step 4: a small logistic regression, calibrated with
isotonic regression).

The fitted model is ``combiner.json`` beside this module, written by ``scripts/train_proposer.py``
(deterministic; scikit-learn ``LogisticRegression`` + ``IsotonicRegression``) from development pairs
only: the catalogs' own API names, labels and documented synonyms, re-written in the header styles
real systems use, with value profiles drawn for each field's kind. No header of a benchmarked source or
any evaluation set is a training example. The file holds the feature names (checked against
``features.FEATURES``), the weights and intercept, the isotonic calibration as (x, y) knots, and the
bands measured on held-out development pairs: ``high`` (the lowest calibrated confidence whose
held-out precision is >= 0.98) and ``propose`` (the confidence from which a field is more likely right
than wrong).

``probability(X)`` -> calibrated confidence per row, 0..1 (numpy only at run time). Raises
``CombinerError`` when the file is missing or was fitted on other features.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from flit_pipelines.proposal.features import FEATURES

MODEL_PATH = Path(__file__).resolve().parent / "combiner.json"


class CombinerError(RuntimeError):
    """The fitted combiner is missing or does not match the features."""


@lru_cache(maxsize=1)
def model() -> dict:
    """The fitted combiner (module docstring), loaded once."""
    if not MODEL_PATH.exists():
        raise CombinerError(f"{MODEL_PATH.name} is missing: run scripts/train_proposer.py")
    m = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    if tuple(m["features"]) != FEATURES:
        raise CombinerError(f"{MODEL_PATH.name} was fitted on other features: run scripts/train_proposer.py")
    return m


def raw_score(x: np.ndarray) -> np.ndarray:
    """Uncalibrated logistic probability per row of ``x`` (rows: pairs; columns: ``FEATURES``)."""
    m = model()
    z = x @ np.asarray(m["coef"], dtype=np.float64) + float(m["intercept"])
    return 1.0 / (1.0 + np.exp(-z))


def probability(x: np.ndarray) -> np.ndarray:
    """Calibrated confidence (0..1) per row of ``x``: isotonic over the logistic score."""
    m = model()
    return np.interp(raw_score(x), np.asarray(m["iso_x"]), np.asarray(m["iso_y"]))


def bands() -> dict[str, float]:
    """``{"high": ..., "propose": ...}`` measured on held-out development pairs (module docstring)."""
    return dict(model()["bands"])
