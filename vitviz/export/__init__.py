"""Figures, animations, talk decks and batch runs (matplotlib, no Qt); imports nothing."""
