"""Demo data: synthetic villages under Hunan's real townships and records for every
feature, all marked as demo (示例) so nobody mistakes them for real data.

Features add a step with ``@step(order)``; ``generate`` runs them in order inside one
transaction per step, printing progress.
"""
from __future__ import annotations

import random
from collections.abc import Callable

from .steps import DemoContext, _steps, step  # noqa: F401  (feature demos import them from here)


def generate(seed: int = 2026, scale: float = 1.0, echo: Callable[[str], None] = print) -> DemoContext:
    from . import base  # noqa: F401  (registers the base steps)
    from .. import feature_demos  # noqa: F401  (registers feature steps)
    from ..extensions import db

    # demo data, the same for the same seed: nothing secret is drawn from it
    ctx = DemoContext(rng=random.Random(seed), scale=scale, echo=echo)  # noqa: S311
    from ..dashboard.summary import rebuilt_later

    # the last step rebuilds the summaries from the rows: no step recomputes them before
    with rebuilt_later(db.session()):
        for order, name, fn in sorted(_steps, key=lambda s: s[0]):
            echo(f"[示例数据] {name} …")
            fn(ctx)
            db.session.commit()
    return ctx
