"""Dock panels. Each takes the AppState in its constructor and never imports a sibling."""
