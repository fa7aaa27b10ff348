"""Regions 行政区划: province › city › county › township › village, keyed by 12-digit codes."""
