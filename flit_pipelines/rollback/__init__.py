"""Rollback of a migration (ARCHITECTURE.md "Data flow", job "rollback"), driven by the ledger.

``plan.plan_rollback`` lists what would change (delete what the migration created, restore what existed
before it, keep destination users), ``execute.execute_rollback`` carries the plan out resumably, and
``job.build_rollback_job`` wraps both as the ``<migration>_rollback`` Dagster job.
"""

from flit_pipelines.rollback.execute import execute_rollback, write_plan, write_report
from flit_pipelines.rollback.plan import PLAN_COLUMNS, SCOPES, plan_rollback

__all__ = ["PLAN_COLUMNS", "SCOPES", "execute_rollback", "plan_rollback", "write_plan", "write_report"]
