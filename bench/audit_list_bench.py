"""The audit trail's list at province scale: COUNT + OFFSET (Flask-SQLAlchemy's
``db.paginate``, as the list paged before issue 16) against keyset paging
(``core.paging.paginate`` with ``audit.views.AUDIT_ORDER``), on SQLite.

Fills ``--db`` (once; kept for later runs) with ``--events`` audit events spread over 112
counties and 12 entity types, then times, for an administrator and for province, city and
county staff, without and with the entity-type filter, the first page and a deep page
(``?page=N`` against the cursor of the row before it, which following 下一页 reaches). The
median of ``--runs`` timings of the list's queries (count, ids, rows), in ms.

    .venv/bin/python bench/audit_list_bench.py [--events 1000000] [--db /tmp/audit_list_bench.sqlite3]
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select, text  # noqa: E402

COUNTIES = [f"43{c:02d}{d:02d}" for c in range(1, 15) for d in range(1, 9)]
TYPES = ["SupportRecord"] * 6 + ["Posting", "Person", "Organization", "Pairing", "DutyMonth", "User"]


def fill(db, model, n: int) -> None:
    rnd, start, batch = random.Random(1), datetime(2024, 1, 1), []  # noqa: S311 (a repeatable dataset)
    for i in range(1, n + 1):
        county = rnd.choice(COUNTIES)
        batch.append(dict(id=i, chain=county[:4], seq=i, at=start + timedelta(seconds=30 * i), actor="u",
                          action="update", entity_type=rnd.choice(TYPES), entity_id=str(i), summary="s" * 40,
                          region_code=f"{county}{rnd.randint(1, 20):03d}{rnd.randint(1, 20):03d}",
                          organization_id=rnd.randint(1, 5000), before=None, after='{"a":1}', prev_hash="0" * 64,
                          hash="1" * 64, key_id=0))
        if len(batch) == 20_000:
            db.session.execute(insert(model), batch)
            batch = []
    if batch:
        db.session.execute(insert(model), batch)
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--db", default="/tmp/audit_list_bench.sqlite3")  # noqa: S108 (a scratch dataset)
    parser.add_argument("--runs", type=int, default=5)
    opts = parser.parse_args()

    from registry import create_app
    from registry.extensions import db

    folder = Path(opts.db).parent
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{opts.db}", "SECRET_KEY": "bench", "DATA_KEY": "bench",
                      "AUDIT_CHECKPOINT_PATH": str(folder / "audit_list_bench.checkpoint.json"),
                      "UPLOAD_FOLDER": str(folder / "audit_list_bench.uploads")})
    from registry.audit.models import AuditEvent
    from registry.audit.views import AUDIT_ORDER
    from registry.core import paging
    from registry.core.scope import scoped
    from registry.regions.models import Region

    class Admin:
        is_authenticated, role, id, organization_id = True, "admin", 1, None

    class Staff:
        is_authenticated, role, id, organization_id = True, "region", 2, None

        def __init__(self, code: str, level: str):
            self.region = Region(code=code, name=code, level=level)

    def timed(fn) -> float:
        out = []
        for _ in range(opts.runs):
            t = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t) * 1000)
            db.session.rollback()
        return statistics.median(out)

    with app.app_context():
        exists = db.session.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 'audit_event'"))
        db.session.rollback()
        if not exists:
            db.create_all()
            fill(db, AuditEvent, opts.events)
        total = db.session.scalar(select(func.count()).select_from(AuditEvent))
        print(f"{total:,} audit events in {opts.db}")
        readers = (("admin", Admin()), ("province staff", Staff("430000000000", "province")),
                   ("city staff", Staff("430100000000", "city")), ("county staff", Staff("430101000000", "county")))
        for entity in ("", "Person", "SupportRecord"):
            for name, user in readers:
                stmt = scoped(select(AuditEvent), AuditEvent, user)
                if entity:
                    stmt = stmt.where(AuditEvent.entity_type == entity)
                ordered = stmt.order_by(*paging.order_by(AUDIT_ORDER))
                rows = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
                deep = max(2, min(200, rows // 50))
                before = db.session.scalar(ordered.with_only_columns(AuditEvent.id).offset((deep - 1) * 50 - 1).limit(1))
                cursor = {"after": paging.encode(AUDIT_ORDER, type("Row", (), {"id": before})())}
                old1 = timed(lambda: db.paginate(ordered, page=1, per_page=50, error_out=False).items)
                old_deep = timed(lambda: db.paginate(ordered, page=deep, per_page=50, error_out=False).items)
                new1 = timed(lambda: paging.paginate(stmt, AUDIT_ORDER, {}).items)
                new_deep = timed(lambda: paging.paginate(stmt, AUDIT_ORDER, cursor).items)
                label = f"{name}, {entity or 'all'} ({rows:,} rows)"
                print(f"{label:42s} offset p1 {old1:7.1f} p{deep} {old_deep:7.1f} | keyset p1 {new1:7.1f} "
                      f"p{deep} {new_deep:7.1f} ms", flush=True)


if __name__ == "__main__":
    main()
