"""Reading a lead spreadsheet as rows of text: CSV in any encoding Excel saves, or XLSX.

CSV: the encoding is told from the bytes — a UTF-8 or UTF-16 byte-order mark, else UTF-8
if the bytes are valid UTF-8, else Windows-1255 (what Hebrew Excel saves as "CSV"); the
separator from the header line — comma, semicolon or tab, whichever splits it into the
most columns (Excel's ``sep=;`` first line is honoured). Only these are expected from an
Israeli agency's Excel, and telling them apart needs no guessing; a file that is none of
them is refused with what to do. XLSX: the first sheet, read with ``openpyxl`` in
read-only mode, one row at a time; numbers come back as Excel shows them (a phone typed as a
number keeps its digits, ``2800000.0`` reads ``2800000``). Old ``.xls`` files are refused
with how to save them.

Row numbers are as the spreadsheet shows them (the header is row 1).
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from openpyxl import load_workbook

from ovenai.errors import InvalidInput

DELIMITERS = (",", ";", "\t")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary Excel format (and other OLE files)


@dataclass
class Sheet:
    """A spreadsheet opened for import: its header, its rows and how it was read."""

    header: list[str]
    rows: Iterator[tuple[int, list[str]]]  # (row number, cells as text)
    total: int | None  # data rows, when known up front (for a progress bar)
    kind: str  # "csv" or "xlsx"
    encoding: str | None = None
    delimiter: str | None = None

    def describe(self) -> str:
        """How the file was read, for people: "CSV, windows-1255, semicolon"."""
        if self.kind == "xlsx":
            return "XLSX (first sheet)"
        return f"CSV, {self.encoding}, {DELIMITER_NAMES.get(self.delimiter or ',', 'comma')}"


def read_sheet(data: bytes, filename: str) -> Sheet:
    """The sheet in a file's bytes; InvalidInput (field ``file``) when it cannot be read."""
    if data.startswith(_XLSX_MAGIC) or filename.lower().endswith((".xlsx", ".xlsm")):
        return _xlsx(data, filename)
    if data.startswith(_XLS_MAGIC) or filename.lower().endswith(".xls"):
        raise InvalidInput(
            f"{filename} is an old Excel (.xls) file: save it as .xlsx or as CSV", field="file"
        )
    return _csv(data, filename)


def decode(data: bytes, filename: str) -> tuple[str, str]:
    """The text of a CSV file and the name of its encoding."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                      (codecs.BOM_UTF16_BE, "utf-16")):  # fmt: skip
        if data.startswith(bom):
            try:
                return data.decode(name), "UTF-8 (BOM)" if name == "utf-8-sig" else "UTF-16"
            except UnicodeDecodeError:
                break
    else:
        try:
            return data.decode("utf-8"), "UTF-8"
        except UnicodeDecodeError:
            pass
        try:
            return data.decode("cp1255"), "Windows-1255"
        except UnicodeDecodeError:
            pass
    raise InvalidInput(
        f"{filename} is neither UTF-8 nor Windows-1255 (Hebrew) text: in Excel choose"
        " Save As → CSV UTF-8, or upload the .xlsx file itself",
        field="file",
    )


def _delimiter(text: str) -> tuple[str, str]:
    """The separator and the text without Excel's ``sep=`` line."""
    first, _, rest = text.partition("\n")
    if first.strip().lower().startswith("sep=") and len(first.strip()) == 5:
        return first.strip()[4], rest
    header = next(csv.reader([first]), [])
    best, columns = ",", len(header)
    for candidate in DELIMITERS[1:]:
        count = len(next(csv.reader([first], delimiter=candidate), []))
        if count > columns:
            best, columns = candidate, count
    return best, text


def _csv(data: bytes, filename: str) -> Sheet:
    text, encoding = decode(data, filename)
    if not text.strip():
        raise InvalidInput(f"{filename} is empty", field="file")
    delimiter, text = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, [])
    total = max(text.count("\n") - 1, 0)
    return Sheet(header, enumerate(reader, start=2), total, "csv", encoding, delimiter)


def cell_text(value: Any) -> str:
    """An XLSX cell as the text Excel shows: whole numbers without ``.0``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _xlsx(data: bytes, filename: str) -> Sheet:
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InvalidInput(f"{filename} is not a readable .xlsx file", field="file") from exc
    sheet = book.worksheets[0]
    cells = sheet.iter_rows(values_only=True)
    first = next(cells, None)
    if first is None:
        book.close()
        raise InvalidInput(f"{filename} is empty", field="file")
    header = [cell_text(value) for value in first]
    total = sheet.max_row - 1 if sheet.max_row else None

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for number, values in enumerate(cells, start=2):
                row = [cell_text(value) for value in values]
                while row and not row[-1]:
                    row.pop()  # Excel pads rows with empty cells to the widest
                yield number, row
        finally:
            book.close()

    return Sheet(header, rows(), total, "xlsx")
