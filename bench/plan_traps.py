"""PostgreSQL's plans for any parameters, beside the plans for the values given.

psycopg prepares a statement once a connection has run it five times, and PostgreSQL
may then plan it once for any parameters (a "generic" plan). Where a parameter decides
the plan (a range over a province or over a village, a day), the generic plan can read
or sort thousands of rows where the right one stops after a page: the gaps worklist's
"ending without successor" line took 11 ms instead of 0.2 ms that way. The fix is to
write such a value into the statement's text (``literal_execute``, ``Region.within``).

This requests every page of ``bench/pages.py`` once as its persona, captures each SELECT
with its parameters, and runs it prepared eight times with PostgreSQL's own choice of
plan and eight times with ``plan_cache_mode = force_custom_plan``. A statement whose usual
run looks more than twice as slow (and over 1 ms) is measured again, both ways in turn,
four more times; it is printed, a trap to fix, only if the best of its usual runs is still
more than twice the best of the others (on a busy machine a single run of one mode was
slowed by other work often enough to flag a different statement each time).

Run it on the province dataset ``make bench`` built in PostgreSQL:

    .venv/bin/python bench/plan_traps.py postgresql+psycopg://postgres@127.0.0.1:5432/bench
"""
from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def timed(cursor, statement: str, params, mode: str, runs: int = 8) -> float:
    """The best of the last three of ``runs`` prepared runs (ms) under ``mode``."""
    cursor.execute(f"SET plan_cache_mode = {mode}")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        cursor.execute(statement, params, prepare=True)
        cursor.fetchall()
        times.append((time.perf_counter() - start) * 1000)
    cursor.execute("DEALLOCATE ALL")
    return min(times[-3:])


CONFIRM_ROUNDS = 4  # rounds of both modes, alternating, before a statement is called a trap


def is_trap(usual: float, custom: float) -> bool:
    return usual > 2 * custom and usual > 1.0


def compared(cursor, statement: str, params, rounds: int = 1, best: tuple[float, float] | None = None):
    """(usual, custom): the best time of each mode over ``rounds`` rounds that run one
    after the other (and ``best``, the times already seen)."""
    usual, custom = best or (float("inf"), float("inf"))
    for _ in range(rounds):
        usual = min(usual, timed(cursor, statement, params, "auto"))
        custom = min(custom, timed(cursor, statement, params, "force_custom_plan"))
    return usual, custom


def main() -> None:
    if len(sys.argv) != 2 or not sys.argv[1].startswith("postgresql"):
        sys.exit(__doc__)
    url = sys.argv[1]
    import psycopg
    from sqlalchemy import event
    from sqlalchemy.engine import make_url

    import pages
    import province_bench

    app = province_bench.make_app(url, province_bench.OUT / "plan-traps.audit-checkpoint.json")
    found = pages.prepare_users(app)
    with app.app_context():
        from registry.extensions import db

        engine = db.engine
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    traps = 0
    clients = {}
    with psycopg.connect(plain, autocommit=True) as conn, conn.cursor() as cursor:
        cursor.execute("SET jit = off")  # as the app's connections
        for label, persona, page in pages.pages(found):
            page = page.replace("{last_year}", str(date.today().year - 1))
            if persona not in clients:
                clients[persona] = pages.login(app, f"bench_{persona}")
            captured = []

            def capture(c, cursor_, statement, params, context, executemany):
                if statement.lstrip().upper().startswith("SELECT") and not executemany:
                    captured.append((statement, params))

            event.listen(engine, "before_cursor_execute", capture)
            clients[persona].get(page)
            event.remove(engine, "before_cursor_execute", capture)
            for statement, params in captured:
                usual, custom = compared(cursor, statement, params)
                if is_trap(usual, custom):
                    # seen once: measured again, alternating, so that a moment's load elsewhere on
                    # a shared machine (one slow run of one mode) does not make a trap of it
                    usual, custom = compared(cursor, statement, params, rounds=CONFIRM_ROUNDS, best=(usual, custom))
                if is_trap(usual, custom):
                    traps += 1
                    print(f"{label:30s} usual {usual:7.2f} ms, planned for its values {custom:6.2f} ms: "
                          f"{' '.join(statement.split())[:300]}", flush=True)
            print(f"{label:30s} {len(captured)} statements checked", flush=True)
    print(f"{traps} statement(s) planned worse for any parameters than for their own values")


if __name__ == "__main__":
    main()
