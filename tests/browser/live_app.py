"""The browser tests' live server, built and served by one process: ``flask db upgrade``,
``flask setup --scale SCALE``, then gunicorn serving that same app (preloaded, forked to its
workers). One Python start and one ``create_app()`` instead of three (each ~1.5 s of CPU,
more on a busy machine); the database it builds is the one the two commands build.

    python tests/browser/live_app.py SCALE GUNICORN_ARGS...

The environment says where the database, uploads and instance folder are (as for ``flask``).

On SQLite the world it builds (the database, the instance folder with the demo accounts, the
uploads) is kept in ``.pytest_cache/browser-world`` and put back by a later run instead of
built again (~4 s of CPU and ~5 s of the browser tests' first setup), as long as nothing it
comes from has changed: the key covers this file, every file of ``registry/``,
``migrations/`` and ``seeds/``, the scale, the settings in the environment, the libraries
that write it and today's date (the demo data is dated from it).
``BROWSER_WORLD_CACHE=0`` builds it every time.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import sys
from importlib import metadata
from pathlib import Path

from gunicorn.app.wsgiapp import WSGIApplication

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".pytest_cache" / "browser-world"
# what the build reads besides the code: the settings, keys and boundaries it is given
ENV_PREFIXES = ("REGISTRY_", "AUDIT_", "SECRET_KEY", "DATA_KEY", "GEOJSON_PATH", "COVERAGE_", "TZ")


def _key(scale: str) -> str:
    from registry.core.timeutil import local_today

    digest = hashlib.sha256(Path(__file__).read_bytes())
    for folder in ("registry", "migrations", "seeds"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    for name in sorted(os.environ):
        if name.startswith(ENV_PREFIXES) and name != "REGISTRY_INSTANCE_PATH":
            digest.update(f"{name}={os.environ[name]}\0".encode())
    geojson = os.environ.get("GEOJSON_PATH")
    if geojson and Path(geojson).is_file():
        digest.update(Path(geojson).read_bytes())
    versions = [sys.version] + [metadata.version(name) for name in ("sqlalchemy", "alembic", "flask")]
    digest.update(f"{scale}\0{local_today().isoformat()}\0{versions}".encode())
    return digest.hexdigest()[:24]


def _sqlite_file(app) -> Path | None:
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if os.environ.get("BROWSER_WORLD_CACHE") == "0" or not url.startswith("sqlite:///"):
        return None
    return Path(url.removeprefix("sqlite:///"))


def _put_back(app, key: str) -> bool:
    """The kept world copied to where this run's app looks for it, if there is one."""
    database, kept = _sqlite_file(app), CACHE / key
    if database is None or not (kept / "done").exists():
        return False
    shutil.copyfile(kept / "db.sqlite3", database)
    for name, target in (("instance", app.instance_path), ("uploads", app.config["UPLOAD_FOLDER"])):
        if (kept / name).is_dir():
            shutil.copytree(kept / name, target, dirs_exist_ok=True)
    print(f"the world built earlier was put back ({kept})", flush=True)
    return True


def _keep(app, key: str) -> None:
    """The world just built, kept for the next run (the only one kept)."""
    database = _sqlite_file(app)
    if database is None:
        return
    shutil.rmtree(CACHE, ignore_errors=True)
    kept = CACHE / key
    kept.mkdir(parents=True)
    source, copy = sqlite3.connect(database), sqlite3.connect(kept / "db.sqlite3")
    with copy:
        source.backup(copy)  # one consistent file, whatever the journal mode left beside it
    source.close()
    copy.close()
    for name, folder in (("instance", app.instance_path), ("uploads", app.config["UPLOAD_FOLDER"])):
        if Path(folder).is_dir():
            shutil.copytree(folder, kept / name)
    (kept / "done").touch()


def main(scale: str, gunicorn_args: list[str]) -> None:
    from registry import create_app
    from registry.extensions import db

    app = create_app()  # wires things up, no I/O (its docstring): the same app builds and serves
    key = _key(scale) if _sqlite_file(app) else ""
    try:
        put_back = bool(key) and _put_back(app, key)
    except OSError:  # another run replacing the kept world meanwhile: this one builds its own
        _sqlite_file(app).unlink(missing_ok=True)
        put_back = False
    if not put_back:
        runner = app.test_cli_runner()
        for args in (["db", "upgrade"], ["setup", "--scale", scale]):
            with app.app_context():  # each command in its own, as ``flask`` runs it
                result = runner.invoke(args=args, catch_exceptions=False)
            print(result.output, end="", flush=True)
            if result.exit_code:
                raise SystemExit(f"flask {' '.join(args)} failed ({result.exit_code})")
        with app.app_context():
            db.session.remove()
            db.engine.dispose()  # no database connection crosses the fork into the workers
        if key:
            try:
                _keep(app, key)
            except (OSError, sqlite3.Error):  # nothing kept: the next run builds again
                shutil.rmtree(CACHE, ignore_errors=True)

    class LiveApplication(WSGIApplication):
        def load_wsgiapp(self):
            return app

    sys.argv = ["gunicorn", *gunicorn_args, "registry:create_app()"]  # the module is not loaded again
    LiveApplication("%(prog)s [OPTIONS] [APP_MODULE]", prog="gunicorn").run()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
