"""The web page in a real browser: headless Debian Chromium driven by Playwright against a real
``faceprint serve`` process. Enroll a person, see them listed, identify a photo of them (result list
and boxes drawn on the canvas) and of someone else (unknown), delete them; with API keys required,
the page reports the error until the key is typed in. The page must run without console errors or
Content-Security-Policy violations and must load nothing from another origin.

Needs ``/usr/bin/chromium`` (Debian's ``chromium`` package; Playwright's own browser downloads are
never used) and the face_recognition example photos. A screenshot of the identification is saved
in the test's tmp dir and, when ``FACEPRINT_TEST_OUTPUT`` is set, in ``<repo>/test-output/``.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
#: headless as root, and no traffic to Google (background networking, component updates, sync)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_KEY = "browser-operator-key-0123456789abcdef0123"
REPO = Path(__file__).resolve().parents[3]
TIMEOUT_MS = 60_000  # identification on a busy 2-core machine


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (install Debian's chromium package: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class PageWatch:
    """A page with everything that went wrong on it recorded: console errors, uncaught exceptions,
    CSP violations, and requests to anywhere but the server."""

    def __init__(self, page: Any, origin: str) -> None:
        self.page = page
        self.origin = origin
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.foreign_requests: list[str] = []
        page.on("console", lambda m: self.console_errors.append(f"{m.text} [{m.location.get('url', '')}]")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        page.on("request", self._request)
        # securitypolicyviolation events, across reloads (the binding and the init script are
        # installed through the DevTools protocol: the page's CSP does not apply to them)
        self.csp_violations: list[str] = []
        page.expose_function("__faceprintCspViolation", lambda v: self.csp_violations.append(v))
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', "
            "(e) => window.__faceprintCspViolation(e.violatedDirective + ' ' + e.blockedURI));"
        )
        page.set_default_timeout(TIMEOUT_MS)

    def _request(self, request: Any) -> None:
        url = request.url
        if not (url.startswith(self.origin + "/") or url.startswith(("blob:", "data:"))):
            self.foreign_requests.append(url)

    def problems(self) -> dict[str, list[str]]:
        return {
            "console errors": self.console_errors,
            "page errors": self.page_errors,
            "CSP violations": self.csp_violations,
            "requests to other origins": self.foreign_requests,
        }


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[[str], PageWatch]]:
    contexts: list[Any] = []

    def open_(url: str) -> PageWatch:
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(ctx)
        watch = PageWatch(ctx.new_page(), url)
        watch.page.goto(url + "/")
        # ready, or (auth on: /readyz needs a key) asking for one
        watch.page.wait_for_function(
            "() => /^(ready|an API key is needed)/.test(document.getElementById('status').textContent)"
        )
        return watch

    yield open_
    for ctx in contexts:
        ctx.close()


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def save_screenshot(page: Any, tmp_path: Path, name: str) -> list[Path]:
    paths = [tmp_path / name]
    if os.environ.get("FACEPRINT_TEST_OUTPUT"):
        paths.append(REPO / "test-output" / name)
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(p), full_page=True)
        print(f"screenshot: {p}")
    return paths


def identities(page: Any) -> list[list[str]]:
    rows = page.locator("#identities tbody tr")
    return [[c.strip() for c in rows.nth(i).locator("td").all_inner_texts()[:2]] for i in range(rows.count())]


def enroll(page: Any, name: str, *photos: Path) -> None:
    page.fill("#enroll-name", name)
    page.set_input_files("#enroll-files", [str(p) for p in photos])
    page.click("#enroll-btn")
    page.locator(f'#identities tbody tr[data-name="{name}"]').wait_for()


def identify(page: Any, photo: Path) -> list[str]:
    """Identify ``photo``; returns the texts of the result list once it shows this photo's result."""
    page.evaluate("document.getElementById('identify-canvas').removeAttribute('data-faces')")
    page.set_input_files("#identify-file", str(photo))
    page.click("#identify-btn")
    page.wait_for_selector("#identify-canvas[data-faces]", state="attached")
    # each line's identification, without the face's analysis appended after " — " (checked on its own)
    return [t.split(" — ")[0].strip() for t in page.locator("#identify-result li").all_inner_texts()]


