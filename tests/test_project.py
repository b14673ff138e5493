"""The repository keeps its promises: pins agree, notebooks are committed clean and complete."""

import json
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def lock_entries():
    """{name: (version, marker or None, hashes)} of every package in the lock requirements.txt."""
    from packaging.requirements import Requirement

    entries = {}
    for block in re.split(r"\n(?=\S)", (ROOT / "requirements.txt").read_text()):
        first = block.split("\\")[0].strip()
        if not first or first.startswith("#"):
            continue
        requirement = Requirement(first)
        (version,) = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        entries.setdefault(requirement.name.lower(), []).append((version, requirement.marker, re.findall(r"--hash=sha256:(\w+)", block)))
    return entries


def direct_requirements():
    from packaging.requirements import Requirement

    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.in").read_text().splitlines()]
    return [Requirement(line) for line in lines if line]


def test_the_lock_pins_every_package_with_its_hashes():
    entries = lock_entries()
    assert len(entries) > 150  # the whole environment, not only the direct requirements
    for name, versions in entries.items():
        assert all(hashes for _, _, hashes in versions), f"{name} has no hash in requirements.txt"


def test_the_lock_was_made_from_the_direct_requirements():
    header = (ROOT / "requirements.txt").read_text().split("\n")[1]
    assert "uv pip compile --universal --generate-hashes" in header and "requirements.in -o requirements.txt" in header
    entries = lock_entries()
    for requirement in direct_requirements():
        (spec,) = requirement.specifier
        assert spec.operator == "==", f"{requirement.name} is a direct requirement: pin it exactly in requirements.in"
        assert spec.version in [version for version, _, _ in entries[requirement.name.lower()]], f"requirements.txt has another {requirement.name}; run make lock"
    assert "keras" in [requirement.name for requirement in direct_requirements()]


def test_jupyter_book_is_pinned_to_the_sphinx_generation():
    (version, _, _), = lock_entries()["jupyter-book"]
    assert version.startswith("1.")


def test_conda_and_binder_install_the_same_lock():
    environment = (ROOT / "environment.yml").read_text()
    pip_lines = re.findall(r"^      - (.+)$", environment, flags=re.MULTILINE)
    assert pip_lines == ["-r requirements.txt"]
    assert "pip install --no-deps --no-build-isolation -e ." in (ROOT / "postBuild").read_text()


def test_there_are_chapters():
    assert [nb.name[:3] for nb in NOTEBOOKS][:2] == ["00_", "01_"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None


def repository():
    """(url, ref) of _config.yml: where the Colab cells install aadlib from."""
    config = (ROOT / "_config.yml").read_text()
    return re.search(r"^repository:\n  url: (\S+)\n  branch: (\S+)$", config, re.MULTILINE).groups()


def setup_cell(path):
    return "".join(json.loads(path.read_text())["cells"][0]["source"])


def test_the_repository_url_and_ref_are_the_same_everywhere():
    url, ref = repository()
    assert f'Repository = "{url}"' in (ROOT / "pyproject.toml").read_text()
    for path in NOTEBOOKS:
        assert re.search(rf'"aadlib(\[deep\])? @ git\+{re.escape(url)}@{re.escape(ref)}"', setup_cell(path)), \
            f"{path.name}'s Colab cell must install from {url}@{ref}, the repository url and branch of _config.yml"


def run_setup_cell(path, returncode, monkeypatch):
    """Execute a chapter's Colab cell as on Colab, with pip answering ``returncode``; returns pip's command."""
    import subprocess
    import sys
    import types

    calls = []

    def pip(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, returncode, "", "ERROR: No matching distribution found")

    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(subprocess, "run", pip)
    exec(setup_cell(path), {})
    return calls


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_colab_cell_stops_with_one_sentence_when_pip_fails(path, monkeypatch, capsys):
    (command,) = run_setup_cell(path, 0, monkeypatch)
    assert command[1:4] == ["-m", "pip", "install"]
    with pytest.raises(RuntimeError, match=r"^pip could not install aadlib.*run this cell again\.$"):
        run_setup_cell(path, 1, monkeypatch)
    assert "No matching distribution" in capsys.readouterr().out  # pip's own messages, shown above the error


def imported_modules(source):
    """Top-level names of every module a piece of code imports, wherever the import sits."""
    import ast

    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom):  # inside aadlib: from .x import y
            names |= {f"aadlib.{node.module}" if node.module else f"aadlib.{alias.name}" for alias in node.names}
    return names


