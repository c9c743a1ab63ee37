"""The engine: no Qt and no printing, usable from the CLI, the GUI and tests."""