def canvas_state(page: Any) -> dict[str, Any]:
    """Size of the canvas, its data-faces, and how many pixels carry the 'known' box green."""
    return page.evaluate(
        """() => {
            const c = document.getElementById('identify-canvas');
            const px = c.width && c.height ? c.getContext('2d').getImageData(0, 0, c.width, c.height).data : [];
            let green = 0, red = 0;
            for (let i = 0; i < px.length; i += 4) {
                if (px[i] === 0x2e && px[i + 1] === 0xcc && px[i + 2] === 0x71) green++;
                if (px[i] === 0xe7 && px[i + 1] === 0x4c && px[i + 2] === 0x3c) red++;
            }
            return {width: c.width, height: c.height, faces: c.dataset.faces, green, red};
        }"""
    )


def test_page_enroll_identify_delete(
    live_server: Callable[..., Any], open_page: Callable[[str], PageWatch], examples: Path, tmp_path: Path
) -> None:
    server = live_server()
    watch = open_page(server.url)
    page = watch.page
    assert page.title() == "faceprint"
    assert identities(page) == []

    enroll(page, "Barack Obama", examples / "obama.jpg")
    assert identities(page) == [["Barack Obama", "1"]]
    assert "Barack Obama: 1 photo(s) enrolled" in page.inner_text("#enroll-result")
    page.wait_for_function("() => document.getElementById('status').textContent.includes('1 people, 1 faces')")

    # a second photo of him: named, boxed in green on the canvas
    results = identify(page, examples / "obama2.jpg")
    assert len(results) == 1 and results[0].startswith("Barack Obama (score "), results
    assert page.locator("#identify-result li.known").count() == 1
    # each face's analysis (/v1/analyze) on its line: expression, age, gender, liveness, quality
    analysis = page.inner_text("#identify-result li .analysis")
    assert "quality " in analysis and re.search(r"quality (0|1)\.\d\d", analysis), analysis
    if "age ~" in analysis:  # the human models are installed (scripts/npm_weights.sh)
        assert "male " in analysis and ("live " in analysis or "not live " in analysis), analysis
    canvas = canvas_state(page)
    assert canvas["faces"] == "1"
    assert canvas["width"] > 0 and canvas["height"] > 0
    assert canvas["width"] == min(900, 626) and abs(canvas["height"] - 1200) <= 1, canvas  # obama2.jpg is 626x1200
    assert canvas["green"] > 100 and canvas["red"] == 0, canvas
    shots = save_screenshot(page, tmp_path, "service_browser_identify.png")
    for shot in shots:
        w, h = png_size(shot)
        assert shot.stat().st_size > 20_000 and w >= 1000 and h >= 600, f"screenshot {shot}: {w}x{h}, {shot.stat().st_size} bytes"

    # someone else: unknown, boxed in red
    results = identify(page, examples / "biden.jpg")
    assert len(results) == 1 and results[0].startswith("unknown (best: Barack Obama "), results
    assert page.locator("#identify-result li.unknown").count() == 1
    canvas = canvas_state(page)
    assert canvas["faces"] == "1" and canvas["width"] == 900 and canvas["red"] > 100 and canvas["green"] == 0, canvas

    # delete: cancelling the confirm() keeps him, accepting removes him
    dialogs: list[str] = []

    def answer(accept: bool) -> Callable[[Any], None]:
        def handle(dialog: Any) -> None:
            dialogs.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        return handle

    button = page.locator('#identities button.delete-btn[data-name="Barack Obama"]')
    page.once("dialog", answer(False))
    button.click()
    page.wait_for_function("() => !document.querySelector('#identities button.delete-btn').disabled")
    assert identities(page) == [["Barack Obama", "1"]]
    page.once("dialog", answer(True))
    button.click()
    page.locator("#identities tbody tr").first.wait_for(state="detached")
    assert identities(page) == []
    assert dialogs == ["Delete Barack Obama and all their photos?"] * 2
    assert page.inner_text("#message") == "deleted Barack Obama (1 faces)"
    page.wait_for_function("() => document.getElementById('status').textContent.includes('0 people, 0 faces')")

    problems = watch.problems()
    assert not any(problems.values()), problems


