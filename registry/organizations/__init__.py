"""Organizations 帮扶主体 of every kind."""
