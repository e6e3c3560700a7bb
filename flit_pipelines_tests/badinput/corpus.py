"""The bad-input corpus (issue 9): variants of the fixture export ``fixtures/clinic_extras``, one
defect each, with what the extract must make of them.

Every case copies the fixture export and rewrites one file. Bad rows carry the corpus's own marker
values (``MARKERS``: a fake SSN, a marker name, passport and licence numbers), so a test can grep for
them in stderr, exception messages, the Dagster event log and metadata. ``Case`` says what the extract
must do: keep ``kept`` rows, quarantine ``quarantined`` with reasons containing ``reasons`` at lines
``lines``, count ``blank_lines`` and ``warnings``; or stop with an error matching ``error`` (the file
as a whole is unusable).
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

FIXTURE = Path(__file__).parents[1] / "fixtures" / "clinic_extras"
SSN, GIVEN, FAMILY, PASSPORT, LICENCE = "999-12-3456", "Zelda999", "Leakmarker", "X99912345X", "S99912345"
MARKERS = (SSN, GIVEN, FAMILY, PASSPORT, LICENCE, "Alice101", "999-10-0001")
NEW_ID = "a0000000-0000-4000-8000-000000000099"
ALICE = "a0000000-0000-4000-8000-000000000001"


@dataclass(frozen=True)
class Case:
    """One defect: ``obj`` is the spec object read; ``build`` rewrites its file in an export copy."""

    name: str
    obj: str
    build: Callable[[Path], None]
    kept: int | None = None
    quarantined: int = 0
    reasons: tuple[str, ...] = ()
    lines: tuple[int, ...] = ()
    blank_lines: int = 0
    warnings: tuple[str, ...] = ()
    error: str | None = None
    chunk_bytes: int = 4 << 20
    max_record_bytes: int = 64 << 20
    check: Callable[[object, object, object], None] | None = None  # (stats, good frame, quarantine frame)
    int_key: bool = False  # read with the object's primary key typed int (a Dentrix-like key)


CASES: list[Case] = []


def case(obj: str, **expect) -> Callable[[Callable[[Path], None]], Callable[[Path], None]]:
    """Register the decorated builder as a corpus case named after it."""
    def register(build: Callable[[Path], None]) -> Callable[[Path], None]:
        CASES.append(Case(build.__name__, obj, build, **expect))
        return build
    return register


def build_export(c: Case, root: Path) -> Path:
    """A copy of the fixture export with ``c``'s defect in it."""
    export = root / "export"
    shutil.copytree(FIXTURE, export)
    c.build(export)
    return export


# -- helpers -------------------------------------------------------------------------------------

