"""The repository keeps its promises: pins agree, notebooks are committed clean and complete."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def pins(lines):
    found = {}
    for line in lines:
        line = line.split("#")[0].strip().lstrip("- ").strip()
        match = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", line)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def test_environment_yml_agrees_with_requirements_txt():
    requirements = pins((ROOT / "requirements.txt").read_text().splitlines())
    environment = pins((ROOT / "environment.yml").read_text().splitlines())
    assert requirements, "requirements.txt pins nothing"
    assert environment == requirements
    assert "- -e ." in (ROOT / "environment.yml").read_text()


def test_jupyter_book_is_pinned_to_the_sphinx_generation():
    assert pins((ROOT / "requirements.txt").read_text().splitlines())["jupyter-book"].startswith("1.")


def test_there_are_chapters():
    assert [nb.name[:3] for nb in NOTEBOOKS][:2] == ["00_", "01_"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None


def repository_url():
    return re.search(r"^repository:\n  url: (\S+)$", (ROOT / "_config.yml").read_text(), re.MULTILINE).group(1)


def test_the_repository_url_is_the_same_everywhere():
    url = repository_url()
    assert f'Repository = "{url}"' in (ROOT / "pyproject.toml").read_text()
    for path in NOTEBOOKS:
        colab_cell = "".join(json.loads(path.read_text())["cells"][0]["source"])
        assert f"aadlib @ git+{url}" in colab_cell, f"{path.name}'s Colab cell must install from {url}, the repository.url of _config.yml"


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


def test_every_notebook_is_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text()
    for path in NOTEBOOKS:
        assert f"notebooks/{path.stem}" in toc


def test_ci_runs_what_the_readme_promises():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^make [\w-]+", ci, flags=re.MULTILINE)
    assert commands == ["make test", "make book", "make site-test"]
    assert all(command in readme for command in commands)
    assert "apt-get install" in ci and "apt-get install chromium" in readme
