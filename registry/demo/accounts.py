"""Demo accounts: one per role and scope, random passwords, written to a file."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import case, func, select

from ..accounts.services import create_user
from ..extensions import db
from ..organizations.models import Organization
from ..regions.models import Region
from .base import FOCUS_COUNTIES

HEADER = "role\tscope\tusername\tpassword\n"


def create_demo_accounts(path: Path) -> list[tuple[str, str, str, str]]:
    county_code = FOCUS_COUNTIES[0] + "000000"  # 吉首市
    county = db.session.get(Region, county_code)
    village = db.session.scalars(
        select(Region).where(Region.level == "village", Region.code.between(county_code[:6] + "000000", county_code[:6] + "999999")).order_by(Region.code)
    ).first()
    township = village.parent
    org = db.session.scalars(select(Organization).where(Organization.kind == "backing_unit").order_by(Organization.id)).first()
    if org is None:
        org = Organization(name="示例后盾单位（省农业农村厅）", kind="backing_unit", level="provincial", region_code="430000000000", is_demo=True)
        db.session.add(org)
        db.session.flush()
    plan = [
        ("admin", "", "demo_admin", {}),
        ("region", "430000000000", "demo_province", {"region_code": "430000000000"}),
        # a second province user: reviews what demo_province scored (实绩考核 needs two)
        ("region", "430000000000", "demo_reviewer", {"region_code": "430000000000"}),
        ("region", county.parent_code, "demo_city", {"region_code": county.parent_code}),
        ("region", county_code, "demo_county", {"region_code": county_code}),
        ("region", township.code, "demo_township", {"region_code": township.code}),
        ("unit", org.name, "demo_unit", {"organization_id": org.id}),
        ("village", village.code, "demo_village", {"village_code": village.code}),
        ("viewer", "430000000000", "demo_viewer", {"region_code": "430000000000", "oversight_body": "audit"}),
    ]
    enterprise = _demo_enterprise(county_code)
    if enterprise is not None:  # an enterprise's own account (企业项目, 万企兴万村): after demo_unit
        plan.append(("unit", enterprise.name, "demo_enterprise", {"organization_id": enterprise.id}))
    rows = []
    made = {}
    for role, scope, username, kwargs in plan:
        made[username], password = create_user(username, role, display_name=f"示例账号 {username}", **kwargs)
        rows.append((role, scope, username, password))
    db.session.commit()
    cadre = _demo_cadre(org, village, made["demo_unit"])
    if cadre is not None:
        rows.append(cadre)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(HEADER)
        for row in rows:
            fh.write("\t".join(row) + "\n")
    path.chmod(0o600)
    return rows


def _demo_enterprise(county_code: str) -> Organization | None:
    """The demo enterprise with the most projects, those of the demo county first."""
    from ..projects.models import Project

    return db.session.scalars(
        select(Organization).join(Project, Project.organization_id == Organization.id)
        .where(Organization.kind == "enterprise")
        .group_by(Organization.id)
        .order_by(func.max(case((Organization.region_code == county_code, 1), else_=0)).desc(),
                  func.count(Project.id).desc(), Organization.id)
    ).first()


def _demo_cadre(org: Organization, village: Region, unit_user) -> tuple[str, str, str, str] | None:
    """demo_cadre: the account of the demo unit's first secretary in the demo village,
    opened by the demo unit and activated, as a cadre (驻村干部) would do it."""
    from ..accounts.services import generate_password
    from ..cadres.services import activate, issue_activation
    from ..people.models import Posting

    posting = db.session.scalars(select(Posting).where(
        Posting.organization_id == org.id, Posting.region_code == village.code, Posting.role == "first_secretary",
        Posting.is_active).order_by(Posting.id)).first()
    if posting is None:
        return None
    issued = issue_activation(posting.person, "demo_cadre", actor=unit_user)
    password = generate_password()
    activate("demo_cadre", issued.code, password, password, "127.0.0.1")
    return ("cadre", posting.person.name, "demo_cadre", password)
