from __future__ import annotations

import json
from pathlib import Path

import pytest
from library_fakes import FakePipeline, write_photo

from faceprint.cli.main import main
from faceprint.errors import InvalidInput, UnknownIdentity
from faceprint.library import people_ops as ppl
from faceprint.library.indexer import index
from faceprint.library.store import LibraryStore


@pytest.fixture
def store(tmp_path: Path, collection: Path, pipeline: FakePipeline):
    with LibraryStore(tmp_path / "lib.sqlite") as s:
        index([str(collection)], s, pipeline, threshold=0.99)
        yield s


def cluster_of(store: LibraryStore, colour: str) -> int:
    return int(store.q("SELECT f.cluster_id FROM faces f JOIN paths p ON p.photo_id = f.photo_id "
                       "WHERE p.path LIKE ?", (f"%{colour}0.png",))[0][0])


def test_people_lists_clusters_with_counts_and_a_cover(store: LibraryStore) -> None:
    cs = ppl.list_clusters(store)
    assert [c.faces for c in cs] == [3, 2, 2] and all(c.name is None and c.cover_face for c in cs)
    assert ppl.list_clusters(store, min_faces=3)[0].id == cluster_of(store, "red")
    assert ppl.list_clusters(store, named_only=True) == []
    assert ppl.face_thumbnail(store, cs[0].cover_face)[:2] == b"\xff\xd8"  # a JPEG


def test_naming_pins_the_faces_and_find_lists_every_photo(store: LibraryStore, collection: Path,
                                                          pipeline: FakePipeline) -> None:
    red = cluster_of(store, "red")
    assert ppl.name_cluster(store, red, "  Ada   Lovelace ") == red
    assert ppl.list_clusters(store)[0].name == "Ada Lovelace"  # named people come first
    photos = ppl.find(store, "Ada Lovelace")
    assert sorted(Path(p.paths[0]).name for p in photos) == ["red0.png", "red1.png", "red2.png"]
    assert store.q("SELECT MIN(pinned) FROM faces WHERE cluster_id = ?", (red,))[0][0] == 1
    write_photo(collection / "new" / "red9.png", "red", 9)  # a new photo of her joins her
    index([str(collection)], store, pipeline, threshold=0.99)
    assert len(ppl.find(store, "Ada Lovelace")) == 4
    assert ppl.find(store, red) == ppl.find(store, "Ada Lovelace")
    with pytest.raises(UnknownIdentity):
        ppl.find(store, "Nobody")
    with pytest.raises(UnknownIdentity):
        ppl.find(store, 9999)
    for bad in ("", "   ", "123", "x" * 201, "a\u202eb", "a/b"):
        with pytest.raises(InvalidInput):
            ppl.name_cluster(store, red, bad)


def test_a_name_already_taken_merges(store: LibraryStore) -> None:
    green, blue = cluster_of(store, "green"), cluster_of(store, "blue")
    ppl.name_cluster(store, green, "Bob")
    assert ppl.name_cluster(store, blue, "Bob") == green
    assert [(c.name, c.faces) for c in ppl.list_clusters(store, named_only=True)] == [("Bob", 4)]


def test_merge_and_its_refusals(store: LibraryStore) -> None:
    red, green, blue = (cluster_of(store, c) for c in ("red", "green", "blue"))
    ppl.name_cluster(store, blue, "Carol")
    assert ppl.merge(store, red, [blue]) == red
    assert ppl.list_clusters(store)[0].name == "Carol" and ppl.list_clusters(store)[0].faces == 5
    ppl.name_cluster(store, green, "Dan")
    with pytest.raises(InvalidInput, match="different people"):
        ppl.merge(store, "Carol", ["Dan"])
    with pytest.raises(InvalidInput):
        ppl.merge(store, red, [red])


def test_split_moves_faces_and_clustering_keeps_them_apart(store: LibraryStore, collection: Path,
                                                           pipeline: FakePipeline) -> None:
    red = cluster_of(store, "red")
    faces = ppl.faces_of(store, red)
    new = ppl.split(store, [faces[0].id], name="Eve")
    assert new != red and [f.id for f in ppl.faces_of(store, "Eve")] == [faces[0].id]
    assert len(ppl.faces_of(store, red)) == 2
    index([str(collection)], store, pipeline, threshold=0.99)  # a full clustering step runs at the end
    assert len(ppl.faces_of(store, "Eve")) == 1 and len(ppl.faces_of(store, red)) == 2
    with pytest.raises(InvalidInput, match="one cluster"):
        ppl.split(store, [faces[1].id, ppl.faces_of(store, cluster_of(store, "blue"))[0].id])
    with pytest.raises(InvalidInput, match="no face"):
        ppl.split(store, [123456])
    with pytest.raises(InvalidInput):
        ppl.split(store, [])


def test_cli_people_name_merge_split_find(store: LibraryStore, capsys: pytest.CaptureFixture[str]) -> None:
    lib = ["--library", str(store.path)]
    red, green, blue = (cluster_of(store, c) for c in ("red", "green", "blue"))
    assert main(["people", *lib, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [c["faces"] for c in listed] == [3, 2, 2]
    assert main(["name", str(red), "Ada", *lib]) == 0
    assert f"cluster {red} is Ada" in capsys.readouterr().out
    assert main(["find", "Ada", *lib]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 3
    assert main(["merge", str(green), str(blue), *lib]) == 0
    capsys.readouterr()
    assert main(["find", str(green), "--faces", "--json", *lib]) == 0
    ids = [f["id"] for f in json.loads(capsys.readouterr().out)]
    assert len(ids) == 4
    assert main(["split", str(ids[0]), str(ids[1]), "--name", "Gus", *lib]) == 0
    capsys.readouterr()
    assert main(["people", "--named", *lib]) == 0
    out = capsys.readouterr().out
    assert "Ada" in out and "Gus" in out
    assert main(["find", "Nobody", *lib]) == 2
    assert main(["people", "--library", str(store.path.parent / "missing.sqlite")]) == 3
