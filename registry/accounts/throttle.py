"""Login throttling that every worker and every host shares.

The counts live in the database (the table ``login_throttle``), or in Redis when
``RATELIMIT_STORAGE_URI`` names one (``redis://``, ``rediss://``, ``unix://``); never in
a process, so three gunicorn workers or three hosts allow what one would.

Three counts of failed attempts, and what they do once they pass their setting:

- **this account from this address** (``REGISTRY_LOGIN_MAX_FAILURES``): each further
  attempt waits twice as long as the one before (2 s, 4 s, 8 s … at most
  ``REGISTRY_LOGIN_MAX_DELAY_SECONDS``) after the last failure. Forgotten after a day
  without failures, and at once by a success from that address.
- **this account from every address** (``REGISTRY_LOGIN_ACCOUNT_FAILURES`` in
  ``REGISTRY_LOGIN_WINDOW_MINUTES``): a much higher ceiling, reached only by many
  addresses at once; it delays (at most ``REGISTRY_LOGIN_ACCOUNT_MAX_DELAY_SECONDS``),
  and never an address the account has logged in from in the last 30 days. So a flood of
  wrong passwords, from one address or from many, never locks the real user out.
- **this address for every account** (``REGISTRY_LOGIN_ADDRESS_FAILURES`` in the window):
  credential stuffing; refused until the window ends, but for accounts that logged in
  from this address in the last 30 days. Successful logins do not count, so an office
  behind one address is not refused for logging in.

An attempt that is refused is not counted and costs no password hash. An attempt that is
let through is counted as a failure before the password is checked (one atomic step:
concurrent attempts cannot all slip under a limit), and a success takes it back.

No lock that someone else can set off: an administrator's password reset, or
``flask users unlock``, forgets an account's counts at once.
"""
from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from flask import current_app
from sqlalchemy import DateTime, Integer, String, delete, or_, select, text
from sqlalchemy.orm import Mapped, mapped_column

from ..core.queries import upsert
from ..core.timeutil import utcnow
from ..extensions import db

PAIR_MEMORY = timedelta(days=1)  # an account+address count is forgotten after a quiet day
KNOWN_ADDRESS_MEMORY = timedelta(days=30)  # an address the account logged in from
CLEANUP_BATCH = 100  # expired rows removed by each counted attempt (database store)
ADVISORY_LOCK_CLASS = 4342002  # pg_advisory_xact_lock(class, hashtext(key)); see core.database
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class LoginThrottle(db.Model):
    """One count: ``p:`` account+address, ``a:`` account, ``i:`` address, ``k:`` an
    address the account logged in from. Accounts appear as a hash of the name typed."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)


# -- the policy -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Bucket:
    failures: int
    last_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Policy:
    free_failures: int
    max_delay: int
    account_failures: int
    account_max_delay: int
    address_failures: int
    window: timedelta

    @classmethod
    def from_config(cls, cfg) -> Policy:
        return cls(
            free_failures=max(1, int(cfg["REGISTRY_LOGIN_MAX_FAILURES"])),
            max_delay=int(cfg["REGISTRY_LOGIN_MAX_DELAY_SECONDS"]),
            account_failures=max(1, int(cfg["REGISTRY_LOGIN_ACCOUNT_FAILURES"])),
            account_max_delay=int(cfg["REGISTRY_LOGIN_ACCOUNT_MAX_DELAY_SECONDS"]),
            address_failures=max(1, int(cfg["REGISTRY_LOGIN_ADDRESS_FAILURES"])),
            window=timedelta(minutes=int(cfg["REGISTRY_LOGIN_WINDOW_MINUTES"])),
        )


def backoff(failures: int, free: int, cap: int) -> int:
    """Seconds to wait after the last failure: none up to ``free`` failures, then 2, 4,
    8 … at most ``cap``."""
    if failures < free:
        return 0
    return min(2 ** min(failures - free + 1, 40), cap)


@dataclass(frozen=True)
class Keys:
    pair: str
    account: str
    address: str
    known: str

    @classmethod
    def of(cls, username: str, address: str | None) -> Keys:
        account = account_key(username)
        where = network(address)
        return cls(pair=f"p:{account}:{where}", account=f"a:{account}", address=f"i:{where}",
                   known=f"k:{account}:{where}")

    @property
    def counted(self) -> tuple[str, str, str]:
        return self.pair, self.account, self.address

    @property
    def every(self) -> tuple[str, str, str, str]:
        return self.pair, self.account, self.address, self.known


def account_key(username: str) -> str:
    """The name as typed, trimmed and lower-cased, hashed: any name counts (whether it
    exists or not), and the table holds no user names."""
    return hashlib.sha256((username or "").strip().lower().encode()).hexdigest()[:32]


def network(address: str | None) -> str:
    """The address an attempt is counted under: an IPv4 address, or the /64 an IPv6
    address lies in (one subscriber holds a whole /64)."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return (address or "unknown").strip()[:45] or "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass(frozen=True)
class Refusal:
    reason: str  # "pair", "account" or "address"
    until: datetime

    def retry_after(self, now: datetime) -> int:
        """Whole seconds to wait, at least one (the Retry-After header)."""
        return max(1, math.ceil((self.until - now).total_seconds()))


