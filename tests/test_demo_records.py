"""The demo's support records keep the filing rules: a record linked to a pairing is dated
within that pairing's period (the demo the dashboard tests build)."""
from __future__ import annotations

from sqlalchemy import func, not_, select

from registry.extensions import db


def test_the_demo_links_a_record_only_to_a_pairing_in_force_on_its_date(app, db):
    from registry import demo
    from registry.pairings.models import Pairing
    from registry.records.models import SupportRecord
    from tests.conftest import built_once

    built_once("dashboard.demo", lambda: demo.generate(seed=7, scale=0.08, echo=lambda *_: None))
    linked = select(func.count()).select_from(SupportRecord).join(Pairing, Pairing.id == SupportRecord.pairing_id)
    assert db.session.scalar(linked) > 0
    assert db.session.scalar(linked.where(not_(Pairing.active_on(SupportRecord.record_date)))) == 0
