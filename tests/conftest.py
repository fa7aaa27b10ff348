"""Fixtures: ``app``, ``db``, ``client``, ``runner``, and login helpers.

The schema is built once per run with ``flask db upgrade`` (so every run also proves
the migrations), on SQLite or on ``TEST_DATABASE_URL`` (PostgreSQL). Each test starts
from an empty database that holds only the province-to-township divisions.
"""
from __future__ import annotations

import functools
import gc
import os
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import current_app
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from flask_migrate import upgrade
from sqlalchemy import delete, or_, text, update
from sqlalchemy.exc import OperationalError

from registry import create_app
from registry.core.access import login_only
from registry.extensions import db as _db

PASSWORD = "Passw0rd-for-tests"

# The templates' compiled code is kept for every process of the run and for later runs
# (Jinja's bytecode cache, keyed by each template's source), as Python keeps its bytecode:
# each xdist worker and each server a test starts compiled all the templates anew, ~1.5 s
# of CPU each. Through the environment, so that those servers find it too.
os.environ.setdefault("TEMPLATE_CACHE_FOLDER", str(Path(__file__).resolve().parents[1] / ".pytest_cache" / "templates"))
Path(os.environ["TEMPLATE_CACHE_FOLDER"]).mkdir(parents=True, exist_ok=True)

# A test run keeps a large heap alive (the app, SQLAlchemy's compiled statements, worlds
# built once), and each of Python's full collections walks all of it: with the default
# thresholds they took a fifth of the CPU of the heaviest test files. Young objects are
# still collected as usual; the old generation is swept a hundred times less often.
gc.set_threshold(700, 10, 1000)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    """At its end pytest collects the whole heap twice, for the unraisable exceptions of
    garbage left over (its cleanup and unconfigure): ~2 M objects by then, 1-5 s a collection
    in each worker. The young generations are collected here, which holds the last tests'
    garbage, and what is left is frozen: those two collections then look at nothing."""
    gc.collect(1)
    gc.freeze()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """With pytest-xdist (``-n 2``): tests go one by one to whichever worker is free, but
    the browser tests all go to one worker, so only one live server is built, and so do
    the tests of several app hosts (one pair of gunicorn hosts). The tests sharing a costly
    ``built_once`` world go to one worker too, so it is built once in the run, not once
    per worker: the demo data (~5 s), the route matrix's world and the two paging scenes;
    and so do the tests of a module whose module-scoped fixture or world costs more than a
    test (the query plans' bench dataset, ~1.9 s of CPU and 4-9 s on PostgreSQL; the
    backup's records and files; the gaps by day's and the supervision's worlds)."""
    from xdist.scheduler import LoadScopeScheduling

    grouped = {"tests/browser/": "browser", "tests/test_several_hosts.py": "several_hosts",
               "tests/test_dashboard.py": "demo", "tests/test_issue17_demo.py": "demo",
               "tests/test_demo_grades.py": "demo", "tests/test_demo_records.py": "demo", "tests/test_route_matrix.py": "route_matrix",
               "tests/test_list_paging.py": "list_paging",
               "tests/test_list_paging_more.py": "list_paging_more",
               "tests/test_query_plans.py": "query_plans", "tests/test_backup.py": "backup",
               "tests/test_gap_days.py": "gap_days", "tests/test_supervision.py": "supervision"}

    class OneBrowserWorker(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return next((group for prefix, group in grouped.items() if nodeid.startswith(prefix)), nodeid)

    return OneBrowserWorker(config, log)


# The longest tests first: with two workers the run lasts until the last test ends, and a
# long one handed out last keeps one worker busy while the other has nothing left to do.
# Each entry is a node id prefix; the order among the rest is as collected.
LONGEST_FIRST = (
    "tests/browser/",  # one group on one worker (above)
    "tests/test_summary_property.py",
    "tests/test_route_matrix.py::test_route_matrix",
    "tests/test_fuzz_api.py::test_schemathesis",
    "tests/test_dashboard.py",
    "tests/test_postings.py::test_demo_data",
    "tests/test_records_concurrency.py",
    "tests/test_several_hosts.py",  # one group (above): two gunicorn hosts, ~10 s
    "tests/test_fuzz_forms.py",
    "tests/test_fuzz_api.py",
)


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        return next((n for n, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)),
                    len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: the order within each rank is kept


# Property-based tests (Hypothesis): a few examples in `make test`, many more in CI
# (`HYPOTHESIS_PROFILE=ci`, a separate step of .ci/run). No deadline: the machine is
# shared and a slow step is not a failure.
settings.register_profile("quick", max_examples=6, stateful_step_count=10, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=200, stateful_step_count=16, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))


