from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core import crypto
from ..core.audited import Audited
from ..core.enums import DISPATCH_LEVELS, END_REASONS, POSTING_ROLES
from ..core.identity import mask_id_number, mask_phone
from ..core.timeutil import local_today, utcnow
from ..extensions import db
from ..organizations.models import Organization
from ..regions.models import Region


class Person(Audited, db.Model):
    """帮扶干部. The ID number and phone are stored encrypted; ``id_number_index`` is a
    keyed hash that keeps ID numbers unique without revealing them."""

    __tablename__ = "person"
    __audit_region__ = "organization.region_code"
    __audit_organization__ = "organization_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), index=True)
    gender: Mapped[str | None] = mapped_column(String(6))
    ethnicity: Mapped[str | None] = mapped_column(String(20))
    birth_date: Mapped[date | None] = mapped_column(Date)
    id_number_encrypted: Mapped[str] = mapped_column(Text, info={"sensitive": True})
    id_number_index: Mapped[str] = mapped_column(String(64), unique=True, info={"sensitive": True})
    id_number_masked: Mapped[str] = mapped_column(String(18))
    phone_encrypted: Mapped[str | None] = mapped_column(Text, info={"sensitive": True})
    phone_masked: Mapped[str | None] = mapped_column(String(20))
    is_party_member: Mapped[bool] = mapped_column(Boolean, default=False)
    education: Mapped[str | None] = mapped_column(String(20))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    post: Mapped[str | None] = mapped_column(String(100))  # 职务
    rank: Mapped[str | None] = mapped_column(String(50))  # 职级
    is_reserve_cadre: Mapped[bool] = mapped_column(Boolean, default=False)  # 后备干部
    is_veteran: Mapped[bool] = mapped_column(Boolean, default=False)  # 退役军人
    expertise: Mapped[str | None] = mapped_column(String(200))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    organization: Mapped[Organization] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # veterans only: the coverage page's veteran filter looks them (and their
        # individual-helper rows) up here (dashboard.definitions.veteran_people)
        Index("ix_person_veteran", "organization_id", "id",
              sqlite_where=text("is_veteran = 1"), postgresql_where=text("is_veteran")),
    )

    @property
    def id_number(self) -> str:
        """The full ID number. Only for roles allowed to see it (``people.services``)."""
        return crypto.decrypt(self.id_number_encrypted) or ""

    @property
    def phone(self) -> str:
        return crypto.decrypt(self.phone_encrypted) or ""

    def set_id_number(self, number: str) -> None:
        self.id_number_encrypted = crypto.encrypt(number)
        self.id_number_index = crypto.blind_index(number)
        self.id_number_masked = mask_id_number(number)

    def set_phone(self, phone: str | None) -> None:
        self.phone_encrypted = crypto.encrypt(phone) if phone else None
        self.phone_masked = mask_phone(phone) if phone else None


class Posting(Audited, db.Model):
    """选派: a person sent by an organization to a village (first secretary, work team)
    or a county/township (seconded cadre). Active while ``end_date`` is empty."""

    __tablename__ = "posting"
    __audit_region__ = "region_code"
    __audit_organization__ = "organization_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    # the village (first secretary, team) or the county/township (seconded cadre)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"))
    post_held: Mapped[str | None] = mapped_column(String(100))  # 挂职职务, e.g. 副县长
    dispatch_level: Mapped[str] = mapped_column(String(12))
    round: Mapped[str | None] = mapped_column(String(20))  # 届次, e.g. 2021届
    start_date: Mapped[date] = mapped_column(Date)
    planned_end: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(String(20))
    end_note: Mapped[str | None] = mapped_column(Text)  # the grounds of a recall, or a note
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    person: Mapped[Person] = relationship(lazy="joined", backref="postings")
    organization: Mapped[Organization] = relationship(lazy="joined")
    region: Mapped[Region] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_posting_region_role_end", "region_code", "role", "end_date"),
        Index("ix_posting_person_start", "person_id", "start_date"),
        # active postings only: coverage counts (ending soon, trained share) scan this
        Index("ix_posting_active", "region_code", "planned_end", "person_id",
              sqlite_where=text("end_date IS NULL"), postgresql_where=text("end_date IS NULL")),
        # active postings by start (with what the gaps worklist filters them by): a page of
        # a worklist in that order is read along it and stops at its last line
        Index("ix_posting_active_start", "start_date", "region_code", "role", "person_id", "planned_end",
              sqlite_where=text("end_date IS NULL"), postgresql_where=text("end_date IS NULL")),
        # active postings by planned end (with their place): the first of the ending-soon
        # panel are read along it and stop at the panel's last row, where the index by place
        # would hand PostgreSQL a province's postings to fetch and sort
        Index("ix_posting_active_end", "planned_end", "id", "region_code",
              sqlite_where=text("end_date IS NULL"), postgresql_where=text("end_date IS NULL")),
    )

    @hybrid_property
    def is_active(self) -> bool:
        """Not ended. The one definition of an active posting, in Python and (as
        ``Posting.is_active``) in SQL, where it matches the partial index ix_posting_active."""
        return self.end_date is None

    @is_active.inplace.expression
    @classmethod
    def _is_active_expression(cls):
        return cls.end_date.is_(None)

    @property
    def role_label(self) -> str:
        return POSTING_ROLES.get(self.role, self.role)

    @property
    def dispatch_level_label(self) -> str:
        return DISPATCH_LEVELS.get(self.dispatch_level, self.dispatch_level)

    @property
    def end_reason_label(self) -> str:
        return END_REASONS.get(self.end_reason or "", "")

    @property
    def days_to_planned_end(self) -> int:
        return (self.planned_end - local_today()).days


# the postings list's order after its first key (active before ended: each page is read
# from one of these two, see core.paging._fetch) up to the person's name, so PostgreSQL
# reads a page along it and sorts only the few of one day, place and role by name,
# instead of joining and sorting a province's postings for every page
for _name, _where in (("ix_posting_list_active", "end_date IS NULL"), ("ix_posting_list_ended", "end_date IS NOT NULL")):
    Index(_name, Posting.start_date.desc(), Posting.region_code, Posting.role, Posting.person_id, Posting.id,
          sqlite_where=text(_where), postgresql_where=text(_where))
