"""PySide6 views, panels and the controller: the only package that imports Qt."""
