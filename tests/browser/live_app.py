"""The browser tests' live server, built and served by one process: ``flask db upgrade``,
``flask setup --scale SCALE``, then gunicorn serving that same app (preloaded, forked to its
workers). One Python start and one ``create_app()`` instead of three (each ~1.5 s of CPU,
more on a busy machine); the database it builds is the one the two commands build.

    python tests/browser/live_app.py SCALE GUNICORN_ARGS...

The environment says where the database, uploads and instance folder are (as for ``flask``).
"""
from __future__ import annotations

import sys

from gunicorn.app.wsgiapp import WSGIApplication


def main(scale: str, gunicorn_args: list[str]) -> None:
    from registry import create_app
    from registry.extensions import db

    app = create_app()  # wires things up, no I/O (its docstring): the same app builds and serves
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

    class LiveApplication(WSGIApplication):
        def load_wsgiapp(self):
            return app

    sys.argv = ["gunicorn", *gunicorn_args, "registry:create_app()"]  # the module is not loaded again
    LiveApplication("%(prog)s [OPTIONS] [APP_MODULE]", prog="gunicorn").run()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
