"""What the coverage figures count (DESIGN.md section 4), in one place: the coverage page,
the areas' summaries, the gaps worklist and the tests all use these definitions.

- active posting: ``Posting.is_active`` (not ended); active pairing: ``Pairing.active_on``
  (started and not ended today);
- first secretary: an active first-secretary posting to the village;
- backing unit: an active village posting (first secretary or work team) from any
  organization, or an active 驻村帮扶 (resident) pairing;
- enterprise pairing: an active 村企结对 pairing;
- confirmed support in the last 12 months: a confirmed record dated within the support
  window (*setting* REGISTRY_SUPPORT_WINDOW_DAYS, 365 days);
- confirmation rate: confirmed / (submitted + confirmed + disputed) in the year;
  superseded records are replaced by their correction and counted through it;
- overdue: submitted and not decided for more than REGISTRY_CONFIRMATION_OVERDUE_DAYS;
- team under minimum: a village with at least one but fewer than REGISTRY_MIN_TEAM_SIZE
  active village postings;
- filters: year (amounts, funnel, training, duty months), category (support figures),
  organization kind (support figures and the postings and pairings counted), village
  flag (all village-based figures).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import bindparam, func, select

from ..core.enums import ORG_KINDS, RECORD_CATEGORIES, VILLAGE_ROLES
from ..core.rules import RuleViolation
from ..core.timeutil import local_today
from ..organizations.models import Organization
from ..pairings.models import Pairing
from ..people.models import Posting
from ..records.queries import overdue_cutoff  # noqa: F401  (the one definition of overdue)
from ..regions.models import Region
from .models import ANY, VillageSupportLast

FLAGS = {"key": "重点帮扶村", "poor": "脱贫村", "relocation": "易地扶贫搬迁安置点"}


@dataclass(frozen=True)
class Filters:
    year: int
    category: str | None = None
    org_kind: str | None = None
    flag: str | None = None  # key, poor or relocation

    @classmethod
    def from_args(cls, args) -> Filters:
        today = local_today()
        raw_year = (args.get("year") or "").strip()
        try:
            year = int(raw_year) if raw_year else today.year
        except ValueError:
            raise RuleViolation("年度应为四位数字", "year") from None
        if not 2015 <= year <= today.year + 1:
            raise RuleViolation("年度超出范围", "year")
        category = (args.get("category") or "").strip() or None
        if category and category not in RECORD_CATEGORIES:
            raise RuleViolation("帮扶类别无效", "category")
        org_kind = (args.get("org_kind") or "").strip() or None
        if org_kind and org_kind not in ORG_KINDS:
            raise RuleViolation("帮扶主体类型无效", "org_kind")
        flag = (args.get("flag") or "").strip() or None
        if flag and flag not in FLAGS:
            raise RuleViolation("村标识无效", "flag")
        return cls(year, category, org_kind, flag)

    def as_args(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @property
    def shape(self) -> tuple[bool, bool, str | None]:
        """What a prepared statement's form depends on (the values are its parameters)."""
        return (self.category is not None, self.org_kind is not None, self.flag)

    @property
    def params(self) -> dict:
        return {"year": self.year, "category": self.category, "org_kind": self.org_kind}

    @staticmethod
    def parametric(shape: tuple[bool, bool, str | None]) -> Filters:
        """Filters whose year, category and organization kind are bound parameters."""
        has_category, has_org_kind, flag = shape
        return Filters(bindparam("year"), bindparam("category") if has_category else None,
                       bindparam("org_kind") if has_org_kind else None, flag)


# -- the windows -----------------------------------------------------------------------------

def support_window() -> timedelta:
    """How far back confirmed support counts as "in the last 12 months" (*setting*
    REGISTRY_SUPPORT_WINDOW_DAYS)."""
    return timedelta(days=int(current_app.config["REGISTRY_SUPPORT_WINDOW_DAYS"]))


