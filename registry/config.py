"""Configuration read from the environment.

Nothing secret has a hard-coded fallback. In development (no ``SECRET_KEY`` in the
environment) a random key is generated once and kept under ``instance/``.
"""
from __future__ import annotations

import os
import secrets
from datetime import date
from pathlib import Path


def _instance_secret(instance_path: Path, name: str, nbytes: int = 32) -> str:
    """Return a random secret kept in ``instance/<name>``, creating it on first use."""
    instance_path.mkdir(parents=True, exist_ok=True)
    path = instance_path / name
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        value = secrets.token_urlsafe(nbytes)
        # O_EXCL so two gunicorn workers starting together agree on one key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(value)
        return value


# Policy numbers marked *(setting)* in DESIGN.md section 5. A deployment overrides any of
# them with an environment variable of the same name, e.g. REGISTRY_MIN_TEAM_SIZE=4.
SETTING_DEFAULTS: dict[str, object] = {
    "REGISTRY_PLANNED_TERM_YEARS": 2,
    "REGISTRY_MIN_TEAM_SIZE": 3,
    "REGISTRY_MIN_DAYS_IN_VILLAGE": 20,
    "REGISTRY_PRE_POSTING_TRAINING_DAYS": 90,
    "REGISTRY_YEARLY_TRAININGS": 1,
    "REGISTRY_RECORD_EARLIEST_DATE": date(2021, 1, 1),
    # no date of something planned (a course's end, a posting's start or planned end, a
    # pairing's end) more than this many years after today: 9999-12-31 is a typing error
    "REGISTRY_DATE_YEARS_AHEAD": 5,
    # one amount (元) of a support record, fund contribution or village result: above the
    # first it is refused; above the second it needs the user's confirmation
    "REGISTRY_AMOUNT_MAX_YUAN": 1_000_000_000,
    "REGISTRY_AMOUNT_CONFIRM_YUAN": 10_000_000,
    "REGISTRY_CONFIRMATION_OVERDUE_DAYS": 30,
    # 督办升级 (registry/chase): a chased item still untouched this many days after the
    # township chased it escalates to the county's worklist, and this many days after
    # that to the city's
    "REGISTRY_ESCALATE_TO_COUNTY_DAYS": 14,
    "REGISTRY_ESCALATE_TO_CITY_DAYS": 14,
    "REGISTRY_ENDING_SOON_DAYS": 90,
    "REGISTRY_PERSON_GRADES": ("优秀", "称职", "基本称职", "不称职"),
    "REGISTRY_ORG_GRADES": ("好", "较好", "一般", "差"),
    # unexcused absences -> best grade allowed
    "REGISTRY_ABSENCE_GRADE_CAP": ((1, "称职"), (2, "基本称职"), (3, "不称职")),
    # a person summoned (约谈) in the year may be graded at best this (empty: no cap); a
    # summons tolerated by a 容错 decision does not count (registry/tolerance)
    "REGISTRY_SUMMONS_GRADE_CAP": "称职",
    "REGISTRY_MAX_UPLOAD_MB": 10,
    # login throttling (registry/accounts/throttle.py): delays, never a lock-out
    "REGISTRY_LOGIN_MAX_FAILURES": 5,
    "REGISTRY_LOGIN_MAX_DELAY_SECONDS": 900,
    "REGISTRY_LOGIN_ACCOUNT_FAILURES": 100,
    "REGISTRY_LOGIN_ACCOUNT_MAX_DELAY_SECONDS": 60,
    "REGISTRY_LOGIN_ADDRESS_FAILURES": 50,
    "REGISTRY_LOGIN_WINDOW_MINUTES": 15,
    # a login session ends after this long without a request, and this long after the login
    "REGISTRY_SESSION_IDLE_MINUTES": 30,
    "REGISTRY_SESSION_MAX_HOURS": 12,
    # confirmed support counts as recent for this many days (coverage's "last 12 months")
    "REGISTRY_SUPPORT_WINDOW_DAYS": 365,
    # an export of more rows than this runs as a job (flask jobs work), not in the web worker
    "REGISTRY_EXPORT_JOB_ROWS": 5000,
    # the files of finished import/export jobs (and import error reports) are removed after this many days
    "REGISTRY_JOB_KEEP_DAYS": 7,
    # notifications by e-mail (registry/notifications): the deployment's own SMTP server;
    # nothing is sent while the host is empty. The password is REGISTRY_SMTP_PASSWORD,
    # read from the environment only and never shown.
    "REGISTRY_SMTP_HOST": "",
    "REGISTRY_SMTP_PORT": 587,
    "REGISTRY_SMTP_TLS": "starttls",  # starttls, ssl or none
    "REGISTRY_SMTP_USER": "",
    "REGISTRY_SMTP_SENDER": "",
    "REGISTRY_SMTP_TIMEOUT_SECONDS": 30,
    # the site's address as users reach it, for the links in e-mails (https://host)
    "REGISTRY_SITE_URL": "",
    # a failed delivery is tried again after 1, 2, 4, ... times this many seconds, and given
    # up (shown to the administrator) after this many attempts
    "REGISTRY_EMAIL_RETRY_SECONDS": 60,
    "REGISTRY_EMAIL_MAX_ATTEMPTS": 6,
    # the daily digest goes out at the first delivery pass after this hour (Asia/Shanghai)
    "REGISTRY_DIGEST_HOUR": 8,
    # a cadre's one-time activation code (cadres.services) expires after this many days
    "REGISTRY_CADRE_ACTIVATION_DAYS": 7,
    # werkzeug's method string; tests use a cheap one, production keeps scrypt
    "REGISTRY_PASSWORD_HASH_METHOD": "scrypt",
}


