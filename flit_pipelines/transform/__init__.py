"""Vectorised field mapping: formatters, value maps, derived columns, payload frames.

The package imports nothing itself: ``spec`` validates expressions and formatter names with
``transform.expressions`` and ``transform.formatters`` while ``transform.payload`` reads the spec model,
so callers import the module they use (``transform.payload``: ``build_payload``, ``CF_PREFIX``, ...).
"""
