"""The migration ledger: crosswalk, audit events, prior state and quarantine (SQLAlchemy)."""

from flit_pipelines.ledger.ledger import Ledger, RecordOutcome

__all__ = ["Ledger", "RecordOutcome"]
