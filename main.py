"""Run vitviz from a source checkout: ``python main.py [IMAGE] [--model SOURCE]``."""

from vitviz.app import main

if __name__ == "__main__":
    raise SystemExit(main())
