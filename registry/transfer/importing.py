"""Importing a spreadsheet, all or nothing, row by row.

Each importable kind (villages, organizations, people, ...) is an ``ImportKind``: its
columns, a ``check`` that turns one row's cells into clean values with the same rule
functions the form uses (raising ``RuleViolation`` keyed by column), the natural key that
makes a re-import find the rows it wrote before, and a ``write`` for the rows that passed.

``run_import`` reads the file safely (``reading.read_grid``), finds the header row (it
may sit under a title, and Chinese headers or English code names both work), checks
every row, then either writes them all or returns every error by row, column and reason
with nothing written. The CLI (``flask import``) and the web page call it alike.
"""
from __future__ import annotations

import gc
import re
import unicodedata
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Any


from ..audit.services import record
from ..core.bulk_load import commit_checkpointing_later
from ..core.parsing import CONFIRM_FIELD, CONFIRM_HEADER
from ..core.tabular import column_letter as letters_of
from ..core.rules import Collector, RuleViolation
from ..extensions import db
from .reading import FileRefused, Grid, is_blank, read_grid
from .writing import Column, csv_text, unescape

HEADER_SEARCH_ROWS = 10
# an import that writes this many rows commits without the WAL checkpoint in its path
# (``core.bulk_load.commit_checkpointing_later``)
BULK_COMMIT_ROWS = 5000


@dataclass(frozen=True)
class Field(Column):
    """An import column: a ``Column`` plus what the import needs to know of it."""

    required: bool = False
    aliases: tuple[str, ...] = ()
    # the values a drop-down in the template offers, given the user (an enumeration, or
    # the user's own villages or organisations)
    choices: Callable[[Any], Sequence[str]] | None = None
    example: Any = None
    # an enumeration: code -> Chinese label. The template offers the labels; the import
    # accepts a label or a code and hands the rules the code.
    codes: dict[str, str] | None = None
    # other words a file may use for a label (text -> code), e.g. 本科 for 大学本科
    synonyms: dict[str, str] | None = None
    # what to do when a file has no such column (a required one files often lack)
    missing: str = ""

    def __post_init__(self):
        if self.codes is not None and self.choices is None:
            labels = tuple(self.codes.values())
            object.__setattr__(self, "choices", lambda user: labels)


def choose(value, codes: dict[str, str], field_key: str, synonyms: dict[str, str] | None = None):
    """The code for ``value`` (a label, a code, or one of ``synonyms``: other words for a
    label, as spreadsheets write it); RuleViolation naming the choices if none."""
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if text in codes:
        return text
    for code, label in codes.items():
        if unicodedata.normalize("NFKC", label) == text:
            return code
    if synonyms and text.replace(" ", "") in synonyms:
        return synonyms[text.replace(" ", "")]
    raise RuleViolation(f"“{value}”不是可选的值，应为：{'、'.join(codes.values())}", field_key)


def _choice(value, codes: dict[str, str], field_key: str, synonyms=None) -> tuple[Any, dict | None]:
    """``choose``'s code and None, or None and its errors."""
    try:
        return choose(value, codes, field_key, synonyms), None
    except RuleViolation as broken:
        return None, broken.errors


@dataclass
class RowError:
    row: int  # as the user sees it in the sheet (1-based)
    column: str  # the field key, "" for the row as a whole, "file" for the file
    header: str  # the header as written in the file (or the field's Chinese name)
    message: str
    cell: str = ""  # e.g. "C5", for the report
    # what rows with different messages have in common, for ``common_problems`` (each
    # row registered already names its own stored object; together they are one mistake)
    shared: str = ""


@dataclass(frozen=True)
class Problem:
    """One mistake many rows share: the same column and the same message."""

    header: str
    message: str
    rows: int  # how many rows have it
    where: str  # those rows, e.g. "第2–3001行" or "第5、9–12行等"


def rows_text(rows: list[int], *, runs: int = 5) -> str:
    """Sorted distinct row numbers as "第2–5、9行", runs of consecutive rows joined; past
    ``runs`` runs, "等"."""
    spans: list[list[int]] = []
    for row in rows:
        if spans and row == spans[-1][1] + 1:
            spans[-1][1] = row
        else:
            spans.append([row, row])
    text = "、".join(str(a) if a == b else f"{a}–{b}" for a, b in spans[:runs])
    return f"第{text}行" + ("等" if len(spans) > runs else "")