def test_page_asks_for_the_api_key(
    live_server: Callable[..., Any], open_page: Callable[[str], PageWatch], examples: Path
) -> None:
    server = live_server("--auth", "on", env={"FACEPRINT_ADMIN_KEY": ADMIN_KEY})
    watch = open_page(server.url)
    page = watch.page
    message = page.locator("#message")
    message.wait_for(state="visible")
    assert message.inner_text().startswith("unauthorized: an API key is required"), message.inner_text()

    # enrolling without the key fails with the same error, and enrolls nobody
    page.fill("#enroll-name", "Barack Obama")
    page.set_input_files("#enroll-files", str(examples / "obama.jpg"))
    page.click("#enroll-btn")
    page.wait_for_function("() => !document.getElementById('enroll-btn').disabled")
    assert message.inner_text().startswith("unauthorized"), message.inner_text()

    # a wrong key: refused; the right one: the error goes and the page works
    page.fill("#api-key", "fpk_000000000000_" + "A" * 43)
    page.press("#api-key", "Tab")  # 'change' fires when the field is left
    page.wait_for_function("() => document.getElementById('message').textContent.includes('unknown or revoked')")
    page.fill("#api-key", ADMIN_KEY)
    page.press("#api-key", "Tab")
    message.wait_for(state="hidden")
    assert identities(page) == []  # the refused enrolment stored nothing
    assert page.inner_text("#enroll-result") == ""
    enroll(page, "Barack Obama", examples / "obama.jpg")
    assert identities(page) == [["Barack Obama", "1"]]
    results = identify(page, examples / "obama2.jpg")
    assert len(results) == 1 and results[0].startswith("Barack Obama (score "), results
    assert page.evaluate("sessionStorage.getItem('faceprint-key')") == ADMIN_KEY

    # a reload keeps the key for the session
    page.reload()
    page.locator('#identities tbody tr[data-name="Barack Obama"]').wait_for()
    assert message.is_hidden()

    # only the refused API calls logged errors (the browser logs every 401), nothing else went wrong
    problems = watch.problems()
    unexpected = [e for e in problems.pop("console errors") if not re.search(r"status of 401", e)]
    assert not unexpected and not any(problems.values()), (unexpected, problems)


def _side_by_side(photo: Path, out: Path, height: int = 240, copies: int = 2) -> Path:
    """``copies`` of ``photo`` next to each other at ``height`` px: faces close together, labels
    wider than the faces (where labels drawn at each box would run into each other)."""
    from PIL import Image

    img = Image.open(photo).convert("RGB")
    small = img.resize((round(img.width * height / img.height), height))
    canvas = Image.new("RGB", (small.width * copies, height), "white")
    for i in range(copies):
        canvas.paste(small, (i * small.width, 0))
    canvas.save(out)
    return out


def _overlapping(rects: list[list[float]]) -> list[tuple[int, int]]:
    def hit(a: list[float], b: list[float]) -> bool:
        return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]

    return [(i, j) for i in range(len(rects)) for j in range(i + 1, len(rects)) if hit(rects[i], rects[j])]


def test_page_hint_close_labels_and_failed_upload(
    live_server: Callable[..., Any], open_page: Callable[[str], PageWatch], examples: Path, tmp_path: Path
) -> None:
    """Issue 18, point 7: an empty gallery says what to do; labels of close faces do not overlap;
    a failed upload clears the previous result and shows the error."""
    import json

    server = live_server()
    watch = open_page(server.url)
    page = watch.page
    hint = page.locator("#empty-hint")
    hint.wait_for(state="visible")
    assert "Enroll a person" in hint.inner_text() and "enroll --folders" in hint.inner_text()
    results = identify(page, examples / "obama.jpg")  # identify before anyone is enrolled: says so
    assert results == ["unknown (nobody is enrolled yet: enroll people first)"], results

    enroll(page, "Barack Obama", examples / "obama.jpg")
    assert hint.is_hidden()

    # three faces side by side, labels wider than the faces: placed clear of each other, on the canvas
    close = _side_by_side(examples / "obama2.jpg", tmp_path / "close.jpg", height=240, copies=3)
    results = identify(page, close)
    assert len(results) == 3 and all(r.startswith("Barack Obama (score ") for r in results), results
    state = canvas_state(page)
    labels = json.loads(page.get_attribute("#identify-canvas", "data-labels") or "[]")
    assert len(labels) == 3 and labels[0][2] > state["width"] / 3, labels  # wider than a face's third
    assert _overlapping(labels) == [], labels
    inside = [0 <= x <= x + w <= state["width"] + 0.5 and 0 <= y <= y + h <= state["height"] + 0.5 for x, y, w, h in labels]
    assert all(inside), labels
    save_screenshot(page, tmp_path, "service_browser_close_faces.png")

    # a failed upload: the previous result goes, the error shows
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    page.set_input_files("#identify-file", str(broken))
    page.click("#identify-btn")
    message = page.locator("#message")
    message.wait_for(state="visible")
    page.wait_for_function("() => !document.getElementById('identify-btn').disabled")
    assert message.inner_text().startswith("invalid_image"), message.inner_text()
    assert page.locator("#identify-result li").count() == 0
    state = canvas_state(page)
    assert state["width"] == 0 and state["faces"] is None, state
    # and the next good photo clears the error
    results = identify(page, examples / "obama2.jpg")
    assert len(results) == 1 and message.is_hidden()

    problems = watch.problems()
    unexpected = [e for e in problems.pop("console errors") if not re.search(r"status of 400", e)]
    assert not unexpected and not any(problems.values()), (unexpected, problems)


