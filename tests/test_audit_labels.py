"""The audit trail in the pages' words: every column of an audited kind has a Chinese
name, its enumerations show their labels and its times Beijing time as the pages write
them, and the registry's own jobs are 系统 (registry/audit/labels.py)."""
from __future__ import annotations

import re

from registry.audit import labels

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_column_of_an_audited_kind_has_a_chinese_name(app):
    fields = labels._fields()
    unnamed = [(entity, key) for entity in labels.ENTITY_LABELS for key, field in fields.get(entity, {}).items()
               if not CJK.search(field.label)]
    assert not unnamed, f"give these columns a name in audit/labels.py (FIELD_LABELS): {unnamed}"
    # every kind is found but the gaps worklist's, whose export events name no table
    assert set(labels.ENTITY_LABELS) - set(fields) == {"Gap"}
    # and no two columns of a kind share a name (a record's id and its 编号 did)
    shared = {entity: sorted(label for label in {f.label for f in kind.values()}
                             if sum(f.label == label for f in kind.values()) > 1)
              for entity, kind in fields.items()}
    assert not {entity: names for entity, names in shared.items() if names}


def test_enumerations_times_and_dates_show_as_the_pages_show_them(app):
    after = ('{"state":"approved","reviewed_at":"2026-12-06T03:45:03.730385","is_demo":true,"scheme_id":1,'
             '"return_reason":null}')
    rows = {c.field: c.after for c in labels.changes("Scorecard", None, after)}
    assert rows == {"状态": "已审核（待发布）", "审核时间": "2026年12月6日 11:45", "示例数据": "是", "考核方案编号": "1",
                    "退回原因": ""}
    changed = labels.changes("ReopenRequest", '{"state":"requested","deadline":"2026-12-31"}',
                             '{"state":"approved","deadline":"2027-01-15"}')
    # in the order the kind declares its columns (the deadline before the state), not the event's
    assert [(c.field, c.before, c.after) for c in changed] == [
        ("截止日期", "2026年12月31日", "2027年1月15日"), ("状态", "待审批", "已批准（开放中）")]
    # a time changed within the minute is shown to the second, not as 11:45 → 11:45
    within = labels.changes("Scorecard", '{"reviewed_at":"2026-12-06T03:45:03"}', '{"reviewed_at":"2026-12-06T03:45:41"}')
    assert [(c.before, c.after) for c in within] == [("2026年12月6日 11:45:03", "2026年12月6日 11:45:41")]
    # a code no enumeration names, and a time that is not one, are shown as stored
    odd = labels.changes("Scorecard", None, '{"state":"archived","reviewed_at":"soon"}')
    assert [(c.field, c.after) for c in odd] == [("状态", "archived"), ("审核时间", "soon")]


def test_the_trail_names_roles_and_the_system_in_chinese(db, login_as, make_user):
    from registry.audit.services import record
    from registry.regions.models import Region

    make_user("region", region_code="433101000000")
    record("load_divisions", db.session.get(Region, "433101000000"), after={"added": 3}, summary="载入行政区划")
    db.session.commit()
    admin = login_as(make_user("admin"))
    page = admin.get("/audit/").get_data(as_text=True)
    assert "<td>系统</td>" in page and "<td>system</td>" not in page
    assert "<td>角色</td><td></td><td>行政区工作人员</td>" in page
    assert ">region<" not in page and "<td>新增条数</td><td></td><td>3</td>" in page
    assert not re.search(r"<td>[a-z_]+</td>", page), re.findall(r"<td>[a-z_]+</td>", page)


def test_the_export_writes_the_changes_in_chinese_beside_the_stored_values(db, login_as, make_user):
    """Inspectors read the trail's export: 变更内容 holds the changes as the page shows them
    (names, labels, Beijing time; a creation's fields that hold a value), the actor of the
    registry's own jobs is 系统, and 变更前 / 变更后 keep the stored values the hashes cover."""
    import csv
    import io

    from registry.audit.services import record
    from registry.regions.models import Region

    record("update", "ReopenRequest", before={"state": "requested", "deadline": "2026-12-31", "note": "同"},
           after={"state": "approved", "deadline": "2027-01-15", "note": "同"}, summary="批准重新开放",
           region_code="433101001001")
    record("load_divisions", db.session.get(Region, "433101000000"), after={"added": 3, "note": None},
           summary="载入行政区划")
    db.session.commit()
    admin = login_as(make_user("admin"))
    rows = list(csv.DictReader(io.StringIO(admin.get("/audit/export.csv").get_data(as_text=True).lstrip("\ufeff"))))
    by_summary = {row["摘要"]: row for row in rows}
    approved = by_summary["批准重新开放"]
    assert approved["变更内容"] == "截止日期：2026年12月31日 → 2027年1月15日；状态：待审批 → 已批准（开放中）"
    assert '"state":"approved"' in approved["变更后"]
    loaded = by_summary["载入行政区划"]
    assert loaded["操作人"] == "系统" and loaded["变更内容"] == "新增条数：3"
