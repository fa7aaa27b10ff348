"""Every CSV export arrives whole when it is streamed as gunicorn streams it.

A CSV download is streamed after its view returns. Under gunicorn no app context
outlives the request, so the view's app context is torn down before the first row is
read; the suite's other tests make their requests inside an app context of their own,
which hides that. Here each export is requested from a thread of its own (no app
context around it): it must arrive whole, with the rows the same request gives inside
the test's app context. Before ``extensions.streamed``, 12 of the 21 exports broke off
after their header line under gunicorn (the rows were read through a closed session).
"""
from __future__ import annotations

import threading

import pytest
from flask.testing import FlaskClient

from tests.factories import CITY, COUNTY
from tests.matrix_world import build_world, lay_files

# the CSV exports a city's staff may open, without an id in their address but the city's
EXPORTS = (
    "/assessment/export.csv", "/audit/export.csv", "/care/export.csv", "/duty/export.csv?masked=1",
    f"/gaps/{CITY}/export.csv", f"/gaps/{COUNTY}/export.csv?sort=township", "/incentives/export.csv",
    "/individuals/export.csv?masked=1", "/inspections/export.csv", "/inspections/findings/export.csv",
    "/organizations/export.csv", "/pairings/export.csv", "/people/export.csv?masked=1",
    "/postings/export.csv?masked=1", "/projects/export.csv", "/records/export.csv", "/records/funds/export.csv",
    "/records/overdue/export.csv", f"/regions/{CITY}/villages.csv", "/results/export.csv", "/tolerance/export.csv",
    "/training/export.csv?masked=1",
)


@pytest.fixture()
def world(app, db):
    from tests.conftest import built_once

    world = built_once("matrix.world", build_world)
    lay_files(app, world)
    return world


def _outside_any_app_context(client, url: str) -> tuple[int, str]:
    """``client`` asks for ``url`` from a new thread (so with no app context but the
    request's own) and reads the streamed body there, as gunicorn's worker would."""
    got: dict = {}

    def ask():
        try:
            # FlaskClient's own request: the suite's Client clears ``g``, which needs an app context
            response = FlaskClient.open(client, url)
            got["answer"] = (response.status_code, response.get_data(as_text=True))
        except Exception as error:  # noqa: BLE001  (reported by the test)
            got["error"] = repr(error)

    thread = threading.Thread(target=ask)
    thread.start()
    thread.join()
    assert "error" not in got, f"{url}: {got.get('error')}"
    return got["answer"]


def test_every_csv_export_streams_whole_outside_the_tests_app_context(app, db, world, login_as):
    session = login_as(world.users["city"])
    db.session.commit()
    sessions = db.session.registry.registry
    left = len(sessions)
    for url in EXPORTS:
        inside = session.get(url)
        assert inside.status_code == 200, url
        assert inside.headers["Content-Type"] == "text/csv; charset=utf-8", url  # a CSV, with one charset, not two
        expected = inside.get_data(as_text=True).splitlines()
        status, body = _outside_any_app_context(session.client, url)
        assert status == 200, url
        lines = body.splitlines()
        if url.startswith("/audit/"):  # the trail now holds the export just made too, last
            assert len(lines) == len(expected) + 1 and "导出审计日志" in lines[-1], url
            lines = lines[:-1]
        assert lines == expected, url
        assert len(sessions) == left, url  # the streamed body's session ended with it
    assert sum(len(session.get(url).get_data(as_text=True).splitlines()) > 1 for url in EXPORTS) >= 15  # rows, not headers


def test_an_export_never_read_ends_its_session(app, db, world, login_as):
    """A streamed export whose body is never read (a HEAD request; a client gone before the
    first row) still ends its session: none is left in the sessions of the app contexts
    (where a later request whose context had the same id would be handed it), and no
    connection stays checked out of the pool."""
    session = login_as(world.users["city"])
    db.session.commit()
    pool, sessions = db.engine.pool, db.session.registry.registry
    before = pool.checkedout(), len(sessions)
    got: dict = {}

    def ask():
        response = FlaskClient.open(session.client, "/people/export.csv?masked=1", method="HEAD")
        got["status"] = response.status_code
        response.close()  # as a WSGI server does once it has sent what it sends

    for _ in range(3):
        thread = threading.Thread(target=ask)
        thread.start()
        thread.join()
        assert got["status"] == 200
    assert (pool.checkedout(), len(sessions)) == before
