"""Training (业务培训): courses, attendance, and the pre-posting and yearly checks."""
