"""Issue 13, point 1, in a real browser (headless Debian Chromium through Playwright): a page served
from another origin must not be able to enrol or delete through the local service, whose loopback
default has no API key; and a DNS-rebinding name resolving to 127.0.0.1 gets no answer from it.

The attacker page fetches a real face photo from its own origin and posts it to the service the way
a drive-by page would: ``fetch(..., {mode: "no-cors"})`` with multipart form data (a CORS-safelisted
request: no preflight), and a plain HTML form submission. Without the origin check both enrol.
"""

from __future__ import annotations

import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

httpx = pytest.importorskip("httpx")

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

ATTACK_PAGE = """<!doctype html><html><body>
<form id="f" method="post" enctype="multipart/form-data" action="{target}/v1/enroll">
<input name="name" value="form-attacker"></form>
<script>
window.attack = async () => {{
  const photo = await (await fetch("/face.jpg")).blob();
  const fd = new FormData();
  fd.append("name", "fetch-attacker");
  fd.append("images", photo, "face.jpg");
  const out = {{}};
  try {{ await fetch("{target}/v1/enroll", {{method: "POST", body: fd, mode: "no-cors"}}); out.enroll = "sent"; }}
  catch (e) {{ out.enroll = "blocked: " + e; }}
  try {{ await fetch("{target}/v1/identities/victim", {{method: "DELETE", mode: "no-cors"}}); out.del = "sent"; }}
  catch (e) {{ out.del = "blocked: " + e; }}
  try {{ const r = await fetch("{target}/v1/identities"); out.read = await r.text(); }}
  catch (e) {{ out.read = "blocked"; }}
  return out;
}};
</script></body></html>"""


@pytest.fixture
def attacker_site(tmp_path: Path, examples: Path) -> Iterator[Any]:
    """``attacker_site(target_url)`` -> the URL of a page on another port of 127.0.0.1."""
    root = tmp_path / "attacker"
    root.mkdir()
    shutil.copy(examples / "obama.jpg", root / "face.jpg")
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(target: str) -> str:
        (root / "index.html").write_text(ATTACK_PAGE.format(target=target))
        handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(root), **kw)  # noqa: E731
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}/index.html"

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def _playwright() -> Any:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (install Debian's chromium package: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    return sync_api.sync_playwright()


def _names(url: str) -> set[str]:
    return {i["name"] for i in httpx.get(url + "/v1/identities", timeout=30).json()["identities"]}


def test_another_origin_cannot_enrol_or_delete(live_server: Any, attacker_site: Any, examples: Path) -> None:
    server = live_server()
    files = [("images", ("o.jpg", (examples / "biden.jpg").read_bytes(), "image/jpeg"))]
    assert httpx.post(server.url + "/v1/enroll", data={"name": "victim"}, files=files, timeout=60).status_code == 201
    page_url = attacker_site(server.url)
    with _playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = b.new_page()
            page.set_default_timeout(60_000)
            page.goto(page_url)
            out = page.evaluate("window.attack()")
            # the cross-origin read is blocked by the browser's CORS (no CORS origin configured)
            assert out["read"] == "blocked", out
            assert _names(server.url) == {"victim"}, out  # the no-cors posts enrolled and deleted nothing
            # a plain form post navigates to the service, which refuses it
            with page.expect_navigation():
                page.evaluate("document.getElementById('f').submit()")
            assert '"cross_origin"' in page.content()
        finally:
            b.close()
    assert _names(server.url) == {"victim"}  # nothing enrolled, nothing deleted
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log


def test_a_rebinding_name_gets_no_answer(live_server: Any) -> None:
    server = live_server()
    port = server.url.rsplit(":", 1)[1]
    # what DNS rebinding achieves: a name of the attacker's resolving to 127.0.0.1
    args = [*CHROMIUM_ARGS, "--host-resolver-rules=MAP rebind.attacker.test 127.0.0.1"]
    with _playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            page = b.new_page()
            resp = page.goto(f"http://rebind.attacker.test:{port}/v1/identities")
            assert resp is not None and resp.status == 421
            assert "misdirected_request" in page.content()
            # the real name still works in the same browser
            resp = page.goto(f"http://127.0.0.1:{port}/v1/identities")
            assert resp is not None and resp.status == 200
        finally:
            b.close()
