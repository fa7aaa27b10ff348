"""The demo steps' registry: features add a step with ``@step(order)``; the context is
what every step receives. Kept apart from ``generate`` so that the steps can import it
while ``generate`` imports the steps."""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

_steps: list[tuple[int, str, Callable]] = []


def step(order: int, name: str):
    def decorator(fn: Callable) -> Callable:
        _steps.append((order, name, fn))
        return fn

    return decorator


@dataclass
class DemoContext:
    rng: random.Random
    scale: float = 1.0  # 1.0 = a few villages per township
    echo: Callable[[str], None] = print
    data: dict = field(default_factory=dict)  # steps leave things for later steps here