def _coerce(default: object, raw: str) -> object:
    if isinstance(default, bool):
        return raw.lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, date):
        return date.fromisoformat(raw)
    if isinstance(default, tuple) and default and isinstance(default[0], str):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if isinstance(default, tuple):
        pairs = []
        for part in raw.split(","):
            count, grade = part.split(":")
            pairs.append((int(count), grade.strip()))
        return tuple(pairs)
    return raw


def load_config(instance_path: str, overrides: dict | None = None) -> dict:
    """Build the configuration mapping for ``create_app``."""
    env = os.environ
    ipath = Path(instance_path)
    overrides = dict(overrides or {})
    cfg: dict[str, object] = {}

    secret = overrides.pop("SECRET_KEY", None) or env.get("SECRET_KEY")
    cfg["SECRET_KEY"] = secret or _instance_secret(ipath, "secret_key")
    # Separate key for data at rest (ID numbers, phones), so rotating the session key
    # does not make stored data unreadable.
    data_key = overrides.pop("DATA_KEY", None) or env.get("DATA_KEY")
    cfg["DATA_KEY"] = data_key or _instance_secret(ipath, "data_key")

    # The audit chain's HMAC key (registry/audit/anchor.py): by default DATA_KEY's secret
    # (a derived key of its own, so the two never coincide). A rotation sets a new
    # AUDIT_KEY under a higher AUDIT_KEY_ID and keeps the old ones in AUDIT_OLD_KEYS
    # ("1:secret,2:secret") so the events written under them still verify.
    cfg["AUDIT_KEY"] = env.get("AUDIT_KEY") or None
    cfg["AUDIT_KEY_ID"] = int(env.get("AUDIT_KEY_ID") or 1)
    cfg["AUDIT_OLD_KEYS"] = env.get("AUDIT_OLD_KEYS", "")
    # where the signed checkpoint of the chain's head is kept, outside the database
    # (default instance/audit-checkpoint.json)
    cfg["AUDIT_CHECKPOINT_PATH"] = env.get("AUDIT_CHECKPOINT_PATH") or None

    url = overrides.pop("SQLALCHEMY_DATABASE_URI", None) or env.get("DATABASE_URL")
    if not url:
        url = "sqlite:///" + str(ipath / "registry.sqlite3")
    cfg["SQLALCHEMY_DATABASE_URI"] = url
    # SQLAlchemy keeps 500 compiled statements by default; the pages, exports and API of
    # this registry issue about 700 different ones, so the cache kept evicting and
    # recompiling (a statement with joined loads costs ~10 ms to compile). A compiled
    # statement is a few kB: 3000 of them cost a few MB a worker.
    # (A server's pooled connections are checked when they have sat idle, not at every
    # checkout: ``core.database._ping_when_idle``.)
    cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {"query_cache_size": 3000}
    if url.startswith("postgresql"):
        # no JIT compilation: PostgreSQL compiles a statement whose estimated cost passes
        # jit_above_cost (100,000), which a page's count over a province's rows does, and
        # the compiling (tens to hundreds of ms) costs more than it saves on queries of a
        # few ms; a web page's statements are short by design
        cfg["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"] = {"options": "-c jit=off"}

    cfg["SESSION_COOKIE_HTTPONLY"] = True
    cfg["SESSION_COOKIE_SAMESITE"] = "Lax"
    cfg["SESSION_COOKIE_SECURE"] = env.get("SESSION_COOKIE_SECURE", "0") == "1"
    cfg["REMEMBER_COOKIE_HTTPONLY"] = True
    cfg["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    cfg["WTF_CSRF_TIME_LIMIT"] = None  # tied to the session instead
    # Login throttling counts in the database, or in Redis when this names one
    # (redis://host:6379/0); never in a process. The prefix keeps two registries apart.
    cfg["RATELIMIT_STORAGE_URI"] = env.get("RATELIMIT_STORAGE_URI", "")
    cfg["RATELIMIT_KEY_PREFIX"] = env.get("RATELIMIT_KEY_PREFIX", "registry-login")
    cfg["UPLOAD_FOLDER"] = env.get("UPLOAD_FOLDER") or str(ipath / "uploads")
    # Files in S3-compatible object storage instead of UPLOAD_FOLDER (registry/core/storage.py)
    # when a bucket is named: MinIO (STORAGE_S3_ENDPOINT_URL=http://minio:9000) or a cloud
    # bucket. The keys may stay empty: boto3 then finds its own (AWS_ACCESS_KEY_ID, a role).
    for name in ("STORAGE_S3_BUCKET", "STORAGE_S3_ENDPOINT_URL", "STORAGE_S3_REGION", "STORAGE_S3_PREFIX",
                 "STORAGE_S3_ACCESS_KEY_ID", "STORAGE_S3_SECRET_ACCESS_KEY"):
        cfg[name] = overrides.pop(name, None) or env.get(name, "")
    if cfg["STORAGE_S3_BUCKET"] and not (secret and data_key):
        # shared storage means several hosts: a key generated into each host's instance/
        # would differ between them (CSRF tokens and ID numbers unreadable on the others)
        raise RuntimeError("STORAGE_S3_BUCKET is set (several app hosts): set SECRET_KEY and DATA_KEY in the "
                           "environment, the same on every host")
    cfg["GEOJSON_PATH"] = env.get("GEOJSON_PATH") or None
    # An existing folder where the templates' compiled code is kept (Jinja's bytecode cache,
    # keyed by each template's source): a new process then reads it instead of parsing and
    # compiling every template again (~1.5 s of CPU for all of them). Unset: none kept.
    cfg["TEMPLATE_CACHE_FOLDER"] = env.get("TEMPLATE_CACHE_FOLDER") or None
    cfg["REGISTRY_SMTP_PASSWORD"] = overrides.pop("REGISTRY_SMTP_PASSWORD", None) or env.get("REGISTRY_SMTP_PASSWORD", "")

    for key, default in SETTING_DEFAULTS.items():
        cfg[key] = _coerce(default, env[key]) if key in env else default
    cfg["MAX_CONTENT_LENGTH"] = int(cfg["REGISTRY_MAX_UPLOAD_MB"]) * 1024 * 1024
    # coverage API answers kept per worker (dashboard/coverage_cache.py); 0: none kept
    cfg["COVERAGE_CACHE_SIZE"] = int(env.get("COVERAGE_CACHE_SIZE") or 256)

    cfg.update(overrides)
    return cfg