def test_page_video_timeline_and_annotated_clip(
    live_server: Callable[..., Any], open_page: Callable[[str], PageWatch], examples: Path, shared_data: Path, tmp_path: Path
) -> None:
    """Issue 15: upload the real clip on the page; its timeline lists the tracks (Lin-Manuel Miranda
    named, the rest unknown), and the annotated clip plays in the page's <video> element."""
    clip = shared_data / "video" / "short_hamilton_clip.mp4"
    if not clip.exists():
        pytest.skip(f"{clip} is absent")
    server = live_server()
    watch = open_page(server.url)
    page = watch.page
    enroll(page, "Lin-Manuel Miranda", examples / "lin-manuel-miranda.png")
    page.set_input_files("#video-file", str(clip))
    page.click("#video-btn")
    page.wait_for_selector("#video-progress[data-status]", state="attached", timeout=180_000)
    assert page.get_attribute("#video-progress", "data-status") == "done"
    assert "275 frames" in page.inner_text("#video-progress")
    rows = page.locator("#video-timeline tbody tr")
    assert rows.count() >= 1
    who = [rows.nth(i).locator("td").nth(1).inner_text() for i in range(rows.count())]
    assert "Lin-Manuel Miranda" in who and set(who) <= {"Lin-Manuel Miranda", "unknown"}, who
    video = page.locator("#video-annotated")
    assert video.is_visible()
    page.wait_for_function("() => document.getElementById('video-annotated').readyState >= 1")  # metadata loaded
    duration = page.evaluate("document.getElementById('video-annotated').duration")
    assert duration > 5, duration  # the clip is about 11 s
    page.locator("#video-timeline tbody tr.known").first.click()  # seeks to the track's start
    save_screenshot(page, tmp_path, "service_browser_video.png")
    problems = watch.problems()
    assert not any(problems.values()), problems


