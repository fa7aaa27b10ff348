"""The navigation: features register entries with the roles that may use them.

A few daily entries stand at the top level; the rest sit in labelled groups (NAV_GROUPS),
each a disclosure menu (templates/_nav.html, static/js/app.js). Each role sees its own subset:
a group left with one entry is shown as a plain link, an empty group is not shown."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask, request, url_for
from flask_login import current_user


@dataclass
class NavEntry:
    order: int
    label: str
    endpoint: str
    roles: frozenset[str]
    badge: Callable | None = None
    url_fn: Callable | None = None
    group: str | None = None


_entries: list[NavEntry] = []

# The groups of the navigation: key → (label, place among the entries' orders). The daily
# entries (首页 0 … 帮扶记录 30, 待确认 31) come first, then the groups.
NAV_GROUPS: dict[str, tuple[str, int]] = {
    "force": ("帮扶力量", 35),
    "work": ("帮扶工作", 36),
    "oversight": ("考核监督", 55),
    "system": ("系统", 80),
}


def nav_entry(order: int, label: str, endpoint: str, roles, badge: Callable | None = None,
              url_fn: Callable | None = None, group: str | None = None):
    """Register an entry; ``group`` (a key of NAV_GROUPS) puts it in a menu, None at the top."""
    if group is not None and group not in NAV_GROUPS:
        raise ValueError(f"unknown navigation group {group!r}")
    _entries.append(NavEntry(order, label, endpoint, frozenset(roles), badge, url_fn, group))


def nav_items() -> list[dict]:
    """The entries the current user may use, in order. ``active``: the entry's own page is shown;
    ``current``: the page shown belongs to the entry (its own page, or the page whose address
    begins with the entry's, the longest such: /records/12 belongs to 帮扶记录)."""
    user = current_user._get_current_object()  # once, not through the proxy for each entry
    if not user.is_authenticated:
        return []
    endpoint, path = request.endpoint, request.path
    items = []
    for entry in sorted(_entries, key=lambda e: e.order):
        if user.role not in entry.roles:
            continue
        url = entry.url_fn(user) if entry.url_fn else url_for(entry.endpoint)
        if url is None:
            continue
        items.append(
            {
                "label": entry.label,
                "order": entry.order,
                "url": url,
                "group": entry.group,
                "active": endpoint == entry.endpoint,
                "current": False,
                "badge": entry.badge(user) if entry.badge else None,
            }
        )
    active = [item for item in items if item["active"]]
    if active:
        active[0]["current"] = True
    else:
        within = [item for item in items if _within(path, urlsplit(item["url"]).path)]
        if within:
            max(within, key=lambda item: len(urlsplit(item["url"]).path))["current"] = True
    return items


def _within(path: str, entry_path: str) -> bool:
    """Whether the page at ``path`` is the entry's page or below it (never below 首页 "/")."""
    prefix = entry_path.rstrip("/")
    return path == entry_path or bool(prefix) and path.startswith(prefix + "/")


def nav_menu() -> list[dict]:
    """The navigation as shown: the top-level entries and one menu per group the user has
    entries in (``{"label": label, "key": key, "entries": [...], "current": bool}``), by order
    (a group at its place in NAV_GROUPS). A group with a single entry is that entry, at the
    entry's own place (a cadre's five entries stand in a row)."""
    items = nav_items()
    slots: list[tuple[int, dict]] = [(item["order"], item) for item in items if item["group"] is None]
    for key, (label, place) in NAV_GROUPS.items():
        members = [item for item in items if item["group"] == key]
        if len(members) == 1:
            slots.append((members[0]["order"], members[0]))
        elif members:
            slots.append((place, {"label": label, "key": key, "entries": members,
                                  "current": any(item["current"] for item in members)}))
    return [slot for _order, slot in sorted(slots, key=lambda pair: pair[0])]


def opens(endpoint: str) -> bool:
    """Whether a link to ``endpoint`` leads the current user anywhere: a cadre reaches only
    the views marked ``core.access.for_cadres`` (a link to any other would be a 404).
    Scope still decides what the page shows."""
    from flask import current_app

    from .access import cadre_may_open

    if getattr(current_user, "role", None) != "cadre":
        return True
    return cadre_may_open(current_app.view_functions.get(endpoint))


def init_app(app: Flask) -> None:
    app.jinja_env.globals["nav_items"] = nav_items
    app.jinja_env.globals["nav_menu"] = nav_menu
    app.jinja_env.globals["opens"] = opens
    app.jinja_env.filters["combine"] = lambda a, b: {**a, **b}
    app.jinja_env.globals["next_arg"] = next_arg


ALL_ROLES = ("admin", "region", "unit", "village", "viewer", "cadre")


def _region_url(user):
    if user.role == "admin":
        return url_for("regions.detail", code="430000000000")
    if user.role in ("region", "viewer"):
        return url_for("regions.detail", code=user.region_code)
    if user.role == "village":
        return url_for("regions.detail", code=user.village_code)
    return None


nav_entry(0, "首页", "main.home", ALL_ROLES)
nav_entry(10, "行政区划", "regions.detail", ("admin", "region", "viewer"), url_fn=_region_url, group="system")
nav_entry(11, "本村", "regions.detail", ("village",), url_fn=_region_url)
nav_entry(90, "审计日志", "audit.index", ("admin", "region", "viewer"), group="system")
nav_entry(91, "审计核验", "audit.integrity", ("admin",), group="system")
nav_entry(95, "账号管理", "accounts.users", ("admin",), group="system")
nav_entry(96, "API 令牌", "accounts.token", ("admin", "region", "viewer", "unit", "village"), group="system")


# -- returning to where the user came from -----------------------------------------------------

_MAX_NEXT = 2000


def local_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site ("/gaps/…?kind=x"), else None. Refused: a
    scheme or host, "//" and "/\\" (browsers read a backslash as a slash, so "/\\host" is
    another site), spaces and control characters (browsers drop tabs and newlines), and
    anything overlong."""
    if not target or len(target) > _MAX_NEXT or not target.startswith("/"):
        return None
    if "\\" in target or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    if target.startswith("//") or urlsplit(target).netloc or urlsplit(target).scheme:
        return None
    return target


def next_arg() -> str | None:
    """The request's ``next`` (query string or form) if it is a local path."""
    return local_path(request.values.get("next"))


def back_to(default: str) -> str:
    """Where a form goes once it has saved: the request's ``next`` if it is a local path
    (a worklist that sent the user here), else ``default``."""
    return next_arg() or default