COMMON_FROM = 10  # a report of fewer errors is read whole: nothing is said twice


def common_problems(errors: Sequence[RowError], *, least: int = 3, most: int = 5) -> list[Problem]:
    """The mistakes that at least ``least`` rows share, most rows first (at most ``most``).
    One mistake often runs down a whole column (a unit's name misspelt the same way on
    every row, a date column in the wrong format): a report of 30,000 lines then says one
    thing, which the page states once, with where it occurs, above the list of cells."""
    shared: dict[tuple[str, str], list] = {}
    for e in errors:
        if e.row:
            shared.setdefault((e.header, e.shared or e.message), []).append(e.row)
    found = [Problem(header, message, len(rows), rows_text(sorted(set(rows))))
             for (header, message), rows in shared.items() if len(set(rows)) >= least]
    found.sort(key=lambda p: -p.rows)
    return found[:most]


@dataclass
class ImportReport:
    kind: str
    title: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_headers: list[str] = field(default_factory=list)
    # money columns the file counts in 万元 ("直接投入资金（万元）"): field key -> header as written
    in_wan: dict[str, str] = field(default_factory=dict)
    grid: Grid | None = None
    header_row: int = 0
    columns: dict[str, int] = field(default_factory=dict)  # field key -> 0-based column
    headers: dict[str, str] = field(default_factory=dict)  # field key -> its header as the file writes it

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, row: int, key: str, message: str, spec: ImportKind | None = None, *, shared: str = "") -> None:
        col = self.columns.get(key)
        header = self.header(key, spec)
        cell = f"{column_letter(col)}{row}" if col is not None and row else ""
        self.errors.append(RowError(row=row, column=key, header=header, message=message, cell=cell, shared=shared))

    def header(self, key: str, spec: ImportKind | None = None) -> str:
        """A column's header as the file writes it, or as the template does."""
        header = self.headers.get(key, "")
        if not header and spec is not None and key in spec.by_key:
            header = spec.by_key[key].header
        return header

    def common(self) -> list[Problem]:
        """The mistakes rows share, for a report long enough to need them said first."""
        return common_problems(self.errors) if len(self.errors) >= COMMON_FROM else []

    @property
    def unchanged(self) -> int:
        """Rows of a successful update import that match what is stored: nothing written."""
        return max(self.rows - self.created - self.updated, 0) if self.ok else 0

    def summary(self, again: str = "上传") -> str:
        """One line on the import: what it wrote, or that it wrote nothing and why;
        ``again``: how the user tries again (the console: 导入)."""
        if self.ok:
            same = f"，{self.unchanged} 条与已登记的相同，未改动" if self.unchanged else ""
            wan = "".join(f"；“{header}”按万元换算为元" for header in self.in_wan.values())
            ignored = f"；未识别的列没有导入：{'、'.join(self.ignored_headers)}" if self.ignored_headers else ""
            return f"导入成功：共 {self.rows} 行，新增 {self.created} 条，更新 {self.updated} 条{same}{wan}{ignored}"
        rows = len({e.row for e in self.errors if e.row})
        if not rows:
            return f"导入未完成：文件无法导入，未写入任何数据；请按提示改正后重新{again}"
        return f"导入未完成：{rows} 行有 {len(self.errors)} 处错误，未写入任何数据；请改正后重新{again}"


