"""Coverage and gaps: the provincial view, its charts, downloads and JSON API."""
