"""``DatabaseSource`` read for real: over ODBC (unixODBC + Debian's psqlODBC "PostgreSQL Unicode"),
over SQLAlchemy (psycopg2) and over a SQLite practice file, plus the practice's file export and
document files.

One synthetic practice (150 patients, seed 7) is built twice, into a fresh PostgreSQL database (created
and dropped by the session fixture) and into a SQLite file; every reader must give the same text.
The ODBC tests never skip: without unixODBC or the driver they fail saying what to install
(``scripts/dev`` installs ``unixodbc odbc-postgresql``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import traceback
import uuid
from datetime import datetime
from decimal import Decimal

import pandas as pd
import psycopg2
import pyarrow as pa
import pytest
from sqlalchemy import text

from flit_sandboxes.dentrix_practice import (
    SCHEMA, build_practice, document_bytes, export_files, main, source_objects)
from flit_pipelines.sources import CsvExportSource, MissingColumnError, MissingFileError
from flit_pipelines.sources.database import (
    DatabaseConnectionError, DatabaseSource, arrow_text, column_text)
from flit_pipelines.sources.dialects import (
    DIALECTS, InvalidIdentifierError, dialect_from_dbms_name, odbc_connection_string, probe_sql, select_sql,
    since_parameter, table_reference)
from flit_pipelines.sources.readonly import WriteStatementRefused, require_select
from flit_pipelines.sources.extract import run_extract
from flit_pipelines.spec.model import ColumnSpec, SourceObject

PATIENTS = 150
SEED = 7
PG_HOST = dict(host="127.0.0.1", port=5432, user="postgres")
ODBC_DRIVER = "PostgreSQL Unicode"
OBJECTS = source_objects()


# --- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_practice():
    """A fresh PostgreSQL database holding the practice in schema ``admin``: (name, row counts)."""
    name = f"flit_dbsrc_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg2.connect(dbname="postgres", connect_timeout=5, **PG_HOST)
    except psycopg2.OperationalError as exc:  # pragma: no cover - the CI machine has PostgreSQL
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 (user postgres) is required: {type(exc).__name__}")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        counts = build_practice(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}",
                                patients=PATIENTS, seed=SEED, dialect="postgresql")
        yield name, counts
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def sqlite_practice(tmp_path_factory):
    """The same practice as a SQLite file, with its file export and document files."""
    root = tmp_path_factory.mktemp("dentrix_src")
    path = root / "practice.db"
    counts = build_practice(path, patients=PATIENTS, seed=SEED, export_dir=root / "export",
                            documents_dir=root / "documents")
    return {"path": path, "counts": counts, "export": root / "export", "documents": root / "documents"}


@pytest.fixture(scope="session")
def odbc_conn_str(pg_practice) -> str:
    """The ODBC connection string of the practice database; fails (never skips) without unixODBC."""
    if shutil.which("odbcinst") is None:
        pytest.fail("unixODBC is not installed (no odbcinst): run scripts/dev, or as root "
                    "`apt-get install unixodbc odbc-postgresql`")
    try:
        import pyodbc
    except ImportError as exc:  # pragma: no cover - odbcinst without libodbc
        pytest.fail(f"pyodbc cannot load unixODBC: {exc}; install the unixodbc package")
    if ODBC_DRIVER not in pyodbc.drivers():
        pytest.fail(f"ODBC driver {ODBC_DRIVER!r} is not registered (found {pyodbc.drivers()}): "
                    "install odbc-postgresql")
    return f"Driver={{{ODBC_DRIVER}}};Server=127.0.0.1;Port=5432;Database={pg_practice[0]};Uid=postgres;"


@pytest.fixture(scope="session")
def sources(odbc_conn_str, pg_practice, sqlite_practice):
    """The three readers of the same practice: ODBC, SQLAlchemy PostgreSQL, SQLite."""
    srcs = {
        "odbc": DatabaseSource.from_odbc(odbc_conn_str, chunk_rows=1000),
        "postgresql": DatabaseSource.from_url(
            f"postgresql+psycopg2://postgres@127.0.0.1:5432/{pg_practice[0]}", chunk_rows=1000),
        "sqlite": DatabaseSource.from_url(f"sqlite:///{sqlite_practice['path']}", chunk_rows=1000),
    }
    yield srcs
    for s in srcs.values():
        s.close()


@pytest.fixture
def pg(pg_practice):
    conn = psycopg2.connect(dbname=pg_practice[0], **PG_HOST)
    yield conn
    conn.close()


def read_table(source, obj: SourceObject, **kw) -> pa.Table:
    batches = list(source.read(obj, **kw))
    schema = pa.schema([(c, pa.string()) for c in obj.columns])
    return pa.Table.from_batches(batches, schema=schema)


def sorted_rows(table: pa.Table) -> pa.Table:
    return table.sort_by([(c, "ascending") for c in table.column_names])


# --- unixODBC and the driver ---------------------------------------------------------------------------


def test_unixodbc_registers_the_postgresql_drivers():
    out = subprocess.run(["odbcinst", "-q", "-d"], capture_output=True, text=True, check=True).stdout
    assert "[PostgreSQL Unicode]" in out and "[PostgreSQL ANSI]" in out


def test_odbc_connection_detects_postgresql(sources):
    assert sources["odbc"].dialect.name == "postgresql"
    assert sources["postgresql"].dialect.name == "postgresql"
    assert sources["sqlite"].dialect.name == "sqlite"


# --- every object, three readers, same text ------------------------------------------------------------


@pytest.mark.parametrize("table", list(SCHEMA))
def test_every_object_reads_the_same_over_odbc_sqlalchemy_and_sqlite(table, sources, pg_practice,
                                                                    sqlite_practice):
    obj = OBJECTS[table]
    expected_rows = pg_practice[1][table]
    assert sqlite_practice["counts"][table] == expected_rows
    tables = {}
    for kind, src in sources.items():
        report = src.header(obj)
        assert report.present and not report.missing_optional and not report.extra, kind
        assert report.rename == {c: c for c in obj.columns}
        tables[kind] = read_table(src, obj)
        assert tables[kind].num_rows == expected_rows, kind
    assert sorted_rows(tables["odbc"]).equals(sorted_rows(tables["postgresql"]))
    assert sorted_rows(tables["odbc"]).equals(sorted_rows(tables["sqlite"]))
    if obj.primary_key:  # ORDER BY the primary key on every engine
        keys = [int(k) for k in tables["odbc"].column(obj.primary_key).to_pylist()]
        assert keys == sorted(keys)
        assert tables["odbc"].equals(tables["sqlite"])


_FORMS = {"int": r"-?\d+", "money": r"-?\d+(\.\d*[1-9])?", "date": r"\d{4}-\d{2}-\d{2}",
          "datetime": r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?"}


@pytest.mark.parametrize("table", ["v_patient", "v_appt", "fullproclog", "v_guarantor_balance"])
def test_text_forms_are_canonical(table, sources):
    obj = OBJECTS[table]
    df = read_table(sources["odbc"], obj).to_pandas()
    for name, col in obj.columns.items():
        values = df[name].dropna()
        if col.type in _FORMS:
            bad = values[~values.str.fullmatch(_FORMS[col.type])]
            assert bad.empty, f"{name}: {len(bad)} values not in {col.type} form"
        else:
            assert (values != "").all(), name


def test_values_match_the_database(sources, pg):
    """Real values: money sums, a patient's row, and dates against psycopg2's own reading."""
    with pg.cursor() as cur:
        cur.execute("SELECT sum(amt), count(*) FROM admin.fullproclog WHERE chartstatus <> 101")
        total, n = cur.fetchone()
        cur.execute("SELECT patient_id, last_name, birth_date, modified_time_stamp, sec_provider_id "
                    "FROM admin.v_patient ORDER BY patient_id LIMIT 1")
        pid, last, birth, modified, sec = cur.fetchone()
    log = read_table(sources["odbc"], OBJECTS["fullproclog"]).to_pandas()
    ledger = log[log["chartstatus"] != "101"]
    assert len(ledger) == n
    assert sum(Decimal(v) for v in ledger["amt"]) == total
    first = read_table(sources["odbc"], OBJECTS["v_patient"], limit=1).to_pylist()
    assert len(first) == 1
    row = first[0]
    assert row["patient_id"] == str(pid) and row["last_name"] == last
    assert row["birth_date"] == birth.isoformat() and row["modified_time_stamp"] == modified.isoformat(sep=" ")
    assert row["sec_provider_id"] == (None if sec is None else str(sec))


def test_typed_extract_over_odbc_keeps_every_row(sources, pg_practice):
    for table in ("v_patient", "v_appt", "fullproclog"):
        kept, quarantined = [], []
        stats = run_extract(sources["odbc"], OBJECTS[table], table, write=kept.append, quarantine=quarantined.append)
        assert stats.rows_read == stats.rows_kept == pg_practice[1][table]
        assert stats.quarantined == 0 and not quarantined
        typed = pd.concat(kept)
        assert str(typed[OBJECTS[table].primary_key].dtype) == "Int64"


def test_the_dentrix_spec_extracts_every_object_over_odbc(odbc_conn_str, pg_practice, monkeypatch):
    """The committed dentrix_to_highlevel spec, opened from its environment like a run does."""
    from flit_pipelines.sources.registry import open_source
    from flit_pipelines.spec import load_spec
    from flit_pipelines.spec.load import SPEC_DIR

    spec = load_spec(SPEC_DIR / "dentrix_to_highlevel.yaml")
    monkeypatch.setenv(spec.source.odbc_env, odbc_conn_str)
    source = open_source(spec)
    assert isinstance(source, DatabaseSource) and source.dialect.name == "postgresql"
    for name, obj in spec.objects.items():
        stats = run_extract(source, obj, name, write=lambda _: None, quarantine=lambda _: None)
        table = obj.table.rsplit(".", 1)[-1]
        assert stats.rows_read == stats.rows_kept == pg_practice[1][table], name
        assert stats.quarantined == 0, name


# --- chunking, delta pickup -----------------------------------------------------------------------------


def test_small_chunks_give_several_batches_with_the_same_rows(odbc_conn_str, sources, pg_practice):
    obj = OBJECTS["v_appt"]
    total = pg_practice[1]["v_appt"]
    small = DatabaseSource.from_odbc(odbc_conn_str, chunk_rows=100)
    sizes = [b.num_rows for b in small.read(obj)]
    assert len(sizes) == -(-total // 100) and max(sizes) == 100 and sum(sizes) == total
    assert pa.Table.from_batches(list(small.read(obj))).equals(read_table(sources["odbc"], obj))
    # psqlODBC streams through DECLARE/FETCH with the chunk as its cache size
    assert "UseDeclareFetch=1;Fetch=100;" in odbc_connection_string(odbc_conn_str, small.dialect, 100)


def test_stopping_early_releases_the_connection(odbc_conn_str):
    src = DatabaseSource.from_odbc(odbc_conn_str, chunk_rows=100)
    it = src.read(OBJECTS["fullproclog"])
    assert next(it).num_rows == 100
    it.close()
    assert next(src.read(OBJECTS["v_staff"])).num_rows == 3


@pytest.mark.parametrize("kind", ["odbc", "postgresql", "sqlite"])
def test_since_keeps_exactly_the_rows_modified_after_it(kind, sources, pg):
    obj = OBJECTS["v_appt"]
    full = read_table(sources[kind], obj).to_pandas()
    stamps = pd.to_datetime(full["modified_time_stamp"]).sort_values()
    cutoff = stamps.iloc[len(stamps) // 2].to_pydatetime()  # an existing value: equal is not "after"
    with pg.cursor() as cur:
        cur.execute("SELECT appointment_id FROM admin.v_appt WHERE modified_time_stamp > %s", (cutoff,))
        expected = sorted(r[0] for r in cur.fetchall())
    delta = read_table(sources[kind], obj, since=cutoff).to_pandas()
    assert 0 < len(delta) < len(full)
    assert sorted(int(i) for i in delta["appointment_id"]) == expected
    assert (pd.to_datetime(delta["modified_time_stamp"]) > cutoff).all()
    later = read_table(sources[kind], obj, since=cutoff.replace(microsecond=500_000)).num_rows
    assert later == len(expected)  # no stored value falls inside that half second


def test_since_edge_cases(sources):
    obj = OBJECTS["v_staff"]
    src = sources["odbc"]
    assert read_table(src, obj, since=datetime(2100, 1, 1)).num_rows == 0
    with pytest.raises(ValueError, match="naive"):
        list(src.read(obj, since=datetime(2020, 1, 1).astimezone()))
    no_stamp = SourceObject(table="admin.v_staff", columns={"staff_id": ColumnSpec(type="int")})
    assert read_table(src, no_stamp, since=datetime(2100, 1, 1)).num_rows == 3  # read whole


# --- header: renames, missing columns and views ------------------------------------------------------------


def test_renamed_columns_via_source_match_case_insensitively(sources):
    obj = SourceObject(table="ADMIN.V_PATIENT", primary_key="PATIENT", columns={
        "PATIENT": ColumnSpec(type="int", source="Patient_ID"),
        "LAST": ColumnSpec(source="LAST_NAME"),
        "BIRTHDATE": ColumnSpec(type="date", source="birth_date"),
    })
    base = read_table(sources["odbc"], OBJECTS["v_patient"]).to_pandas()
    for kind, src in sources.items():
        report = src.header(obj)
        assert report.rename == {"patient_id": "PATIENT", "last_name": "LAST", "birth_date": "BIRTHDATE"}, kind
        assert "first_name" in report.extra
        got = read_table(src, obj).to_pandas()
        assert list(got.columns) == ["PATIENT", "LAST", "BIRTHDATE"]
        assert got["PATIENT"].tolist() == base["patient_id"].tolist()
        assert got["LAST"].tolist() == base["last_name"].tolist()
        assert got["BIRTHDATE"].tolist() == base["birth_date"].tolist()


def test_missing_required_column_names_view_and_column(sources):
    obj = SourceObject(table="admin.v_patient", columns={
        "patient_id": ColumnSpec(type="int"), "chart_number": ColumnSpec(source="chartnum")})
    for src in sources.values():
        with pytest.raises(MissingColumnError, match=r"admin\.v_patient: required column 'chartnum' is missing"):
            src.header(obj)
        with pytest.raises(MissingColumnError):
            list(src.read(obj))


def test_missing_optional_column_is_all_null(sources):
    obj = SourceObject(table="admin.v_staff", columns={
        "staff_id": ColumnSpec(type="int"), "nickname": ColumnSpec(required=False)})
    for src in sources.values():
        assert src.header(obj).missing_optional == ["nickname"]
        got = read_table(src, obj)
        assert got.num_rows == 3 and got.column("nickname").null_count == 3


def test_missing_view_raises_unless_optional(sources):
    cols = {"x": ColumnSpec()}
    missing = SourceObject(table="admin.v_no_such_view", columns=cols)
    optional = SourceObject(table="admin.v_no_such_view", columns=cols, optional=True)
    no_schema = SourceObject(table="nosuchschema.v_patient", columns=cols)
    for kind, src in sources.items():
        with pytest.raises(MissingFileError, match=r"admin\.v_no_such_view: view or table not found"):
            src.header(missing)
        with pytest.raises(MissingFileError):
            src.header(no_schema)
        report = src.header(optional)
        assert not report.present and report.missing_optional == ["x"], kind
        assert list(src.read(optional)) == []
        stats = run_extract(src, optional, "v", write=lambda _: None, quarantine=lambda _: None)
        assert stats.rows_read == 0 and stats.file_present is False


def test_names_outside_the_identifier_rules_never_reach_sql(sources):
    bad = SourceObject(table="admin.v_patient; DROP TABLE admin.v_staff", columns={"x": ColumnSpec()})
    with pytest.raises(InvalidIdentifierError):
        sources["odbc"].header(bad)
    with pytest.raises(InvalidIdentifierError):
        table_reference("a.b.c")
    assert read_table(sources["odbc"], OBJECTS["v_staff"]).num_rows == 3


# --- read-only, redaction -----------------------------------------------------------------------------------


def test_the_odbc_connection_is_read_only(sources, pg):
    import pyodbc

    with sources["odbc"].connection() as conn:
        for stmt in ("CREATE TABLE admin.flit_write_probe (a int)", "DELETE FROM admin.v_staff",
                     "UPDATE admin.v_patient SET last_name = 'x'"):
            with pytest.raises(pyodbc.Error) as err:
                conn.execute(stmt)
            assert err.value.args[0] == "25006"  # read_only_sql_transaction
    with pg.cursor() as cur:
        cur.execute("SELECT to_regclass('admin.flit_write_probe'), (SELECT count(*) FROM admin.v_staff)")
        assert cur.fetchone() == (None, 3)


def test_the_sqlalchemy_connections_are_read_only(sources):
    from sqlalchemy.exc import DBAPIError

    for kind in ("postgresql", "sqlite"):
        with sources[kind].connection() as conn:
            with pytest.raises(DBAPIError, match="read-only|readonly"):
                conn.execute(text("DELETE FROM admin.v_staff"))
        assert read_table(sources[kind], OBJECTS["v_staff"]).num_rows == 3


def test_connection_errors_never_show_the_connection_string(pg_practice, odbc_conn_str):
    import pyodbc

    secret = "S3cret-" + uuid.uuid4().hex[:8]
    wrong_db = f"flit_no_such_db_{uuid.uuid4().hex[:6]}"
    bad = f"Driver={{{ODBC_DRIVER}}};Server=127.0.0.1;Port=5432;Database={wrong_db};Uid=postgres;Pwd={secret};"
    with pytest.raises(pyodbc.Error) as raw:  # the driver's own text names the database, not the password
        pyodbc.connect(bad, timeout=5)
    assert secret not in str(raw.value)
    cases = [DatabaseSource.from_odbc(bad), DatabaseSource.from_odbc(f"DSN=flit_no_such_dsn;Pwd={secret};"),
             DatabaseSource.from_odbc(f"Driver={{No Such Driver}};Pwd={secret};"),
             DatabaseSource.from_url(f"postgresql+psycopg2://postgres:{secret}@127.0.0.1:5432/{wrong_db}")]
    for src in cases:
        assert secret not in repr(src)
        with pytest.raises(DatabaseConnectionError) as err:
            src.header(OBJECTS["v_staff"])
        shown = str(err.value) + "".join(traceback.format_exception(err.value))
        for fragment in (secret, wrong_db, "Uid=", "Pwd", "127.0.0.1", "postgres:"):
            assert fragment not in shown, fragment
    assert re.fullmatch(r"ODBC connection failed: \w+ SQLSTATE \w{5}( \(.+\))?", str(_connect_error(cases[0])))
    assert "SQLSTATE IM002 (ODBC driver or data source not found)" in str(_connect_error(cases[1]))
    assert "SQLSTATE 01000" in str(_connect_error(cases[2]))  # unixODBC: "can't open lib"
    assert str(_connect_error(cases[3])) == "database connection failed: OperationalError"


def test_unusable_urls_are_reported_without_the_url(tmp_path):
    with pytest.raises(DatabaseConnectionError, match="^database URL is not a valid SQLAlchemy URL$"):
        DatabaseSource.from_url("not a url :secret@")
    missing = DatabaseSource.from_url(f"sqlite:///{tmp_path / 'absent.db'}")
    with pytest.raises(DatabaseConnectionError, match="^database connection failed: SQLite file not found$"):
        missing.header(OBJECTS["v_staff"])
    assert not (tmp_path / "absent.db").exists()  # read-only: never created


def _connect_error(src: DatabaseSource) -> DatabaseConnectionError:
    try:
        src.header(OBJECTS["v_staff"])
    except DatabaseConnectionError as exc:
        return exc
    raise AssertionError("no error")


# --- dialects and text conversion (no database) -------------------------------------------------------------


def test_dialects_from_dbms_names_and_their_sql():
    assert dialect_from_dbms_name("c-treeACE SQL").name == "ctree"
    assert dialect_from_dbms_name("FairCom DB SQL").name == "ctree"
    assert dialect_from_dbms_name("Microsoft SQL Server").name == "mssql"
    assert dialect_from_dbms_name("PostgreSQL").name == "postgresql"
    assert dialect_from_dbms_name("SQLite").name == "sqlite"
    assert dialect_from_dbms_name(None).name == "ansi"
    kw = dict(since_column="modified_time_stamp", order_by="patient_id", limit=5)
    assert select_sql(DIALECTS["ctree"], "admin.v_patient", ["patient_id"], **kw) == (
        'SELECT TOP 5 "patient_id" FROM admin.v_patient WHERE "modified_time_stamp" > ? ORDER BY "patient_id"')
    assert select_sql(DIALECTS["mssql"], "admin.v_patient", ["patient_id", "length"]) == (
        "SELECT [patient_id], [length] FROM admin.v_patient")
    assert select_sql(DIALECTS["postgresql"], "admin.v_patient", ["patient_id"], placeholder=":since", **kw) == (
        'SELECT "patient_id" FROM admin.v_patient WHERE "modified_time_stamp" > :since '
        'ORDER BY "patient_id" LIMIT 5')
    assert select_sql(DIALECTS["ansi"], "t", ["a"], limit=2).endswith("FETCH FIRST 2 ROWS ONLY")
    with pytest.raises(InvalidIdentifierError):
        select_sql(DIALECTS["postgresql"], "admin.v_patient", ['a" OR 1=1 --'])
    assert since_parameter(DIALECTS["sqlite"], datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02 03:04:05"
    assert odbc_connection_string("DSN=x;usedeclarefetch=0", DIALECTS["postgresql"], 10) == (
        "DSN=x;usedeclarefetch=0;Fetch=10;")
    assert odbc_connection_string("DSN=x", DIALECTS["mssql"], 10) == "DSN=x"


def test_text_conversion_of_driver_values():
    assert column_text([1, None, -3]).to_pylist() == ["1", None, "-3"]
    assert column_text([Decimal("278.00"), Decimal("-0.50"), Decimal("12.345")]).to_pylist() == [
        "278", "-0.5", "12.345"]
    assert column_text([278.0, 12.5, 123456789012.34, 1e20, float("nan")]).to_pylist() == [
        "278", "12.5", "123456789012.34", "100000000000000000000", None]
    assert column_text([datetime(2024, 1, 2, 3, 4, 5), None]).to_pylist() == ["2024-01-02 03:04:05", None]
    assert column_text([datetime(2024, 1, 2, 3, 4, 5, 120000)]).to_pylist() == ["2024-01-02 03:04:05.120000"]
    assert column_text([datetime(2024, 1, 2)], "date").to_pylist() == ["2024-01-02"]
    assert column_text([datetime(2024, 1, 2, 9)], "date").to_pylist() == ["2024-01-02 09:00:00"]
    assert column_text([True, False]).to_pylist() == ["true", "false"]
    assert column_text([True, False], "int").to_pylist() == ["1", "0"]
    assert column_text(["a", "", None]).to_pylist() == ["a", None, None]
    assert column_text([1, "x", 2.5, None]).to_pylist() == ["1", "x", "2.5", None]  # SQLite dynamic typing
    assert arrow_text(pa.array([None, None])).type == pa.string()


# --- structured file export and documents -----------------------------------------------------------------


@pytest.mark.parametrize("table", list(SCHEMA))
def test_file_export_reads_like_the_database(table, sources, sqlite_practice):
    obj = OBJECTS[table]
    csv_src = CsvExportSource(sqlite_practice["export"])
    assert csv_src.path_of(obj).name == f"{table}.csv"
    report = csv_src.header(obj)
    assert report.present and not report.extra and not report.missing_optional
    from_csv = read_table(csv_src, obj)
    assert from_csv.num_rows == sqlite_practice["counts"][table]
    assert from_csv.equals(read_table(sources["sqlite"], obj))


def test_export_from_postgresql_equals_export_from_sqlite(pg_practice, sqlite_practice, tmp_path):
    url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{pg_practice[0]}"
    counts = export_files(url, tmp_path)
    assert counts == sqlite_practice["counts"]
    for table in ("v_patient", "fullproclog", "v_guarantor_balance"):
        assert (tmp_path / f"{table}.csv").read_bytes() == (sqlite_practice["export"] / f"{table}.csv").read_bytes()


_MAGIC = {"pdf": (b"%PDF-", b"%%EOF\n"), "jpg": (b"\xff\xd8\xff", b"\xff\xd9")}


def test_document_files_are_written_under_their_folders(sources, sqlite_practice):
    docs = read_table(sources["sqlite"], OBJECTS["v_document"]).to_pylist()
    root = sqlite_practice["documents"]
    assert len(docs) == sqlite_practice["counts"]["v_document"] > 0
    assert sum(1 for p in root.rglob("*") if p.is_file()) == len(docs)
    seen_types = set()
    for d in docs:
        folder = d["file_path"].rstrip("\\").rsplit("\\", 1)[-1]
        assert re.fullmatch(r"[0-9A-F]{2}", folder) and folder == f"{int(d['patient_id']) % 256:02X}"
        content = (root / folder / d["file_name"]).read_bytes()
        assert content == document_bytes(int(d["document_id"]), d["file_type"], d["category"])
        kind = d["file_type"]
        seen_types.add(kind)
        if kind in _MAGIC:
            head, tail = _MAGIC[kind]
            assert content.startswith(head) and content.endswith(tail), d["file_name"]
        elif kind == "dcm":
            assert content[128:132] == b"DICM"
    assert seen_types == {"pdf", "jpg", "dcm"}
    assert document_bytes(1, "png").startswith(b"\x89PNG") and document_bytes(1, "tiff").startswith(b"II*\x00")


def test_cli_writes_export_and_documents(tmp_path, capsys):
    assert main([str(tmp_path / "p.db"), "--patients", "20", "--export-dir", str(tmp_path / "e"),
                 "--documents-dir", str(tmp_path / "d")]) == 0
    assert sorted(p.stem for p in (tmp_path / "e").glob("*.csv")) == sorted(SCHEMA)
    printed = dict(line.split("\t") for line in capsys.readouterr().out.splitlines())
    assert sum(1 for p in (tmp_path / "d").rglob("*") if p.is_file()) == int(printed["v_document"])


# --- only SELECT, locked SQLite, the login (issue 9 item 16) ---------------------------------------------


ALLOWED = [select_sql(DIALECTS[d], "admin.v_patient", ["patient_id", "last_name"], since_column="modified",
                      order_by="patient_id", limit=5, placeholder=p)
           for d, p in (("postgresql", ":since"), ("mssql", "?"), ("ctree", "?"), ("sqlite", ":since"), ("ansi", "?"))]
REFUSED = ["SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", "SET TRANSACTION READ WRITE", "BEGIN READ WRITE",
           "DELETE FROM admin.v_staff", "  -- a comment first\nUPDATE admin.v_staff SET x = 1",
           "/* c */ INSERT INTO admin.v_staff VALUES (1)", "SELECT 1; DELETE FROM admin.v_staff",
           "WITH d AS (DELETE FROM admin.v_staff RETURNING *) SELECT * FROM d", "SELECT * INTO admin.copy FROM admin.v_staff",
           "SELECT * FROM admin.v_staff FOR UPDATE", "ATTACH DATABASE 'x.db' AS rw", "PRAGMA query_only = OFF",
           "EXEC xp_cmdshell 'dir'", "COPY admin.v_staff TO '/tmp/x'", "CREATE TABLE admin.t (a int)", ""]


@pytest.mark.parametrize("sql", ALLOWED + [probe_sql("admin.v_staff"), "WITH s AS (SELECT 1 AS a) SELECT a FROM s",
                                           "SELECT a FROM admin.x UNION SELECT b FROM admin.y"])
def test_one_select_is_allowed(sql):
    dialect = "mssql" if "TOP" in sql or "[" in sql else "postgresql"
    require_select(sql, dialect)


@pytest.mark.parametrize("sql", REFUSED)
def test_anything_but_one_select_is_refused(sql):
    with pytest.raises(WriteStatementRefused, match="^refused: "):
        require_select(sql, "postgresql")


@pytest.mark.parametrize("kind", ["odbc", "postgresql", "sqlite"])
def test_the_session_refuses_to_switch_back_to_read_write_or_write(sources, kind):
    backend = sources[kind]._backend
    with backend.session() as session:
        for sql in ("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", "SET TRANSACTION READ WRITE",
                    "DELETE FROM admin.v_staff", "ATTACH DATABASE 'x.db' AS rw"):
            with pytest.raises(WriteStatementRefused):
                session.columns(sql)
            with pytest.raises(WriteStatementRefused):
                list(session.stream(sql, None))
    assert read_table(sources[kind], OBJECTS["v_staff"]).num_rows == 3


def test_a_sqlite_connection_cannot_attach_the_file_again_or_lift_query_only(sources, sqlite_practice):
    from sqlalchemy.exc import DBAPIError

    with sources["sqlite"].connection() as conn:
        with pytest.raises(DBAPIError, match="not authorized"):
            conn.exec_driver_sql(f"ATTACH DATABASE '{sqlite_practice['path']}' AS rw")
        with pytest.raises(DBAPIError, match="not authorized"):
            conn.exec_driver_sql("PRAGMA query_only = OFF")
        with pytest.raises(DBAPIError, match="readonly|not authorized"):
            conn.exec_driver_sql("CREATE TEMP TABLE t (a int)")
        assert conn.exec_driver_sql("SELECT count(*) FROM admin.v_staff").scalar() == 3
    assert sources["sqlite"].login_check.read_only


@pytest.fixture
def read_only_role(pg_practice, pg):
    """A PostgreSQL login that may only read the practice views (dropped afterwards)."""
    role = f"flit_ro_{uuid.uuid4().hex[:8]}"
    pg.autocommit = True
    with pg.cursor() as cur:
        cur.execute(f'CREATE ROLE "{role}" LOGIN')
        cur.execute(f'GRANT CONNECT ON DATABASE "{pg_practice[0]}" TO "{role}"')
        cur.execute(f'GRANT USAGE ON SCHEMA admin TO "{role}"')
        cur.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA admin TO "{role}"')
    yield role
    with pg.cursor() as cur:
        cur.execute(f'DROP OWNED BY "{role}"')
        cur.execute(f'DROP ROLE "{role}"')


def test_the_login_is_checked_at_connect_time(pg_practice, odbc_conn_str, read_only_role, caplog):
    db = pg_practice[0]
    with caplog.at_level("WARNING", logger="flit_pipelines.sources.readonly"):
        admin = DatabaseSource.from_url(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{db}")
        check = admin.login_check
        admin.close()
    assert check.verified and not check.read_only and check.write_access[0] == "superuser"
    assert any("the login can write (superuser" in r.getMessage() for r in caplog.records)
    assert all(db not in r.getMessage() and "postgres@" not in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level("WARNING", logger="flit_pipelines.sources.readonly"):
        for src in (DatabaseSource.from_url(f"postgresql+psycopg2://{read_only_role}@127.0.0.1:5432/{db}"),
                    DatabaseSource.from_odbc(odbc_conn_str.replace("Uid=postgres;", f"Uid={read_only_role};"))):
            assert src.login_check.read_only, src
            assert read_table(src, OBJECTS["v_staff"]).num_rows == 3
            src.close()
    assert not caplog.records
