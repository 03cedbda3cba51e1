"""Qt widgets and helpers shared by the panels (panels never import one another)."""
