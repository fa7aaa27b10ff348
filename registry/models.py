"""Import every model so that Alembic and the mappers see all tables."""
from .accounts.models import User  # noqa: F401
from .audit.models import AuditEvent  # noqa: F401
from .organizations.models import Organization  # noqa: F401
from .pairings.models import Pairing  # noqa: F401
from .people.models import Person, Posting  # noqa: F401
from .regions.models import Region  # noqa: F401