def _database_url(tmp: Path) -> str:
    """SQLite in this run's temporary folder (one per xdist worker), or a PostgreSQL
    database of its own for each worker, beside ``TEST_DATABASE_URL``."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp / 'test.sqlite3'}"
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return postgres_database(url, worker) if worker else url


def postgres_database(url: str, suffix: str) -> str:
    """``<database>_<suffix>`` on the server of ``url``, created through the ``postgres``
    maintenance database if missing; commits need not wait for the disk there."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_{suffix}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}):
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def stop_server(proc: subprocess.Popen) -> None:
    """Stop a test server started with ``start_new_session=True``: its whole process
    group at once. Nothing is left to save: its database is thrown away."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def _memory_backed(tmp: Path) -> Path:
    """A folder for the worker's SQLite database in RAM (``/dev/shm``) where the machine
    has one: its commits and the copies ``built_once`` puts back then never wait for
    the disk, which other work on a shared machine keeps busy. Else ``tmp``."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        return tmp
    return Path(tempfile.mkdtemp(prefix="registry-test-", dir=shm))


@pytest.fixture(scope="session")
def app_config(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("registry")
    fast = _memory_backed(tmp)
    url = _database_url(fast)
    if url.startswith("postgresql"):
        reset_postgres(url)
    yield {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "DATA_KEY": "test-data-key-not-for-production",
        "UPLOAD_FOLDER": str(fast / "uploads"),
        # the signed head of the audit chain, outside the database (one per worker)
        "AUDIT_CHECKPOINT_PATH": str(fast / "audit-checkpoint.json"),
        # scrypt costs ~160 ms a hash; tests create and log in hundreds of users
        "REGISTRY_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
    }
    if fast != tmp:
        shutil.rmtree(fast, ignore_errors=True)


class Client(FlaskClient):
    """Each request sees a fresh ``g``, as in production: the test keeps an application
    context open (for ``db``), and Flask would otherwise share ``g`` (Flask-Login's
    cached user, Flask-WTF's CSRF token) between the test and every request it makes."""

    def open(self, *args, **kwargs):
        from flask import g

        for name in list(vars(g)):
            g.pop(name, None)
        try:
            return super().open(*args, **kwargs)
        finally:
            for name in list(vars(g)):
                g.pop(name, None)


@pytest.fixture(scope="session")
def _app(app_config, tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    app = create_app(dict(app_config))
    app.test_client_class = Client

    @login_only
    def boom():
        raise RuntimeError("secret detail")

    app.add_url_rule("/_test/boom", "test_boom", boom)
    app.instance_path = str(instance)
    with app.app_context():
        upgrade()
        # Tables of models whose migration is not written yet; test_migrations fails
        # until the migration exists, so nothing ships without one.
        _db.create_all()
        from registry.regions.services import load_divisions

        load_divisions()
        _db.session.commit()
    yield app
    with app.app_context():
        _db.session.remove()
        for engine in _db.engines.values():
            engine.dispose()


def _clean(app) -> None:
    """Delete every row except the reference divisions, children first, and the audit
    chain's checkpoint with the events it vouched for."""
    with app.app_context():
        _db.session.rollback()
        Path(app.config["AUDIT_CHECKPOINT_PATH"]).unlink(missing_ok=True)
        bloated = _empty(_db.session.connection())
        _db.session.commit()
        if bloated:
            _vacuum(bloated)


def _empty(connection) -> list[str]:
    """Empty the tables that hold rows, children first, but the divisions of the province
    down to its townships (their flags reset). Most tests write to a few tables: one query
    says which hold rows (and whether any village or flagged division is left), and only
    those are emptied; deleting from all of them cost ~17 ms a test on SQLite, this ~2 ms.
    On PostgreSQL: the tables whose files grew large (``_shrink``) for ``_vacuum``."""
    from registry.regions.models import Region

    tables = _cleaned_tables()
    flagged = _flagged()  # rewriting every division is slow
    dirty = _dirty(connection)
    statements = [table.delete() for table in tables if table.name in dirty]
    if "region:village" in dirty:
        statements.append(delete(Region).where(Region.level == "village"))
    if "region:flagged" in dirty:
        statements.append(update(Region).where(flagged).values(is_key=False, is_poor=False, is_relocation=False))
    if statements and connection.dialect.name == "postgresql":
        # one round trip instead of one a table; the audit table refuses DELETE but
        # to a superuser who switches its trigger off (tests/tampering.py)
        connection.exec_driver_sql(";\n".join([
            "SET LOCAL session_replication_role = replica",
            *(str(s.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})) for s in statements),
            "SET LOCAL session_replication_role = origin"]))
    else:
        for statement in statements:
            connection.execute(statement)
    return _shrink(connection, sorted(name[len("large:"):] for name in dirty if name.startswith("large:")))


