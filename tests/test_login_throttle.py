"""Login throttling (issue 13, defects 4 and 5): counted where every worker and host sees
it (the database, or Redis when ``RATELIMIT_STORAGE_URI`` names one), per account and
address with doubling delays, a higher ceiling per account, a ceiling per address that
counts failures only; never a lock that someone else can set off."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from registry import create_app
from registry.accounts import throttle
from registry.audit.models import AuditEvent
from tests.conftest import PASSWORD, Client, session_csrf_token
from tests.factories import COUNTY

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def twins(_app, app_config):
    """Two more instances of the application on the same database, as two more gunicorn
    workers (or hosts) would be: nothing is shared with the first but the database."""
    apps = []
    for _ in range(2):
        twin = create_app(dict(app_config))
        twin.test_client_class = Client
        apps.append(twin)
    yield apps
    from registry.extensions import db

    for twin in apps:
        with twin.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


def _redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["database", "redis"])
def instances(request, app, twins, monkeypatch):
    """The three instances, counting in the database or in Redis (under a key prefix of
    this test's own, removed afterwards)."""
    apps = [app, *twins]
    prefix = None
    if request.param == "redis":
        if not _redis_reachable():
            pytest.skip("Redis is not reachable at 127.0.0.1:6379")
        prefix = f"registry-test-{uuid.uuid4().hex}"
        for each in apps:
            monkeypatch.setitem(each.config, "RATELIMIT_STORAGE_URI", REDIS_URL)
            monkeypatch.setitem(each.config, "RATELIMIT_KEY_PREFIX", prefix)
    yield apps
    if prefix:
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)


def _settings(apps, monkeypatch, **values):
    for each in apps:
        for name, value in values.items():
            monkeypatch.setitem(each.config, f"REGISTRY_LOGIN_{name}", value)


def _post(application, username, password, address):
    from registry.extensions import db

    db.session.commit()  # the test's own transaction must not hold SQLite's write lock
    client = application.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": session_csrf_token(client)})


def test_failures_are_counted_across_instances_sharing_the_database(instances, make_user, monkeypatch):
    """Defect 4: each worker had counters of its own, so three allowed three times the rate."""
    _settings(instances, monkeypatch, MAX_FAILURES=3, ADDRESS_FAILURES=7)
    user = make_user("admin")
    answers = [_post(instances[i % 3], user.username, "wrong-password-1", "10.1.0.1").status_code
               for i in range(9)]
    assert answers == [200] * 3 + [429] * 6  # one account from one address: 3 tries in all

    # one address trying many accounts (credential stuffing): 7 failures in all, then 429
    answers = [_post(instances[i % 3], f"nobody{i}", "wrong-password-1", "10.1.0.2").status_code
               for i in range(12)]
    assert answers == [200] * 7 + [429] * 5


def test_refusals_say_when_to_try_again(instances, make_user, monkeypatch):
    _settings(instances, monkeypatch, MAX_FAILURES=1)
    user = make_user("admin")
    _post(instances[0], user.username, "wrong-password-1", "10.1.0.3")
    response = _post(instances[1], user.username, "wrong-password-1", "10.1.0.3")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert "登录失败次数过多" in response.get_data(as_text=True)
    # the right password from the same address waits too: the delay is not a hint
    assert _post(instances[2], user.username, PASSWORD, "10.1.0.3").status_code == 429


def test_a_flood_from_one_address_does_not_keep_the_user_out_from_another(instances, make_user, monkeypatch):
    """Defect 5: five wrong passwords from anywhere locked the account for 15 minutes."""
    _settings(instances, monkeypatch, MAX_FAILURES=5, ACCOUNT_FAILURES=100)
    user = make_user("admin")
    answers = [_post(instances[i % 3], user.username, "wrong-password-1", "10.2.0.66").status_code
               for i in range(15)]
    assert answers[:5] == [200] * 5 and set(answers[5:]) == {429}
    response = _post(instances[1], user.username, PASSWORD, "10.3.0.7")
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def test_many_logins_from_one_address_are_not_refused(app, twins, make_user, monkeypatch):
    """An office behind one NAT address: successful logins never count against it (37 of
    100 were refused by the old per-address limit). On the database only: the counting is
    the same code for Redis, which the tests above cover."""
    instances = [app, *twins]
    _settings(instances, monkeypatch, ADDRESS_FAILURES=5)
    users = [make_user("viewer", region_code=COUNTY).username for _ in range(4)]
    answers = []
    for i in range(20):
        if i % 10 == 0:  # now and then someone mistypes first
            answers.append(_post(instances[i % 3], users[i % 4], "wrong-password-1", "10.4.0.1").status_code)
        answers.append(_post(instances[i % 3], users[i % 4], PASSWORD, "10.4.0.1").status_code)
    assert answers.count(302) == 20 and 429 not in answers

    # someone there tries other people's accounts: new accounts are refused from that
    # address, the office's own users still get in
    for i in range(5):
        _post(instances[i % 3], f"stranger{i}", "wrong-password-1", "10.4.0.1")
    newcomer = make_user("viewer", region_code=COUNTY).username
    assert _post(instances[0], newcomer, PASSWORD, "10.4.0.1").status_code == 429
    assert _post(instances[1], users[0], PASSWORD, "10.4.0.1").status_code == 302
    assert _post(instances[2], newcomer, PASSWORD, "10.4.0.2").status_code == 302


T0 = datetime(2026, 3, 1, 8, 0, 0)


