"""Where the library's data lives: the SQLite catalog, the vector index, files, the write lock."""
