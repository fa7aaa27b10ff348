"""Import every feature's models so that Alembic and the mappers see all tables."""
from .features import modules

MODEL_MODULES = modules("models")
