"""Checks of the installation itself (`glimpse self-test`): built on core, no Qt."""
