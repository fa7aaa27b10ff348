"""Every mapped model has a scope rule in ``registry/scopes.py``, or is named here as
seen by admins only, with the reason. A new table without a rule fails this test."""
from registry.core.scope import has_rule, scope_filter
from registry.extensions import db

# Models without a rule: no rule means only admins see any row (core/scope.py).
ADMIN_ONLY = {
    # accounts are managed on the admin pages only (/admin/users); a user reaches their own
    # account through the login, never through a scoped query
    "User": "accounts are listed and created by admins only",
    # a summary table read by the coverage pages only joined to postings that are scoped
    # themselves; never queried on its own for a user
    "PersonTrainingYear": "internal summary, read only through scoped postings",
    # counts of failed logins (accounts hashed, addresses), read only by the login itself
    "LoginThrottle": "internal counts of the login throttle, never shown or queried for a user",
    # the notification e-mails waiting or failed: the administrators' page 通知邮件发送情况 only
    "OutboundEmail": "the e-mail outbox, shown to administrators only",
    # the daily scan's marks of what it has told about; never shown
    "NotificationTrigger": "internal marks of the notification scan, never shown or queried for a user",
    # the coverage API's change counters per area: read only after the region was checked
    "AreaChange": "internal change markers of the coverage cache, never shown or queried for a user",
}


def _models():
    return sorted((m.class_ for m in db.Model.registry.mappers), key=lambda cls: cls.__name__)


def test_every_model_has_a_rule_or_is_admin_only(app):
    missing = [cls.__name__ for cls in _models() if not has_rule(cls) and cls.__name__ not in ADMIN_ONLY]
    assert missing == []


def test_the_admin_only_models_exist_and_have_no_rule(app):
    names = {cls.__name__: cls for cls in _models()}
    assert set(ADMIN_ONLY) <= set(names)
    assert [name for name in ADMIN_ONLY if has_rule(names[name])] == []
    assert all(reason.strip() for reason in ADMIN_ONLY.values())


def test_a_model_without_a_rule_is_seen_by_admins_only(app, make_user):
    from registry.accounts.models import User

    admin = make_user("admin")
    staff = make_user("region", region_code=_a_region())
    assert str(scope_filter(User, admin).compile()) == "true"
    assert str(scope_filter(User, staff).compile()) == "false"


def _a_region() -> str:
    from sqlalchemy import select

    from registry.regions.models import Region

    return db.session.scalar(select(Region.code).where(Region.level == "county").limit(1))