# A table whose file has grown past this many bytes is emptied by TRUNCATE or vacuumed
# (below); the divisions' table (~20 pages) past three times as many.
_LARGE_TABLE = 16 * 8192


def _shrink(connection, names: list[str]) -> list[str]:
    """PostgreSQL: reclaim the dead rows of the tables whose files have grown large
    (``_probe`` names them). DELETE leaves the deleted rows in the file as dead tuples for
    VACUUM, and the test server runs without autovacuum: over a run the summaries' tables
    grew to thousands of dead pages (area_cut 2,655 pages for 75 live rows), which every
    scan of them, the probe's included, read again. The emptied tables no foreign key
    refers to get new, empty files by TRUNCATE here (a few ms); the others are returned
    for ``_vacuum`` after the commit, as TRUNCATE would have to take every table
    referring to them along (person's: 39 tables, 0.1-0.6 s). TRUNCATE needs an exclusive
    lock, so it waits at most a moment for a connection a test left inside a
    transaction; the tables are empty already if it gives up."""
    referred = _referred_tables()
    names, later = [n for n in names if n not in referred], [n for n in names if n in referred]
    if not names:
        return later
    quote = connection.dialect.identifier_preparer.quote
    savepoint = connection.begin_nested()
    try:
        # CASCADE: the tables referring to these are empty too, and must be named; the
        # audit table's trigger refuses TRUNCATE but to a superuser who switches it off
        connection.exec_driver_sql(";\n".join([
            "SET LOCAL lock_timeout = '500ms'", "SET LOCAL session_replication_role = replica",
            f"TRUNCATE {', '.join(quote(name) for name in names)} CASCADE",
            "SET LOCAL session_replication_role = origin", "SET LOCAL lock_timeout TO DEFAULT"]))
    except OperationalError:
        savepoint.rollback()
    else:
        savepoint.commit()
    return later


def _vacuum(names: list[str]) -> None:
    """``VACUUM`` these tables (``_shrink``'s), outside a transaction: it frees their dead
    rows and gives back the empty pages at their end."""
    with _db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        quote = conn.dialect.identifier_preparer.quote
        conn.exec_driver_sql(f"VACUUM {', '.join(quote(name) for name in names)}")


@functools.cache
def _referred_tables() -> frozenset[str]:
    """The tables a foreign key refers to (the divisions' among them)."""
    return frozenset({key.column.table.name for table in _db.metadata.sorted_tables for key in table.foreign_keys})


