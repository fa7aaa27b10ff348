"""企业项目 from a spreadsheet: new projects, each as the form registers it.

A row is one project (签约 status): the enterprise (one the user may record for: a unit
its own enterprise, region staff an enterprise they see), name, kind, 湘商回归, planned
investment, signing date, the villages (their 12-digit codes, or 名称（代码） as the export
writes them) and a description. Each row passes ``services.check_project``, the form's
rule (a unit's villages are those it is bound to, region staff's those under them), and is
written by ``create_project`` (audited as the form's). The natural key is the enterprise,
the name and the signing date; a row already stored is refused (a project changes by its
form and its progress entries, which the villages confirm, not by a file).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from ..core.parsing import CONFIRM_FIELD, IMPORT_CONFIRM_HINT
from ..core.rules import Collector
from ..core.scope import scoped
from ..extensions import db
from ..organizations.imports import organization_label
from ..transfer.importing import CONFIRM_COLUMN, Field, ImportKind, resolve, yes_no
from ..transfer.references import Lookup, labelled
from ..transfer.writing import Column
from . import services
from .models import PROJECT_KINDS, Project

_CODE = re.compile(r"(?<!\d)\d{12}(?!\d)")


def _enterprises(user) -> Lookup:
    found = services.enterprises_for(user)
    return Lookup({o.id: o.name for o in found}, "企业", aliases={o.credit_code: o.id for o in found if o.credit_code})


@dataclass
class ProjectRow:
    organization_id: int | None
    data: services.ProjectData
    values: dict

    @property
    def natural(self) -> tuple:
        return (self.organization_id, self.values["name"], self.values["signed_on"])


class ProjectImport(ImportKind):
    name = "projects"
    title = "企业项目"
    entity = "Project"
    permission = "manage_projects"
    list_endpoint = "projects.index"
    supports_update = False

    def allowed(self, user) -> bool:
        """Whoever registers projects for some enterprise (an enterprise its own; region
        staff the enterprises they see; a backing unit none)."""
        return services.may_register(user)
    fields = (
        Field("企业", "organization", width=30, required=True, choices=lambda user: _enterprises(user).labels(),
              example="示例农业开发有限公司", note="“企业名称（统一社会信用代码）”、信用代码或名称；企业账号只能填本企业"),
        Field("项目名称", "name", width=30, required=True, example="油茶精深加工基地", note="最多200字"),
        Field("项目类型", "kind", width=10, required=True, codes=PROJECT_KINDS, example="产业"),
        Field("湘商回归", "is_xiangshang", width=8, example="是", note="是/否；空白则按企业的湘商回归标识"),
        Field("计划投资（元）", "planned_investment", "amount", 16, required=True, aliases=("计划投资",),
              example=5000000, note="单位：元，最多2位小数；也可写成“500万”"),
        Field("签约日期", "signed_on", "date", 12, required=True, example="2025-03-18", note="不晚于今天"),
        Field("涉及村", "villages", width=40, required=True, example="430102001201",
              note="12位区划代码，多个用“、”或逗号分隔（也可写“村名（代码）”）；企业账号只能填结对或选派的村，行政区账号填本辖区的村"),
        Field("项目简介", "description", width=30, note="最多2000字"),
    )
    extra_fields = (CONFIRM_COLUMN,)
    derived = (
        Column("状态", "status", width=8),
        Column("实际到位投资（元）", "actual_investment", "amount", 16),
        Column("经村确认的实际到位投资（元）", "confirmed_investment", "amount", 18),
        Column("带动当地就业（人）", "local_jobs", "int", 10),
        Column("开工日期", "started_on", "date", 12),
        Column("投产日期", "operating_on", "date", 12),
        Column("终止日期", "terminated_on", "date", 12),
        Column("终止原因", "end_reason", width=30),
        Column("项目编号", "id", "int", 8),
    )

    def context(self, user, *, update: bool) -> dict:
        stored = {(p.organization_id, p.name, p.signed_on) for p in db.session.scalars(
            scoped(select(Project), Project, user))}
        return {"user": user, "enterprises": _enterprises(user), "stored": stored}

    def check(self, values, ctx) -> ProjectRow:
        errors = Collector()
        org_id = resolve(ctx["enterprises"], values, "organization", errors)
        flag = values.get("is_xiangshang")
        xiangshang = None if flag in (None, "") else yes_no(flag)
        errors.check(flag in (None, "") or xiangshang is not None, "is_xiangshang", "应填“是”或“否”")
        confirmed = yes_no(values.get(CONFIRM_FIELD))
        errors.check(confirmed is not None, CONFIRM_FIELD, "应填“是”或“否”")
        raw = "" if values.get("villages") is None else str(values["villages"])
        codes = _CODE.findall(raw) if "（" in raw or "(" in raw else raw
        data = services.ProjectData(
            name=values.get("name") or "", kind=values.get("kind") or "", planned_investment=values.get("planned_investment"),
            signed_on=values.get("signed_on"), villages=codes, description=values.get("description") or "",
            is_xiangshang=xiangshang, organization_id=org_id, amount_confirmed=bool(confirmed))

        def checked() -> ProjectRow:
            clean = services.check_project(ctx["user"], data, confirm_hint=IMPORT_CONFIRM_HINT)
            return ProjectRow(organization_id=org_id, data=data, values=clean)

        # the rule is about one enterprise's project: without the enterprise it is not asked
        return errors.then(checked, needs=("organization",), columns=_COLUMN)

    key_fields = ("organization", "name", "signed_on")

    def key(self, clean: ProjectRow) -> tuple:
        return clean.natural

    def existing(self, clean: ProjectRow, ctx):
        return clean.natural if clean.natural in ctx["stored"] else None

    def duplicate_message(self, clean: ProjectRow) -> str:
        return "该企业同名、同一签约日期的项目已登记；项目登记后通过项目页面修改或填报进展"

    def write(self, rows, ctx, user) -> tuple[int, int]:
        for clean, _ in rows:
            services.create_project(user, clean.data, commit=False)
        return len(rows), 0


_COLUMN = {"organization_id": "organization"}


def export_row(p: Project) -> list:
    """A project as a row of the list's export (``ProjectImport.export_columns()``)."""
    villages = "、".join(labelled(v.village.name, v.village_code) if v.village else v.village_code for v in p.villages)
    return [organization_label(p.organization), p.name, p.kind_label, "是" if p.is_xiangshang else "否",
            p.planned_investment, p.signed_on, villages, p.description or "",
            p.status_label, p.actual_investment, p.confirmed_investment, p.local_jobs, p.started_on, p.operating_on,
            p.terminated_on, p.end_reason or "", p.id]


KINDS = (ProjectImport,)
