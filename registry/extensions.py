"""Bare extension instances; ``create_app`` initialises them."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import has_request_context, request
from flask_login import LoginManager
from flask_migrate import Migrate
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


db = RegistrySQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
csrf = CSRFProtect()
talisman = Talisman()
