"""Meaning: static word embeddings of column and field names (notes/map_proposal.md §3, §4 step 3).

The model is WordLlama ``l2_supercat`` (MIT; 256-d static token embeddings distilled from Llama 2's
token embedding codebook, mean-pooled), which ships inside the ``wordllama`` wheel
(``wordllama/weights/l2_supercat_256.safetensors`` and ``wordllama/tokenizers/...``). It is loaded from
the installed package with downloads disabled: nothing is fetched at run time (``HF_HUB_OFFLINE``
holds or not). Loading takes about a second, embedding a few hundred short texts a few milliseconds.

* ``embed(texts)`` -> L2-normalised float32 array (n, 256), cached per text;
* ``similarity(a, b)`` -> cosine in -1..1 of two texts
  (``features.field_text`` says what a field means: label, API name words, description, entity).

Raises ``MeaningUnavailable`` when the wheel's files are missing (the scorer then works on names and
values alone and says so in the evidence).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np


class MeaningUnavailable(RuntimeError):
    """The bundled embedding files could not be loaded."""


@lru_cache(maxsize=1)
def _model():
    try:
        import wordllama
        from wordllama import WordLlama
    except ImportError as exc:  # pragma: no cover - a pinned dependency
        raise MeaningUnavailable("wordllama is not installed") from exc
    root = Path(wordllama.__file__).resolve().parent
    # the wheel keeps its tokenizer under tokenizers/, which WordLlama.load finds as its cache directory
    try:
        return WordLlama.load(config="l2_supercat", dim=256, cache_dir=root, disable_download=True)
    except (FileNotFoundError, ValueError) as exc:
        raise MeaningUnavailable(f"bundled WordLlama files not found under {root}") from exc


_CACHE: dict[str, np.ndarray] = {}


def embed(texts: list[str]) -> np.ndarray:
    """L2-normalised embeddings, shape (len(texts), 256), float32; cached per text."""
    missing = [t for t in dict.fromkeys(texts) if t not in _CACHE]
    if missing:
        vecs = np.asarray(_model().embed(missing, norm=True), dtype=np.float32)
        for t, v in zip(missing, vecs, strict=True):
            _CACHE[t] = v
    if not texts:
        return np.zeros((0, 256), dtype=np.float32)
    return np.stack([_CACHE[t] for t in texts])


def similarity(a: str, b: str) -> float:
    """Cosine similarity (-1..1) of two texts' embeddings (0 for an empty text)."""
    if not a.strip() or not b.strip():
        return 0.0
    va, vb = embed([a, b])
    return float(va @ vb)


def available() -> bool:
    """Whether the bundled model loads."""
    try:
        _model()
        return True
    except MeaningUnavailable:
        return False
