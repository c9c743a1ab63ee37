"""Catalog queries over more ids than one SQLite statement may hold."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from glimpse.core.catalog import Catalog


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
