from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from library_fakes import FakePipeline, write_photo

from faceprint.errors import InvalidInput
from faceprint.library import people_ops as ppl
from faceprint.library.indexer import index
from faceprint.library.store import LibraryStore

THR = 0.99


def run(root: Path, store: LibraryStore, pipeline: FakePipeline, **kw):
    return index([str(root)], store, pipeline, jobs=kw.pop("jobs", 2), threshold=THR, **kw)


def test_index_stores_every_face_and_clusters_by_person(tmp_path: Path, collection: Path, pipeline: FakePipeline) -> None:
    with LibraryStore(tmp_path / "lib.sqlite") as store:
        seen: list[str] = []
        totals: list[int] = []
        r = run(collection, store, pipeline, on_progress=lambda p, res: seen.append(p), on_total=totals.append)
        assert (r.files, r.indexed, r.unchanged, r.errors, r.faces) == (7, 7, 0, 0, 7)
        assert totals == [7] and len(seen) == 7
        clusters = ppl.list_clusters(store)
        assert sorted(c.faces for c in clusters) == [2, 2, 3]
        row = store.q("SELECT x1, score, scheme, model, dim, face_px, blur, length(thumb), cluster_id FROM faces LIMIT 1")[0]
        assert row[3] == "fake@1" and row[4] == 3 and row[5] == 20.0 and row[6] > 0 and row[7] > 100 and row[8]
        assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600


def test_unchanged_files_are_skipped_and_moved_files_recognised(tmp_path: Path, collection: Path,
                                                                 pipeline: FakePipeline) -> None:
    with LibraryStore(tmp_path / "lib.sqlite") as store:
        run(collection, store, pipeline)
        calls = pipeline.calls
        r = run(collection, store, pipeline)
        assert (r.indexed, r.unchanged, r.known) == (0, 7, 0) and pipeline.calls == calls
        ppl.name_cluster(store, ppl.list_clusters(store)[0].id, "Red")
        shutil.move(collection / "a", collection / "moved")
        shutil.copy(collection / "blue0.png", collection / "copy-of-blue0.png")
        r = run(collection, store, pipeline)
        assert (r.files, r.indexed, r.known, r.unchanged, r.removed) == (8, 0, 4, 4, 3)
        assert pipeline.calls == calls  # nothing decoded again
        assert store.count("photos") == 7 and store.count("faces") == 7
        red = ppl.find(store, "Red")
        assert len(red) == 3 and all("moved" in p.paths[0] for p in red)
        blue0 = [p for p in ppl.find(store, ppl.resolve_cluster(store, store.q(
            "SELECT cluster_id FROM faces f JOIN paths p ON p.photo_id = f.photo_id WHERE p.path LIKE '%blue0.png'")[0][0]))
            if len(p.paths) == 2]
        assert len(blue0) == 1


def test_a_changed_file_is_indexed_again(tmp_path: Path, collection: Path, pipeline: FakePipeline) -> None:
    with LibraryStore(tmp_path / "lib.sqlite") as store:
        run(collection, store, pipeline)
        write_photo(collection / "blue0.png", "red", 99)
        r = run(collection, store, pipeline)
        assert (r.indexed, r.unchanged) == (1, 6)
        assert store.count("photos") == 7 and store.count("faces") == 7  # the old content is gone
        assert sorted(c.faces for c in ppl.list_clusters(store)) == [1, 2, 4]


def test_bad_files_are_counted_and_never_stop_the_run(tmp_path: Path, collection: Path, pipeline: FakePipeline,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (collection / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (collection / "notes.png").write_text("a text file named like a photo")
    (collection / "empty.gif").write_bytes(b"")
    write_photo(collection / "huge.png", "red", 5)
    monkeypatch.setenv("FACEPRINT_MAX_PIXELS", "1000")  # huge.png (and every 40x40 photo) is now too large
    with LibraryStore(tmp_path / "lib.sqlite") as store:
        r = run(collection, store, pipeline)
        assert (r.files, r.indexed, r.errors) == (11, 0, 11)
        codes = {Path(e.path).name: e.code for e in r.error_list}
        assert codes["huge.png"] == "image_too_large" and codes["corrupt.jpg"] == "invalid_image"
        assert codes["empty.gif"] == "invalid_image"
        monkeypatch.delenv("FACEPRINT_MAX_PIXELS")
        r = run(collection, store, pipeline)  # bad files are not retried until they change
        assert (r.unchanged, r.errors) == (11, 0)
        os.utime(collection / "huge.png", ns=(1, 1))
        r = run(collection, store, pipeline)
        assert (r.indexed, r.unchanged) == (1, 10)


def test_a_library_keeps_its_pipeline(tmp_path: Path, collection: Path, pipeline: FakePipeline) -> None:
    with LibraryStore(tmp_path / "lib.sqlite") as store:
        run(collection, store, pipeline)
        other = FakePipeline()
        other.model_tag = "other@1"
        with pytest.raises(InvalidInput, match="was indexed with"):
            run(collection, store, other)
        with pytest.raises(InvalidInput):
            index([], store, pipeline)
