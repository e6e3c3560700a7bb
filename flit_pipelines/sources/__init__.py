"""Source readers: one module per source system, each yielding Arrow record batches."""

from flit_pipelines.sources.csv_export import (
    CsvExportSource,
    HeaderReport,
    MissingColumnError,
    MissingFileError,
    resolve_directory,
)

__all__ = ["CsvExportSource", "HeaderReport", "MissingColumnError", "MissingFileError", "resolve_directory"]
