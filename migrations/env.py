import logging
from logging.config import fileConfig

from flask import current_app

from alembic import context

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging.
# This line sets up loggers basically.
fileConfig(config.config_file_name)
logger = logging.getLogger('alembic.env')


def _first_line(record):
    """Alembic names each migration it runs by its docstring's first paragraph, which in
    this project runs to several lines of why (a fresh ``make run`` printed a wall of them):
    on the console the first line is enough; the file keeps the rest."""
    message = record.getMessage()
    if "\n" in message:
        record.msg, record.args = message.split("\n", 1)[0].rstrip() + " …", ()
    return True


_migrations = logging.getLogger('alembic.runtime.migration')
if _first_line.__name__ not in {getattr(f, '__name__', '') for f in _migrations.filters}:  # once a process
    _migrations.addFilter(_first_line)


def get_engine():
    return current_app.extensions['migrate'].db.engine


def get_engine_url():
    try:
        return get_engine().url.render_as_string(hide_password=False).replace(
            '%', '%%')
    except AttributeError:
        return str(get_engine().url).replace('%', '%%')


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option('sqlalchemy.url', get_engine_url())
target_db = current_app.extensions['migrate'].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def get_metadata():
    if hasattr(target_db, 'metadatas'):
        return target_db.metadatas[None]
    return target_db.metadata


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url, target_metadata=get_metadata(), literal_binds=True
    )

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, 'autogenerate', False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info('No changes in schema detected.')

    conf_args = current_app.extensions['migrate'].configure_args
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    connectable = get_engine()

    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=get_metadata(),
            **conf_args
        )

        # SQLite: batch mode rebuilds a table (copy, drop, rename). Dropping a table that
        # others reference fails while foreign keys are enforced, and the pragma only
        # takes effect outside a transaction, so it is switched off on the driver's
        # connection before the migrations begin, the references are checked after they
        # commit, and it is on again before the connection goes back to the pool.
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")
        try:
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                broken = connection.connection.driver_connection.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"foreign keys broken after the migration: {broken[:10]}")
        finally:
            if sqlite:
                driver = connection.connection.driver_connection
                driver.execute("PRAGMA foreign_keys = ON")
                # the pragma is a no-op inside a transaction: a connection left without
                # its foreign keys is closed rather than handed out again by the pool
                if driver.execute("PRAGMA foreign_keys").fetchone()[0] != 1:
                    connection.invalidate()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
