"""What every export and template shares: the formula guard and column letters. Uploads
are read by ``transfer.reading``; every export is written by ``transfer.exporting``.

Exports never start a cell with = + - @ (or tab/CR) unescaped: spreadsheet programs
would run it as a formula.
"""
from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def column_letter(number: int) -> str:
    """A spreadsheet column's letters from its number (1: A, 27: AA), as openpyxl's
    ``get_column_letter`` (which would load openpyxl with the app)."""
    if number < 1:
        raise ValueError(f"column {number}")
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters
