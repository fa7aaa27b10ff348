"""Partner Support Registry (帮扶力量登记系统)."""
from __future__ import annotations

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
        import gc

        gc.freeze()
    return app