def table(export: Path, name: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of one fixture file."""
    with (export / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def render(header: list[str], rows: list[list[str]], *, delimiter: str = ",", newline: str = "\n",
           quoting: int = csv.QUOTE_MINIMAL) -> str:
    """CSV text of a header and rows."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=newline, quoting=quoting)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def lines(export: Path, name: str) -> list[bytes]:
    """The physical lines of a fixture file (without line breaks)."""
    return (export / f"{name}.csv").read_bytes().split(b"\n")[:-1]


def put(export: Path, name: str, data: bytes | str) -> None:
    """Write a file of the export."""
    (export / f"{name}.csv").write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def marker_patient(header: list[str], **over: str) -> list[str]:
    """A well-formed patients row full of marker values (a new Id)."""
    row = dict(zip(header, ["" for _ in header], strict=True))
    row.update(Id=NEW_ID, BIRTHDATE="1990-02-03", SSN=SSN, DRIVERS=LICENCE, PASSPORT=PASSPORT, PREFIX="Ms.",
               FIRST=GIVEN, LAST=FAMILY, MARITAL="S", RACE="white", ETHNICITY="nonhispanic", GENDER="F",
               BIRTHPLACE="Testville", ADDRESS=f"7 {FAMILY} Road", CITY="Testville", STATE="MA", ZIP="02081",
               EMAIL=f"{GIVEN.lower()}@mail.example")
    row.update(over)
    return [row[h] for h in header]


def marker_line(export: Path, **over: str) -> bytes:
    """The marker patient as one CSV line (minimal quoting)."""
    header, _ = table(export, "patients")
    return render([], [marker_patient(header, **over)]).strip("\n").encode()


def insert(export: Path, name: str, at: int, *new: bytes) -> None:
    """Insert raw lines so that the first becomes physical line ``at`` (the header is line 1)."""
    ls = lines(export, name)
    ls[at - 1:at - 1] = list(new)
    put(export, name, b"\n".join(ls) + b"\n")


def rewrite(export: Path, name: str, *, delimiter: str = ",", newline: str = "\n", quoting: int = csv.QUOTE_MINIMAL,
            encoding: str = "utf-8", bom: bytes = b"", header_map: Callable[[str], str] = str,
            rows_map: Callable[[list[str], list[list[str]]], list[list[str]]] | None = None,
            final_newline: bool = True) -> None:
    """Re-render a fixture file with another dialect, encoding or header spelling."""
    header, rows = table(export, name)
    if rows_map is not None:
        rows = rows_map(header, rows)
    text = render([header_map(h) for h in header], rows, delimiter=delimiter, newline=newline, quoting=quoting)
    if not final_newline:
        text = text[:-len(newline)]
    put(export, name, bom + text.encode(encoding))


def set_value(column: str, value: str, row: int = 0) -> Callable[[list[str], list[list[str]]], list[list[str]]]:
    """A rows_map that sets one cell (rows are 0-based data rows)."""
    def apply(header: list[str], rows: list[list[str]]) -> list[list[str]]:
        rows[row][header.index(column)] = value
        return rows
    return apply


def ids_of(good) -> set[str]:
    return set(good["Id"]) if len(good) else set()


# -- structure: rows, quotes, lines ---------------------------------------------------------------

@case("patients", kept=4, quarantined=1, reasons=("row has 29 fields, the header 28",), lines=(4,))
def ragged_one_field_too_many(e: Path) -> None:
    insert(e, "patients", 4, marker_line(e) + b",EXTRA")


@case("patients", kept=4, quarantined=1, reasons=("row has 27 fields, the header 28",), lines=(3,))
def ragged_one_field_too_few(e: Path) -> None:
    insert(e, "patients", 3, marker_line(e).rsplit(b",", 1)[0])


@case("patients", kept=4, quarantined=1, reasons=("unterminated quote",), lines=(3,))
def unterminated_quote_mid_file(e: Path) -> None:
    insert(e, "patients", 3, marker_line(e).replace(GIVEN.encode(), b'"' + GIVEN.encode()))


@case("patients", kept=4, quarantined=1, reasons=("unterminated quote",), lines=(3,),
      check=lambda s, g, q: _eq(g.loc[g["Id"] == "a0000000-0000-4000-8000-000000000004", "LAST"].iloc[0],
                                "Sample301, Jr"))
def unterminated_quote_before_a_quoted_value(e: Path) -> None:
    # the stray quote would pair with the next row's quote and swallow the lines between
    ls = lines(e, "patients")
    ls[4] = ls[4].replace(b",Sample301,", b',"Sample301, Jr",')
    ls.insert(2, marker_line(e).replace(GIVEN.encode(), b'"' + GIVEN.encode()))
    put(e, "patients", b"\n".join(ls) + b"\n")


@case("patients", kept=4 + 400, quarantined=1, reasons=("unterminated quote",), lines=(3,), chunk_bytes=16 << 10,
      max_record_bytes=32 << 10)
def unterminated_quote_swallowing_more_than_the_record_limit(e: Path) -> None:
    header, rows = table(e, "patients")
    more = [marker_patient(header, Id=f"a0000000-0000-4000-8000-{i:012d}", SSN="") for i in range(1000, 1400)]
    text = render(header, rows[:1]).encode() + marker_line(e).replace(GIVEN.encode(), b'"' + GIVEN.encode()) + b"\n"
    put(e, "patients", text + render([], rows[1:] + more).lstrip("\n").encode())


@case("patients", kept=3, quarantined=1, reasons=("row has",), lines=(5,))
def truncated_last_row(e: Path) -> None:
    data = (e / "patients.csv").read_bytes().rstrip(b"\n")
    put(e, "patients", data[:-70])


@case("patients", kept=3, quarantined=1, reasons=("unterminated quote",), lines=(5,))
def truncated_inside_a_quoted_value(e: Path) -> None:
    ls = lines(e, "patients")
    put(e, "patients", b"\n".join(ls[:4]) + b"\n" + ls[4].split(b",Dan104")[0] + b',"Dan1')


@case("patients", kept=4, quarantined=1, reasons=("malformed quoting",), lines=(3,))
def quote_inside_a_quoted_value_not_doubled(e: Path) -> None:
    insert(e, "patients", 3, marker_line(e).replace(GIVEN.encode(), b'"' + GIVEN.encode() + b' "Z" 1"'))


@case("patients", kept=4, quarantined=1, reasons=("row has 29 fields",), lines=(5,),
      check=lambda s, g, q: _eq(q["row_number"].tolist(), [3]))
def multi_line_value_shifts_later_line_numbers(e: Path) -> None:
    rewrite(e, "patients", rows_map=set_value("ADDRESS", "1 Example Street\nApt 2"))
    insert(e, "patients", 5, marker_line(e) + b",EXTRA")


@case("patients", kept=4, check=lambda s, g, q: _eq(g.loc[g["Id"] == ALICE, "FIRST"].iloc[0], 'Al "The Pal" ice'))
def doubled_quotes_inside_a_quoted_value(e: Path) -> None:
    rewrite(e, "patients", rows_map=set_value("FIRST", 'Al "The Pal" ice'))


@case("encounters", kept=8, check=lambda s, g, q: _eq(
    g.loc[g["Id"] == "e0000000-0000-4000-8000-000000000001", "DESCRIPTION"].iloc[0], "Wrist 5'11\" x-ray"))
def literal_quote_inside_an_unquoted_value(e: Path) -> None:
    ls = lines(e, "encounters")
    ls[1] = ls[1].replace(b"Encounter for symptom", b"Wrist 5'11\" x-ray")
    put(e, "encounters", b"\n".join(ls) + b"\n")


@case("encounters", kept=8, blank_lines=1)
def blank_line_in_encounters(e: Path) -> None:
    insert(e, "encounters", 4, b"")


@case("encounters", kept=8, blank_lines=1)
def whitespace_only_line(e: Path) -> None:
    insert(e, "encounters", 4, b"   \t ")


@case("encounters", kept=8, blank_lines=3)
def blank_lines_at_the_end(e: Path) -> None:
    put(e, "encounters", (e / "encounters.csv").read_bytes() + b"\n\n\n")


@case("encounters", kept=8, blank_lines=2, check=lambda s, g, q: _eq(s.source_format["header_line"], 3))
def blank_lines_before_the_header(e: Path) -> None:
    put(e, "encounters", b"\n\n" + (e / "encounters.csv").read_bytes())


@case("encounters", kept=8, blank_lines=1, quarantined=1, reasons=("row has 1 fields, the header 17",), lines=(6,))
def stray_text_line(e: Path) -> None:
    insert(e, "encounters", 5, b"")
    insert(e, "encounters", 6, f"export of {GIVEN} {FAMILY} continued".encode())


@case("patients", kept=4)
def crlf_line_endings(e: Path) -> None:
    rewrite(e, "patients", newline="\r\n")


@case("patients", kept=4)
def cr_only_line_endings(e: Path) -> None:
    rewrite(e, "patients", newline="\r")


@case("patients", kept=4)
def mixed_line_endings(e: Path) -> None:
    ls = lines(e, "patients")
    put(e, "patients", ls[0] + b"\r\n" + ls[1] + b"\n" + ls[2] + b"\r" + b"\r\n".join(ls[3:]) + b"\r\n")


@case("notes", kept=3, check=lambda s, g, q: _eq(g["TEXT"].str.contains("\r\n").sum(), 1))
def crlf_inside_a_quoted_value(e: Path) -> None:
    put(e, "notes", (e / "notes.csv").read_bytes().replace(b"Plan:\n", b"Plan:\r\n"))


@case("patients", kept=4)
def no_line_break_at_the_end(e: Path) -> None:
    rewrite(e, "patients", final_newline=False)


@case("patients", kept=4)
def utf8_byte_order_mark(e: Path) -> None:
    rewrite(e, "patients", bom=b"\xef\xbb\xbf")


@case("patients", kept=4, check=lambda s, g, q: _eq(g["MARITAL"].isna().sum(), 1))
def excel_style_bom_crlf_every_field_quoted(e: Path) -> None:
    rewrite(e, "patients", bom=b"\xef\xbb\xbf", newline="\r\n", quoting=csv.QUOTE_ALL)


@case("patients", kept=4)
def trailing_delimiter_on_every_line(e: Path) -> None:
    ls = lines(e, "patients")
    put(e, "patients", b"".join(x + b",\n" for x in ls))


@case("patients", kept=4)
def trailing_delimiter_on_data_rows_only(e: Path) -> None:
    ls = lines(e, "patients")
    put(e, "patients", ls[0] + b"\n" + b"".join(x + b",\n" for x in ls[1:]))


@case("patients", kept=0)
def header_only(e: Path) -> None:
    put(e, "patients", lines(e, "patients")[0] + b"\n")


@case("patients", error=r"^patients\.csv: the file is empty \(no header row\)$")
def empty_file(e: Path) -> None:
    put(e, "patients", b"")


@case("patients", error=r"^patients\.csv: the file is empty")
def only_blank_lines(e: Path) -> None:
    put(e, "patients", b"\n \r\n\n")


@case("patients", error=r"^patients\.csv, line 1: the header row holds NUL bytes")
def a_zip_archive_named_csv(e: Path) -> None:
    put(e, "patients", b"PK\x03\x04\x14\x00\x06\x00" + SSN.encode() + b"\x00\x00\n" + bytes(range(256)) * 4)


@case("patients", error=r"^patients\.csv: required column 'Id' is missing$")
def an_image_named_csv(e: Path) -> None:
    put(e, "patients", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + SSN.encode() + bytes(range(256)))


@case("patients", error=r"^patients\.csv: 12 of 12 rows are malformed \(first at line 2; the header has 28 fields")
def most_rows_malformed(e: Path) -> None:
    header, _ = table(e, "patients")
    rows = [marker_patient(header, Id=f"a0000000-0000-4000-8000-{i:012d}")[:-1] for i in range(12)]
    put(e, "patients", render(header, rows))


@case("patients", error=r"^patients\.csv, line 3: a row longer than 32768 bytes", chunk_bytes=8 << 10,
      max_record_bytes=32 << 10)
def unquoted_line_longer_than_the_record_limit(e: Path) -> None:
    insert(e, "patients", 3, marker_line(e, BIRTHPLACE="x" * (100 << 10)))


# -- header: dialect, spelling, repeats ------------------------------------------------------------

@case("patients", kept=4, check=lambda s, g, q: _eq(s.source_format["delimiter"], "\t"))
def tab_delimited(e: Path) -> None:
    rewrite(e, "patients", delimiter="\t")


@case("patients", kept=4, check=lambda s, g, q: _eq(s.source_format["delimiter"], ";"))
def semicolon_delimited(e: Path) -> None:
    rewrite(e, "patients", delimiter=";")


@case("patients", kept=4, check=lambda s, g, q: _eq(s.source_format["delimiter"], "|"))
def pipe_delimited(e: Path) -> None:
    rewrite(e, "patients", delimiter="|")


@case("encounters", kept=0, quarantined=8, reasons=("BASE_ENCOUNTER_COST: not a money",))
def semicolon_export_with_decimal_commas(e: Path) -> None:
    header, rows = table(e, "encounters")
    i = header.index("BASE_ENCOUNTER_COST")
    for r in rows:
        r[i] = r[i].replace(".", ",")
    put(e, "encounters", render(header, rows, delimiter=";"))


@case("patients", kept=4, check=lambda s, g, q: _contains(s.loose_header_matches, "FIRST", "BIRTHDATE"))
def header_in_lower_case(e: Path) -> None:
    rewrite(e, "patients", header_map=str.lower)


@case("patients", kept=4, check=lambda s, g, q: _contains(s.loose_header_matches, "FIRST"))
def header_with_surrounding_and_inner_spaces(e: Path) -> None:
    rewrite(e, "patients", header_map=lambda h: f" {h[:2]} {h[2:]}  " if h == "FIRST" else f" {h} ")


@case("patients", kept=4)
def header_names_quoted(e: Path) -> None:
    ls = lines(e, "patients")
    put(e, "patients", b",".join(b'"' + h + b'"' for h in ls[0].split(b",")) + b"\n" + b"\n".join(ls[1:]) + b"\n")


@case("patients", kept=4, check=lambda s, g, q: _eq(s.extra_columns.count("<column 27>"), 1))
def extra_columns_with_a_value_as_header(e: Path) -> None:
    rewrite(e, "patients", header_map=lambda h: SSN if h == "INCOME" else h)


@case("patients", kept=4)
def columns_reordered(e: Path) -> None:
    header, rows = table(e, "patients")
    order = list(reversed(range(len(header))))
    put(e, "patients", render([header[i] for i in order], [[r[i] for i in order] for r in rows]))


@case("patients", kept=4)
def two_thousand_extra_columns(e: Path) -> None:
    header, rows = table(e, "patients")
    put(e, "patients", render(header + [f"X{i}" for i in range(2000)], [r + ["1"] * 2000 for r in rows]))


@case("encounters", kept=8, check=lambda s, g, q: _eq(s.duplicate_headers, ["DESCRIPTION"]))
def repeated_header_same_values(e: Path) -> None:
    header, rows = table(e, "encounters")
    i = header.index("DESCRIPTION")
    put(e, "encounters", render(header + ["DESCRIPTION"], [r + [r[i]] for r in rows]))


@case("patients", kept=3, quarantined=1, reasons=("FIRST: repeated header, the copies differ",), lines=(3,),
      check=lambda s, g, q: _eq(s.duplicate_headers, ["FIRST"]))
def repeated_header_differing_values(e: Path) -> None:
    header, rows = table(e, "patients")
    i = header.index("FIRST")
    copies = [r[i] for r in rows]
    copies[1] = GIVEN
    put(e, "patients", render(header + ["first "], [r + [c] for r, c in zip(rows, copies, strict=True)]))


@case("patients", kept=4, check=lambda s, g, q: _eq(s.duplicate_headers, ["LAT"]))
def repeated_undeclared_header(e: Path) -> None:
    header, rows = table(e, "patients")
    put(e, "patients", render(header + ["LAT"], [r + ["0"] for r in rows]))


@case("careplans", error=r"^careplans\.csv: required column 'DESCRIPTION' is missing$")
def required_column_missing(e: Path) -> None:
    header, rows = table(e, "careplans")
    i = header.index("DESCRIPTION")
    put(e, "careplans", render(header[:i] + header[i + 1:], [r[:i] + r[i + 1:] for r in rows]))


# -- encodings -------------------------------------------------------------------------------------

def _accented(header: list[str], rows: list[list[str]]) -> list[list[str]]:
    rows[0][header.index("FIRST")] = "Alicé101"
    rows[1][header.index("CITY")] = "Müllerstadt"
    return rows


@case("patients", kept=4, check=lambda s, g, q: (_eq(s.source_format["encoding"], "cp1252"),
                                                 _eq(g.loc[g["Id"] == ALICE, "FIRST"].iloc[0], "Alicé101")))
def latin1_export(e: Path) -> None:
    rewrite(e, "patients", encoding="latin-1", rows_map=_accented)


@case("patients", kept=4, check=lambda s, g, q: _eq(g.loc[g["Id"] == ALICE, "LAST"].iloc[0], "“Example” €201"))
def cp1252_export_with_curly_quotes_and_euro(e: Path) -> None:
    rewrite(e, "patients", encoding="cp1252", rows_map=set_value("LAST", "“Example” €201"))


@case("patients", kept=4, quarantined=1, reasons=("FIRST: not valid utf-8 text",), lines=(3,),
      check=lambda s, g, q: _eq(s.source_format["encoding_detected_by"], "utf-8 (mixed: undecodable rows quarantined)"))
def mixed_encodings_one_cp1252_row_in_a_utf8_file(e: Path) -> None:
    rewrite(e, "patients", rows_map=_accented)
    insert(e, "patients", 3, marker_line(e, FIRST=GIVEN + "é").replace("é".encode(), "é".encode("cp1252")))


@case("patients", kept=4, quarantined=2, reasons=("LAST: not valid utf-8 text", "CITY: not valid utf-8 text"),
      lines=(2, 4))
def invalid_utf8_bytes_in_read_columns(e: Path) -> None:
    rewrite(e, "patients", rows_map=_accented)
    first = marker_line(e).replace(FAMILY.encode(), FAMILY.encode() + b"\xff\xfe", 1)
    second = marker_line(e, Id="a0000000-0000-4000-8000-000000000098").replace(b"Testville,MA", b"Test\xc3ville,MA")
    insert(e, "patients", 2, first)
    insert(e, "patients", 4, second)


@case("patients", kept=5)
def undecodable_byte_in_an_unread_column(e: Path) -> None:
    insert(e, "patients", 3, marker_line(e).replace(SSN.encode(), SSN.encode() + b"\xff"))


@case("patients", kept=4, check=lambda s, g, q: _eq(s.source_format["encoding"], "utf-16"))
def utf16_excel_unicode_text(e: Path) -> None:
    rewrite(e, "patients", delimiter="\t", newline="\r\n", encoding="utf-16")


# -- values ----------------------------------------------------------------------------------------

@case("patients", kept=4, quarantined=1, reasons=("CITY: nul_bytes",), lines=(3,))
def nul_byte_in_a_value(e: Path) -> None:
    insert(e, "patients", 3, marker_line(e, CITY="Test\x00ville"))


@case("patients", kept=4, warnings=("CITY: control_characters",))
def control_character_in_a_value(e: Path) -> None:
    rewrite(e, "patients", rows_map=set_value("CITY", "Test\x07ville", 1))


@case("patients", kept=4, quarantined=1, reasons=("FIRST: max_length 255",), lines=(3,))
def million_character_name(e: Path) -> None:
    insert(e, "patients", 3, marker_line(e, FIRST=GIVEN * 125_000))


@case("notes", kept=2, quarantined=1, reasons=("TEXT: max_length 65536",),
      check=lambda s, g, q: _ge(s.source_format["block_bytes"], 8 << 20))
def ten_megabyte_note(e: Path) -> None:
    put(e, "notes", (e / "notes.csv").read_bytes().replace(b"Sinus congestion", GIVEN.encode() * (10 << 17)))


@case("patients", kept=4, check=lambda s, g, q: _ge(s.source_format["block_bytes"], 8 << 20))
def ten_megabyte_cell_in_an_unread_column(e: Path) -> None:
    rewrite(e, "patients", rows_map=set_value("BIRTHPLACE", FAMILY * (10 << 17), 1))


@case("notes", kept=3, chunk_bytes=16 << 10, check=lambda s, g, q: _eq(g["TEXT"].str.len().max(), 60_000))
def value_longer_than_the_block(e: Path) -> None:
    header, rows = table(e, "notes")
    rows[1][header.index("TEXT")] = "y" * 60_000
    put(e, "notes", render(header, rows))


@case("encounters", kept=7, quarantined=1, reasons=("BASE_ENCOUNTER_COST: finite",), lines=(2,))
def infinite_money(e: Path) -> None:
    rewrite(e, "encounters", rows_map=set_value("BASE_ENCOUNTER_COST", "inf"))


@case("encounters", kept=7, quarantined=1, reasons=("TOTAL_CLAIM_COST: finite",), lines=(3,))
def infinity_spelled_out(e: Path) -> None:
    rewrite(e, "encounters", rows_map=set_value("TOTAL_CLAIM_COST", "-Infinity", 1))


@case("encounters", kept=7, quarantined=1, reasons=("BASE_ENCOUNTER_COST: not a money",))
def nan_money(e: Path) -> None:
    rewrite(e, "encounters", rows_map=set_value("BASE_ENCOUNTER_COST", "NaN"))


@case("encounters", kept=7, quarantined=1, reasons=("TOTAL_CLAIM_COST: greater_than_or_equal_to(0.0)",))
def negative_charge(e: Path) -> None:
    rewrite(e, "encounters", rows_map=set_value("TOTAL_CLAIM_COST", "-85.55", 2))


@case("encounters", kept=7, quarantined=1, reasons=("STOP >= START",), lines=(4,))
def visit_ends_before_it_starts(e: Path) -> None:
    rewrite(e, "encounters", rows_map=set_value("STOP", "2024-03-12T13:00:00Z", 2))


@case("encounters", kept=8, check=lambda s, g, q: _eq(
    str(g.loc[g["Id"] == "e0000000-0000-4000-8000-000000000001", "START"].iloc[0]), "2024-01-15 07:00:00+00:00"))
def timestamps_with_offsets(e: Path) -> None:
    rewrite(e, "encounters", rows_map=set_value("START", "2024-01-15T09:00:00+02:00"))


@case("patients", kept=4, quarantined=1, reasons=("BIRTHDATE: not_in_future",), lines=(3,))
def birth_date_in_the_future(e: Path) -> None:
    insert(e, "patients", 3, marker_line(e, BIRTHDATE="2030-01-01"))


@case("patients", kept=4, quarantined=1, reasons=("DEATHDATE >= BIRTHDATE",), lines=(3,))
def death_before_birth(e: Path) -> None:
    insert(e, "patients", 3, marker_line(e, DEATHDATE="1980-01-01"))


@case("patients", kept=4, quarantined=1, reasons=("BIRTHDATE: not a date",))
def impossible_date(e: Path) -> None:
    insert(e, "patients", 3, marker_line(e, BIRTHDATE="1990-02-30"))


@case("patients", kept=4, quarantined=1, reasons=("BIRTHDATE: not a date",))
def wrong_date_format(e: Path) -> None:
    insert(e, "patients", 3, marker_line(e, BIRTHDATE="31/12/1990"))


@case("patients", kept=4, quarantined=1, reasons=("GENDER: isin(['M', 'F'])",))
def invalid_gender_code(e: Path) -> None:
    insert(e, "patients", 3, marker_line(e, GENDER="X"))


@case("patients", kept=4, quarantined=1, reasons=("Id: not_nullable",))
def row_of_empty_fields(e: Path) -> None:
    insert(e, "patients", 3, b"," * 27)


@case("documents", kept=1, quarantined=1, reasons=("SIZE_BYTES: not a int",))
def integer_overflow(e: Path) -> None:
    rewrite(e, "documents", rows_map=set_value("SIZE_BYTES", "99999999999999999999999"))


@case("documents", kept=1, quarantined=1, reasons=("SIZE_BYTES: not a int",))
def integer_written_as_infinity(e: Path) -> None:
    rewrite(e, "documents", rows_map=set_value("SIZE_BYTES", "inf", 1))


@case("documents", kept=1, quarantined=1, reasons=("SIZE_BYTES: not a int",))
def integer_with_decimals(e: Path) -> None:
    rewrite(e, "documents", rows_map=set_value("SIZE_BYTES", "12.5"))


@case("relationships", kept=3, quarantined=1, reasons=("IS_GUARANTOR: not a bool",))
def invalid_boolean(e: Path) -> None:
    rewrite(e, "relationships", rows_map=set_value("IS_GUARANTOR", "maybe", 2))


@case("provider_directory", kept=1, quarantined=1, reasons=("EMAIL: str_matches(",))
def email_failing_its_pattern(e: Path) -> None:
    rewrite(e, "provider_directory", rows_map=set_value("EMAIL", f"{GIVEN} at mail"))


@case("patients", kept=4, check=lambda s, g, q: _eq(g.loc[g["Id"] == ALICE, "CITY"].iloc[0], "🦷 مدينة ; DROP TABLE x"))
def emoji_rtl_and_sql_looking_text(e: Path) -> None:
    rewrite(e, "patients", rows_map=set_value("CITY", "🦷 مدينة ; DROP TABLE x"))


# -- keys ------------------------------------------------------------------------------------------

@case("patients", kept=4, quarantined=1, reasons=("Id: duplicate primary key",), lines=(6,))
def repeated_primary_key_in_one_chunk(e: Path) -> None:
    insert(e, "patients", 6, marker_line(e, Id=ALICE))


@case("patients", kept=4, quarantined=1, reasons=("duplicate primary key (seen in an earlier chunk)",), lines=(6,),
      chunk_bytes=600)
def repeated_primary_key_in_a_later_chunk(e: Path) -> None:
    insert(e, "patients", 6, marker_line(e, Id=ALICE))


@case("documents", kept=40, quarantined=1, reasons=("duplicate primary key (seen in an earlier chunk)",),
      lines=(42,), chunk_bytes=300, int_key=True)
def repeated_integer_key_in_a_later_chunk(e: Path) -> None:
    header, rows = table(e, "documents")
    base = rows[1]
    out = [[str(i), *base[1:]] for i in range(1, 41)] + [["7", *base[1:]]]
    put(e, "documents", render(header, out))


@case("patients", kept=4, warnings=("Id: whitespace_trimmed",),
      check=lambda s, g, q: _eq(ALICE in ids_of(g), True))
def whitespace_around_a_key(e: Path) -> None:
    rewrite(e, "patients", rows_map=set_value("Id", f"  {ALICE} "))


@case("patients", kept=4, quarantined=1, reasons=("Id: duplicate primary key",), lines=(6,))
def whitespace_hides_a_repeated_key(e: Path) -> None:
    insert(e, "patients", 6, marker_line(e, Id=f" {ALICE}"))


# -- small assertion helpers (a check must be able to fail) ----------------------------------------

def _eq(actual, expected) -> None:
    assert actual == expected, f"{actual!r} != {expected!r}"


def _ge(actual, expected) -> None:
    assert actual >= expected, f"{actual!r} < {expected!r}"


def _contains(actual, *expected) -> None:
    missing = [x for x in expected if x not in actual]
    assert not missing, f"{missing} not in {actual!r}"

