"""Answering queries: ranking, words, fusion, dates, names, feedback, duplicates."""
