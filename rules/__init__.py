"""Pure business rules over plain data, and the validated rule files they read (defaults in rules/defaults/)."""