def refusal(policy: Policy, keys: Keys, buckets: dict[str, Bucket | None], now: datetime) -> Refusal | None:
    """Whether an attempt now is refused, and until when (the longest wait that applies)."""
    found: list[Refusal] = []

    def delayed(reason: str, bucket: Bucket | None, free: int, cap: int) -> None:
        # only past the free failures: ``now`` was read before the store's lock, so a
        # failure counted meanwhile may be a moment later than it
        wait = backoff(bucket.failures, free, cap) if bucket is not None else 0
        if wait and bucket.last_at + timedelta(seconds=wait) > now:
            found.append(Refusal(reason, bucket.last_at + timedelta(seconds=wait)))

    delayed("pair", buckets[keys.pair], policy.free_failures, policy.max_delay)
    known = buckets[keys.known] is not None  # the account logged in from here lately
    address = buckets[keys.address]
    if address is not None and address.failures >= policy.address_failures and not known:
        found.append(Refusal("address", address.expires_at))
    if not known:
        delayed("account", buckets[keys.account], policy.account_failures, policy.account_max_delay)
    return max(found, key=lambda r: r.until) if found else None


def _counted(bucket: Bucket | None, now: datetime, memory: timedelta, *, sliding: bool) -> Bucket:
    """One more failure. A sliding count is kept ``memory`` after its last failure; a
    windowed one ends ``memory`` after its first."""
    if bucket is None:
        return Bucket(1, now, now + memory)
    return Bucket(bucket.failures + 1, now, now + memory if sliding else bucket.expires_at)


# -- the stores -------------------------------------------------------------------------------

class View:
    """What a step sees and changes in a store, inside one atomic transaction."""

    def __init__(self, buckets: dict[str, Bucket | None]):
        self.buckets = buckets
        self.puts: dict[str, Bucket] = {}
        self.deletes: set[str] = set()

    def put(self, key: str, bucket: Bucket) -> None:
        self.puts[key] = bucket
        self.deletes.discard(key)

    def delete(self, key: str) -> None:
        self.deletes.add(key)
        self.puts.pop(key, None)


Step = Callable[[View], object]


def _fresh(bucket: Bucket | None, now: datetime) -> Bucket | None:
    return bucket if bucket is not None and bucket.expires_at > now else None


class DatabaseStore:
    """The default: one row a count, read and written in one transaction that holds the
    keys' locks (PostgreSQL advisory locks taken in key order; SQLite's BEGIN IMMEDIATE
    already lets one writer in at a time). Commits."""

    def transact(self, keys: tuple[str, ...], step: Step, now: datetime, *, clean: bool = False):
        session = db.session
        try:
            connection = session.connection()
            postgres = connection.dialect.name == "postgresql"
            if postgres:
                for key in sorted(set(keys)):
                    session.execute(text("SELECT pg_advisory_xact_lock(:class, hashtext(:key))"),
                                    {"class": ADVISORY_LOCK_CLASS, "key": key})
            rows = session.execute(select(LoginThrottle.key, LoginThrottle.failures, LoginThrottle.last_at,
                                          LoginThrottle.expires_at).where(LoginThrottle.key.in_(keys)))
            found = {row.key: Bucket(row.failures, row.last_at, row.expires_at) for row in rows}
            view = View({key: _fresh(found.get(key), now) for key in keys})
            result = step(view)
            for key, bucket in view.puts.items():
                session.execute(*_upsert(connection.dialect, key, bucket))
            if view.deletes:
                session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(view.deletes)))
            if clean:
                # Expired rows, a few at a time; rows another attempt holds are left for later.
                expired = (select(LoginThrottle.key).where(LoginThrottle.expires_at <= now)
                           .limit(CLEANUP_BATCH).with_for_update(skip_locked=True))
                session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(expired.scalar_subquery())),
                                execution_options={"synchronize_session": False})
            session.commit()
            return result
        except BaseException:
            session.rollback()
            raise

    def forget(self, account: str) -> None:
        """Remove an account's counts (in the caller's transaction)."""
        db.session.execute(delete(LoginThrottle).where(or_(
            LoginThrottle.key == f"a:{account}", LoginThrottle.key.startswith(f"p:{account}:", autoescape=True))),
            execution_options={"synchronize_session": False})


def _upsert(dialect, key: str, bucket: Bucket):
    """The statement writing one count (``core.queries.upsert``: built once, compiled
    once) and the parameters ``session.execute`` takes beside it."""
    return (upsert(dialect, LoginThrottle.__table__, _COUNT_COLUMNS, ("key",), replace=_COUNT_COLUMNS[1:]),
            {"key": key, "failures": bucket.failures, "last_at": bucket.last_at, "expires_at": bucket.expires_at})


_COUNT_COLUMNS = ("key", "failures", "last_at", "expires_at")


