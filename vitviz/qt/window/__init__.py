"""The main window's pieces, one idea each, composed by :mod:`vitviz.qt.main_window`."""
