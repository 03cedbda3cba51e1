"""Research code that builds vitviz's shipped resources; not part of the installed package."""