def support_cutoff(today: date) -> date:
    """The first day of the support window ending ``today``: confirmed support dated on
    or after it counts."""
    return today - support_window()


# -- building blocks ----------------------------------------------------------------------

def flag_clause(flag: str | None):
    if flag == "key":
        return Region.is_key.is_(True)
    if flag == "poor":
        return Region.is_poor.is_(True)
    if flag == "relocation":
        return Region.is_relocation.is_(True)
    return None


def org_kind_ok(org_id_col, org_kind):
    if org_kind is None:
        return None
    return org_id_col.in_(select(Organization.id).where(Organization.kind == org_kind))


def first_secretary_villages(lo: str, hi: str, org_kind: str | None = None):
    stmt = select(Posting.region_code.label("code")).where(
        Posting.role == "first_secretary", Posting.is_active, Posting.region_code.between(lo, hi)
    )
    if (c := org_kind_ok(Posting.organization_id, org_kind)) is not None:
        stmt = stmt.where(c)
    return stmt.distinct()


def backing_unit_villages(lo: str, hi: str, today: date, org_kind: str | None = None):
    postings = select(Posting.region_code.label("code")).where(
        Posting.role.in_(VILLAGE_ROLES), Posting.is_active, Posting.region_code.between(lo, hi)
    )
    pairings = select(Pairing.region_code.label("code")).where(
        Pairing.kind == "resident", Pairing.active_on(today), Pairing.region_code.between(lo, hi)
    )
    if org_kind:
        postings = postings.where(org_kind_ok(Posting.organization_id, org_kind))
        pairings = pairings.where(org_kind_ok(Pairing.organization_id, org_kind))
    return postings.union(pairings)


def enterprise_villages(lo: str, hi: str, today: date, org_kind: str | None = None):
    stmt = select(Pairing.region_code.label("code")).where(
        Pairing.kind == "enterprise_village", Pairing.active_on(today), Pairing.region_code.between(lo, hi)
    )
    if (c := org_kind_ok(Pairing.organization_id, org_kind)) is not None:
        stmt = stmt.where(c)
    return stmt.distinct()


def supported_villages(lo: str, hi: str, today: date, category: str | None = None, org_kind: str | None = None):
    return select(VillageSupportLast.village_code.label("code")).where(
        VillageSupportLast.category == (category or ANY),
        VillageSupportLast.org_kind == (org_kind or ANY),
        VillageSupportLast.last_confirmed_on >= support_cutoff(today),
        VillageSupportLast.village_code.between(lo, hi),
    )


def team_sizes(lo: str, hi: str, org_kind: str | None = None):
    stmt = (
        select(Posting.region_code.label("code"), func.count().label("size"))
        .where(Posting.role.in_(VILLAGE_ROLES), Posting.is_active, Posting.region_code.between(lo, hi))
        .group_by(Posting.region_code)
    )
    if (c := org_kind_ok(Posting.organization_id, org_kind)) is not None:
        stmt = stmt.where(c)
    return stmt


def record_filters(stmt, s, filters: Filters):
    """Support records ``s`` narrowed by the filters' category, organization kind and flag."""
    if filters.category is not None:
        stmt = stmt.where(s.category == filters.category)
    if filters.org_kind is not None:
        stmt = stmt.where(org_kind_ok(s.organization_id, filters.org_kind))
    if (c := flag_clause(filters.flag)) is not None:
        stmt = stmt.where(s.village_code.in_(select(Region.code).where(c)))
    return stmt


def posting_filters(stmt, filters: Filters, region_col=Posting.region_code, org_col=Posting.organization_id):
    """Postings (or rows carrying a posting's place and sending unit) narrowed by the
    filters' organization kind and village flag."""
    if filters.org_kind is not None:
        stmt = stmt.where(org_kind_ok(org_col, filters.org_kind))
    if (c := flag_clause(filters.flag)) is not None:  # village flags: postings to such villages
        stmt = stmt.where(region_col.in_(select(Region.code).where(Region.level == "village", c)))
    return stmt
