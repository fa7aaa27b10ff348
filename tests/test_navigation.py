"""The top navigation: a few daily entries stand alone, the rest sit in labelled groups
(registry/core/navigation.py NAV_GROUPS); each role sees its own subset, a group left with one
entry is a plain link, an empty group is not shown, and the group holding the page is marked."""
from __future__ import annotations

import re

from tests.factories import (
    COUNTY,
    PROVINCE,
    make_cadre,
    make_org,
    make_person,
    make_posting,
    make_village,
)


def _nav(session, path: str = "/") -> str:
    body = session.get(path).get_data(as_text=True)
    return body.split('class="mainnav"')[1].split("</nav>")[0]


def _shape(nav: str) -> list:
    """The navigation as a list: a link's label, or (a group's label, [its links' labels])."""
    shape: list = []
    for group, link in re.findall(r'<details class="navgroup[^"]*"[^>]*>(.*?)</details>|<a [^>]*>([^<]*)', nav, re.DOTALL):
        if group:
            label = re.search(r"<summary[^>]*>([^<]*)</summary>", group).group(1)
            shape.append((label, re.findall(r"<a [^>]*>([^<]*)", group)))
        else:
            shape.append(link.strip())
    return shape


def test_each_role_sees_few_entries_and_its_groups(app, make_user, login_as):
    admin = _shape(_nav(login_as(make_user("admin"))))
    assert admin[:4] == ["首页", "覆盖情况", "缺口清单", "帮扶记录"]
    groups = dict(slot for slot in admin if isinstance(slot, tuple))
    assert list(groups) == ["帮扶力量", "帮扶工作", "考核监督", "系统"]
    assert groups["帮扶力量"] == ["帮扶主体", "个人帮扶", "帮扶干部", "选派", "结对"]
    assert set(groups["帮扶工作"]) == {"逾期未确认", "慈善资金", "企业项目", "业务培训", "驻村纪实", "帮扶实效"}
    assert set(groups["考核监督"]) == {"考核奖惩", "督查", "实绩考核", "容错纠错", "关心关爱", "资金监督"}
    assert {"行政区划", "年度关账", "审计日志", "API 令牌"} <= set(groups["系统"])
    assert len(admin) == 8

    county = _shape(_nav(login_as(make_user("viewer", region_code=COUNTY))))
    assert "考核结果" in dict(slot for slot in county if isinstance(slot, tuple))["考核监督"]

    unit_org = make_org("backing_unit", COUNTY, level="county")
    unit = _shape(_nav(login_as(make_user("unit", organization_id=unit_org.id))))
    assert unit[:3] == ["首页", "本单位", "帮扶记录"]
    assert unit[-1] == "API 令牌"  # 系统 holds one entry for a unit: a plain link
    assert [slot[0] for slot in unit if isinstance(slot, tuple)] == ["帮扶力量", "帮扶工作", "考核监督"]

    village = make_village(COUNTY, 3)
    shown = _shape(_nav(login_as(make_user("village", village_code=village.code))))
    assert shown[:4] == ["首页", "本村", "帮扶记录", "待确认"]  # 待确认 and its count stay in sight
    assert [slot[0] for slot in shown if isinstance(slot, tuple)] == ["帮扶工作"]  # 帮扶力量, 考核监督: none

    person = make_person(unit_org, "导航分组干部")
    make_posting(person, unit_org, village.code)
    cadre = _shape(_nav(login_as(make_cadre(person, make_user("unit", organization_id=unit_org.id)))))
    assert cadre == ["首页", "驻村纪实", "我的培训", "我的考核", "关心关爱"]  # no group of one


def test_the_group_of_the_page_shown_is_marked(app, make_user, login_as):
    session = login_as(make_user("region", region_code=PROVINCE))
    nav = _nav(session, "/postings/")
    marked = re.findall(r'<details class="navgroup current" data-navgroup="(\w+)">\s*<summary aria-current="true">', nav)
    assert marked == ["force"]
    assert '<a href="/postings/" class="active" aria-current="page">选派</a>' in nav
    assert "navgroup current" not in _nav(session, "/")
    # a page below an entry's address belongs to the entry: its group is marked, the entry too
    nav = _nav(session, "/people/new")
    assert re.findall(r'<details class="navgroup current" data-navgroup="(\w+)"', nav) == ["force"]
    assert '<a href="/people/" class="active" aria-current="true">帮扶干部</a>' in nav
    # a top-level entry's pages mark no group
    assert "navgroup current" not in _nav(session, "/records/")
