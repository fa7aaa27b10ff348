"""Reaching a link of the top navigation: most entries sit in a group (templates/_nav.html),
a <details> menu whose links are hidden until it opens, as a user sees them."""
from __future__ import annotations


def open_nav_group(page, name: str) -> None:
    """Open the navigation group holding the link named ``name`` (nothing when the link stands
    at the top level, or the group is open already)."""
    group = page.locator("nav.mainnav details.navgroup").filter(
        has=page.locator("a", has_text=name))
    if group.count() and not group.first.evaluate("details => details.open"):
        group.first.locator("summary").click()
