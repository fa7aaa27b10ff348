"""The coverage API's validators and its server-side cache of computed answers.

The rule (issue 16): no cache may serve a figure older than the last committed change.
Every change the summary writer sees raises, in its own transaction, the change marker of
each area it touches (``AreaChange``, ``recompute.raise_markers``; ``*`` for a change that
may touch any area). A region's marker is the sum of the counters of the areas within its
code range and of ``*``: every committed change to a figure of the region (or of a
descendant) raises it, and it never goes back. Each request reads the marker first (one
indexed range query) and serves a stored answer only if it was computed under the same
marker; anything computed after the marker was read is at least as new as the marker.

Besides the data, an answer depends on the day (the area rows' validity, ending soon, the
year) and the settings: both are in the key. The overdue count depends on the time of day
(records submitted before ``now - days``): a stored answer expires when the next record
awaiting confirmation crosses the cut-off.

The key also holds the user and their scope (a stored answer is only ever served to the
user it was computed for, after the region was checked against their scope), the region
and the query string as given (a bad argument raises before anything is stored).

The ETag is a digest of the answer's bytes: an ``If-None-Match`` naming it gets 304 without
a body, and without computing it when the answer is stored.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from flask import current_app
from sqlalchemy import bindparam, func, literal_column, select

from ..core.timeutil import local_today, utcnow
from ..regions.models import Region
from .figures import area_settings
from .models import ANY, AreaChange

DEFAULT_SIZE = 256  # answers kept per worker process (COVERAGE_CACHE_SIZE; 0: none)


@dataclass(frozen=True)
class Entry:
    marker: tuple[int, int]
    expires: datetime | None
    body: bytes
    etag: str


@cache
def _marker_stmt():
    a = AreaChange
    in_range = select(func.coalesce(func.sum(a.version), 0)).where(Region.within_bounds(a.area))
    everywhere = select(func.coalesce(func.max(a.version), 0)).where(a.area == ANY)
    return select(in_range.scalar_subquery(), everywhere.scalar_subquery())


def marker(conn, region) -> tuple[int, int]:
    """The region's change marker: (its areas' counters summed, the ``*`` counter)."""
    lo, hi = region.range()
    row = conn.execute(_marker_stmt(), {"lo": lo, "hi": hi}).one()
    return int(row[0] or 0), int(row[1] or 0)


@cache
def _crossing_stmt():
    from ..records.models import SupportRecord as s

    # a literal status, so SQLite uses the partial index of the records awaiting confirmation
    return select(func.min(s.submitted_at)).where(s.status == literal_column("'submitted'"),
                                                  s.submitted_at >= bindparam("cutoff"))


def expiry(conn) -> datetime | None:
    """When the overdue count of some region next changes with time alone: the next record
    awaiting confirmation to pass the cut-off (None: no such record)."""
    try:
        stmt = _crossing_stmt()
    except ImportError:  # the records feature is not installed
        return None
    days = timedelta(days=int(current_app.config["REGISTRY_CONFIRMATION_OVERDUE_DAYS"]))
    first = conn.execute(stmt, {"cutoff": utcnow() - days}).scalar()
    if first is None:
        return None
    if isinstance(first, str):  # SQLite without the column's type processing
        first = datetime.fromisoformat(first)
    return first + days


def _now() -> datetime:
    return utcnow()


class CoverageCache:
    """Per process (each worker its own): key -> ``Entry``, least recently used dropped."""

    def __init__(self, size: int):
        self.size = size
        self._entries: OrderedDict[tuple, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, current: tuple[int, int]) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.marker != current or (entry.expires is not None and _now() >= entry.expires):
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple, entry: Entry) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def store(app=None) -> CoverageCache:
    app = app or current_app
    found = app.extensions.get("coverage_cache")
    if found is None:
        size = app.config.get("COVERAGE_CACHE_SIZE", DEFAULT_SIZE)
        found = app.extensions["coverage_cache"] = CoverageCache(int(size))
    return found


def key_for(user, region, args) -> tuple:
    """What an answer depends on besides the data: who asks (and what they may see), the
    region, the query string, the day and the settings."""
    cfg = current_app.config
    scope = (user.id, user.role, getattr(user, "region_code", None), getattr(user, "organization_id", None),
             getattr(user, "village_code", None))
    settings = (area_settings(cfg), cfg["REGISTRY_CONFIRMATION_OVERDUE_DAYS"], cfg["REGISTRY_ENDING_SOON_DAYS"])
    return scope, region.code, tuple(sorted(args.items(multi=True))), local_today(), settings


def etag_of(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=16).hexdigest()
