"""``python -m vitviz`` runs the same entry point as the ``vitviz`` command."""

from vitviz.app import main

raise SystemExit(main())
