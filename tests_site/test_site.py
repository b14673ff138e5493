"""The built site as a reader sees it: every chapter page rendered in headless Chromium.

Run by `make site-test` after `make book` and `make book-student` (the student edition, every
solution taken out). Needs Debian's chromium (`apt-get install chromium`); without it the tests
fail with a sentence saying so (they never skip: CI must not pass silently).
"""

import functools
import http.server
import json
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
STUDENT_SITE = ROOT / "_build" / "student" / "_build" / "html"
SCREENSHOT = ROOT / "_build" / "screenshot-chapter.png"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--hide-scrollbars"]


def chapters():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [entry["file"] for part in toc["parts"] for entry in part["chapters"] if entry["file"].startswith("notebooks/")]


def serve(site, command):
    if not (site / "index.html").is_file():
        pytest.fail(f"{site / 'index.html'} is missing; run `{command}` first.")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def site_url():
    yield from serve(SITE, "make book")


@pytest.fixture(scope="module")
def student_url():
    yield from serve(STUDENT_SITE, "make book-student")


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("Chromium is not installed; install Debian's package with `apt-get install chromium`.")
    profile = tmp_path_factory.mktemp("chromium-profile")
    return lambda *args: subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=180)


class Page(HTMLParser):
    """Collects hrefs, image sources, element ids, class names and the text of one HTML page."""

    def __init__(self, html):
        super().__init__()
        self.links, self.images, self.ids, self.classes, self.tags, self.texts = [], [], set(), [], [], []
        self.feed(html)
        self.text = " ".join("".join(self.texts).split())  # whitespace runs as single spaces

    def handle_data(self, data):
        if not self.tags or self.tags[-1] not in ("script", "style"):
            self.texts.append(data)

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


@pytest.mark.parametrize("site", [SITE, STUDENT_SITE], ids=["book", "student"])
def test_no_page_has_broken_internal_links(site):
    pages = {path: Page(path.read_text(encoding="utf-8")) for path in site.rglob("*.html")}
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
                broken.append(f"{path.relative_to(site)} -> {href}")
            elif parsed.fragment and target.suffix == ".html" and parsed.fragment not in pages[target].ids:
                broken.append(f"{path.relative_to(site)} -> {href} (no such anchor)")
    assert len(pages) > 5 and not broken, broken


def test_screenshot_of_a_chapter_page(site_url, chromium):
    SCREENSHOT.unlink(missing_ok=True)
    result = chromium(f"--screenshot={SCREENSHOT}", "--window-size=1280,2200", f"{site_url}/{chapters()[-1]}.html")
    assert result.returncode == 0 and SCREENSHOT.stat().st_size > 20_000, result.stderr[-500:]
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


DIRECTIVE = re.compile(r"^(`{3,}|:{3,})\{solution-(start|end)\}")  # as aadlib.student reads them
# Text a page shows other than its source says: smart quotes and dashes, inline markup, math.
NOT_VERBATIM = re.compile(r"[\"'`*_$\\{}\[\]<>|]|--|\.\.\.")
MARKUP = re.compile(r"^\s*([-+*]|\d+\.)\s+|\]\([^)]*\)")  # list markers, link targets


def solution_snippets(chapter):
    """Pieces of every solution of a chapter, as its page shows them: per solution, the longest
    line of each code cell and the longest plain stretch of each line of text (>= 20 characters)."""
    cells = json.loads((ROOT / f"{chapter}.ipynb").read_text(encoding="utf-8"))["cells"]
    snippets, inside, fence = [], False, None
    for cell in cells:
        lines = "".join(cell["source"]).split("\n")
        if cell["cell_type"] == "code":
            if inside:
                snippets.append(max((line.strip() for line in lines), key=len))
            continue
        for line in lines:
            match = DIRECTIVE.match(line.strip())
            if fence is None and match:
                fence, inside = match.group(1), match.group(2) == "start"
            elif fence is not None:  # the directive's options, up to its closing fence
                fence = None if line.strip() == fence else fence
            elif inside:
                parts = NOT_VERBATIM.split(MARKUP.sub("]", line))
                snippets += [part.strip() for part in parts if len(part.strip()) >= 20][:1]
    return [" ".join(snippet.split()) for snippet in snippets]


@pytest.mark.parametrize("chapter", chapters())
def test_student_page_keeps_the_exercises_and_shows_no_solution(chapter, site_url, student_url, chromium):
    rendered = {}
    for edition, url in (("book", site_url), ("student", student_url)):
        result = chromium("--dump-dom", f"{url}/{chapter}.html")
        assert result.returncode == 0, result.stderr[-500:]
        rendered[edition] = Page(result.stdout)
    book, student = rendered["book"], rendered["student"]
    exercises = [sum("exercise" in c.split() for c in page.classes) for page in (book, student)]
    assert exercises[0] >= 2 and exercises[0] == exercises[1], f"{chapter}: exercises on the book's page and the student's: {exercises}"
    snippets = solution_snippets(chapter)
    assert len(snippets) >= exercises[0] and all(snippet in book.text for snippet in snippets), \
        f"{chapter}: the solutions' text is not found on the book's page: {[s for s in snippets if s not in book.text]}"
    assert not any("solution" in c.split() for c in student.classes), f"{chapter}: the student's page has a solution block"
    # A snippet may also occur outside the solutions (a phrase, a line of code): fewer times will do.
    shown = [snippet for snippet in snippets if student.text.count(snippet) >= book.text.count(snippet)]
    assert not shown, f"{chapter}: the student's page shows solution text: {shown}"
    assert "### BEGIN" not in student.text and "HIDDEN TESTS" not in student.text
    figures = [src for src in student.images if "_images/" in src]
    assert figures, f"{chapter}: the student's page has no figures"
