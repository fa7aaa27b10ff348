"""``run_import``'s row loop: the shortcuts it takes for speed give what the plain calls
gave (cells cleaned as ``clean_cell``, enumerations as ``choose``, row by row)."""
from __future__ import annotations

from datetime import date

import pytest

from registry.transfer import importing
from registry.transfer.importing import Field, ImportKind, choose, clean_cell, run_import, yes_no
from registry.transfer.reading import Grid

CODES = {"1": "一类", "2": "二类", "x": "其他"}


class _Kind(ImportKind):
    name = "loop_test"
    title = "测试"
    entity = "Region"
    fields = (
        Field("名称", "name", required=True),
        Field("类别", "kind", codes=CODES),
        Field("备注", "note"),
    )

    def check(self, values, ctx):
        return dict(values)

    def key(self, clean):
        return (clean["name"],)

    def write(self, rows, ctx, user):
        self.written = [clean for clean, _ in rows]
        return len(rows), 0


def _run(db, monkeypatch, rows):
    monkeypatch.setattr(importing, "read_grid", lambda data, filename, max_rows: Grid(rows=rows, kind="xlsx"))
    kind = _Kind()
    report = run_import(kind, b"-", "t.xlsx", None, commit=False)
    db.session.rollback()
    return kind, report


def test_cells_and_enumerations_come_out_as_the_plain_calls_make_them(db, monkeypatch):
    cells = [["a", "一类", "  备注  "], ["b", " 二类 ", "'=1+1"], ["c", "x", 5], ["d", "２", date(2025, 1, 2)],
             ["e", None, "   "], ["f", 1, None], ["g", "一类"]]
    kind, report = _run(db, monkeypatch, [["名称", "类别", "备注"], *cells])
    assert report.ok, report.errors
    expected = [{"name": clean_cell(row[0]), "kind": choose(clean_cell(row[1]), CODES, "kind"),
                 "note": clean_cell(row[2]) if len(row) > 2 else None} for row in cells]
    assert kind.written == expected
    assert [w["note"] for w in kind.written[:3]] == ["备注", "=1+1", 5]


def test_a_bad_enumeration_value_is_reported_on_every_row_it_is_on(db, monkeypatch):
    rows = [["名称", "类别"], ["a", "三类"], ["b", "一类"], ["c", "三类"], ["d", True], ["e", 1.5], ["f", 1.5]]
    _, report = _run(db, monkeypatch, rows)
    assert [(e.row, e.column) for e in report.errors] == [(2, "kind"), (4, "kind"), (5, "kind"), (6, "kind"),
                                                          (7, "kind")]
    assert all("不是可选的值" in e.message for e in report.errors)


@pytest.mark.parametrize("first", ["1", 1])
def test_equal_cells_of_other_types_are_looked_up_apart(db, monkeypatch, first):
    """1 == 1.0 == True as dict keys; ``choose`` reads them as "1", "1.0" and "True"."""
    _, report = _run(db, monkeypatch, [["名称", "类别"], ["a", first], ["b", 1.0], ["c", True]])
    assert [(e.row, e.column) for e in report.errors] == [(3, "kind"), (4, "kind")]


def test_yes_no_tells_a_cell_s_type_even_when_it_remembers_cells():
    # remembered by value and type: 1.0 == 1 == True, but only 1 and True read as 是
    assert [yes_no(v) for v in (1.0, 1, True, 1.0, "是", " 否 ", None, "x")] == [None, True, True, None, True, False, False, None]
