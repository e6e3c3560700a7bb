"""Vectorised field mapping: formatters, value maps, derived columns, payload frames."""

from flit_pipelines.transform.payload import CF_PREFIX, FK_PREFIX, build_payload, needed_objects
from flit_pipelines.transform.values import TransformError

__all__ = ["CF_PREFIX", "FK_PREFIX", "build_payload", "needed_objects", "TransformError"]