def _cleaned_tables() -> list:
    """The tables ``_clean`` empties, children first: all but the divisions and Alembic's."""
    return [table for table in reversed(_db.metadata.sorted_tables)
            if table.name not in ("region", "alembic_version")]


def _flagged():
    from registry.regions.models import Region

    return or_(Region.is_key, Region.is_poor, Region.is_relocation)


def _dirty(connection) -> set[str]:
    """What ``_probe`` names. On PostgreSQL its text (names as literals, no parameters) is
    sent as a prepared statement: planning its 60 branches cost as much as running them
    (~1.5 ms), and psycopg prepares a statement on its own only after five runs and forgets
    it at every ROLLBACK."""
    if connection.dialect.name != "postgresql":
        return set(connection.scalars(_probe(connection.dialect.name)))
    if "postgresql:text" not in _PROBE:
        compiled = _probe("postgresql").compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
        _PROBE["postgresql:text"] = str(compiled)
    with connection.connection.driver_connection.cursor() as cursor:
        cursor.execute(_PROBE["postgresql:text"], prepare=True)
        return {name for (name,) in cursor.fetchall()}


_PROBE: dict = {}  # the statement below, built once per process and dialect


def _probe(dialect: str):
    """One statement naming every table ``_clean`` empties that holds a row, then
    ``region:village`` if a village is left and ``region:flagged`` if a division is flagged;
    on PostgreSQL also ``large:<table>`` for each of those tables whose file has grown
    past ``_LARGE_TABLE`` bytes, and ``large:region`` (``_shrink``)."""
    if dialect in _PROBE:
        return _PROBE[dialect]
    from sqlalchemy import String, column, exists, func, literal, literal_column, select, table, union_all

    from registry.regions.models import Region

    tables = _cleaned_tables()
    checks = [select(literal(table.name, String)).where(exists().select_from(table)) for table in tables]
    checks.append(select(literal("region:village", String)).where(exists().where(Region.level == "village")))
    checks.append(select(literal("region:flagged", String)).where(exists().where(_flagged())))
    if dialect == "postgresql":
        pg_class = table("pg_class", column("oid"), column("relname"))
        size = func.pg_relation_size(pg_class.c.oid)
        checks.append(select(literal("large:", String).concat(pg_class.c.relname)).where(
            pg_class.c.oid.in_([literal_column(f"'\"{t.name}\"'::regclass") for t in tables]), size > _LARGE_TABLE))
        checks.append(select(literal("large:region", String)).where(
            func.pg_relation_size(literal_column("'region'::regclass")) > 3 * _LARGE_TABLE))
    _PROBE[dialect] = union_all(*checks)
    return _PROBE[dialect]


@pytest.fixture()
def app(_app):
    _clean(_app)
    _app.extensions.pop("coverage_cache", None)  # the coverage API's answers of the last test
    # each test starts as a fresh worker thread does: the last test's GET requests set this
    # thread's begin mode to deferred (core.database), and nothing of theirs carries over
    from registry.core.database import set_begin_mode

    token = set_begin_mode("IMMEDIATE")
    with _app.app_context():
        yield _app
        _db.session.rollback()
        _db.session.remove()
    token.var.reset(token)


@pytest.fixture()
def db(app):
    return _db


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def runner(app):
    return app.test_cli_runner()


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, url: str = "/login") -> str:
    page = client.get(url)
    match = _CSRF.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {url} ({page.status_code})"
    return match.group(1)


def login(client, username: str, password: str = PASSWORD):
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    return response


def session_csrf_token(client) -> str:
    """The CSRF token any page of this client's session would carry, made as Flask-WTF
    makes it (its serializer over the session's raw token) without rendering a page:
    tests log in hundreds of times, and ``test_accounts`` covers the real login pages."""
    import hashlib

    from itsdangerous import URLSafeTimedSerializer

    with client.session_transaction() as sess:
        raw = sess.setdefault("csrf_token", hashlib.sha1(os.urandom(64)).hexdigest())
    app = client.application
    secret = app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key
    return URLSafeTimedSerializer(secret, salt="wtf-csrf-token").dumps(raw)