class ImportKind:
    """One importable kind. Subclasses set the class attributes and the three methods."""

    name: str = ""
    title: str = ""
    entity: str = ""  # the model's class name, for the audit trail
    permission: str = ""
    fields: Sequence[Field] = ()
    list_endpoint: str = ""  # where a successful web import goes back to
    needs_actor: bool = True  # False: the console may import without --as (reference data)
    supports_update: bool = True  # False: rows already stored are always refused
    # read-only columns the export adds after the fields (e.g. 状态); the import skips them
    derived: Sequence[Column] = ()
    # columns read when a file has them, which the template does not offer and exports do
    # not write (the confirmation of a large amount: a message asks for it when needed)
    extra_fields: Sequence[Field] = ()
    hint: str = ""  # a sentence under the import page's steps, where a kind needs one

    @classmethod
    def export_columns(cls) -> list[Column]:
        return [*cls.fields, *cls.derived]

    def list_args(self, user) -> dict:
        return {}

    def allowed(self, user) -> bool:
        """Beyond ``permission``: whether ``user`` has anything of this kind to import (an
        office that plans no inspections imports no findings). Overridden where that is
        so; the list's 导入 button, the import page and the console all ask ``may``."""
        return True

    def may(self, user) -> bool:
        """Whether ``user`` may import this kind (None: the console's administrator)."""
        return user is None or (user.can(self.permission) and self.allowed(user))

    def fields_for(self, user) -> Sequence[Field]:
        """The columns as ``user``'s template shows them and the import requires them (the
        same keys and rules as ``fields``; a kind may head or require one differently for
        some users)."""
        return self.fields

    def __init__(self) -> None:
        self.by_key = {f.key: f for f in (*self.fields, *self.extra_fields)}
        self.coded = [f for f in self.fields if f.codes is not None]

    # -- to override ---------------------------------------------------------------------
    def context(self, user, *, update: bool) -> Any:
        """Everything the row checks look up, fetched once (scope applied)."""
        return None

    def check(self, values: dict[str, Any], ctx) -> Any:
        """Clean one row or raise ``RuleViolation`` keyed by field key."""
        raise NotImplementedError

    def key(self, clean) -> tuple:
        """The natural key: the same row imported twice has the same key."""
        raise NotImplementedError

    # the columns that make the natural key, as a row writes it: a duplicate is reported on
    # the first one's cell and names them all
    key_fields: tuple[str, ...] = ()

    def key_columns(self, clean) -> tuple[str, ...]:
        """``key_fields``; a kind whose key depends on the row says which columns made it."""
        return self.key_fields

    def existing(self, clean, ctx) -> Any:
        """The object already stored under this row's key, or None."""
        return None

    def write(self, rows: list[tuple[Any, Any]], ctx, user) -> tuple[int, int]:
        """Write the rows (clean values, existing object or None); return (created, updated)."""
        raise NotImplementedError

    def duplicate_message(self, clean) -> str:
        return f"系统中已有这条数据；{UPDATE_HINT}"

    def stored_rows(self, values: dict[str, Any], ctx) -> list[list]:
        """In an update: the rows the export writes (in ``export_columns()`` order) for the
        stored object this row names, when ``ctx``'s user may see it, one for each way the
        export may show it (numbers in full, or masked); [] if none. A row equal to one of
        them in every field changes nothing and is not checked (``unchanged_row``)."""
        return []

    prefetch_fields: tuple[str, ...] = ()  # the cells ``prefetch`` reads

    def prefetch(self, rows: list[dict[str, Any]], ctx) -> None:
        """Before the rows are looked at: each row's ``prefetch_fields``
        cells (text stripped), so that the objects the rows name can be read in a few
        queries for ``stored_rows`` and ``check`` instead of one a row."""

    # -- header matching -----------------------------------------------------------------
    def header_names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        for f in (*self.fields, *self.extra_fields):
            for name in (f.header, f.key, *f.aliases):
                names[normalise_header(name)] = f.key
        return names


# Added to a file by the user when a row's large amount asks for it (``parsing.IMPORT_CONFIRM_HINT``).
CONFIRM_COLUMN = Field(CONFIRM_HEADER, CONFIRM_FIELD, width=10, aliases=("金额已核实",),
                       note="某项金额较大（超过设定的确认线）时，核对无误后填“是”；空白为否")

UPDATE_HINT = "如需用文件内容修改，请选择“更新已有数据”后重新导入"  # the console's --update (transfer.cli)
# what the rows registered already share, each naming its own (``common_problems``)
STORED_ALREADY = "系统中已登记"


