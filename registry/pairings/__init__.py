"""Pairings 结对关系: an organization bound to a village or county."""
