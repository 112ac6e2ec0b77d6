"""Importing a big agency spreadsheet: 50,000 rows, time and peak memory.

A file as an Israeli agency's Excel saves it (Hebrew headers and values, Windows-1255 with
``;`` separators by default, or ``--format xlsx`` / ``utf8``): phones in mixed formats, budgets
as ``2,800,000`` / ``₪1,950,000`` / ``2.8M``, sources such as יד2 and מדלן, Hebrew stages,
an e-mail on half the rows, and one row in fifty broken (a bad phone or amount). It is
imported by the real command, ``ovenai leads import FILE``, in a child process against a
fresh, migrated database; then imported again (every row a known lead: the re-import path).

Reported: wall time of each run and the child's peak resident memory (``ru_maxrss``), with
the box's speed (:func:`bench.process.box_speed_s`). Targets: < 60 s and < 300 MB.

    .venv/bin/python -m bench.lead_import --db sqlite
    .venv/bin/python -m bench.lead_import --db postgresql --format xlsx
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from openpyxl import Workbook

from bench.process import box_speed_s
from bench.webhooks.common import fresh_database

HEADER = ["שם מלא", "טלפון", "אימייל", "מקור", "סטטוס", "עיר", "חדרים", "תקציב", "הערות"]
SOURCES = ["יד2", "מדלן", "פייסבוק", "אתר", "הפניה", "הומלס"]
STAGES = ["חדש", "נוצר קשר", "נקבעה צפייה", "משא ומתן", ""]
CITIES = ["תל אביב", "חיפה", "ירושלים", "רמת גן", "נתניה", "באר שבע"]
FIRST = ["דנה", "יוסי", "מיכל", "אבי", "רונית", "עומר", "נועה", "גיל"]
LAST = ["לוי", "כהן", "מזרחי", "פרץ", "ביטון", "אברהם", "פרידמן", "גולן"]


def phone(n: int) -> str:
    """A distinct Israeli mobile number in one of the ways people write them."""
    digits = f"5{n % 5}{n:07d}"  # 050…054, seven digits each
    forms = (
        f"0{digits[:2]}-{digits[2:5]}-{digits[5:]}",
        f"+972 {digits[:2]} {digits[2:5]} {digits[5:]}",
        f"0{digits}",
        f"972-{digits[:2]}-{digits[2:]}",
    )
    return forms[n % len(forms)]


def budget(n: int) -> str:
    """A budget written as people write them."""
    amount = 900_000 + (n % 40) * 75_000
    forms = (f"{amount:,}", f"₪{amount:,}", f"{amount / 1_000_000:.2f}M", str(amount))
    return forms[n % len(forms)]


def rows(count: int) -> list[list[str]]:
    """``count`` data rows; one in fifty broken."""
    made = []
    for n in range(count):
        name = f"{FIRST[n % 8]} {LAST[(n // 8) % 8]} {n}"
        row = [
            name,
            "123" if n % 50 == 49 else phone(n),
            f"lead{n}@example.co.il" if n % 2 else "",
            SOURCES[n % len(SOURCES)],
            STAGES[n % len(STAGES)],
            CITIES[n % len(CITIES)],
            str(3 + n % 3),
            "הרבה" if n % 50 == 24 else budget(n),
            "מחפשים מרפסת" if n % 3 == 0 else "",
        ]
        made.append(row)
    return made


def write(folder: Path, count: int, kind: str) -> Path:
    """The spreadsheet in the asked format."""
    data = rows(count)
    if kind == "xlsx":
        book = Workbook(write_only=True)
        sheet = book.create_sheet()
        sheet.append(HEADER)
        for row in data:
            sheet.append(row)
        path = folder / "leads.xlsx"
        book.save(path)
        return path
    encoding = "cp1255" if kind == "cp1255" else "utf-8-sig"
    separator = ";" if kind == "cp1255" else ","
    lines = [separator.join(HEADER)]
    for row in data:
        cells = [f'"{cell}"' if separator in cell else cell for cell in row]
        lines.append(separator.join(cells))
    path = folder / "leads.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def run(env: dict[str, str], path: Path) -> tuple[float, float, str]:
    """One ``ovenai leads import`` in a child: seconds, peak RSS in MB, its summary line."""
    started = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "ovenai"), "leads", "import", str(path)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the import failed: {done.stdout}\n{done.stderr}")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    summary = done.stdout.splitlines()[0]
    return seconds, peak_mb, summary


def main() -> None:
    """Generate the file, import it twice, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--format", choices=("cp1255", "utf8", "xlsx"), default="cp1255")
    args = parser.parse_args()
    print(f"box loop {box_speed_s():.2f} s")
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), args.rows, args.format)
        size = path.stat().st_size / 1e6
        print(f"{args.rows:,} rows, {args.format}, {size:.1f} MB, database {args.db}")
        with fresh_database(args.db) as env:
            for label in ("first import", "re-import"):
                seconds, peak, summary = run(env, path)
                print(f"{label}: {seconds:.1f} s, peak RSS {peak:.0f} MB — {summary}")


if __name__ == "__main__":
    main()
