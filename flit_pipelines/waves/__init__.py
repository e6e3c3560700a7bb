"""Wave scoping: which source rows a wave partition carries (the stratified ``sample`` wave)."""

from flit_pipelines.waves.sample import (
    SampleError,
    SampleScope,
    Selection,
    Stratum,
    parent_links,
    sample_scope,
    select_sample,
    strata_of,
)

__all__ = ["SampleError", "SampleScope", "Selection", "Stratum", "parent_links", "sample_scope", "select_sample",
           "strata_of"]
