"""Append-only audit trail, chained by hashes so that tampering is detectable."""
