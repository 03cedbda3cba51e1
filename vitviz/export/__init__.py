"""Figures, animations, talk decks and batch runs without a window (matplotlib, no Qt).

Modules are imported by name; this package imports nothing, so importing one stays cheap.
"""
