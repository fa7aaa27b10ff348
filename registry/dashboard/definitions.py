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
  flag (all village-based figures), veteran (退役军人: the helpers counted are veterans —
  postings of people marked as veterans, and the pairings and support of individual
  helpers (个人) whose person is one; ``helper_ok``). The summaries carry no veteran
  dimension: a veteran view is computed from the postings, pairings and records through
  indexed look-ups (the partial index ``ix_person_veteran``; records by organization,
  ``ix_support_record_org_status``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import and_, bindparam, func, or_, select

from ..core.enums import INDIVIDUAL, ORG_KINDS, RECORD_CATEGORIES, VILLAGE_ROLES
from ..core.rules import RuleViolation
from ..core.timeutil import local_today
from ..organizations.models import Organization
from ..pairings.models import Pairing
from ..people.models import Person, Posting
from ..records.queries import overdue_cutoff  # noqa: F401  (the one definition of overdue)
from ..regions.models import Region
from .models import ANY, VillageStatus, VillageSupportLast

FLAGS = {"key": "重点帮扶村", "poor": "脱贫村", "relocation": "易地扶贫搬迁安置点"}


@dataclass(frozen=True)
class Filters:
    year: int
    category: str | None = None
    org_kind: str | None = None
    flag: str | None = None  # key, poor or relocation
    veteran: bool = False  # only veterans (退役军人) among the helpers counted

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
        veteran = (args.get("veteran") or "").strip()
        if veteran not in ("", "0", "1"):
            raise RuleViolation("退役军人筛选无效（应为1或留空）", "veteran")
        return cls(year, category, org_kind, flag, veteran == "1")

    def shown(self) -> list[tuple[str, str]]:
        """The filters in the page's words, as (label, value) pairs (an export's filters)."""
        return [("年度", f"{self.year}年"), ("帮扶类别", RECORD_CATEGORIES.get(self.category or "", "")),
                ("帮扶主体类型", ORG_KINDS.get(self.org_kind or "", "")), ("村标识", FLAGS.get(self.flag or "", "")),
                ("退役军人", "只计退役军人" if self.veteran else "")]

    def as_args(self) -> dict:
        args = {k: v for k, v in asdict(self).items() if v is not None and k != "veteran"}
        if self.veteran:
            args["veteran"] = 1
        return args

    @property
    def shape(self) -> tuple[bool, bool, str | None, bool]:
        """What a prepared statement's form depends on (the values are its parameters)."""
        return (self.category is not None, self.org_kind is not None, self.flag, self.veteran)

    @property
    def params(self) -> dict:
        return {"year": self.year, "category": self.category, "org_kind": self.org_kind}

    @staticmethod
    def parametric(shape: tuple[bool, bool, str | None, bool]) -> Filters:
        """Filters whose year, category and organization kind are bound parameters."""
        has_category, has_org_kind, flag, veteran = shape
        return Filters(bindparam("year"), bindparam("category") if has_category else None,
                       bindparam("org_kind") if has_org_kind else None, flag, veteran)


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


def veteran_people():
    """Ids of the people marked 退役军人 (the partial index ``ix_person_veteran``)."""
    return select(Person.id).where(Person.is_veteran == True)  # noqa: E712  (the index's own predicate)


def veteran_helpers():
    """Ids of the individual helpers (个人) whose person is a veteran."""
    return (select(Person.organization_id).join(Organization, Organization.id == Person.organization_id)
            .where(Person.is_veteran == True, Organization.kind == INDIVIDUAL))  # noqa: E712


def helper_ok(org_col, org_kind, veteran: bool = False, person_col=None):
    """Condition on a row sent or held by an organization: its kind is ``org_kind``; with
    ``veteran``, the helper is a veteran — a posting's person (``person_col``), or for a
    pairing or record (no person) an individual helper who is one. None: no condition."""
    conditions = []
    if org_kind is not None:
        conditions.append(org_kind_ok(org_col, org_kind))
    if veteran:
        conditions.append(person_col.in_(veteran_people()) if person_col is not None
                          else org_col.in_(veteran_helpers()))
    return and_(*conditions) if conditions else None


def first_secretary_villages(lo: str, hi: str, org_kind: str | None = None, veteran: bool = False):
    stmt = select(Posting.region_code.label("code")).where(
        Posting.role == "first_secretary", Posting.is_active, Posting.region_code.between(lo, hi)
    )
    if (c := helper_ok(Posting.organization_id, org_kind, veteran, Posting.person_id)) is not None:
        stmt = stmt.where(c)
    return stmt.distinct()


def backing_unit_villages(lo: str, hi: str, today: date, org_kind: str | None = None, veteran: bool = False):
    postings = select(Posting.region_code.label("code")).where(
        Posting.role.in_(VILLAGE_ROLES), Posting.is_active, Posting.region_code.between(lo, hi)
    )
    pairings = select(Pairing.region_code.label("code")).where(
        Pairing.kind == "resident", Pairing.active_on(today), Pairing.region_code.between(lo, hi)
    )
    if (c := helper_ok(Posting.organization_id, org_kind, veteran, Posting.person_id)) is not None:
        postings = postings.where(c)
    if (c := helper_ok(Pairing.organization_id, org_kind, veteran)) is not None:
        pairings = pairings.where(c)
    return postings.union(pairings)


def enterprise_villages(lo: str, hi: str, today: date, org_kind: str | None = None, veteran: bool = False):
    stmt = select(Pairing.region_code.label("code")).where(
        Pairing.kind == "enterprise_village", Pairing.active_on(today), Pairing.region_code.between(lo, hi)
    )
    if (c := helper_ok(Pairing.organization_id, org_kind, veteran)) is not None:
        stmt = stmt.where(c)
    return stmt.distinct()


def supported_villages(lo: str, hi: str, today: date, category: str | None = None, org_kind: str | None = None,
                       veteran: bool = False, *, since=None):
    """Villages with confirmed support within the window ending ``today`` (``since``:
    the window's first day, given where ``today`` is a bound parameter)."""
    since = support_cutoff(today) if since is None else since
    if veteran:  # not in the summary: the veterans' confirmed records themselves (by organization, indexed)
        from ..records.models import SupportRecord as s

        stmt = select(s.village_code.label("code")).where(
            s.organization_id.in_(veteran_helpers()), s.status == "confirmed",
            s.record_date >= since, s.village_code.between(lo, hi))
        if category is not None:
            stmt = stmt.where(s.category == category)
        if (c := org_kind_ok(s.organization_id, org_kind)) is not None:
            stmt = stmt.where(c)
        return stmt.distinct()
    return select(VillageSupportLast.village_code.label("code")).where(
        VillageSupportLast.category == (category or ANY),
        VillageSupportLast.org_kind == (org_kind or ANY),
        VillageSupportLast.last_confirmed_on >= since,
        VillageSupportLast.village_code.between(lo, hi),
    )


def team_sizes(lo: str, hi: str, org_kind: str | None = None, veteran: bool = False):
    stmt = (
        select(Posting.region_code.label("code"), func.count().label("size"))
        .where(Posting.role.in_(VILLAGE_ROLES), Posting.is_active, Posting.region_code.between(lo, hi))
        .group_by(Posting.region_code)
    )
    if (c := helper_ok(Posting.organization_id, org_kind, veteran, Posting.person_id)) is not None:
        stmt = stmt.where(c)
    return stmt


def record_filters(stmt, s, filters: Filters):
    """Support records ``s`` narrowed by the filters' category, organization kind, veteran and flag."""
    if filters.category is not None:
        stmt = stmt.where(s.category == filters.category)
    if (c := helper_ok(s.organization_id, filters.org_kind, filters.veteran)) is not None:
        stmt = stmt.where(c)
    if (c := flag_clause(filters.flag)) is not None:
        stmt = stmt.where(s.village_code.in_(select(Region.code).where(c)))
    return stmt


def posting_filters(stmt, filters: Filters, region_col=Posting.region_code, org_col=Posting.organization_id,
                    person_col=Posting.person_id):
    """Postings (or rows carrying a posting's place, sending unit and person) narrowed by
    the filters' organization kind, veteran and village flag."""
    if (c := helper_ok(org_col, filters.org_kind, filters.veteran, person_col)) is not None:
        stmt = stmt.where(c)
    if (c := flag_clause(filters.flag)) is not None:  # village flags: postings to such villages
        stmt = stmt.where(region_col.in_(select(Region.code).where(Region.level == "village", c)))
    return stmt


# -- the same definitions over the villages' summary (VillageStatus) --------------------------
# ``VillageStatus`` holds, per village, its active first secretaries and village postings
# (``first_secretary_villages``, ``team_sizes``) and its latest confirmed support
# (``supported_villages``), recomputed on every flush that moves them; only its pairing
# counts depend on the day (``pairings_valid_until``), so what needs a pairing is asked of
# the pairings themselves. The gaps worklist counts its village lines from it.

def later_postings(successor):
    """The postings (``successor``, an alias of ``Posting``) that may succeed a posting:
    to its place, in its role, starting after it. One counts while it is active or until
    it ends (``or_(successor.is_active, successor.end_date > today)``): a posting ending
    with none counting has no successor (the gaps worklist; ``gap_days``)."""
    return select(successor.id).where(
        successor.region_code == Posting.region_code, successor.role == Posting.role,
        successor.id != Posting.id, successor.start_date > Posting.start_date)


def status_priority():
    """Condition on ``VillageStatus``: a key (重点帮扶) or poverty-exited (脱贫) village."""
    vs = VillageStatus
    return or_(vs.is_key.is_(True), vs.is_poor.is_(True))


def status_without_first_secretary():
    return VillageStatus.first_secretaries == 0


def status_without_backing_unit(today: date):
    """No active village posting, and no resident pairing (驻村帮扶) in force ``today``:
    the row's count of them while it holds (``pairings_valid_until``), else the pairings'."""
    vs = VillageStatus
    fresh = or_(vs.pairings_valid_until.is_(None), vs.pairings_valid_until > today)
    resident = select(Pairing.id).where(Pairing.region_code == vs.code, Pairing.kind == "resident",
                                        Pairing.active_on(today))
    return and_(vs.team_size == 0, or_(and_(fresh, vs.resident_pairings == 0), and_(~fresh, ~resident.exists())))


def status_small_team(minimum: int):
    """At least one but fewer than ``minimum`` active village postings."""
    return VillageStatus.team_size.between(1, minimum - 1)


def status_without_support(today: date | None = None, since=None):
    """No confirmed support within the support window ending ``today`` (or from ``since``,
    its first day: a date or a bound parameter)."""
    vs = VillageStatus
    since = support_cutoff(today) if since is None else since
    return or_(vs.last_confirmed_on.is_(None), vs.last_confirmed_on < since)

