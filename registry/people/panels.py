"""What people, postings and pairings add to other pages: home panels per role and the
sections of village, township and county pages. Every query goes through scope."""
from __future__ import annotations

from flask import current_app, url_for
from sqlalchemy import func, select

from ..core.enums import VILLAGE_ROLES
from ..core.formatting import date_cn
from ..core.scope import scoped
from ..extensions import db
from ..main.home import panel
from ..organizations.services import in_jurisdiction
from ..pairings.models import Pairing
from ..regions.sections import section
from . import postings as posting_services
from . import services
from .models import Person, Posting

_ROLE_ORDER = {"first_secretary": 0, "team_leader": 1, "team_member": 2, "seconded_cadre": 3}


def _due_note(p: Posting) -> str:
    days = p.days_to_planned_end
    if days < 0:
        return f"已超过计划结束日期 {-days} 天"
    return f"{date_cn(p.planned_end)}期满（{days} 天后）"


# -- home panels -------------------------------------------------------------------------

@panel
def ending_soon_panel(user):
    if user.role not in ("admin", "region", "viewer"):
        return None
    total, rows = posting_services.ending_soon(user)
    days = current_app.config["REGISTRY_ENDING_SOON_DAYS"]
    return {
        "title": f"{days}天内期满的选派",
        "count": total,
        "rows": [
            {"text": f"{p.person.name} · {p.region.name}{p.role_label}", "url": url_for("people.posting", posting_id=p.id),
             "note": _due_note(p)}
            for p in rows
        ],
        "link": url_for("people.postings", status="ending") if total else None,
        "empty": f"{days}天内没有期满的选派",
    }


@panel
def unit_people_panel(user):
    if user.role != "unit" or not user.organization_id:
        return None
    stmt = scoped(select(Person), Person, user)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    people = db.session.scalars(stmt.order_by(Person.name).limit(8)).all()
    active = services.active_labels(user, (p.id for p in people))
    return {
        "title": "本单位帮扶干部",
        "count": total,
        "rows": [
            {"text": p.name, "url": url_for("people.detail", person_id=p.id),
             "note": active.get(p.id, "未在岗")}
            for p in people
        ],
        "link": url_for("people.index"),
        "empty": "尚未登记帮扶干部",
    }


@panel
def unit_postings_panel(user):
    if user.role != "unit" or not user.organization_id:
        return None
    stmt = scoped(select(Posting), Posting, user).where(Posting.is_active)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.session.scalars(stmt.order_by(Posting.planned_end).limit(8)).all()
    return {
        "title": "本单位在岗选派",
        "count": total,
        "rows": [
            {"text": f"{p.person.name} · {p.region.name}{p.role_label}", "url": url_for("people.posting", posting_id=p.id),
             "note": _due_note(p)}
            for p in rows
        ],
        "link": url_for("people.postings", status="active"),
        "empty": "目前没有在岗选派",
    }


@panel
def village_forces_panel(user):
    if user.role != "village" or not user.village_code:
        return None
    postings = _village_postings(user.village_code, user)
    minimum = current_app.config["REGISTRY_MIN_TEAM_SIZE"]
    secretary = next((p for p in postings if p.role == "first_secretary"), None)
    rows = [{"text": f"{p.role_label}：{p.person.name}", "url": url_for("people.posting", posting_id=p.id),
             "note": p.organization.name} for p in postings]
    if postings and secretary is None:
        rows.insert(0, {"text": "本村目前没有在岗第一书记", "url": None, "note": None})
    if postings and len(postings) < minimum:
        rows.append({"text": f"工作队 {len(postings)} 人，少于{minimum}人", "url": None, "note": None})
    return {
        "title": "本村驻村力量",
        "count": len(postings),
        "rows": rows,
        "link": url_for("regions.detail", code=user.village_code),
        "link_text": "查看本村",
        "empty": f"本村目前没有在岗驻村干部（工作队应不少于{minimum}人）",
    }


# -- village page ------------------------------------------------------------------------

def _village_postings(code: str, user) -> list[Posting]:
    rows = db.session.scalars(
        scoped(select(Posting), Posting, user).where(
            Posting.region_code == code, Posting.role.in_(VILLAGE_ROLES), Posting.is_active
        )
    ).all()
    return sorted(rows, key=lambda p: (_ROLE_ORDER[p.role], p.start_date, p.id))


@section
def village_forces(region, user):
    if region.level != "village":
        return None
    team = _village_postings(region.code, user)
    secretary = next((p for p in team if p.role == "first_secretary"), None)
    pairings = db.session.scalars(
        scoped(select(Pairing), Pairing, user).where(Pairing.region_code == region.code)
        .order_by(Pairing.end_date.is_not(None), Pairing.start_date.desc())
    ).all()
    backing: dict[int, dict] = {}
    for p in team:
        backing.setdefault(p.organization_id, {"org": p.organization, "why": set()})["why"].add(f"派驻{p.role_label}")
    for pairing in pairings:
        if pairing.kind == "resident" and pairing.is_active:
            backing.setdefault(pairing.organization_id, {"org": pairing.organization, "why": set()})["why"].add("驻村帮扶结对")
    past = db.session.scalars(
        scoped(select(Posting), Posting, user).where(Posting.region_code == region.code, ~Posting.is_active)
        .order_by(Posting.end_date.desc()).limit(20)
    ).all()
    minimum = current_app.config["REGISTRY_MIN_TEAM_SIZE"]
    manages = in_jurisdiction(user, region.code)
    return "regions/_village_forces.html", {
        "region": region,
        "secretary": secretary,
        "team": team,
        "minimum": minimum,
        # a unit sees only its own postings, so it cannot judge the village's gaps
        "judge_gaps": user.role != "unit",
        "backing": sorted(backing.values(), key=lambda b: b["org"].name),
        "pairings": pairings,
        "past": past,
        "can_post": manages and user.can("manage_postings"),
        "can_pair": manages and user.can("manage_pairings"),
    }


# -- county and township pages -----------------------------------------------------------

@section
def seconded_cadres(region, user):
    if region.level not in ("county", "township"):
        return None
    cadres = db.session.scalars(
        scoped(select(Posting), Posting, user).where(
            Posting.role == "seconded_cadre", Posting.is_active, region.within(Posting.region_code)
        ).order_by(Posting.region_code, Posting.start_date)
    ).all()
    pairings = db.session.scalars(
        scoped(select(Pairing), Pairing, user).where(Pairing.region_code == region.code)
        .order_by(Pairing.end_date.is_not(None), Pairing.kind, Pairing.start_date.desc())
    ).all()
    village_pairings = db.session.scalar(
        scoped(select(func.count(Pairing.id)), Pairing, user).where(
            region.within(Pairing.region_code), Pairing.region_code != region.code, Pairing.end_date.is_(None)
        )
    ) or 0
    secretaries = db.session.scalar(
        scoped(select(func.count(Posting.id)), Posting, user).where(
            Posting.role == "first_secretary", Posting.is_active, region.within(Posting.region_code)
        )
    ) or 0
    manages = in_jurisdiction(user, region.code)
    return "regions/_county_forces.html", {
        "region": region,
        "cadres": cadres,
        "pairings": pairings,
        "village_pairings": village_pairings,
        "secretaries": secretaries,
        "can_post": manages and user.can("manage_postings"),
        "can_pair": manages and user.can("manage_pairings") and region.level == "county",
    }

