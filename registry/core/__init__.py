"""Pieces shared by every feature: database session rules, scope, audit, formatting."""
