"""Accounts: users, roles, login, lock-out, password change, API tokens."""
