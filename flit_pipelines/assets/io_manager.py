"""Parquet storage of extracts and payloads under ``FLIT_DATA_DIR`` through a UPath IO manager.

Paths are ``<data dir>/parquet/<asset key path>/<wave>.parquet`` (UPath, so S3/GCS URLs work
unchanged); another tenant's (``flit_pipelines.tenants``) are under ``<data dir>/tenants/<tenant>/parquet``
(or ``<base_dir>/tenants/<tenant>`` when ``base_dir`` is set), named by the wave alone. Extract assets
stream their chunks straight into that file with ``ParquetStore.writer`` and return a ``ParquetRef``;
the IO manager then has nothing left to write, and loads it like any other Parquet output for the
payload assets downstream.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

from flit_pipelines.assets.tenancy import TenantScopedResource, run_tenant
from flit_pipelines.errors import value_free_errors
from flit_pipelines.runtime import default_data_dir
from flit_pipelines.tenants import DEFAULT_TENANT, split_key, tenant_data_dir


@dataclass(frozen=True)
class ParquetRef:
    """An output already written to ``path`` (by a streaming writer); ``rows`` for metadata."""

    path: str
    rows: int


def parquet_root(base_dir: str, tenant: str) -> UPath:
    """The Parquet root of ``tenant``: ``base_dir`` (default ``$FLIT_DATA_DIR/parquet``) for the default
    tenant; another's is ``<base_dir>/tenants/<tenant>`` or ``$FLIT_DATA_DIR/tenants/<tenant>/parquet``."""
    if base_dir:
        return UPath(base_dir) if tenant == DEFAULT_TENANT else UPath(base_dir).joinpath("tenants", tenant)
    return UPath(str(tenant_data_dir(default_data_dir(), tenant))).joinpath("parquet")


class ParquetStore(TenantScopedResource):
    """Where Parquet outputs live. ``base_dir`` defaults to ``$FLIT_DATA_DIR/parquet``; the store serves
    the tenant of the run it is set up for (``parquet_root``)."""

    base_dir: str = ""

    def root(self) -> UPath:
        """Base directory of this store's tenant as a UPath (local path or fsspec URL)."""
        return parquet_root(self.base_dir, self._tenant)

    def path_for(self, asset_key: dg.AssetKey, partition: str | None) -> UPath:
        """``<root>/<asset key path>/<partition>.parquet``."""
        return self.root().joinpath(*asset_key.path, f"{partition or '__all__'}.parquet")

    def writer(self, asset_key: dg.AssetKey, partition: str | None, schema: pa.Schema) -> tuple[UPath, pq.ParquetWriter]:
        """A ParquetWriter on a temporary file beside the final path; call ``commit`` when done."""
        path = self.path_for(asset_key, partition)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        # the writer opens (and on close() closes) the file itself, so it is complete once closed
        return tmp, pq.ParquetWriter(tmp.path, schema, filesystem=tmp.fs)

    @staticmethod
    def commit(tmp: UPath) -> UPath:
        """Rename a finished ``.tmp`` file to its final name; returns the final path."""
        final = tmp.with_name(tmp.name.removesuffix(".tmp"))
        tmp.rename(final)  # atomic on a local disk: a crashed extract never leaves half a file
        return final


class ParquetIOManager(dg.UPathIOManager):
    """Stores pandas DataFrames as Parquet; accepts ``ParquetRef`` for outputs written by a stream.
    A partition's file is named by its wave: the base path already is the run's tenant's."""

    extension = ".parquet"

    def get_path_for_partition(self, context, path: UPath, partition: str) -> UPath:
        return path / split_key(partition)[1]

    @value_free_errors("parquet IO manager (write)")
    def dump_to_path(self, context: dg.OutputContext, obj, path: UPath) -> None:
        if isinstance(obj, ParquetRef):
            return  # already streamed to this path
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(f"ParquetIOManager stores DataFrames, got {type(obj).__name__}")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            obj.to_parquet(fh, index=False)

    @value_free_errors("parquet IO manager (read)")
    def load_from_path(self, context: dg.InputContext, path: UPath) -> pd.DataFrame:
        with path.open("rb") as fh:
            return pd.read_parquet(fh)


class ParquetIOManagerFactory(dg.ConfigurableIOManagerFactory):
    """IO manager resource; ``base_dir`` defaults to ``$FLIT_DATA_DIR/parquet`` at run time."""

    base_dir: str = ""

    def create_io_manager(self, context) -> ParquetIOManager:
        return ParquetIOManager(base_path=parquet_root(self.base_dir, run_tenant(context.dagster_run)))
