"""帮扶实效 (village yearly results) from a spreadsheet: the results ledger read back in.

A row is one village's figures for one year (the natural key). Each row passes
``services.check_result``, the rule of the results form (amounts to the cent, "5万"
accepted, counts, the year's range, removed ≤ monitored), for a village in the user's
scope, and is filed by ``file_result`` (waiting for verification, audited as the form's
filing). A year already filed is refused, or, when the user chose to update, corrected
through ``update_result`` while the review cycle still lets the village change it
(not once verified); a row that would change nothing is left alone.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..core.enums import RESULT_STATUSES
from ..core.parsing import CONFIRM_FIELD, IMPORT_CONFIRM_HINT, parse_count
from ..core.rules import Collector
from ..core.scope import scoped
from ..core.timeutil import to_local
from ..extensions import db
from ..regions.imports import place_lookup
from ..transfer.importing import CONFIRM_COLUMN, UPDATE_HINT, Field, ImportKind, resolve, save_updates, yes_no
from ..transfer.references import Lookup, labelled
from ..transfer.writing import Column
from .models import VillageResult
from .services import FIELDS, REVIEW, ResultData, check_result, file_result, update_result

AMOUNT_NOTE = "单位：元，最多2位小数；也可写成“5万”“1.2万元”"
COUNT_NOTE = "0或正整数"


def _villages(user) -> Lookup:
    return place_lookup(user, ("village",))


@dataclass
class ResultsContext:
    user: object
    update: bool
    villages: Lookup
    stored: dict[tuple[str, int], VillageResult]  # (village code, year) -> the result, in scope


@dataclass
class ResultRow:
    village_code: str
    data: ResultData
    values: dict  # as the rule cleaned them
    existing: VillageResult | None

    @property
    def year(self) -> int:
        return self.values["year"]

    @property
    def unchanged(self) -> bool:
        """A result waiting for verification that the row would not change."""
        stored = self.existing
        return (stored is not None and stored.status == "filed"
                and all(getattr(stored, key) == value for key, value in self.values.items()))


class ResultImport(ImportKind):
    name = "results"
    title = "帮扶实效"
    entity = "VillageResult"
    permission = "file_results"
    list_endpoint = "results.index"
    fields = (
        Field("村", "village_code", width=28, required=True, choices=lambda user: _villages(user).labels(),
              example="示例村（430102001201）", note="“村名（12位代码）”或12位代码；须是您所在的村"),
        Field("年度", "year", "int", 8, required=True, example=2025,
              note="如 2025；不早于系统启用年度，不晚于今年；同一村同一年度只填一行"),
        Field("村集体经济经营性收入（元）", "collective_income", "amount", 18, required=True,
              aliases=("村集体经济经营性收入",), example=156800.5, note=AMOUNT_NOTE),
        Field("脱贫人口人均纯收入（元）", "per_capita_income", "amount", 18, required=True,
              aliases=("脱贫人口人均纯收入",), example=16234, note=AMOUNT_NOTE),
        Field("监测对象户数", "monitored_households", "int", 12, required=True, example=14, note=COUNT_NOTE),
        Field("其中已消除风险户数", "risk_removed_households", "int", 14, required=True, aliases=("已消除风险户数",),
              example=9, note="0或正整数，不超过监测对象户数"),
        Field("产业项目（个）", "industry_projects", "int", 12, required=True, aliases=("产业项目数（个）", "产业项目数"),
              example=3, note=COUNT_NOTE),
        Field("带动就业（人）", "jobs_created", "int", 12, required=True, aliases=("带动就业人数（人）", "带动就业人数"),
              example=42, note=COUNT_NOTE),
        Field("办实事（件）", "practical_matters", "int", 12, required=True, aliases=("办实事件数（件）", "办实事件数"),
              example=18, note=COUNT_NOTE),
        Field("备注", "note", width=30, aliases=("说明",), note="最多2000字"),
    )
    extra_fields = (CONFIRM_COLUMN,)
    derived = (
        Column("状态", "status", width=8), Column("退回理由", "return_reason", width=30),
        Column("填报时间", "filed_at", "datetime", 17), Column("核验时间", "verified_at", "datetime", 17),
    )

    def context(self, user, *, update: bool) -> ResultsContext:
        stored = {(r.village_code, r.year): r for r in db.session.scalars(scoped(select(VillageResult), VillageResult, user))}
        return ResultsContext(user=user, update=update, villages=_villages(user), stored=stored)

    def stored_rows(self, values, ctx: ResultsContext) -> list[list]:
        """The export's row for the result of the village and year the row names: a returned
        result the file leaves as it was stays returned, a verified one is not refused."""
        found = Collector()
        code = resolve(ctx.villages, values, "village_code", found)
        year = str(values.get("year") or "").strip()
        stored = ctx.stored.get((code, int(year))) if code is not None and year.isdigit() else None
        return [export_row(stored)] if stored is not None else []

    def check(self, values, ctx: ResultsContext) -> ResultRow:
        errors = Collector()
        code = resolve(ctx.villages, values, "village_code", errors)
        confirmed = yes_no(values.get(CONFIRM_FIELD))
        errors.check(confirmed is not None, CONFIRM_FIELD, "应填“是”或“否”")
        data = ResultData(**{key: values[key] for key in ("year", *FIELDS)},
                          note=str(values["note"]) if values["note"] is not None else None,
                          amount_confirmed=bool(confirmed))
        year = parse_count(data.year, "year", "年度", Collector())  # the rule says what is wrong with it
        existing = ctx.stored.get((code, year)) if code is not None else None
        if existing is not None and ctx.update and REVIEW.is_locked(existing):
            errors.add("", REVIEW.locked)
        clean = errors.then(lambda: check_result(code or "", data, existing, confirm_hint=IMPORT_CONFIRM_HINT))
        return ResultRow(village_code=code, data=data, values=clean, existing=existing)

    key_fields = ("village_code", "year")

    def key(self, clean: ResultRow) -> tuple:
        return (clean.village_code, clean.year)

    def existing(self, clean: ResultRow, ctx):
        return clean.existing

    def duplicate_message(self, clean: ResultRow) -> str:
        return f"本村{clean.year}年的帮扶实效已填报（{clean.existing.status_label}）；{UPDATE_HINT}"

    def write(self, rows, ctx, user) -> tuple[int, int]:
        created = 0
        for clean, existing in rows:
            if existing is None:
                file_result(clean.village_code, clean.data, user, commit=False)
                created += 1
        # a row that changes nothing is left alone (one as the export wrote it never gets
        # here: importing.unchanged_row; a returned result whose row says it otherwise, in
        # the same values, is filed again)
        changed = [(clean, existing) for clean, existing in rows if existing is not None and not clean.unchanged]
        return created, save_updates(changed, lambda clean, result: update_result(
            result, clean.data, user, version=result.version, commit=False))


def _local(moment):
    return to_local(moment).replace(tzinfo=None) if moment else None


def export_row(r: VillageResult) -> list:
    """A result as a row of the ledger (``ResultImport.export_columns()``)."""
    return [labelled(r.village.name, r.village_code), r.year, r.collective_income, r.per_capita_income,
            r.monitored_households, r.risk_removed_households, r.industry_projects, r.jobs_created,
            r.practical_matters, r.note, RESULT_STATUSES.get(r.status, r.status), r.return_reason,
            _local(r.filed_at), _local(r.verified_at)]


KINDS = (ResultImport,)
