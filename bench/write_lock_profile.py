"""What one write does while it holds SQLite's write lock (issue 16, "writes that scale").

SQLite lets one transaction write at a time, so the time a write holds the lock bounds the
writes per second of the whole site however many workers and cores there are (with 4
workers on 2 cores, ``bench/writes_bench.py`` finds the cores partly idle: the writers
wait in line). This shows where that time goes, for the bench's own write (a unit files
and submits a record, the village confirms it; through the Flask test client, in process,
on a small registry of its own built as ``writes_bench.py`` builds it):

1. the statements of one round, each with the milliseconds since the request began, and
   where the lock is taken and let go (``--statements``);
2. the lock held per write, best of three rounds;
3. the functions that ran while the lock was held (cProfile switched on only then),
   by their own time and by cumulative time under ``registry/``.

    .venv/bin/python bench/write_lock_profile.py [--rounds 200] [--top 25]

Work before the lock (the login look-up, the form, the reads a request makes before its
first write: ``core.database.lock_at_first_write``) costs CPU but holds no other writer;
work under it holds them all. The machine is shared: compare figures of one run.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import writes_bench as wb  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=200, help="rounds (a filing and a confirmation) per measure")
    parser.add_argument("--top", type=int, default=25, help="functions listed in each profile table")
    parser.add_argument("--statements", action="store_true", help="also list the statements of one round")
    args = parser.parse_args()

    wb.OUT.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="write-lock-", dir=wb.OUT))
    env = wb.config(f"sqlite:///{workdir / 'writes.sqlite3'}", workdir)
    wb.build(env, 1)
    village = wb.village_codes(env, 1)[0]
    app = wb.make_app(env)
    app.config["WTF_CSRF_ENABLED"] = False
    unit, chief = app.test_client(), app.test_client()
    unit.post("/login", data={"username": "bench_unit0", "password": wb.PASSWORD})
    chief.post("/login", data={"username": "bench_village0", "password": wb.PASSWORD})
    day = (date.today() - timedelta(days=3)).isoformat()

    from sqlalchemy import event

    from registry.core.database import _WriteQueue
    from registry.extensions import db

    profile = cProfile.Profile()
    state = {"profiling": False, "since": None, "held": 0.0, "holds": 0, "log": None, "t0": 0.0}
    enter, leave = _WriteQueue.enter.__func__, _WriteQueue.leave.__func__

    def note(text: str) -> None:
        if state["log"] is not None:
            state["log"].append((time.perf_counter() - state["t0"], text))

    def timed_enter(cls, *rest):
        note("-- write lock taken")
        enter(cls, *rest)
        state["since"] = time.perf_counter()
        if state["profiling"]:
            profile.enable()

    def timed_leave(cls, driver):
        if state["profiling"]:
            profile.disable()
        if state["since"] is not None:
            state["held"] += time.perf_counter() - state["since"]
            state["holds"] += 1
            state["since"] = None
            note("-- write lock let go")
        leave(cls, driver)

    _WriteQueue.enter, _WriteQueue.leave = classmethod(timed_enter), classmethod(timed_leave)
    def statement_seen(conn, cursor, statement, *_):
        if state["log"] is not None:  # nothing to do while timing
            note(" ".join(statement.split())[:140])

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", statement_seen)

    def one_round(n: int) -> None:
        note("== POST /records/new (a unit files and submits)")
        filed = unit.post("/records/new", data={
            "village_code": village, "category": "funds", "title": f"压测记录{n}", "record_date": day,
            "amount": "1000", "households": "3", "persons": "9", "jobs": "1", "description": "", "action": "submit"})
        record_id = re.search(r"/records/(\d+)$", filed.headers["Location"]).group(1)
        note("== POST /records/<id>/confirm (the village confirms)")
        assert chief.post(f"/records/{record_id}/confirm", data={"version": "", "next": ""}).status_code == 302
        note("== done")

    for n in range(30):  # imports, compiled statements, caches
        one_round(n)
    if args.statements:
        state["log"], state["t0"] = [], time.perf_counter()
        one_round(10**6)
        print("One round's statements (ms since the round began):")
        for at, text in state["log"]:
            print(f"  {at * 1000:7.2f}  {text}")
        state["log"] = None
    best = None
    for _ in range(3):
        state["held"], state["holds"] = 0.0, 0
        cpu = time.process_time()
        for n in range(args.rounds):
            one_round(n)
        cpu_ms = (time.process_time() - cpu) * 1000 / (2 * args.rounds)
        held_ms = state["held"] * 1000 / max(state["holds"], 1)
        best = (held_ms, cpu_ms) if best is None or held_ms < best[0] else best
    print(f"\nA write, in process: {best[1]:.2f} ms CPU, the write lock held {best[0]:.2f} ms of it "
          f"(best of 3 x {args.rounds} rounds; one writer at a time: at most {1000 / best[0]:.0f} writes/s)")

    state["profiling"] = True
    for n in range(args.rounds):
        one_round(n)
    state["profiling"] = False
    for title, key, restrict in (("own time", "tottime", ()), ("cumulative, registry/", "cumulative", ("registry/",))):
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out).strip_dirs() if not restrict else pstats.Stats(profile, stream=out)
        stats.sort_stats(key).print_stats(*restrict, args.top)
        lines = [line for line in out.getvalue().splitlines() if line.strip()]
        start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
        print(f"\nUnder the write lock ({2 * args.rounds} writes, profiled), by {title}:")
        for line in lines[start:]:
            print("  " + line.replace(str(ROOT) + "/", "")[:150])


if __name__ == "__main__":
    main()
