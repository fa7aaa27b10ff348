"""The installable offline app for villages: manifest, service worker, kept pages and the
sending of what was decided offline (issue 15)."""