def save_updates(rows: list[tuple[Any, Any]], save: Callable[[Any, Any], Any]) -> int:
    """Update the rows already stored through ``save(clean, existing)`` (the form's own
    update service, so each is audited like a form save); returns how many changed."""
    changed = 0
    for clean, existing in rows:
        if existing is not None:
            before = existing.version
            save(clean, existing)
            changed += int(existing.version != before)
    return changed


def unchanged_row(spec: ImportKind, values: dict[str, Any], ctx) -> bool:
    """The row is one the export wrote for a stored object, unchanged: nothing to check or
    write. A user who exports a list, edits some of its rows and imports it back in an
    update is then not told that the rows left alone are wrong: those of objects the user
    may see but not change (a unit registered above the county), or showing a masked
    number the rules would refuse as a new value."""
    keys = [c.key for c in spec.export_columns()]
    return any(all(_same_cell(values.get(f.key), written.get(f.key)) for f in spec.fields)
               for written in (dict(zip(keys, row)) for row in spec.stored_rows(values, ctx)))


def _plain(value):
    if value is None or value.__class__ is str:
        return (value or "").strip() or None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime) and value.time() == time(0):
        return value.date()
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value)).normalize()
    return value


def _same_cell(read, written) -> bool:
    """A cell read back equals what the export wrote there (text stripped, numbers by
    value, a date however the sheet kept it)."""
    if isinstance(read, str) and isinstance(written, (date, datetime)):  # a CSV's date
        return read.strip() == csv_text(written)
    read, written = _plain(read), _plain(written)
    if read == written:
        return True
    if isinstance(read, str) and isinstance(written, Decimal):  # a number the sheet kept as text
        try:
            return Decimal(read).normalize() == written
        except ArithmeticError:
            return False
    return False


def normalise_header(text) -> str:
    """Headers match ignoring spaces, width, case, a required-marker * and a unit suffix
    written in either kind of brackets: "金额（万元）" and "金额(万元)" are one header."""
    value = unicodedata.normalize("NFKC", str(text or "")).strip().lower()
    value = re.sub(r"\s+", "", value).lstrip("*").rstrip("*")
    return value


_YES = {"1", "是", "true", "yes", "y", "√"}
_NO = {"", "0", "否", "false", "no", "n", "×"}


@lru_cache(maxsize=1024, typed=True)  # a 是/否 column holds a few distinct cells (typed: 1, 1.0 and True differ)
def yes_no(value) -> bool | None:
    """是/否 (also 1/0, true/false, √/×; blank is 否); None when it is neither."""
    text = "" if value is None else unicodedata.normalize("NFKC", str(value)).strip().lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    return None


def read_flags(values: dict, keys, errors: Collector) -> dict[str, bool]:
    """The 是/否 columns ``keys`` as booleans; a wrong value is an error on its column."""
    flags = {}
    for key in keys:
        flag = yes_no(values[key])
        errors.check(flag is not None, key, "应填“是”或“否”")
        flags[key] = bool(flag)
    return flags


def resolve(lookup, values: dict, key: str, errors: Collector):
    """The key ``lookup`` finds for column ``key`` (None, with the error collected, if none)."""
    try:
        return lookup.resolve(values[key], key)
    except RuleViolation as broken:
        errors.errors.update(broken.errors)
        return None


def column_letter(index: int | None) -> str:
    """A 0-based column's letter as Excel shows it (0 -> A, 26 -> AA); none for no column."""
    return "" if index is None else letters_of(index + 1)


def clean_cell(value):
    """A cell as the rules see it: text trimmed (None when blank), our export's escape undone."""
    if isinstance(value, str):
        value = value.strip()
        if value[:1] == "'":
            value = unescape(value)
        return value or None
    return value