def _start_session(client, user) -> None:
    """What ``accounts.auth.log_in(user)`` leaves: a login session on the server
    (``sessions.start_session``, one insert) and its key in this client's session."""
    from flask_login.utils import _create_identifier

    from registry.accounts.sessions import start_session

    app = client.application
    with app.test_request_context(environ_base=client.environ_base):
        identifier = _create_identifier()
    key = start_session(user, address="127.0.0.1", user_agent="test client")
    with client.session_transaction() as sess:
        sess.clear()
        sess.update({"_user_id": key, "_fresh": True, "_id": identifier})


class CsrfClient:
    """A test client whose POSTs carry ``self.token``, its session's CSRF token."""

    client: FlaskClient
    token: str

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def post(self, url, data=None, **kw):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token)
        return self.client.post(url, data=data, **kw)


class Session(CsrfClient):
    """A logged-in test client that adds the CSRF token to its POSTs.

    It starts logged in as the login form leaves a session (a login session row on the
    server, its key, fresh, the session identifier), the key written straight into the
    client's session cookie: posting the login form costs a request, a password check,
    an audit event and two commits, and hundreds of tests log in. ``test_accounts`` and the
    browser tests cover the login form itself; a user the form would refuse (inactive,
    locked) or another password still goes through the form."""

    def __init__(self, client, user, password: str = PASSWORD):
        self.client = client
        self.user = user
        if password == PASSWORD and user.active and user.locked_until is None:
            _start_session(client, user)
        else:
            response = client.post("/login", data={"username": user.username, "password": password,
                                                   "csrf_token": session_csrf_token(client)})
            assert response.status_code == 302, response.get_data(as_text=True)[:500]
        self.token = session_csrf_token(client)


@pytest.fixture()
def login_as(app):
    """``login_as(user)`` returns a logged-in ``Session`` on a fresh client."""

    def _login(user, password: str = PASSWORD):
        return Session(app.test_client(), user, password)

    return _login


# -- worlds built once -------------------------------------------------------------------

_BUILT: dict[str, tuple] = {}


def built_once(key: str, build):
    """``build()`` writes a test's starting rows and returns what the test needs. It runs
    once per test process: its rows are kept in memory and put back for every later test
    asking for ``key`` (the ORM objects it returned are read again by primary key), with
    SQLite's backup API, or on PostgreSQL with COPY (``_PostgresRows``). Each test starts
    from the same rows and may change them freely."""
    engine = _db.engine
    checkpoint = Path(current_app.config["AUDIT_CHECKPOINT_PATH"])
    kept = _BUILT.get(key)
    if kept is None:
        value = build()
        _db.session.commit()
        _BUILT[key] = (_keep(engine), _recipe(value), checkpoint.read_bytes() if checkpoint.exists() else None)
        return value
    copy, recipe, signed = kept
    _db.session.rollback()
    if engine.dialect.name == "sqlite":
        _backup(engine, source=copy)
    else:
        copy.put_back(_db.session.connection())
        _db.session.commit()
    # the audit chain's checkpoint as it was with these rows: one written since vouches for
    # events that are gone now (the next commit would log it as a cut chain)
    if signed is None:
        checkpoint.unlink(missing_ok=True)
    else:
        checkpoint.write_bytes(signed)
    _db.session.expire_all()
    loaded = _load_all(recipe)  # held until cooked: the identity map holds them weakly
    cooked = _cook(recipe)
    del loaded
    return cooked


def _keep(engine):
    """A copy of the database's rows as they are now (committed), for ``built_once``."""
    if engine.dialect.name != "sqlite":
        return _PostgresRows.read(_db.session.connection())
    import sqlite3

    copy = sqlite3.connect(":memory:", check_same_thread=False)
    _backup(engine, into=copy)
    # without the free pages: SQLite keeps a file's emptied pages, and after a large world
    # (the demo data: ~5,800 pages, ~5,400 of them free once emptied) every world kept
    # later was that large, and each put-back copied all of it (~20 ms against ~2 ms)
    copy.execute("VACUUM")
    return copy


