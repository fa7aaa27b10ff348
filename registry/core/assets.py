"""The site's own static files, named with their version so that a browser keeps them.

``url_for("static", filename=...)`` gains ``v``, a digest of the file's contents: a page
names the exact copy it was built with, and the answer to that URL may be kept for a year
without asking again (``Cache-Control: public, max-age=31536000, immutable``). A changed
file gets a new digest, so a new URL, so no stale copy is ever used.

Without it every page asked again for each stylesheet and script it uses (a 304 each: six
round trips a page for app.css, print.css, app.js, money.js and the page's own), which on a
village's weak signal is most of the wait for a page. A request without ``v``, or with a
``v`` that is not the file's digest now (a page kept from before an upgrade), gets the file
as before: to be asked for again at each use (``no-cache``, with its ETag).

The digest is read once per file and process (a deployment replaces its files and restarts
its workers); under the development server (``debug``) a file whose size or time changed is
read again.
"""
from __future__ import annotations

import hashlib
import os

from flask import Flask, current_app, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.security import safe_join

YEAR = 365 * 24 * 3600
_DIGESTS: dict[str, tuple[tuple[int, int], str | None]] = {}  # path -> ((mtime, size), digest)


def static_version(filename: str | None) -> str | None:
    """The digest of static file ``filename`` (12 hex digits), or None when there is no
    such file (a folder, a name outside the static folder, a missing file)."""
    folder = current_app.static_folder
    path = safe_join(folder, filename) if folder and filename else None
    if path is None:
        return None
    kept = _DIGESTS.get(path)
    if kept is not None and not current_app.debug:
        return kept[1]
    try:
        stat = os.stat(path)
    except OSError:
        return None
    mark = (stat.st_mtime_ns, stat.st_size)
    if kept is not None and kept[0] == mark:
        return kept[1]
    digest = None
    if os.path.isfile(path):
        with open(path, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()[:12]
    _DIGESTS[path] = (mark, digest)
    return digest


class _FilesWithoutCookie(SecureCookieSessionInterface):
    """The session cookie, but not on a static file's answer, which depends on no cookie:
    Flask-Login looks into the session after every request, and Flask then adds
    ``Vary: Cookie``, with which a browser would ask again for a kept file each time the
    session cookie changed (every flash message changes it)."""

    def save_session(self, app, session, response) -> None:
        if request.endpoint == "static" and not session.modified:
            return
        super().save_session(app, session, response)


def init_app(app: Flask) -> None:
    if type(app.session_interface) is SecureCookieSessionInterface:
        app.session_interface = _FilesWithoutCookie()

    @app.url_defaults
    def _versioned(endpoint, values):
        # an explicit v (None: none at all) is left as given
        if endpoint == "static" and "v" not in values:
            version = static_version(values.get("filename"))
            if version is not None:
                values["v"] = version

    @app.after_request
    def _kept_for_a_year(response):
        if (request.endpoint == "static" and response.status_code in (200, 304)
                and request.args.get("v") is not None
                and request.args.get("v") == static_version((request.view_args or {}).get("filename"))):
            cache = response.cache_control
            cache.no_cache = None
            cache.public = True
            cache.max_age = YEAR
            cache.immutable = True
        return response
