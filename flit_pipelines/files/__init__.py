"""Document files: safe resolution and reading under a files root (``documents``), and a record's
source key carried in a file or part name (``keys``). Used by the destinations' file targets, the PHI
detector and attachment staging; imports neither sources nor destinations."""

from flit_pipelines.files.documents import (
    CHANGED,
    FILE_PATH,
    NO_ROOT,
    NOT_FOUND,
    NOT_REGULAR,
    OUTSIDE,
    TIMED_OUT,
    UNREADABLE,
    DocumentFile,
    DocumentFiles,
    FileRejected,
    flag_text,
    too_large,
    write_staged,
)
from flit_pipelines.files.keys import key_in_name, key_of_token, key_token, name_with_key

__all__ = ["CHANGED", "FILE_PATH", "NO_ROOT", "NOT_FOUND", "NOT_REGULAR", "OUTSIDE", "TIMED_OUT", "UNREADABLE",
           "DocumentFile", "DocumentFiles", "FileRejected", "flag_text", "key_in_name", "key_of_token", "key_token",
           "name_with_key", "too_large", "write_staged"]