def _backup(engine, *, into=None, source=None) -> None:
    raw = engine.raw_connection()
    try:
        if into is not None:
            raw.driver_connection.backup(into)
        else:
            source.backup(raw.driver_connection)
    finally:
        raw.close()


@dataclass(frozen=True)
class _PostgresRows:
    """The rows ``_clean`` would delete, in PostgreSQL's binary COPY format, one entry a
    table that holds any; the flags of the divisions above the villages; every sequence's
    last value. Building a world again cost from 0.3 s (a test's) to 5 s (the demo data);
    putting its rows back costs a few milliseconds."""

    tables: tuple[tuple[str, bytes], ...]  # (table, its rows)
    flags: tuple[tuple[str, bool, bool, bool], ...]  # (code, is_key, is_poor, is_relocation)
    sequences: tuple[tuple[str, int | None], ...]  # (name, last value; None: never used)

    @classmethod
    def read(cls, connection) -> _PostgresRows:
        dirty = _dirty(connection)
        sources = [(table.name, f'"{table.name}"') for table in _cleaned_tables() if table.name in dirty]
        if "region:village" in dirty:
            sources.append(("region", "(SELECT * FROM region WHERE level = 'village')"))
        with connection.connection.driver_connection.cursor() as cursor:
            tables = []
            for name, source in sources:
                with cursor.copy(f"COPY {source} TO STDOUT (FORMAT BINARY)") as copy:
                    tables.append((name, b"".join(bytes(block) for block in copy)))
            cursor.execute("SELECT code, is_key, is_poor, is_relocation FROM region WHERE level <> 'village' "
                           "AND (is_key OR is_poor OR is_relocation)")
            flags = tuple(cursor.fetchall())
            cursor.execute("SELECT format('%I.%I', schemaname, sequencename), last_value FROM pg_sequences "
                           "WHERE schemaname = current_schema()")
            sequences = tuple(cursor.fetchall())
        return cls(tuple(tables), flags, sequences)

    def put_back(self, connection) -> None:
        """Empty the tables (``_empty``) and write the rows back, in the connection's
        transaction; the foreign keys' and the audit table's triggers are off meanwhile
        (the rows were consistent when read)."""
        _empty(connection)
        with connection.connection.driver_connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
            for name, rows in self.tables:
                with cursor.copy(f'COPY "{name}" FROM STDIN (FORMAT BINARY)') as copy:
                    copy.write(rows)
            if self.flags:
                codes, keys, poor, relocation = (list(column) for column in zip(*self.flags))
                cursor.execute("UPDATE region SET is_key = f.is_key, is_poor = f.is_poor, "
                               "is_relocation = f.is_relocation FROM unnest(%s::text[], %s::bool[], %s::bool[], "
                               "%s::bool[]) AS f(code, is_key, is_poor, is_relocation) WHERE region.code = f.code",
                               (codes, keys, poor, relocation))
            if self.sequences:
                names, values = (list(column) for column in zip(*self.sequences))
                cursor.execute("SELECT setval(s.name::regclass, coalesce(s.value, 1), s.value IS NOT NULL) "
                               "FROM unnest(%s::text[], %s::bigint[]) AS s(name, value)", (names, values))
            cursor.execute("SET LOCAL session_replication_role = origin")


def _recipe(value):
    import dataclasses

    from sqlalchemy import inspect as sa_inspect

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return ("dataclass", type(value), {f.name: _recipe(getattr(value, f.name)) for f in dataclasses.fields(value)})
    if type(value) is dict:
        return ("dict", {name: _recipe(part) for name, part in value.items()})
    if type(value) in (list, tuple):
        return ("sequence", type(value), [_recipe(part) for part in value])
    state = sa_inspect(value, raiseerr=False)
    if state is not None and getattr(state, "mapper", None) is not None and getattr(state, "identity", None):
        return ("orm", state.mapper.class_, state.identity)
    return ("value", value)


