"""A change to what a summary is keyed on (a village's flags, an organization's kind)
moves the figures it already holds in the same transaction, as a rebuild would."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from registry.core.timeutil import local_today
from registry.dashboard.models import SupportRollup, VillageSupportLast
from tests.factories import make_org, make_village
from tests.factories_assessment import make_support
from tests.summaries import assert_summaries_exact


def _key_village_count(db) -> int:
    return db.session.scalar(select(func.coalesce(func.sum(SupportRollup.record_count), 0)).where(
        SupportRollup.level == "township", SupportRollup.month == 0, SupportRollup.is_key.is_(True)))


def test_clearing_a_key_flag_takes_its_records_out_of_the_key_village_figures(db, app):
    village = make_village(is_key=True)
    make_support(make_org(), village.code, local_today() - timedelta(days=5))
    assert _key_village_count(db) == 1

    village.is_key = False
    db.session.commit()
    assert _key_village_count(db) == 0
    assert_summaries_exact()

    village.is_key, village.is_poor = True, True
    db.session.commit()
    assert _key_village_count(db) == 1
    assert_summaries_exact()


def test_a_changed_organization_kind_moves_its_records_to_the_new_kind(db, app):
    village = make_village()
    org = make_org("backing_unit")
    make_support(org, village.code, local_today() - timedelta(days=5))
    make_support(org, village.code, local_today() - timedelta(days=40), status="submitted")

    org.kind = "enterprise"
    db.session.commit()
    kinds = set(db.session.scalars(select(SupportRollup.org_kind).where(SupportRollup.record_count != 0)))
    assert kinds == {"enterprise"}
    assert set(db.session.scalars(select(VillageSupportLast.org_kind))) == {"*", "enterprise"}
    assert_summaries_exact()


def test_a_flag_kind_and_record_change_in_one_flush(db, app):
    today = local_today()
    village, other = make_village(is_key=True), make_village(n=2)
    org = make_org("backing_unit")
    moved = make_support(org, village.code, today - timedelta(days=5))
    make_support(org, other.code, today - timedelta(days=50))

    village.is_key, other.is_poor, org.kind = False, True, "charity"
    moved.village_code, moved.amount = other.code, moved.amount + 1
    make_support(org, village.code, today - timedelta(days=7))  # commits all of it at once
    assert_summaries_exact()
