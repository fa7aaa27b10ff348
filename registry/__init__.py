"""Partner Support Registry (帮扶力量登记系统)."""
from __future__ import annotations

import gc

from flask import Flask

__all__ = ["create_app"]


def create_app(config: dict | None = None) -> Flask:
    """Application factory: wires things up and does nothing else (no I/O, no schema)."""
    import os

    from .config import load_config

    app = Flask(
        __name__,
        instance_path=os.environ.get("REGISTRY_INSTANCE_PATH") or None,
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="../static",
    )
    app.config.update(load_config(app.instance_path, config))

    from .web import register_blueprints, register_commands, register_errorhandlers, register_extensions, register_hooks

    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_hooks(app)
    register_commands(app)
    if not app.testing:
        # what is alive now (modules, mappers, templates' environment) lives as long as the
        # process: kept out of the collector's full passes, which otherwise walk all of it
        # every few requests (a pause of tens of milliseconds, the lists' p95). Not under
        # tests, which create many apps and let them go.
        gc.freeze()
        app.before_request(_watch_collections)
    return app


def _watch_collections() -> None:
    """From a process's first request on (a web worker's: not a CLI command's, such as the
    job worker's import, whose rows may be alive at a full collection), the survivors of
    its first full collections are frozen too (``_freeze_survivors``)."""
    if _freeze_survivors not in gc.callbacks:
        gc.callbacks.append(_freeze_survivors)


_SURVIVOR_FREEZES = [3]  # full collections left whose survivors are frozen


def _freeze_survivors(phase: str, info: dict) -> None:
    """After each of a process's first three full collections, freeze what survived it.

    Much of what a worker keeps is built by its first requests, not by ``create_app``: the
    mappers' configuration, the compiled templates, SQLAlchemy's compiled statements (some
    170,000 objects after one pass over the pages, beside the 155,000 frozen at start). A
    full collection walks all of it: ~100 ms of CPU on a busy machine, once every hundred
    or so requests (the lists' p95 at province scale). What just survived a full
    collection is no garbage; frozen, later full collections walk only what is newer.
    Only the first three: an object frozen that becomes garbage in a cycle later (a
    compiled statement the cache evicts) is never collected, so the freezing stops once
    the warm-up's objects are in."""
    if phase == "stop" and info.get("generation") == 2 and _SURVIVOR_FREEZES[0] > 0:
        _SURVIVOR_FREEZES[0] -= 1
        gc.freeze()