def test_page_people_view_name_split_merge(
    live_server: Callable[..., Any],
    open_page: Callable[[str], PageWatch],
    make_library: Callable[[], Path],
    indexed_library: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    """Issue 16: the People view on a library indexed from the example photos: a thumbnail per
    cluster, naming one moves it to the people, its photo grid shows its photos; splitting a face
    off and merging it back."""
    import httpx

    server = live_server("--library", str(make_library()), "--library-root", str(indexed_library[1]))
    # the cluster of obama.jpg, from the API
    people = httpx.get(server.url + "/v1/library/people", timeout=30).json()["items"]
    obama = next(c for c in people if any(
        "obama.jpg" in p["paths"]
        for p in httpx.get(f"{server.url}/v1/library/clusters/{c['id']}/photos", timeout=30).json()["photos"]))
    watch = open_page(server.url)
    page = watch.page
    page.wait_for_selector("#people-section[data-loaded]")
    clusters = page.locator("#people-clusters li")
    assert clusters.count() == len(people) >= 3 and page.locator("#people-named li").count() == 0
    page.wait_for_function("() => document.querySelectorAll('#people-clusters img[data-loaded]').length"
                           " === document.querySelectorAll('#people-clusters li').length")
    card = page.locator(f'#people-clusters li[data-id="{obama["id"]}"]')
    assert card.locator(".caption").inner_text() == f"cluster {obama['id']} · {obama['faces']}"

    # open it: its faces and its photo grid
    card.locator("img").click()
    page.wait_for_selector(f'#person-detail[data-id="{obama["id"]}"]')
    photos = page.locator("#person-photos li")
    assert photos.count() == obama["photos"] >= 4
    page.wait_for_function(f"() => document.querySelectorAll('#person-photos img[data-loaded]').length === {obama['photos']}")
    shown = set(page.locator("#person-photos li span").all_inner_texts())
    assert {"obama.jpg", "obama2.jpg", "two_people.jpg", "sub/obama-240p.jpg"} <= shown, shown
    assert page.locator("#person-faces li").count() == obama["faces"]

    # name it: it moves to the people, the grid still shows its photos
    page.fill("#person-name", "Barack Obama")
    page.click("#name-btn")
    page.locator('#people-named li[data-name="Barack Obama"]').wait_for()
    assert page.locator(f'#people-clusters li[data-id="{obama["id"]}"]').count() == 0
    assert page.inner_text("#message") == f"named: Barack Obama ({obama['faces']} faces)"
    page.wait_for_function(f"() => document.querySelectorAll('#person-photos img[data-loaded]').length === {obama['photos']}")
    # the detail view is re-rendered after the name lands: wait for it rather than read it at once
    page.wait_for_function("() => document.querySelector('#person-title').innerText.startsWith('Barack Obama: ')")
    save_screenshot(page, tmp_path, "service_browser_people.png")

    # split the small photo's face off: a new cluster of one face
    before = clusters.count()
    page.locator('#person-faces li:has(img[title="sub/obama-240p.jpg"]) .split-pick').check()
    page.click("#split-btn")
    page.wait_for_function(f"() => document.querySelectorAll('#people-clusters li').length === {before + 1}")
    named = page.locator('#people-named li[data-name="Barack Obama"] .caption')
    assert named.inner_text() == f"Barack Obama · {obama['faces'] - 1}"
    new_id = max(int(x) for x in page.locator("#people-clusters li").evaluate_all("ls => ls.map(l => l.dataset.id)"))
    assert page.locator(f'#people-clusters li[data-id="{new_id}"] .caption').inner_text() == f"cluster {new_id} · 1"

    # merge it back: tick both, merge
    page.locator('#people-named li[data-name="Barack Obama"] .merge-pick').check()
    page.locator(f'#people-clusters li[data-id="{new_id}"] .merge-pick').check()
    page.click("#merge-btn")
    page.wait_for_function(f"() => document.querySelectorAll('#people-clusters li').length === {before}")
    assert named.inner_text() == f"Barack Obama · {obama['faces']}"
    assert page.inner_text("#message").startswith("merged into Barack Obama")

    # index the library root from the page: nothing new, the names stay
    assert page.locator("#index-row").is_visible()
    page.click("#index-btn")
    page.wait_for_selector('#index-progress[data-status="done"]')
    assert page.inner_text("#index-progress").startswith("done: 0 photos indexed, 8 unchanged, 0 bad"), \
        page.inner_text("#index-progress")
    page.locator('#people-named li[data-name="Barack Obama"]').wait_for()
    problems = watch.problems()
    assert not any(problems.values()), problems


def test_page_people_view_with_api_keys(
    live_server: Callable[..., Any], open_page: Callable[[str], PageWatch], make_library: Callable[[], Path]
) -> None:
    """With keys required, the People view stays hidden until the key is typed in; then its
    thumbnails load (fetched with the key: an <img src> could not send it)."""
    server = live_server("--auth", "on", "--library", str(make_library()), env={"FACEPRINT_ADMIN_KEY": ADMIN_KEY})
    watch = open_page(server.url)
    page = watch.page
    page.locator("#message").wait_for(state="visible")
    assert page.locator("#people-section").is_hidden()
    page.fill("#api-key", ADMIN_KEY)
    page.press("#api-key", "Tab")
    page.wait_for_selector("#people-section[data-loaded]")
    page.wait_for_function("() => document.querySelectorAll('#people-clusters li').length >= 3 && "
                           "document.querySelectorAll('#people-clusters img[data-loaded]').length"
                           " === document.querySelectorAll('#people-clusters li').length")
    assert page.locator("#index-row").is_hidden()  # no --library-root: nothing to index from the page
    problems = watch.problems()
    unexpected = [e for e in problems.pop("console errors") if not re.search(r"status of 401", e)]
    assert not unexpected and not any(problems.values()), (unexpected, problems)
