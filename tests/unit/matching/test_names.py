import pytest

from faceprint.errors import InvalidInput
from faceprint.matching.names import MAX_NAME_LENGTH, validate_name


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("Ada Lovelace", "Ada Lovelace"),
        ("  Ada ", "Ada"),
        ("Jose\u0301", "José"),
        ("李小龍", "李小龍"),
        ("O'Brien-Smith", "O'Brien-Smith"),
    ],
)
def test_accepted_names_come_back_nfc_and_trimmed(name: str, want: str) -> None:
    assert validate_name(name) == want


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("a\x00b", "control character (U+0000)"),
        ('x\nINFO: "DELETE /v1/identities/obama" 200', "control character (U+000A)"),
        ("a\tb", "control"),
        ("evil\u202egnp.exe", "format"),
        ("zero\u200bwidth", "format"),
        ("lone\ud800", "surrogate"),
        ("a/b", "'/'"),
        ("line\u2028sep", "line separator"),
        ("priv\ue000", "private-use"),
        ("x" * (MAX_NAME_LENGTH + 1), "limited to 200"),
    ],
)
def test_refused_names_say_why(name: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=None) as e:
        validate_name(name)
    assert says in str(e.value)


def test_not_a_string() -> None:
    with pytest.raises(InvalidInput, match="must be a string"):
        validate_name(42)


def test_the_gallery_refuses_and_normalises(tmp_path) -> None:
    import numpy as np

    from faceprint.matching.gallery import Gallery
    from faceprint.types import Embedding

    g = Gallery(tmp_path / "g.sqlite")
    v = np.ones(128, dtype=np.float32) / np.sqrt(128)
    with pytest.raises(InvalidInput, match="control character"):
        g.enroll("bad\nname", [Embedding(v, model="m")])
    assert not list(g.list())
    g.enroll("Jose\u0301", [Embedding(v, model="m")])
    assert [i.name for i in g.list()] == ["José"]