def test_delays_double_after_the_free_failures_and_stop_at_the_cap(instances, monkeypatch):
    _settings(instances, monkeypatch, MAX_FAILURES=2, MAX_DELAY_SECONDS=16)
    now = T0
    for _ in range(2):
        throttle.begin("alice", "10.5.0.1", now=now)
    waits = []
    for _ in range(6):
        for _ in range(3):  # refused attempts are not counted: hammering changes nothing
            with pytest.raises(throttle.Throttled) as info:
                throttle.begin("alice", "10.5.0.1", now=now)
        waits.append(info.value.retry_after)
        now += timedelta(seconds=info.value.retry_after)
        throttle.begin("alice", "10.5.0.1", now=now)  # let through once the wait is over
    assert waits == [2, 4, 8, 16, 16, 16]
    throttle.begin("alice", "10.5.0.2", now=now).succeeded(now=now)  # another address is not held up
    throttle.begin("bob", "10.5.0.1", now=now)  # nor another account from the same address


def test_many_addresses_slow_an_account_but_not_where_it_logs_in_from(instances, monkeypatch):
    _settings(instances, monkeypatch, MAX_FAILURES=5, ACCOUNT_FAILURES=4, ACCOUNT_MAX_DELAY_SECONDS=30,
              WINDOW_MINUTES=15)
    throttle.begin("carol", "10.6.0.1", now=T0).succeeded(now=T0)  # her office
    for i in range(4):
        throttle.begin("carol", f"10.6.1.{i}", now=T0)
    with pytest.raises(throttle.Throttled) as info:
        throttle.begin("carol", "10.6.2.1", now=T0)
    assert (info.value.reason, info.value.retry_after) == ("account", 2)
    throttle.begin("carol", "10.6.0.1", now=T0).succeeded(now=T0)  # her office is not held up
    now = T0
    for _ in range(6):  # a botnet goes on: the wait grows, but never past the cap
        now += timedelta(seconds=60)
        throttle.begin("carol", "10.6.3.1", now=now)
    with pytest.raises(throttle.Throttled) as info:
        throttle.begin("carol", "10.6.3.2", now=now)
    assert info.value.retry_after == 30
    throttle.begin("carol", "10.6.3.2", now=T0 + timedelta(minutes=16))  # a new window


def test_an_administrator_lets_an_account_try_again_at_once(instances, make_user, runner, monkeypatch, db):
    _settings(instances, monkeypatch, MAX_FAILURES=1)
    user = make_user("admin")
    name = user.username
    for _ in range(2):
        _post(instances[0], name, "wrong-password-1", "10.7.0.1")
    assert _post(instances[1], name, PASSWORD, "10.7.0.1").status_code == 429
    result = runner.invoke(args=["users", "unlock", name])
    assert result.exit_code == 0, result.output
    assert _post(instances[2], name, PASSWORD, "10.7.0.1").status_code == 302
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "unlock")) == 1

    for _ in range(2):
        _post(instances[0], name, "wrong-password-1", "10.7.0.1")
    result = runner.invoke(args=["users", "set-password", name], input="Another-long-passw0rd\n")
    assert result.exit_code == 0, result.output
    assert _post(instances[1], name, "Another-long-passw0rd", "10.7.0.1").status_code == 302


def test_without_redis_the_database_counts(app, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_STORAGE_URI", "redis://127.0.0.1:1/0")  # nothing listens there
    monkeypatch.setitem(app.config, "REGISTRY_LOGIN_MAX_FAILURES", 1)
    name = make_user("admin").username
    assert _post(app, name, "wrong-password-1", "10.8.0.1").status_code == 200
    assert _post(app, name, PASSWORD, "10.8.0.1").status_code == 429


def test_a_count_is_written_by_one_statement_compiled_once(app, make_user, monkeypatch, db):
    """Every failed attempt writes its counts with the same statement, which SQLAlchemy
    compiles once and caches (a dialect's own ON CONFLICT construct has no cache key: it
    was compiled anew at every attempt)."""
    from sqlalchemy import event

    monkeypatch.setitem(app.config, "RATELIMIT_STORAGE_URI", "")
    name = make_user("admin").username
    first, _ = throttle._upsert(db.engine.dialect, "a:x", throttle.Bucket(1, datetime(2026, 1, 1), datetime(2026, 1, 2)))
    assert first._generate_cache_key() is not None
    compiled = []

    def seen(conn, clauseelement, multiparams, params, execution_options):
        if clauseelement is first:
            compiled.append(clauseelement)

    event.listen(db.engine, "before_execute", seen)
    try:
        for n in range(3):
            _post(app, name, "wrong-password-1", f"10.9.0.{n + 1}")
    finally:
        event.remove(db.engine, "before_execute", seen)
    assert len(compiled) >= 3  # each attempt's counts went through the one statement built once
    assert db.session.scalar(select(func.count()).select_from(throttle.LoginThrottle)) >= 3


def test_an_ipv6_subscriber_counts_as_one_address():
    assert throttle.network("2001:db8:1:2::5") == throttle.network("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    assert throttle.network("::ffff:10.0.0.1") == "10.0.0.1"
    assert throttle.network(None) == "unknown"


def test_a_failure_counted_a_moment_later_by_another_worker_refuses_nothing_below_the_limit():
    """``now`` is read before the store's lock: another worker's failure may be later."""
    policy = throttle.Policy(free_failures=5, max_delay=900, account_failures=100, account_max_delay=60,
                             address_failures=50, window=timedelta(minutes=15))
    keys = throttle.Keys.of("dave", "10.9.0.1")
    later = throttle.Bucket(2, T0 + timedelta(milliseconds=5), T0 + timedelta(days=1))
    buckets = {keys.pair: later, keys.account: later, keys.address: later, keys.known: None}
    assert throttle.refusal(policy, keys, buckets, T0) is None
