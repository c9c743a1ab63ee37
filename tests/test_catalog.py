"""Catalog queries over more ids than one SQLite statement may hold."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from glimpse.core.storage.catalog import Catalog


def test_id_queries_span_several_statements(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    folder = catalog.add_folder(str(tmp_path))
    key = catalog.model_key("test:model", 4)
    with catalog.transaction() as db:
        ids = [
            catalog.insert_photo(db, f"{tmp_path}/p{i}.jpg", folder, 1, 1, f"fp{i}")
            for i in range(1234)
        ]
        for i in ids:
            catalog.store_decoded(db, i, 10, 10, None)
            catalog.store_embedding(db, i, key, np.full(4, i % 7, dtype=np.float32))
    rows = catalog.photos_by_ids(ids)
    assert sorted(rows) == ids and rows[ids[-1]].path.endswith("p1233.jpg")
    got_ids, matrix = catalog.embeddings(key, ids)
    assert got_ids.tolist() == ids
    assert np.array_equal(matrix[:, 0], np.array([i % 7 for i in ids], dtype=np.float32))
    catalog.close()


def test_embeddings_upgrade_keeps_every_vector_and_gives_back_the_space(tmp_path: Path) -> None:
    """Schema 6 moves embeddings out of a WITHOUT ROWID table, where each vector
    took an overflow page of its own; every vector survives, the file shrinks."""
    import sqlite3

    from glimpse.core.storage import catalog as catalog_mod

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    before = catalog_mod._MIGRATIONS.index(
        next(m for m in catalog_mod._MIGRATIONS if "embeddings_rowid" in m)
    )
    for step in range(before):
        db.executescript(catalog_mod._MIGRATIONS[step])
    db.execute("INSERT INTO folders(id, path, added_at) VALUES (1, '/p', 0)")
    db.execute("INSERT INTO models VALUES (1, 'm', 512, 0), (2, 'n', 512, 0)")
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3000, 512)).astype(np.float32)
    for i in range(1, 3001):
        db.execute("INSERT INTO photos(id, path, folder_id, size, mtime_ns, fingerprint, status, "
                   "updated_at) VALUES (?, ?, 1, 1, 1, 'fp', 'ok', 0)", (i, f"/p/{i}.jpg"))
        db.execute("INSERT INTO embeddings VALUES (?, 1, ?)",
                   (i, catalog_mod.vector_to_blob(vectors[i - 1])))
    db.execute("INSERT INTO embeddings VALUES (5, 2, ?)", (catalog_mod.vector_to_blob(vectors[0]),))
    db.execute(f"PRAGMA user_version={before}")
    db.commit()
    db.close()
    size_before = path.stat().st_size

    cat = Catalog(path)
    try:
        assert cat.read("PRAGMA user_version")[0][0] == catalog_mod.SCHEMA_VERSION
        ids, matrix = cat.embeddings(1)
        assert ids.tolist() == list(range(1, 3001))
        assert np.array_equal(matrix, vectors.astype(np.float16).astype(np.float32))
        assert cat.embeddings(2)[0].tolist() == [5]
        chunks = list(cat.iter_label_vectors(1, chunk=700))
        assert np.concatenate([c[0] for c in chunks]).tolist() == list(range(1, 3001))
        assert cat.read("PRAGMA integrity_check")[0][0] == "ok"
    finally:
        cat.close()
    # 3001 vectors of 1 KB: about 3 MB, where each took a 4 KB page before.
    assert path.stat().st_size < size_before * 0.6, (size_before, path.stat().st_size)
