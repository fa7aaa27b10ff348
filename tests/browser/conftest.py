"""Browser tests: a real gunicorn serving a real database with demo data, driven by
Debian's Chromium through Playwright. Requests to any host but the test server are
blocked, so a page that needs the internet fails here.

Skipped when Chromium is missing, unless REQUIRE_BROWSER=1 (as in CI), where that fails.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from registry.core.permissions import PERMISSIONS

# Debian's old headless shell (package chromium-headless-shell, the same Chromium build
# without the browser's UI, which Playwright itself drives by default for headless runs)
# where it is installed: half the CPU of the full browser in --headless mode (a new
# context 0.05 s against 0.45 s, a page load ~0.06 s against ~0.11 s). Else the full one.
CHROMIUM = os.environ.get("CHROMIUM_PATH") or next(
    (path for path in ("/usr/lib/chromium/chromium-headless-shell", "/usr/bin/chromium") if Path(path).exists()),
    "/usr/bin/chromium")
# SCREENSHOTS=1 keeps the screenshots the tests take, in bench/out/screens, for a human
SCREENSHOTS = os.environ.get("SCREENSHOTS") == "1"
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
OFFLINE_APP_ROLES = PERMISSIONS["offline_app"]  # their pages register a service worker


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


def _require_chromium():
    if not Path(CHROMIUM).exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"Chromium not found at {CHROMIUM}")
        pytest.skip("Chromium not installed")


LIVE_HOST = "127.0.0.1"  # where the live server listens, the only host the browser reaches


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    _require_chromium()
    from tests.conftest import _memory_backed

    tmp = tmp_path_factory.mktemp("live")
    fast = _memory_backed(tmp)  # the database and uploads in RAM where there is /dev/shm
    env = dict(os.environ)
    env.update(
        FLASK_APP="registry:create_app",
        SECRET_KEY="browser-test-secret",
        DATA_KEY="browser-test-data-key",
        UPLOAD_FOLDER=str(fast / "uploads"),
        REGISTRY_INSTANCE_PATH=str(tmp / "instance"),
        # scrypt costs ~160 ms a hash: the demo accounts are created and logged in often
        REGISTRY_PASSWORD_HASH_METHOD="pbkdf2:sha256:1",
        # a deployment's own boundaries: made-up squares for four townships of 吉首市
        GEOJSON_PATH=str(ROOT / "tests" / "browser" / "fixtures" / "townships.geojson"),
    )
    pg = os.environ.get("TEST_DATABASE_URL")
    if pg:
        from tests.conftest import postgres_database, reset_postgres

        worker = os.environ.get("PYTEST_XDIST_WORKER")
        env["DATABASE_URL"] = postgres_database(pg, f"{worker}_browser" if worker else "browser")
        reset_postgres(env["DATABASE_URL"])
    else:
        env["DATABASE_URL"] = f"sqlite:///{fast / 'live.sqlite3'}"
    log = open(tmp / "gunicorn.log", "w")
    # one process builds the database (flask db upgrade, flask setup --scale 0.3) and serves
    # it: gunicorn --preload, so the app is made once and forked (live_app.py), on a port
    # the system picks (its log says which: none is taken meanwhile); its own process group,
    # so the teardown can stop master and workers at once (a graceful stop idles ~6 s)
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("live_app.py")), "0.3",
         "--workers", "2", "--preload", "--bind", f"{LIVE_HOST}:0"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = None
    deadline = time.monotonic() + 300  # the build takes ~10 s, several times that on a busy machine
    while True:
        if base is None:
            listening = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", (tmp / "gunicorn.log").read_text())
            base = listening and listening.group(1)
        try:
            if base is not None:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            from tests.conftest import stop_server

            stop_server(proc)
            pytest.fail("the live server did not start: " + (tmp / "gunicorn.log").read_text()[-3000:])
        time.sleep(0.1)
    accounts, roles = {}, {}
    for line in (tmp / "instance" / "demo-accounts.txt").read_text(encoding="utf-8").splitlines()[1:]:
        role, scope, username, password = line.split("\t")
        accounts[username], roles[username] = password, role
    yield {"url": base, "accounts": accounts, "roles": roles, "env": env, "tmp": tmp}
    from tests.conftest import stop_server

    stop_server(proc)
    log.close()
    if fast != tmp:
        shutil.rmtree(fast, ignore_errors=True)


# Chromium keeps only the last --disable-features it is given, so this list repeats the one
# Playwright passes itself (1.65, chromiumSwitches.ts) before adding ours. Ours: one site
# (the live server) in one renderer process per page, without a new document frame
# (RenderDocument), a swapped browsing instance or a spare renderer kept warm for each
# navigation or new context. The browser group's Chromium CPU fell ~13 % (two runs each,
# bench/cpu_tree.py): 44.5-46.0 s to 38.8-40.2 s.
PLAYWRIGHT_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync", "DestroyProfileOnBrowserClose", "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable", "LensOverlay", "MediaRouter", "PaintHolding", "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect", "TcpPortRandomizationWin", "OptimizationHints",
    "NetworkTimeServiceQuerying", "AimEnabled", "PreconnectToSearch")
DISABLED_FEATURES = (*PLAYWRIGHT_DISABLED_FEATURES, "RenderDocument", "ProactivelySwapBrowsingInstance",
                     "BackForwardCacheMemoryControls", "site-per-process", "IsolateOrigins",
                     "SpareRendererForSitePerProcess")


@pytest.fixture(scope="session")
def browser():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  # no host but the live server's (127.0.0.1, where it listens) has an address:
                  # every request off the site fails, from any page, frame or worker
                  f"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE {LIVE_HOST}",
                  "--disable-features=" + ",".join(DISABLED_FEATURES)],
        )
        yield b
        b.close()


@pytest.fixture(scope="session")
def _signed_in():
    """The cookies of each demo account's first login, so later pages of that account
    open signed in without going through the login form again."""
    return {}


# A new page costs Chromium ~0.45 s of CPU, a navigation in an open one ~0.1 s: the pages
# page_as opens are kept after a test that passed and lent again to a later test of the
# same account and viewport, reset (see page_as). A page is not kept when the
# test failed, closed it, or changed more than what a navigation resets: anything in
# TAINTING called on the page or its context (its own listeners or routes, offline mode,
# print media, ...), or when its account has the offline app (a service worker, pages and
# a queue kept on the device) — those pages are never lent twice.
TAINTING = {
    "page": ("on", "once", "add_listener", "route", "route_from_har", "unroute", "unroute_all", "set_viewport_size",
             "emulate_media", "set_extra_http_headers", "add_init_script", "expose_function", "expose_binding",
             "add_locator_handler", "set_default_timeout", "set_default_navigation_timeout"),
    "context": ("on", "once", "add_listener", "route", "route_from_har", "unroute", "unroute_all", "set_offline",
                "set_extra_http_headers", "add_init_script", "expose_function", "expose_binding", "grant_permissions",
                "clear_permissions", "set_geolocation", "add_cookies", "set_default_timeout",
                "set_default_navigation_timeout"),
}


def _watch(page) -> None:
    """Marks the page ``tainted`` once the test calls anything in TAINTING on it or its context."""
    page.tainted = False
    for target, names in ((page, TAINTING["page"]), (page.context, TAINTING["context"])):
        for name in names:
            method = getattr(target, name, None)
            if method is None:
                continue

            def tainting(*args, _method=method, **kwargs):
                page.tainted = True
                return _method(*args, **kwargs)

            setattr(target, name, tainting)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if outcome.get_result().failed:
        item.browser_test_failed = True  # page_as keeps none of its pages


@pytest.fixture(scope="session")
def _idle_pages(browser):
    """Pages a passed test left in a state a navigation resets, by (account, width, height)."""
    idle: dict[tuple, list] = {}
    yield idle
    for pages in idle.values():
        for page in pages:
            page.context.close()


@pytest.fixture()
def page_as(request, browser, live_server, _signed_in, _idle_pages):
    """``page_as('demo_unit')``: a logged-in page on that account's home page; off-site
    requests are aborted and console errors collected in ``page.console_errors``.
    The first page of an account logs in through the form; later ones reuse its
    session cookie (and log in again if that session has ended), unless
    ``through_form=True``. A page may have served an earlier test of the same account
    and viewport (the module's comment above TAINTING says when); it is handed over
    as a new one would be: on the home page, nothing collected yet.

    ``at='/records/inbox'`` (a path or an address) hands the page over there instead of on
    the home page: the page a test would go to first is the first one loaded (a home page
    costs ~0.3 s of CPU between the browser and the server)."""
    base = live_server["url"]
    opened = []

    def _arrive(page, username, url, through_form, lent):
        """``page`` signed in on ``url``: through the form if asked or if its session ended.
        On a lent page, what resetting it logged (the login, the home page it is reset to)
        is not the test's; what the page the test asked for logs is."""
        home = base + "/"
        if not through_form:
            page.goto(url)
            if "/login" not in page.url:
                if lent and url == home:
                    page.console_errors, page.blocked = [], []
                return
        _login(page, username)
        if lent:
            page.console_errors, page.blocked = [], []
        if url != home:
            page.goto(url)

    def _login(page, username):
        page.goto(base + "/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", live_server["accounts"][username])
        with page.expect_navigation(wait_until="load"):  # not networkidle: it idles 500 ms more
            page.click("button[type=submit]")
        assert "/login" not in page.url, f"login failed for {username}"
        _signed_in[username] = page.context.storage_state()

    def _lend(key, through_form: bool, url: str):
        """An idle page for ``key``, on ``url``, or None."""
        idle = _idle_pages.get(key, [])
        while idle:
            page = idle.pop()
            try:
                page.console_errors, page.blocked = [], []
                if through_form:
                    page.context.clear_cookies()  # signed out, as a new context would be
                _arrive(page, key[0], url, through_form, lent=True)
            except Exception:  # a page that cannot be reset is dropped, a new one opened
                page.context.close()
                continue
            return page
        return None

    def _open(username: str, viewport=None, *, through_form: bool = False, at: str = "/"):
        viewport = viewport or {"width": 1366, "height": 900}
        key = (username, viewport["width"], viewport["height"])
        url = at if at.startswith("http") else base + at
        page = _lend(key, through_form, url)
        if page is not None:
            opened.append((key, page))
            return page
        signed_in = None if through_form else _signed_in.get(username)
        context = browser.new_context(viewport=viewport, locale="zh-CN", storage_state=signed_in)
        page = context.new_page()
        opened.append((key, page))
        page.console_errors = []
        page.blocked = []

        def _off_site(request):
            if not request.url.startswith((base + "/", "data:", "blob:")):
                page.blocked.append(request.url)

        if not SCREENSHOTS:  # each full-page PNG costs 0.1-0.5 s of CPU; opt in to look at them
            page.screenshot = lambda **_: b""
        # Off-site requests fail (the browser resolves no other host) and are noted as they
        # fail: only those reach this process, not the site's ~2400 a run. Not by page.route:
        # a page with a route has no HTTP cache, so every page loaded its styles and scripts
        # again in full (~2000 responses a run), and the Plotly bundle (4.6 MB) with each chart.
        page.on("requestfailed", _off_site)
        page.on("console", lambda msg: page.console_errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
        _watch(page)  # after page_as's own listeners
        _arrive(page, username, url, through_form=signed_in is None, lent=False)
        return page

    yield _open
    failed = getattr(request.node, "browser_test_failed", False)
    for key, page in opened:
        if page.is_closed():
            continue
        if (failed or page.tainted or live_server["roles"][key[0]] in OFFLINE_APP_ROLES
                or page.context.service_workers or len(page.context.pages) != 1):
            page.context.close()
            continue
        try:
            page.goto("about:blank")  # the test's page unloaded: no script of it runs while idle
        except Exception:
            page.context.close()
            continue
        _idle_pages.setdefault(key, []).append(page)


@pytest.fixture(scope="session")
def demo(live_server):
    """What the demo accounts stand for: the demo village's code."""
    scopes = {}
    path = live_server["tmp"] / "instance" / "demo-accounts.txt"
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        role, scope, username, _ = line.split("\t")
        scopes[username] = scope
    return {"village_code": scopes["demo_village"]}


@pytest.fixture()
def shots():
    """Where screenshots go (for a human to look at, with SCREENSHOTS=1): bench/out/screens."""
    path = ROOT / "bench" / "out" / "screens"
    path.mkdir(parents=True, exist_ok=True)
    return path
