"""Home, health check and served assets."""
