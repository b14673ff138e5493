"""The built site as a reader sees it: every chapter page rendered in headless Chromium.

Run by `make site-test` after `make book`. Needs Debian's chromium (`apt-get install chromium`);
without it the tests fail with a sentence saying so (they never skip: CI must not pass silently).
"""

import functools
import http.server
import re
import shutil
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
SCREENSHOT = ROOT / "_build" / "screenshot-chapter.png"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--hide-scrollbars"]


def chapters():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [entry["file"] for part in toc["parts"] for entry in part["chapters"] if entry["file"].startswith("notebooks/")]


@pytest.fixture(scope="module")
def site_url():
    if not (SITE / "index.html").is_file():
        pytest.fail(f"{SITE / 'index.html'} is missing; run `make book` first.")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(SITE))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("Chromium is not installed; install Debian's package with `apt-get install chromium`.")
    profile = tmp_path_factory.mktemp("chromium-profile")
    return lambda *args: subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=180)


class Page(HTMLParser):
    """Collects hrefs, image sources, element ids and class names of one HTML page."""

    def __init__(self, html):
        super().__init__()
        self.links, self.images, self.ids, self.classes, self.tags = [], [], set(), [], []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        self.classes.append(attrs.get("class") or "")


@pytest.mark.parametrize("chapter", chapters())
def test_chapter_page_shows_figures_exercises_and_audio(chapter, site_url, chromium):
    url = f"{site_url}/{chapter}.html"
    rendered = chromium("--dump-dom", url)
    assert rendered.returncode == 0, rendered.stderr[-500:]
    page = Page(rendered.stdout)
    figures = [src for src in page.images if "_images/" in src]
    assert figures, f"{chapter}: no figures"
    for src in figures:  # every figure is really served
        with urllib.request.urlopen(urllib.parse.urljoin(url, src)) as response:
            assert response.status == 200 and response.headers["Content-Type"] == "image/png"
    assert sum("exercise" in c.split() for c in page.classes) >= 2, f"{chapter}: fewer than two exercises"
    assert any({"solution", "dropdown"} <= set(c.split()) for c in page.classes), f"{chapter}: no solution dropdown"
    assert "audio" in page.tags, f"{chapter}: no audio player"
    assert not any("output" in c and "error" in c for c in page.classes), f"{chapter}: an error output is shown"
    assert "google.colab" not in rendered.stdout  # the Colab set-up cell is hidden


def test_no_page_has_broken_internal_links():
    pages = {path: Page(path.read_text(encoding="utf-8")) for path in SITE.rglob("*.html")}
    broken = []
    for path, page in pages.items():
        for href in page.links:
            parsed = urllib.parse.urlparse(href)
            if parsed.scheme or href.startswith(("mailto:", "//")):
                continue
            target = (path.parent / urllib.parse.unquote(parsed.path)).resolve() if parsed.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{path.relative_to(SITE)} -> {href}")
            elif parsed.fragment and target.suffix == ".html" and parsed.fragment not in pages[target].ids:
                broken.append(f"{path.relative_to(SITE)} -> {href} (no such anchor)")
    assert len(pages) > 5 and not broken, broken


def test_screenshot_of_a_chapter_page(site_url, chromium):
    SCREENSHOT.unlink(missing_ok=True)
    result = chromium(f"--screenshot={SCREENSHOT}", "--window-size=1280,2200", f"{site_url}/{chapters()[-1]}.html")
    assert result.returncode == 0 and SCREENSHOT.stat().st_size > 20_000, result.stderr[-500:]
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
