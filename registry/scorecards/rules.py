"""The rules of 实绩考核, in one place: how a value scores under an indicator's rule, the
weights summing to 100, and the reading of numbers and score steps typed into a form."""
from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from ..core.parsing import halfwidth
from ..core.rules import Collector, RuleViolation

FULL = Decimal("100")
CENT = Decimal("0.01")
MAX_VALUE = Decimal("9999999999")  # what Numeric(14, 4) holds, with room
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")
_STEP = re.compile(r"^\s*([^\s:：,，=]+)\s*[:：,，=\s]\s*([^\s%％]+)\s*[%％]?\s*$")


def shown(number) -> str:
    """A number as a page says it: no trailing zeros ("60", "66.6667", "12.5")."""
    if number is None:
        return "—"
    text = format(Decimal(number).normalize(), "f")
    return text


def parse_decimal(value, field: str, label: str, errors: Collector, *, required: bool = True,
                  minimum: Decimal | None = None, maximum: Decimal = MAX_VALUE, places: int = 4) -> Decimal | None:
    """A number typed into a form (full-width digits accepted), with at most ``places``
    decimals, between ``minimum`` and ``maximum``; blank is None (refused if ``required``)."""
    raw = halfwidth(value if value is not None else "").replace(",", "").strip()
    if raw == "":
        if required:
            errors.add(field, f"请填写{label}")
        return None
    if not _NUMBER.fullmatch(raw):
        errors.add(field, f"{label}应为数字")
        return None
    try:
        number = Decimal(raw)
    except InvalidOperation:
        errors.add(field, f"{label}应为数字")
        return None
    if abs(number) > maximum or (minimum is not None and number < minimum):
        low = shown(minimum) if minimum is not None else "-" + shown(maximum)
        errors.add(field, f"{label}应在{low}至{shown(maximum)}之间")
        return None
    if number != number.quantize(Decimal(1).scaleb(-places)):
        errors.add(field, f"{label}最多{places}位小数")
        return None
    return number + 0  # -0 is 0


def parse_steps(text, field: str, errors: Collector) -> list[tuple[Decimal, Decimal]]:
    """Score steps, one a line: "界限值 得分比例%" (e.g. "90 100", "80：80%"). Each
    percentage between 0 and 100; at least one step; no bound twice."""
    steps: list[tuple[Decimal, Decimal]] = []
    lines = [line for line in str(text or "").splitlines() if line.strip()]
    if not lines:
        errors.add(field, "分档计分须至少填写一档（每行“界限值 得分比例”，如“90 100”）")
        return []
    for n, line in enumerate(lines, start=1):
        found = _STEP.match(halfwidth(line))
        if found is None:
            errors.add(field, f"分档第{n}行格式不对：应为“界限值 得分比例”，如“90 100”")
            continue
        inner = Collector()
        bound = parse_decimal(found.group(1), field, f"分档第{n}行的界限值", inner)
        percent = parse_decimal(found.group(2), field, f"分档第{n}行的得分比例", inner, minimum=Decimal(0),
                                maximum=FULL, places=2)
        for message in inner.errors.get(field, []):
            errors.add(field, message)
        if bound is not None and percent is not None:
            if any(b == bound for b, _ in steps):
                errors.add(field, f"分档第{n}行的界限值与前面重复")
            steps.append((bound, percent))
    if len(lines) > 20:
        errors.add(field, "分档最多20档")
    return steps


def steps_json(steps: list[tuple[Decimal, Decimal]]) -> str:
    return json.dumps([[str(b), str(p)] for b, p in steps])


def score_of(indicator, value: Decimal | None) -> Decimal:
    """The points ``value`` earns under ``indicator``'s rule, to the cent (half up).

    - linear: 0 at the floor (零分线), the full weight at the target (满分线), in proportion
      between them; beyond either, the nearer end (the direction is the order of the two);
    - steps: the share of the weight of the best step reached (≥ its bound when higher is
      better, ≤ when lower is), else 0;
    - direct: the points entered.
    A value of None (a share of nothing: no village, no posting started in the year) loses
    no points: there was nothing in which the region could fall short."""
    weight = Decimal(indicator.weight)
    if indicator.rule == "direct":
        return Decimal(value if value is not None else 0).quantize(CENT, rounding=ROUND_HALF_UP)
    if value is None:
        return weight.quantize(CENT)
    if indicator.rule == "linear":
        floor, target = Decimal(indicator.floor), Decimal(indicator.target)
        fraction = (Decimal(value) - floor) / (target - floor)
        fraction = min(max(fraction, Decimal(0)), Decimal(1))
        return (weight * fraction).quantize(CENT, rounding=ROUND_HALF_UP)
    reached = [p for b, p in indicator.step_list
               if (value >= b if indicator.better == "higher" else value <= b)]
    percent = max(reached, default=Decimal(0))
    return (weight * percent / FULL).quantize(CENT, rounding=ROUND_HALF_UP)


def check_weights(indicators) -> None:
    """A scheme is enabled only when it has indicators whose weights sum to exactly 100."""
    if not indicators:
        raise RuleViolation("方案还没有指标，不能启用", "")
    total = sum((Decimal(i.weight) for i in indicators), Decimal(0))
    if total != FULL:
        raise RuleViolation(f"各指标权重之和须为100分（现为{shown(total)}分），不能启用", "")
