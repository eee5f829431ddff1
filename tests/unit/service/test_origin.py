import pytest

from faceprint.service.origin import OriginPolicy, split_host


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("127.0.0.1:8000", ("127.0.0.1", 8000)),
        ("LocalHost", ("localhost", None)),
        ("[::1]:80", ("::1", 80)),
        ("example.com.", ("example.com", None)),
        ("", None),
        ("::1", None),
        ("[::1", None),
        ("a:b", None),
        ("a:99999", None),
        (":80", None),
    ],
)
def test_split_host(value: str, want: object) -> None:
    assert split_host(value) == want


def test_host_allow_list() -> None:
    p = OriginPolicy.build("0.0.0.0", ["Faces.Internal"], [])
    assert p.host_allowed("10.0.0.7:8000") and p.host_allowed("[::1]:1") and p.host_allowed("localhost:8000")
    assert p.host_allowed("faces.internal")
    assert not p.host_allowed("attacker.example") and not p.host_allowed(None) and not p.host_allowed("0.0.0.0.evil")
    assert OriginPolicy.build("faces.lan", [], []).host_allowed("faces.lan:8000")


def test_origin_rules() -> None:
    p = OriginPolicy.build("127.0.0.1", [], ["https://app.example/"])
    host = "127.0.0.1:8000"
    assert p.origin_allowed(None, host, None)  # curl, SDKs
    assert p.origin_allowed(None, host, "same-origin") and p.origin_allowed(None, host, "none")
    assert not p.origin_allowed(None, host, "cross-site") and not p.origin_allowed(None, host, "same-site")
    assert p.origin_allowed("http://127.0.0.1:8000", host, "same-origin")
    assert p.origin_allowed("http://localhost", "localhost:80", None)
    assert p.origin_allowed("https://app.example", host, "cross-site")
    for bad in ("null", "http://127.0.0.1:8001", "https://127.0.0.1:8000", "http://evil.example", "file://", "garbage"):
        assert not p.origin_allowed(bad, host, None), bad


def test_service_settings_take_a_preset_and_refuse_unknown_ones(tmp_path) -> None:
    from faceprint.service.settings import ServiceSettings

    assert ServiceSettings(preset="accurate").preset == "accurate"
    with pytest.raises(ValueError, match="unknown preset"):
        ServiceSettings(home=tmp_path, preset="nope")
