"""Times are naive UTC in storage and Asia/Shanghai on screen."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """Current UTC time, naive, microsecond precision (what the database stores)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def local_today() -> date:
    """Today's date in Hunan: the date rules such as "not in the future" are about."""
    return datetime.now(LOCAL_TZ).date()


def to_local(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc).astimezone(LOCAL_TZ)
