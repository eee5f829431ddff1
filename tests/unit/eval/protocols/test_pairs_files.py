import pytest

from faceprint.errors import InvalidInput
from faceprint.eval.protocols.pairs import read_pairs_file


def test_lfw_format(tmp_path):
    (tmp_path / "p.txt").write_text("1\nAda 1 2\nAda 1 Bob 3\n")
    ps, sel = read_pairs_file(tmp_path / "p.txt", tmp_path)
    assert sel == "center" and ps.n_folds == 1 and [p.same for p in ps.pairs] == [True, False]
    assert ps.pairs[1].b == tmp_path / "Bob" / "Bob_0003.jpg"


def test_csv_format_and_folds(tmp_path):
    rows = ["path_a,path_b,same"] + [f"a{i}.jpg,b{i}.jpg,{i % 2}" for i in range(12)]
    (tmp_path / "p.csv").write_text("\n".join(rows))
    ps, sel = read_pairs_file(tmp_path / "p.csv", n_folds=3)
    assert sel == "largest" and ps.n_folds == 3 and len(ps.pairs) == 12
    assert {p.fold for p in ps.pairs} == {0, 1, 2}
    assert ps.pairs[0].a == tmp_path / "a0.jpg"


def test_bad_files(tmp_path):
    with pytest.raises(InvalidInput, match="not found"):
        read_pairs_file(tmp_path / "missing.txt")
    (tmp_path / "bad.txt").write_text("10 300\nAda 1 2\n")
    with pytest.raises(InvalidInput, match="promises"):
        read_pairs_file(tmp_path / "bad.txt")
    (tmp_path / "bad.csv").write_text("a.jpg,b.jpg,maybe\nc.jpg,d.jpg,maybe\n")
    with pytest.raises(InvalidInput, match="same"):
        read_pairs_file(tmp_path / "bad.csv")
