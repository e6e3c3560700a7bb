"""The proposer's own error (imported by ``propose`` and ``adapt`` alike)."""

from __future__ import annotations

__all__ = ["ProposalError"]


class ProposalError(ValueError):
    """Bad arguments (unknown destination, no source, an existing spec in the way); names no secret."""
