"""The base of every spec model: unknown keys are errors, a loaded spec is immutable."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A pydantic model that refuses keys it does not declare (a misspelt key fails loudly) and is
    frozen (a loaded spec is not edited in place)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