class RedisStore:
    """Counts in Redis (``RATELIMIT_STORAGE_URI``), one hash a count under
    ``RATELIMIT_KEY_PREFIX``; a step runs in a WATCH/MULTI transaction, again if another
    client changed one of its keys meanwhile. Redis drops a count a minute after it ends."""

    TRIES = 50

    def __init__(self, url: str, prefix: str):
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.prefix = prefix

    def name(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    def transact(self, keys: tuple[str, ...], step: Step, now: datetime, *, clean: bool = False):
        import redis

        names = {key: self.name(key) for key in keys}
        with self.client.pipeline() as pipe:
            for _ in range(self.TRIES):
                try:
                    pipe.watch(*names.values())
                    view = View({key: _fresh(self._read(pipe, name), now) for key, name in names.items()})
                    result = step(view)
                    pipe.multi()
                    for key, bucket in view.puts.items():
                        pipe.hset(names[key], mapping={"f": bucket.failures, "l": bucket.last_at.isoformat(),
                                                       "e": bucket.expires_at.isoformat()})
                        pipe.expire(names[key], max(1, math.ceil((bucket.expires_at - now).total_seconds())) + 60)
                    for key in view.deletes:
                        pipe.delete(names[key])
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue
        raise RuntimeError("login throttle: Redis keys kept changing")

    @staticmethod
    def _read(pipe, name: str) -> Bucket | None:
        failures, last, expires = pipe.hmget(name, "f", "l", "e")
        if failures is None or last is None or expires is None:
            return None
        return Bucket(int(failures), datetime.fromisoformat(last.decode()), datetime.fromisoformat(expires.decode()))

    def forget(self, account: str) -> None:
        names = [self.name(f"a:{account}"), *self.client.scan_iter(match=self.name(f"p:{account}:*"))]
        self.client.delete(*names)


def _store():
    """The application's store: Redis when the URI names it, else the database."""
    cfg = current_app.config
    uri = (cfg.get("RATELIMIT_STORAGE_URI") or "").strip()
    if not uri.startswith(REDIS_SCHEMES):
        return DATABASE
    prefix = cfg.get("RATELIMIT_KEY_PREFIX") or "registry-login"
    stores = current_app.extensions.setdefault("login_throttle", {})
    if (uri, prefix) not in stores:
        stores[(uri, prefix)] = RedisStore(uri, prefix)
    return stores[(uri, prefix)]


DATABASE = DatabaseStore()


def _transact(keys: tuple[str, ...], step: Step, now: datetime, *, clean: bool = False):
    """Run ``step`` in the configured store. If Redis cannot be reached, the database
    stands in (still shared by every worker), and the log says so."""
    store = _store()
    if store is DATABASE:  # (redis, about 7 MB, is loaded only where it is used)
        return store.transact(keys, step, now, clean=clean)
    import redis

    try:
        return store.transact(keys, step, now, clean=clean)
    except redis.RedisError:
        current_app.logger.exception("login throttle: Redis unreachable, counting in the database")
        return DATABASE.transact(keys, step, now, clean=clean)


# -- the service ------------------------------------------------------------------------------

class Throttled(Exception):
    def __init__(self, refused: Refusal, retry_after: int):
        super().__init__(refused.reason)
        self.reason = refused.reason
        self.retry_after = retry_after


@dataclass
class Attempt:
    keys: Keys

    def succeeded(self, now: datetime | None = None) -> None:
        """The password was right: take the attempt back, forget this address's failures
        for the account, and remember the address as one the account logs in from."""
        now = now or utcnow()
        keys = self.keys

        def step(view: View) -> None:
            view.delete(keys.pair)
            for key in (keys.account, keys.address):
                bucket = view.buckets[key]
                if bucket is not None and bucket.failures > 0:
                    view.put(key, Bucket(bucket.failures - 1, bucket.last_at, bucket.expires_at))
            view.put(keys.known, Bucket(0, now, now + KNOWN_ADDRESS_MEMORY))

        _transact(keys.every, step, now)


def begin(username: str, address: str | None, now: datetime | None = None) -> Attempt:
    """Let an attempt through and count it as a failure, or raise ``Throttled``."""
    now = now or utcnow()
    policy = Policy.from_config(current_app.config)
    keys = Keys.of(username, address)

    def step(view: View) -> Refusal | None:
        refused = refusal(policy, keys, view.buckets, now)
        if refused is None:
            view.put(keys.pair, _counted(view.buckets[keys.pair], now, PAIR_MEMORY, sliding=True))
            view.put(keys.account, _counted(view.buckets[keys.account], now, policy.window, sliding=False))
            view.put(keys.address, _counted(view.buckets[keys.address], now, policy.window, sliding=False))
        return refused

    refused = _transact(keys.every, step, now, clean=True)
    if refused is not None:
        raise Throttled(refused, refused.retry_after(now))
    return Attempt(keys)


def forget_account(username: str) -> None:
    """An administrator's unlock: the account's counts, from every address, are gone (in
    the database within the caller's transaction)."""
    account = account_key(username)
    DATABASE.forget(account)
    store = _store()
    if store is not DATABASE:
        import redis

        try:
            store.forget(account)
        except redis.RedisError:
            current_app.logger.exception("login throttle: Redis unreachable, its counts of %s are kept", username)