def locate_header(grid: Grid, spec: ImportKind, report: ImportReport, fields: Sequence[Field] | None = None) -> bool:
    """Find the header row among the first rows and map fields to columns. ``fields``: the
    columns as the importing user's template has them (``spec.fields_for``)."""
    fields = spec.fields if fields is None else fields
    names = spec.header_names()
    derived = {normalise_header(c.header) for c in spec.derived}
    required = [f for f in fields if f.required]
    best, best_hits = None, 0
    for index, row in enumerate(grid.rows[:HEADER_SEARCH_ROWS]):
        hits = sum(1 for v in row if v is not None and normalise_header(v) in names)
        if hits > best_hits:
            best, best_hits = index, hits
    if best is None:
        wanted = "、".join(f"“{f.header}”" for f in (required or fields)[:6])
        report.add(0, "file", f"前{HEADER_SEARCH_ROWS}行中找不到表头；表头应包含 {wanted} 等列，请使用下载的模板")
        return False
    report.header_row = best + 1
    header = grid.rows[best]
    for first_row, first_col, last_row, last_col in grid.merged:
        if first_row <= best <= last_row and last_col > first_col:
            report.add(best + 1, "file", f"表头含有合并单元格（{column_letter(first_col)}{first_row + 1}:"
                       f"{column_letter(last_col)}{last_row + 1}），请取消合并，每列一个表头")
    for col, value in enumerate(header):
        if value is None:
            continue
        key = names.get(normalise_header(value))
        if key is None and (key := _counted_in_wan(spec, names, value)) is not None and key not in report.columns:
            report.in_wan[key] = str(value).strip().strip("*")
        if key is None:
            if normalise_header(value) not in derived:
                report.ignored_headers.append(str(value))
        elif key in report.columns:
            report.add(best + 1, "file", f"表头“{value}”与第{column_letter(report.columns[key])}列重复")
        else:
            report.columns[key] = col
            if normalise_header(value) != key:  # a Chinese header (or alias) as the file writes it
                report.headers[key] = str(value).strip().strip("*")
    for f in required:
        if f.key not in report.columns:
            also = f"（表头也可写作{'、'.join(f.aliases[:4])}）" if f.aliases else ""
            report.add(best + 1, "file", f"缺少必填列“{f.header}”{also}" + (f"：{f.missing}" if f.missing else ""))
    return not report.errors


_IN_WAN = re.compile(r"(.+)\(万元\)")


def _counted_in_wan(spec: ImportKind, names: dict[str, str], header) -> str | None:
    """The money field a header names in 万元 where the template counts it in 元
    ("直接投入资金（万元）" for 直接投入资金（元）; "金额（万元）" for 金额（元）): its cells are
    read as 万元 (``in_wan``), as "5万" is. None for any other header."""
    match = _IN_WAN.fullmatch(normalise_header(header))
    if match is None:
        return None
    key = names.get(match.group(1) + "(元)") or names.get(match.group(1))
    found = spec.by_key.get(key) if key else None
    return key if found is not None and found.kind == "amount" and found.header.endswith("（元）") else None


def as_wan(value):
    """A cell of a column counted in 万元, as the amount rule reads 万元: 5 -> "5万"."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        return f"{Decimal(str(value))}万"
    text = str(value).strip()
    return text if not text or "万" in text else f"{text}万"


@contextmanager
def _collector_paused():
    """No cyclic garbage collection while a file is checked and written. Rows allocate
    a few dicts each and almost no cycles (reference counting frees them), but every
    so many allocations the collector would walk everything alive, the whole grid
    included: about a tenth of a large import. It runs again when the import ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@_collector_paused()
