"""Backup and restore: the database, the uploaded files and the audit checkpoint in one
archive with a signed manifest of checksums (``flask backup create|verify|restore``).

- ``archive``: the tar file, its manifest and signature, and checking it;
- ``databases``: a consistent snapshot of SQLite (online backup API) or PostgreSQL
  (``pg_dump``), and restoring it into an empty database;
- ``services``: the three commands' work, called by ``cli``.

See docs/backup.md.
"""
