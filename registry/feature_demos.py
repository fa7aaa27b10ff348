"""Import the demo steps of each feature so that ``demo.generate`` sees them."""
from .demo import base  # noqa: F401
from .features import modules

DEMO_MODULES = modules("demo")
