"""Bringing the catalog up to date: scan, encode, background passes, watching, the pipeline."""