def run_import(spec: ImportKind, data: bytes, filename: str, user, *, update: bool = False,
               commit: bool = True, max_rows: int = 100_000,
               progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Check every row; write all of them, or none and report why."""
    report = ImportReport(kind=spec.name, title=spec.title)
    update = update and spec.supports_update
    try:
        grid = read_grid(data, filename, max_rows=max_rows)
    except FileRefused as refused:
        report.add(0, "file", refused.message)
        report.errors[-1].header = str(refused.status)
        return report
    report.grid = grid
    if not locate_header(grid, spec, report, spec.fields_for(user)):
        return report
    ctx = spec.context(user, update=update)
    seen: dict[tuple, int] = {}
    ready: list[tuple[Any, Any]] = []
    body = grid.rows[report.header_row:]
    total = len(body)
    columns = list(report.columns.items())
    last = max(report.columns.values(), default=-1)
    absent = [f.key for f in spec.fields if f.key not in report.columns]
    # an enumeration's cells repeat (a few labels down a long column): each distinct
    # cell is looked up once, its code or its error remembered
    chosen: dict[tuple, tuple[Any, dict | None]] = {}
    coded = [(f.key, f.codes, f.synonyms) for f in spec.coded]
    place = {key: n for n, key in enumerate(f.key for f in spec.fields)}
    if spec.prefetch_fields:  # an update's rows, and a re-import's duplicates, name stored objects
        named = [(key, report.columns[key]) for key in spec.prefetch_fields if key in report.columns]
        spec.prefetch([{key: clean_cell(cells[col]) if col < len(cells) else None for key, col in named}
                       for cells in body], ctx)
    for offset, cells in enumerate(body):
        number = report.header_row + offset + 1
        first = cells[0] if cells else None
        if (first is None or (first.__class__ is str and not first.strip())) and is_blank(cells):
            continue
        report.rows += 1
        if len(cells) <= last:
            cells = [*cells, *[None] * (last + 1 - len(cells))]
        # clean_cell, written out: a call only for text our export escaped ('=...)
        values = {key: ((s or None) if (s := v.strip())[:1] != "'" else clean_cell(v))
                  if (v := cells[col]).__class__ is str else v for key, col in columns}
        for key in absent:
            values[key] = None
        for key in report.in_wan:
            values[key] = as_wan(values[key])
        if update and unchanged_row(spec, values, ctx):
            continue  # counted, as the report's unchanged rows
        try:
            wrong = {}
            for key, codes, synonyms in coded:
                value = values[key]
                try:
                    code, broken = chosen[(key, value.__class__, value)]  # the type too: 1 == 1.0 == True
                except KeyError:
                    code, broken = chosen[(key, value.__class__, value)] = _choice(value, codes, key, synonyms)
                if broken:
                    wrong.update(broken)
                    values[key] = None  # the row's other cells are still checked, this one as blank
                else:
                    values[key] = code
            clean = Collector(wrong).then(lambda: spec.check(values, ctx)) if wrong else spec.check(values, ctx)
        except RuleViolation as broken:
            # a row's errors in the order of its columns (the row's own, without a column, first)
            for key, messages in sorted(broken.errors.items(), key=lambda item: place.get(item[0], -1)):
                for message in messages:
                    report.add(number, key, message, spec)
            continue
        key = spec.key(clean)
        if key in seen:
            cols = spec.key_columns(clean)  # reported on the first one's cell
            same = "、".join(report.header(k, spec) for k in cols)
            report.add(number, cols[0] if cols else "",
                       f"与第{seen[key]}行重复（{same + '相同，' if same else ''}同一条数据在文件中出现两次）", spec,
                       shared="与文件中前面的行重复（同一条数据出现两次）")
            continue
        seen[key] = number
        current = spec.existing(clean, ctx)
        if current is not None and not update:
            cols = spec.key_columns(clean)
            report.add(number, cols[0] if cols else "", spec.duplicate_message(clean), spec,
                       shared=f"{STORED_ALREADY}；{UPDATE_HINT}" if spec.supports_update else STORED_ALREADY)
            continue
        ready.append((clean, current))
        if progress is not None and offset % 1000 == 0:
            progress(offset, total)
    if report.rows == 0 and report.ok:
        report.add(0, "file", "文件中没有数据行（表头下面是空的）")
    if not report.ok:
        return report
    try:
        report.created, report.updated = spec.write(ready, ctx, user)
        record(f"import_{spec.name}", spec.entity, actor=user,
               region_code=getattr(user, "region_code", None) or getattr(user, "village_code", None),
               organization_id=getattr(user, "organization_id", None),
               after={"file": filename, "rows": report.rows, "created": report.created, "updated": report.updated},
               summary=f"导入{spec.title} {report.rows} 行：新增 {report.created}，更新 {report.updated}")
        if commit and report.created + report.updated >= BULK_COMMIT_ROWS:
            commit_checkpointing_later(db.session)
        elif commit:
            db.session.commit()
        else:
            db.session.flush()
    except RuleViolation as broken:
        db.session.rollback()
        for key, messages in broken.errors.items():
            for message in messages:
                report.add(0, key or "file", message, spec)
    if progress is not None:
        progress(total, total)
    return report