def _load_all(recipe) -> list:
    """Read the recipe's ORM objects into the session, one statement a class (a world
    names hundreds: one ``session.get`` each cost more than putting its rows back), so
    that ``_cook``'s look-ups find them in the identity map."""
    from sqlalchemy import inspect as sa_inspect
    from sqlalchemy import select, tuple_

    wanted: dict[type, set] = {}

    def walk(part) -> None:
        tag, *rest = part
        if tag == "dataclass":
            for field in rest[1].values():
                walk(field)
        elif tag == "dict":
            for field in rest[0].values():
                walk(field)
        elif tag == "sequence":
            for field in rest[1]:
                walk(field)
        elif tag == "orm":
            wanted.setdefault(rest[0], set()).add(rest[1])

    walk(recipe)
    loaded: list = []
    for cls, identities in wanted.items():
        keys = sa_inspect(cls).primary_key
        identities = sorted(identities)
        for i in range(0, len(identities), 500):
            chunk = identities[i:i + 500]
            if len(keys) == 1:
                condition = keys[0].in_([identity[0] for identity in chunk])
            else:
                condition = tuple_(*keys).in_(chunk)
            loaded.extend(_db.session.scalars(select(cls).where(condition)))
    return loaded


def _cook(recipe):
    tag, *rest = recipe
    if tag == "dataclass":
        cls, fields = rest
        return cls(**{name: _cook(part) for name, part in fields.items()})
    if tag == "dict":
        return {name: _cook(part) for name, part in rest[0].items()}
    if tag == "sequence":
        cls, parts = rest
        return cls(_cook(part) for part in parts)
    if tag == "orm":
        cls, identity = rest
        return _db.session.get(cls, identity)
    return rest[0]


@pytest.fixture()
def make_user(db):
    """``make_user(role, **scope)`` creates a user with the test password."""
    from registry.accounts.services import create_user

    counter = {"n": 0}

    def _make(role: str, username: str | None = None, **scope):
        from sqlalchemy import select

        from registry.accounts.models import User

        counter["n"] += 1
        name = username or f"{role}{counter['n']}"
        # a world copied back by ``built_once`` holds users this counter did not make
        while not username and db.session.scalar(select(User.id).where(User.username == name)) is not None:
            counter["n"] += 1
            name = f"{role}{counter['n']}"
        user, _ = create_user(name, role, password=PASSWORD, **scope)
        db.session.commit()
        return user

    return _make


# -- a local S3 server ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def s3_server():
    """A local S3 server (moto's server mode, a thread of this process) on a free port of
    127.0.0.1, for the object-store tests and the app hosts they start; its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_settings(endpoint: str) -> dict:
    """The settings of a new, empty bucket on the local S3 server."""
    import uuid

    settings = {"STORAGE_S3_BUCKET": f"registry-test-{uuid.uuid4().hex[:12]}", "STORAGE_S3_ENDPOINT_URL": endpoint,
                "STORAGE_S3_REGION": "us-east-1", "STORAGE_S3_ACCESS_KEY_ID": "test-key",
                "STORAGE_S3_SECRET_ACCESS_KEY": "test-secret"}
    from registry.core.storage import _client

    _client(endpoint, "us-east-1", "test-key", "test-secret").create_bucket(Bucket=settings["STORAGE_S3_BUCKET"])
    return settings


@pytest.fixture()
def s3_bucket(app, s3_server, monkeypatch, tmp_path):
    """The app's files in a new bucket of the local S3 server for this test; the bucket's
    settings (``STORAGE_S3_*``). ``UPLOAD_FOLDER`` is an empty folder of the test's own,
    where nothing should appear."""
    settings = s3_settings(s3_server)
    for name, value in settings.items():
        monkeypatch.setitem(app.config, name, value)
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path / "uploads-unused"))
    return settings
