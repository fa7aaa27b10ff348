"""Inspections (督查, 湘办〔2023〕17号 §七): the yearly plan of who inspects whom, the visits, and
the findings, each a rectification task (待整改 → 整改中 → 已销号, ``core/rectification.py``)."""