DEEP_ONLY = {"store": {"tensorflow", "aadlib.transfer"}}
"""Lazy imports of aadlib modules that only the deep-learning code reaches: the feature store, which
every detector imports, builds FeatureFiles' tf.data pipeline only for the autoencoders and GANs
(which import TensorFlow themselves) and loads a pretrained backbone only for an ``embedding:`` kind."""


def third_party_imports(source):
    """The distributions a piece of code needs, following aadlib's own modules (their imports, lazy ones
    too, but for the :data:`DEEP_ONLY` ones)."""
    import importlib.metadata
    import sys

    providers = importlib.metadata.packages_distributions()
    needed, seen, todo = set(), set(), set(imported_modules(source))
    while todo:
        name = todo.pop()
        top = name.split(".")[0]
        if top == "aadlib":
            module = ROOT / "aadlib" / f"{name.split('.')[1] if '.' in name else '__init__'}.py"
            if module.is_file() and module not in seen:
                seen.add(module)
                todo |= imported_modules(module.read_text()) - DEEP_ONLY.get(module.stem, set())
        elif top not in sys.stdlib_module_names:
            needed.add(top if top in ("tensorflow", "keras") else providers[top][0].lower())
    return needed


def installed_by(requirement):
    """Distributions ``pip install <requirement>`` brings: aadlib's requirements with the extras asked for, and theirs."""
    import importlib.metadata

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]  # not the installed metadata, which can be stale
    extras = set(Requirement(requirement).extras)
    brought = set()
    todo = [Requirement(r) for r in project["dependencies"]]
    todo += [Requirement(r) for extra in extras for r in project["optional-dependencies"][extra]]
    while todo:
        req = todo.pop()
        if req.marker and not any(req.marker.evaluate({"extra": e}) for e in extras | {""}):
            continue
        name = req.name.lower()
        if name in brought:
            continue
        brought.add(name)
        try:
            todo += [Requirement(r) for r in importlib.metadata.requires(name) or []]
        except importlib.metadata.PackageNotFoundError:  # tensorflow, where tensorflow-cpu stands in for it
            pass
    return brought


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_colab_cell_installs_what_its_chapter_imports(path):
    cells = json.loads(path.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells[1:] if c["cell_type"] == "code")
    requirement = re.search(r'"(aadlib[^"]*)"', setup_cell(path)).group(1).split(" @ ")[0]
    missing = third_party_imports(code) - installed_by(requirement) - {"ipython"}  # IPython: every Jupyter kernel has it
    assert not missing, f"{path.name} imports {sorted(missing)}, which `pip install {requirement}` does not bring"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_opens_with_the_hidden_colab_cell_and_learning_goals(path):
    cells = json.loads(path.read_text())["cells"]
    first, title = cells[0], cells[1]
    assert "remove-cell" in first["metadata"].get("tags", [])
    assert '"google.colab" in sys.modules' in "".join(first["source"])
    assert "In this chapter you will learn" in "".join(title["source"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_ends_with_at_least_two_exercises_with_solutions(path):
    text = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
    assert text.count("```{exercise}") >= 2
    assert text.count("```{solution-start}") == text.count("```{solution-end}") == text.count("```{exercise}")
    assert text.count("### BEGIN SOLUTION") == text.count("### END SOLUTION") >= 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_captioned_figure_is_cited_in_its_chapter(path):
    """A code cell's ``"mystnb": {"figure": {"caption", "name"}}`` metadata makes its plot a numbered figure on the
    site (MyST-NB); the chapter's text cites it with {numref}, and cites no figure it does not have."""
    cells = json.loads(path.read_text())["cells"]
    figures = [c["metadata"]["mystnb"]["figure"] for c in cells if "figure" in c["metadata"].get("mystnb", {})]
    names = [figure["name"] for figure in figures]
    assert all(figure.get("caption") for figure in figures), f"{path.name}: a figure without a caption"
    assert len(set(names)) == len(names) and all(name.startswith(f"fig-{path.name[:2]}-") for name in names), names
    text = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    cited = set(re.findall(r"\{numref\}`(?:[^`<]*<)?([\w-]+)>?`", text))
    assert cited == set(names), f"{path.name}: figures never cited {sorted(set(names) - cited)}, citations of no figure {sorted(cited - set(names))}"


def test_chapter_08_ranks_every_method_of_aad_benchmark():
    """Chapter 08's table of every method on the flights (measured off the page) has one row per ``aad benchmark``
    method: a method added to aadlib must be measured there too, and a method removed leaves no row behind."""
    from aadlib.methods import METHODS

    cells = json.loads((ROOT / "notebooks" / "08_real_flights.ipynb").read_text())["cells"]
    table = next("".join(c["source"]) for c in cells if "".join(c["source"]).startswith("### Every method of the course"))
    rows = re.findall(r"^\| `([\w:]+)` \|", table, flags=re.MULTILINE)
    assert len(rows) == len(set(rows)) and set(rows) == set(METHODS), (sorted(set(METHODS) - set(rows)), sorted(set(rows) - set(METHODS)))


def test_every_notebook_is_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text()
    for path in NOTEBOOKS:
        assert f"notebooks/{path.stem}" in toc


def test_ci_runs_what_the_readme_promises():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^make [\w-]+", ci, flags=re.MULTILINE)
    assert commands == ["make test", "make test-portability", "make clean", "make book", "make book-student", "make site-test"]
    assert all(command in readme for command in commands)
    assert "apt-get install" in ci and "apt-get install chromium" in readme


def platforms():
    """Platform name -> (wheel platform tags a Python there accepts, its environment markers)."""
    from packaging import tags

    def linux(arch):  # glibc 2.28 (Debian 10, Ubuntu 18.10 and later; TensorFlow needs 2.27), and the legacy names
        return [f"manylinux_2_{minor}_{arch}" for minor in range(28, 4, -1)] + [f"manylinux{year}_{arch}" for year in ("2014", "2010", "1")]

    posix = {"os_name": "posix"}
    return {
        "Linux x86_64": (linux("x86_64"), {**posix, "sys_platform": "linux", "platform_machine": "x86_64", "platform_system": "Linux"}),
        "Linux aarch64": (linux("aarch64"), {**posix, "sys_platform": "linux", "platform_machine": "aarch64", "platform_system": "Linux"}),
        "macOS arm64": (list(tags.mac_platforms((14, 0), "arm64")), {**posix, "sys_platform": "darwin", "platform_machine": "arm64", "platform_system": "Darwin"}),
        "Windows x86_64": (["win_amd64"], {"os_name": "nt", "sys_platform": "win32", "platform_machine": "AMD64", "platform_system": "Windows"}),
    }


PYTHONS = ("3.11", "3.12", "3.13")


def markers(platform, python):
    return {**platforms()[platform][1], "python_version": python, "python_full_version": f"{python}.9",
            "implementation_name": "cpython", "platform_python_implementation": "CPython"}


def lock_for(environment):
    """The lock's entries for one platform, as requirements without markers (pip would evaluate them for the machine it runs on)."""
    from packaging.requirements import Requirement

    kept = []
    for block in re.split(r"\n(?=\S)", (ROOT / "requirements.txt").read_text()):
        first = block.split("\\")[0].strip()
        if first and not first.startswith("#") and (Requirement(first).marker is None or Requirement(first).marker.evaluate(environment)):
            kept.append(re.sub(r"\s*;[^\\]*", " ", block, count=1).split("\n    #")[0])
    return "\n".join(kept) + "\n"


def index_listing(name):
    """(file name, sha256, Requires-Python) of every file PyPI's simple index lists for a project."""
    import html
    import urllib.request

    page = urllib.request.urlopen(f"https://pypi.org/simple/{name}/", timeout=60).read().decode()
    return [(file, digest, html.unescape(requires)) for file, digest, requires in
            re.findall(r'href="[^"#]*/([^/"#]+)#sha256=([0-9a-f]{64})"(?: data-requires-python="([^"]*)")?', page)]


def test_the_lock_installs_on_linux_macos_and_windows(tmp_path):
    """Every package of the lock has a wheel with a locked hash for each platform and Python the README names,
    by pip's own rules for tags and Requires-Python (the packaging library, which pip vendors). Needs the
    package index; no wheel is downloaded. One real `pip install --dry-run` for macOS checks the same way."""
    import subprocess
    import sys
    from concurrent.futures import ThreadPoolExecutor

    from packaging import tags
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet
    from packaging.utils import parse_wheel_filename

    macos = tmp_path / "macos.txt"
    macos.write_text(lock_for(markers("macOS arm64", "3.13")))
    pip = subprocess.Popen([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--no-deps", "--ignore-installed",
                            # pip 23 (a fresh venv's) allows --platform only with --target, and checks Requires-Python
                            # against the running Python, not --python-version: the check above covers Requires-Python.
                            "--target", str(tmp_path / "target"), "--ignore-requires-python",
                            "--only-binary=:all:", "--platform", "macosx_14_0_arm64", "--python-version", "3.13.9",
                            "--implementation", "cp", "--require-hashes", "-r", str(macos)], stderr=subprocess.PIPE, text=True)
    entries = lock_entries()
    with ThreadPoolExecutor(16) as pool:
        listings = dict(zip(entries, pool.map(index_listing, entries)))
    missing = []
    for platform, (platform_tags, _) in platforms().items():
        for python in PYTHONS:
            version = tuple(map(int, python.split(".")))
            accepted = {*tags.cpython_tags(version, platforms=platform_tags), *tags.compatible_tags(version, f"cp{version[0]}{version[1]}", platform_tags)}
            environment = markers(platform, python)
            for name, versions in entries.items():
                for pinned, marker, hashes in versions:
                    if marker is not None and not marker.evaluate(environment):
                        continue
                    if not any(file.endswith(".whl") and digest in hashes and accepted & parse_wheel_filename(file)[3]
                               and environment["python_full_version"] in SpecifierSet(requires or "") for file, digest, requires in listings[name]):
                        missing.append(f"{name}=={pinned} ({platform}, Python {python})")
    assert not missing, f"no wheel with a locked hash for: {missing}"
    assert pip.wait() == 0, pip.stderr.read()[-1000:]


def is_claim_check(source):
    """A code cell that only checks the chapter's claims: it ends with an assert and shows nothing."""
    import ast

    if "assert" not in source or "### BEGIN SOLUTION" in source:
        return False
    body = ast.parse(source).body
    shows = any(isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in {"print", "display", "show", "Audio"}
                for node in ast.walk(ast.Module(body=body, type_ignores=[])))
    return isinstance(body[-1], ast.Assert) and not shows


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_claim_checks_are_folded_away_on_the_page(path):
    """nbval runs them; the site shows them behind a toggle (`hide-input`), so the page reads as a story."""
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    unfolded = ["".join(c["source"])[:60] for c in cells if is_claim_check("".join(c["source"])) and "hide-input" not in c["metadata"].get("tags", [])]
    assert not unfolded, f"{path.name}: tag these claim checks 'hide-input': {unfolded}"
