"""Base demo steps: villages under real townships, a key county or two."""
from __future__ import annotations

from sqlalchemy import func, select

from ..extensions import db
from ..regions.models import Region
from .steps import DemoContext, step

_NUMERALS = "一二三四五六七八九十"
# Counties that get dense demo data and the demo accounts (湘西州 and 长沙).
FOCUS_COUNTIES = ("433101", "433122", "430124")


def _short(name: str) -> str:
    for suffix in ("街道办事处", "街道", "镇", "乡"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


@step(10, "生成示例村")
def villages(ctx: DemoContext) -> None:
    rng = ctx.rng
    if db.session.scalar(select(func.count()).select_from(Region).where(Region.level == "village")):
        ctx.echo("  已有村数据，跳过")
        return
    townships = db.session.scalars(select(Region).where(Region.level == "township").order_by(Region.code)).all()
    key_counties = {c for c in db.session.scalars(select(Region.code).where(Region.level == "county", Region.is_key))}
    made = 0
    for township in townships:
        focus = township.code[:6] in FOCUS_COUNTIES
        count = max(1, round((rng.randint(3, 6) if focus else rng.randint(1, 3)) * ctx.scale))
        for n in range(1, count + 1):
            in_key_county = township.code[:6] + "000000" in key_counties
            is_poor = rng.random() < (0.45 if in_key_county else 0.2)
            db.session.add(
                Region(
                    code=f"{township.code[:9]}{200 + n:03d}",
                    name=f"{_short(township.name)}示例{_NUMERALS[n - 1] if n <= 10 else n}村",
                    level="village",
                    parent_code=township.code,
                    is_poor=is_poor,
                    is_key=is_poor and rng.random() < 0.6,
                    is_relocation=rng.random() < 0.05,
                    is_demo=True,
                )
            )
            made += 1
    ctx.echo(f"  生成示例村 {made} 个")


@step(5, "标记示例重点帮扶县")
def key_counties(ctx: DemoContext) -> None:
    # 湘西州's counties and a few others are real 重点帮扶县 candidates; flagged as demo.
    codes = ["433101", "433122", "433123", "433124", "433125", "433126", "433127", "433130", "431228", "431229"]
    for county in db.session.scalars(select(Region).where(Region.code.in_([c + "000000" for c in codes]))):
        county.is_key = True
