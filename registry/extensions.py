"""Bare extension instances; ``create_app`` initialises them."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from flask import after_this_request, g, has_request_context, request, stream_with_context
from flask.globals import app_ctx
from flask.cli import with_appcontext
from flask_login import LoginManager
import click
from flask_sqlalchemy import SQLAlchemy
from flask_talisman import Talisman
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names, so migrations behave the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class RegistrySQLAlchemy(SQLAlchemy):
    """Flask-SQLAlchemy whose ``paginate`` reads ``?page=`` through ``read_page``
    (``core.parsing.page_arg``, wired by ``create_app``): a page number that is not
    1..ID_MAX is a 400 naming it, never an OFFSET the database cannot take (Flask-SQLAlchemy
    would pass any integer on)."""

    read_page: Callable[[Any], int] | None = None

    def paginate(self, select, *, page=None, **kwargs):
        if page is None and self.read_page is not None and has_request_context():
            page = self.read_page(request.args)
        return super().paginate(select, page=page, **kwargs)

    def _teardown_session(self, exc: BaseException | None) -> None:
        """The session ends with the app context, unless a streamed body (``streamed``) is
        still to read through it: then it ends when the body has been sent."""
        if g.get(_STREAMING) and exc is None:
            return
        super()._teardown_session(exc)


_STREAMING = "registry_streaming_body"


def streamed(rows: Iterator) -> Iterator:
    """``stream_with_context(rows)``, through the request's own session. A streamed body
    is read after the view returns, and the view's app context is torn down first (Flask
    3.1): without this its session was closed then, and the body read on a new one. Rows
    queried in the view but read later broke off ("identity map is no longer valid"), and
    objects the view loaded could not be read ("not bound to a Session"): most CSV exports
    ended after their header under gunicorn. The session is ended once the body is sent
    or the client goes (the generator is closed), when the app context is torn down
    again; a body never read, when the response is closed (``_end_unread``)."""
    g.setdefault(_STREAMING, True)
    app_context = app_ctx._get_current_object()

    def body():
        try:
            yield from rows
        finally:
            g.pop(_STREAMING, None)

    @after_this_request
    def _end_if_never_read(response):
        response.call_on_close(lambda: _end_unread(app_context))
        return response

    return stream_with_context(body())


def _end_unread(app_context) -> None:
    """When the response is closed: a body never read (a HEAD request, a client gone
    before its first row) has not ended the session; it ends here, as the context is torn
    down again. Left, it would be handed to a later request whose context had the same id."""
    if app_context.g.get(_STREAMING):
        with app_context:
            app_context.g.pop(_STREAMING, None)


db = RegistrySQLAlchemy(model_class=Base)
class LazyMigrate:
    """Flask-Migrate, loaded when a migration runs (``flask db``, ``flask_migrate.upgrade``),
    not with every web worker: Alembic is about 11 MB a process. ``init_app`` leaves a
    stand-in as ``app.extensions["migrate"]`` whose first use initialises the real one (which
    replaces it), and the ``flask db`` group, whose commands are Flask-Migrate's."""

    OPTIONS = dict(render_as_batch=True, compare_type=True)

    def init_app(self, app, db, directory: str) -> None:
        app.extensions["migrate"] = _PendingMigrate(app, db, directory)
        app.cli.add_command(_db_group)


class _PendingMigrate:
    def __init__(self, app, db, directory: str):
        self._app, self._db, self._directory = app, db, directory

    def __getattr__(self, name: str):
        from flask_migrate import Migrate

        Migrate(**LazyMigrate.OPTIONS).init_app(self._app, self._db, directory=self._directory)
        return getattr(self._app.extensions["migrate"], name)


class _LazyDbGroup(click.Group):
    """``flask db ...``: Flask-Migrate's own command group, imported when it is run."""

    @staticmethod
    def _real() -> click.Group:
        from flask_migrate.cli import db as group

        return group

    def list_commands(self, ctx):
        return self._real().list_commands(ctx)

    def get_command(self, ctx, name):
        return self._real().get_command(ctx, name)


@click.group("db", cls=_LazyDbGroup)
@click.option("-d", "--directory", default=None, help='Migration script directory (default is "migrations")')
@click.option("-x", "--x-arg", multiple=True, help="Additional arguments consumed by custom env.py scripts")
@with_appcontext
def _db_group(directory, x_arg):
    """Perform database migrations."""
    g.directory = directory  # as Flask-Migrate's own group: read by Migrate.get_config
    g.x_arg = x_arg


migrate = LazyMigrate()
login_manager = LoginManager()
csrf = CSRFProtect()
class _Talisman(Talisman):
    """Talisman with each view's options and each parsed policy remembered: they depend on
    the view and the settings alone (``init_app`` starts afresh), so the security headers
    of a response cost a few dictionary look-ups. A request with a CSP nonce (none is
    configured) has its policy parsed as before."""

    def init_app(self, app, **kwargs):
        self._options_by_view: dict = {}
        self._parsed: dict = {}
        super().init_app(app, **kwargs)

    def _get_local_options(self):
        from flask import current_app

        view = current_app.view_functions.get(request.endpoint)
        found = self._options_by_view.get(view)
        if found is None:
            found = self._options_by_view[view] = super()._get_local_options()
        return found

    def _parse_policy(self, policy):
        if hasattr(request, "csp_nonce"):
            return super()._parse_policy(policy)
        found = self._parsed.get(id(policy))
        if found is None or found[0] is not policy:
            found = self._parsed[id(policy)] = (policy, super()._parse_policy(policy))
        return found[1]


talisman = _Talisman()
