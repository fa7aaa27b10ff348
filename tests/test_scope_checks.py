"""The Python decisions of a scope rule (``core.scope.scope_check``) agree with the rule
itself: for every role and a spread of codes (in and out of the user's region, above it,
unknown, malformed), the look-up by key finds the same region the scoped SQL finds."""
import pytest
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from registry.core.scope import _checks, get_in_scope_or_404, scoped
from registry.regions.models import Region


def _codes(db):
    codes = {level: db.session.scalars(select(Region.code).where(Region.level == level).limit(3)).all()
             for level in ("province", "city", "county", "township", "village")}
    spread = [code for found in codes.values() for code in found]
    return codes, spread + ["439999999999", "000000000000", "43010200000x", "4301", "", "43 102000000"]


def _sql(user, code):
    from registry.extensions import db

    return db.session.scalar(scoped(select(Region).where(Region.code == code), Region, user))


def _python(user, code):
    try:
        return get_in_scope_or_404(Region, code, user)
    except NotFound:
        return None


def test_region_lookup_by_key_agrees_with_its_rule(app, db, make_user):
    assert Region in _checks
    from tests.factories import CITY, COUNTY, OTHER_COUNTY, make_org, make_pairing, make_village

    village, other = make_village(COUNTY).code, make_village(OTHER_COUNTY, n=2).code
    org = make_org()
    make_pairing(org, other)
    db.session.commit()
    codes, spread = _codes(db)
    spread += [COUNTY, OTHER_COUNTY, CITY, village, other]
    county = COUNTY
    users = [make_user("admin"), make_user("region", region_code=codes["province"][0]),
             make_user("region", region_code=codes["city"][0]), make_user("region", region_code=county),
             make_user("viewer", region_code=county), make_user("village", village_code=village)]
    users.append(make_user("unit", organization_id=org.id))
    checked = 0
    for user in users:
        for code in spread:
            assert _python(user, code) is _sql(user, code), (user.role, user.region_code, code)
            checked += 1
    assert checked >= len(users) * 10


@pytest.mark.parametrize("code", ["430000000000", "43010200000x", ""])
def test_an_anonymous_user_sees_no_region(app, code):
    from registry.accounts.models import AnonymousUser

    assert _python(AnonymousUser(), code) is None
