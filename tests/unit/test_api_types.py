"""The public API is typed statically (issue 17): a type checker sees real signatures through
``faceprint``, and ``import faceprint`` still does no work."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import faceprint

SRC = Path(__file__).resolve().parents[2] / "src"


def test_all_names_resolve_and_match_the_export_table() -> None:
    exported = set(faceprint._EXPORTS)  # type: ignore[attr-defined]
    assert set(faceprint.__all__) == exported | {"__version__"}
    for name in exported:
        assert getattr(faceprint, name) is not None
    for name in ("MultipleFaces", "UnknownIdentity", "StorageError", "IdentifiedFace", "EnrollResult", "verify", "identify"):
        assert name in faceprint.__all__


def test_import_faceprint_imports_no_submodule() -> None:
    code = "import sys, faceprint; print(sorted(m for m in sys.modules if m.startswith('faceprint')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONPATH": str(SRC)})
    assert out.stdout.strip() == "['faceprint', 'faceprint._lazy']"
    code = "import sys, faceprint; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONPATH": str(SRC)})
    assert out.stdout.strip() == "False"


def test_mypy_sees_the_real_signatures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mypy_api = pytest.importorskip("mypy.api")
    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        textwrap.dedent(
            """
            import faceprint

            faceprint.verify(1, 2, bogus=True)
            ok: bool = faceprint.verify("a.jpg", "b.jpg").is_match
            wrong: str = faceprint.verify("a.jpg", "b.jpg").score
            try:
                faceprint.enroll("ada", "ada.jpg")
            except (faceprint.MultipleFaces, faceprint.UnknownIdentity, faceprint.StorageError) as e:
                code: str = e.code
            names: list[str | None] = [f.identity for f in faceprint.identify("group.jpg")]
            """
        )
    )
    monkeypatch.setenv("MYPYPATH", str(SRC))
    out, err, status = mypy_api.run(
        [str(snippet), "--follow-imports=silent", "--ignore-missing-imports", "--no-error-summary",
         "--cache-dir", str(tmp_path / "cache"), "--config-file", "/dev/null"]
    )
    lines = [ln for ln in out.splitlines() if "error" in ln]
    assert status == 1, (out, err)
    assert any(":4:" in ln and "bogus" in ln for ln in lines), out  # the unknown keyword
    assert any(":6:" in ln and "float" in ln for ln in lines), out  # score is a float, not a str
    assert len(lines) == 2, out  # and nothing else: the good lines type-check
