"""Every page a village account reaches, on a 375 × 812 phone: nothing scrolls sideways (the
page, or a table inside it), every tap target is at least 44 × 44 px, and the menu opens.

The pages are collected as a user finds them: the navigation and the account links, then the
links on those pages, and the links on those (one page per kind of address: /records/12 stands
for every record). A role added later (the resident cadre) is checked the same way once the
demo data has an account for it. SCREENSHOTS=1 keeps a full-page shot of each in
bench/out/screens/phone-*.png, to be looked at.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

PHONE = {"width": 375, "height": 812}
PHONE_ROLES = ("village", "cadre")
DEPTH = 3  # home and menu → a list → an item → its form (e.g. 驻村纪实 → a posting → 填报)
# downloads, files and actions are not pages to look at
NOT_PAGES = re.compile(r"/(logout|evidence|api)(/|$)|export|download|/data/|\.(xlsx|csv|json|pdf|png|jpe?g|js|css)$")
# the pages the acceptance names must be among those found, or the walk has lost its way
MUST_REACH = {
    "village": ("/", "/regions/N", "/records/", "/records/inbox", "/records/N", "/duty/", "/duty/posting/N/new",
                "/results/", "/results/N"),
}

# Tap targets: every control, and every link that is not a word inside running text
TARGETS = """
button, a.btn, select, textarea, summary,
input:not([type=hidden]):not([type=checkbox]):not([type=radio]),
label:has(> input[type=checkbox]), label:has(> input[type=radio]),
.topbar a, .nav-toggle-label, .crumbs a, .pager a, ul.plain a, .actions a, table.stack td a, p > a:only-child
"""
MEASURE = """(targets) => {
  const html = document.documentElement;
  const sideways = [];
  for (const el of document.querySelectorAll('body *')) {
    const overflow = getComputedStyle(el).overflowX;
    if ((overflow === 'auto' || overflow === 'scroll') && el.scrollWidth > el.clientWidth + 1) {
      sideways.push(`${el.tagName.toLowerCase()}.${el.className} ${el.scrollWidth} > ${el.clientWidth}`);
    }
  }
  const small = [];
  for (const el of document.querySelectorAll(targets)) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
    if (box.width < 43.5 || box.height < 43.5) {
      small.push(`${el.tagName.toLowerCase()} "${(el.innerText || el.value || el.name || '').trim().slice(0, 12)}" ` +
                 `${Math.round(box.width)}×${Math.round(box.height)}`);
    }
  }
  return {scrollWidth: html.scrollWidth, clientWidth: html.clientWidth, sideways, small};
}"""


def _shape(path: str) -> str:
    """/records/1280?x=1 → /records/N: one page stands for every page of its kind."""
    return re.sub(r"/\d+", "/N", urlsplit(path).path)


def _site_links(page, site: str) -> list[str]:
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    out = []
    for href in hrefs:
        if not href.startswith(site + "/") or NOT_PAGES.search(urlsplit(href).path):
            continue
        out.append(href[len(site):].split("#")[0])
    return out


def _accounts(live_server, role: str) -> list[str]:
    path = live_server["tmp"] / "instance" / "demo-accounts.txt"
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    return [username for account_role, _scope, username, _password in rows if account_role == role]


@pytest.mark.parametrize("role", PHONE_ROLES)
def test_every_page_fits_a_phone(role, page_as, live_server, shots):
    accounts = _accounts(live_server, role)
    if not accounts:
        pytest.skip(f"no demo account with role {role}")
    page = page_as(accounts[0], viewport=PHONE)
    site = live_server["url"]

    # the menu opens (page_as hands the page over on the home page), and its entries are big
    # enough to tap
    page.click(".nav-toggle-label")
    assert page.locator(".mainnav a").first.is_visible()
    menu = page.evaluate(MEASURE, ".mainnav a, .mainnav summary, .userbox a, .userbox button")
    small = menu["small"]
    for group in page.locator(".mainnav details.navgroup > summary").all():  # a group's entries show once it opens
        group.click()
        small += page.evaluate(MEASURE, ".mainnav a")["small"]
    problems = [f"menu: tap target under 44 px: {s}" for s in dict.fromkeys(small)]

    seen: dict[str, str] = {}  # shape → the address looked at
    level = ["/", *_site_links(page, site)]
    for _depth in range(DEPTH + 1):
        found = []
        for path in level:
            shape = _shape(path)
            if shape in seen:
                continue
            seen[shape] = path
            response = page.goto(site + path)
            if response.status != 200:
                problems.append(f"{path}: HTTP {response.status}")
                continue
            m = page.evaluate(MEASURE, TARGETS)
            if m["scrollWidth"] > m["clientWidth"]:
                problems.append(f"{path}: the page scrolls sideways ({m['scrollWidth']} > {m['clientWidth']} px)")
            problems += [f"{path}: scrolls sideways inside: {s}" for s in m["sideways"]]
            problems += [f"{path}: tap target under 44 px: {s}" for s in m["small"]]
            name = re.sub(r"[^a-z0-9]+", "-", shape.lower()).strip("-") or "home"
            page.screenshot(path=str(shots / f"phone-{role}-{name}.png"), full_page=True)
            found += _site_links(page, site)
        level = found

    assert not problems, "\n".join(problems)
    missing = [shape for shape in MUST_REACH.get(role, ()) if shape not in seen]
    assert not missing, f"not reached from the {role}'s pages: {missing}; reached: {sorted(seen)}"
    assert not page.console_errors, page.console_errors
    assert not page.blocked, page.blocked
