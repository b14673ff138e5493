import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from aadlib.__main__ import main
from aadlib.student import BEGIN, BEGIN_HIDDEN, END, END_HIDDEN, student_notebook, write_student_copies

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def chapter_like():
    return new_notebook(cells=[
        new_code_cell("x = 1", outputs=[nbformat.v4.new_output("stream", text="noise")], execution_count=3),
        new_markdown_cell("## Exercises\n\n```{exercise}\n:label: ex-a\n\nDo A.\n```\n\n```{solution-start} ex-a\n:class: dropdown\n```"),
        new_code_cell(f"setup = 2\n{BEGIN}\nanswer = 42\nprint(answer)\n{END}\nafter = 3"),
        new_markdown_cell("The answer is 42 because of reasons.\n\n```{solution-end}\n```\n\n```{exercise}\n:label: ex-b\n\nDo B.\n```\n\n```{solution-start} ex-b\n:class: dropdown\n```"),
        new_code_cell(f"def f():\n    {BEGIN}\n    return 'secret'\n    {END}"),
        new_markdown_cell("Secret explanation.\n\n```{solution-end}\n```"),
    ])


def test_solution_code_becomes_a_stub_and_the_rest_stays():
    student = student_notebook(chapter_like())
    code = [c.source for c in student.cells if c.cell_type == "code"]
    assert code[0] == "x = 1"
    assert code[1] == "setup = 2\n# YOUR CODE HERE\nraise NotImplementedError()\nafter = 3"
    assert code[2] == "def f():\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    assert all(not c.get("outputs") and c.execution_count is None for c in student.cells if c.cell_type == "code")


def test_solution_text_and_directives_are_removed_and_exercises_kept():
    student = student_notebook(chapter_like())
    text = "\n".join(c.source for c in student.cells)
    for leaked in ("42", "because of reasons", "Secret explanation", "secret", "solution-start", "solution-end", ":class: dropdown"):
        assert leaked not in text
    assert "Do A." in text and "Do B." in text and text.count("```{exercise}") == 2
    assert [c.cell_type for c in student.cells] == ["code", "markdown", "code", "markdown", "code"]  # the empty cell is gone


def test_the_original_is_not_changed_and_the_copy_is_valid():
    nb = chapter_like()
    before = nbformat.writes(nb)
    nbformat.validate(student_notebook(nb))
    assert nbformat.writes(nb) == before


def test_hidden_tests_are_removed_and_visible_ones_kept():
    nb = new_notebook(cells=[
        new_code_cell(f"answer = None\n{BEGIN}\nanswer = 42\n{END}"),
        new_code_cell(f"assert answer is not None, 'set answer'\n{BEGIN_HIDDEN}\nassert answer == 42\n{END_HIDDEN}"),
        new_code_cell(f"{BEGIN_HIDDEN}\nassert 6 * 7 == 42\n{END_HIDDEN}"),
        new_code_cell("print('after')"),
    ])
    student = student_notebook(nb)
    assert [c.source for c in student.cells] == [
        "answer = None\n# YOUR CODE HERE\nraise NotImplementedError()", "assert answer is not None, 'set answer'", "print('after')"]


def test_unclosed_hidden_tests_marker_is_refused():
    with pytest.raises(ValueError, match="without"):
        student_notebook(new_notebook(cells=[new_code_cell(f"{BEGIN_HIDDEN}\nassert True")]))


def test_unclosed_solution_marker_is_refused():
    with pytest.raises(ValueError, match="without"):
        student_notebook(new_notebook(cells=[new_code_cell(f"{BEGIN}\nx = 1")]))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_no_solution_leaks_from_a_chapter(path, tmp_path):
    original = nbformat.read(path, as_version=4)
    write_student_copies(path.parent, tmp_path)
    student = nbformat.read(tmp_path / path.name, as_version=4)
    nbformat.validate(student)
    student_text = "\n".join(c.source for c in student.cells)
    solution_lines = []
    for cell in original.cells:
        if cell.cell_type == "code" and BEGIN in cell.source:
            region = cell.source.split(BEGIN, 1)[1].split(END, 1)[0]
            solution_lines += [line.strip() for line in region.split("\n") if len(line.strip()) > 12]
    markdown = "\n".join(c.source for c in original.cells if c.cell_type == "markdown")
    for block in re.findall(r"\{solution-start\}.*?\n```\n(.*?)```\{solution-end\}", markdown, flags=re.S):
        solution_lines += [line.strip() for line in block.split("\n") if len(line.strip()) > 30]
    for cell in original.cells:
        if cell.cell_type == "code" and BEGIN_HIDDEN in cell.source:
            region = cell.source.split(BEGIN_HIDDEN, 1)[1].split(END_HIDDEN, 1)[0]
            solution_lines += [line.strip() for line in region.split("\n") if len(line.strip()) > 12]
    full_text = "\n".join(c.source for c in original.cells)
    outside = re.sub(rf"{BEGIN}.*?{END}", "", full_text, flags=re.S)
    outside = re.sub(r"```\{solution-start\}.*?```\{solution-end\}", "", outside, flags=re.S)
    outside = re.sub(rf"{BEGIN_HIDDEN}.*?{END_HIDDEN}", "", outside, flags=re.S)
    unique = [line for line in solution_lines if line not in outside]  # a line like plt.show() is no secret
    assert unique, "the chapter should have solutions to hide"
    assert not [line for line in unique if line in student_text]
    assert student_text.count("raise NotImplementedError()") == sum(c.source.count(BEGIN) for c in original.cells)
    assert student_text.count("```{exercise}") == markdown.count("```{exercise}")
    assert student.cells[0].metadata.get("tags") == ["remove-cell"]  # everything else unchanged


def is_test_cell(cell):
    return cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade", False)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_solution_is_followed_by_its_test_cell(path):
    """nbgrader's layout: a solution cell, then a locked test cell of asserts with messages for the student."""
    import ast

    cells = nbformat.read(path, as_version=4).cells
    grade_ids = [c.metadata["nbgrader"]["grade_id"] for c in cells if "nbgrader" in c.metadata]
    assert len(grade_ids) == len(set(grade_ids)), "grade_ids must be unique in a notebook"
    solutions = [i for i, c in enumerate(cells) if c.cell_type == "code" and BEGIN in c.source]
    assert solutions
    for i in solutions:
        solution, test = cells[i].metadata.get("nbgrader", {}), cells[i + 1]
        assert solution.get("solution") is True and solution.get("grade") is False, cells[i].source[:80]
        assert is_test_cell(test) and test.metadata["nbgrader"]["grade_id"] == solution["grade_id"] + "-test", cells[i].source[:80]
        assert test.metadata["nbgrader"]["locked"] and "hide-input" in test.metadata.get("tags", [])
        visible = student_notebook(new_notebook(cells=[test])).cells
        asserts = [node for node in ast.walk(ast.parse(visible[0].source))] if visible else []
        asserts = [node for node in asserts if isinstance(node, ast.Assert)]
        assert asserts and all(node.msg is not None for node in asserts), f"every visible check needs a message for the student: {test.source[:80]}"
    markdown = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    assert re.search(r"^:label: ex-\d\d-paper$", markdown, flags=re.M), "each chapter has a question answered on paper (label ex-NN-paper)"


def test_every_non_exercise_cell_of_every_student_copy_runs(tmp_path):
    """Execute the copies: only the stubs and the exercises' test cells may fail; a stub with
    NotImplementedError, a test cell with its own message (or the stub's NotImplementedError).

    The copies run side by side, one per core (up to 4), each kernel with one thread for TensorFlow and
    OpenBLAS: the chapters' small networks train about as fast on one thread, so this takes about half
    the time of one copy after another. It also runs every chapter in the `threads-1` setting of
    benchmarks/portability.py, whose asserts hold there too. The comparison chapter reads the rows the
    chapters that call `benchmark.record` write, so it starts once they have run, ahead of the others
    still waiting (so that no core idles while it runs alone at the end)."""
    import os
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    from nbclient import NotebookClient

    one_thread = {**os.environ, "TF_NUM_INTRAOP_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

    def executed(path):
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=600, allow_errors=True, resources={"metadata": {"path": str(tmp_path)}}).execute(env=one_thread)
        return path, nb

    copies_written = write_student_copies(ROOT / "notebooks", tmp_path)
    comparison = next(p for p in copies_written if p.name == "07_comparison.ipynb")
    chapters = [p for p in copies_written if p != comparison]
    recorders = [p for p in chapters if "benchmark.record(" in p.read_text()]
    waiting = recorders + [p for p in reversed(chapters) if p not in recorders]  # the longer, later chapters first
    workers, running, copies, comparison_queued = min(4, os.cpu_count() or 1), set(), [], False
    with ThreadPoolExecutor(workers) as pool:
        while waiting or running:
            while waiting and len(running) < workers:
                running.add(pool.submit(executed, waiting.pop(0)))
            done, running = wait(running, return_when=FIRST_COMPLETED)
            copies += [future.result() for future in done]
            if not comparison_queued and set(recorders) <= {path for path, _ in copies}:
                waiting.insert(0, comparison)
                comparison_queued = True
    assert {path for path, _ in copies} == {*chapters, comparison}
    for path, nb in copies:
        for cell in (c for c in nb.cells if c.cell_type == "code"):
            errors = [o for o in cell.outputs if o.output_type == "error"]
            if "raise NotImplementedError()" in cell.source:
                assert [e.ename for e in errors] == ["NotImplementedError"], (path.name, cell.source[:80])
            elif is_test_cell(cell):
                assert len(errors) == 1 and (errors[0].ename == "NotImplementedError" or errors[0].ename == "AssertionError" and errors[0].evalue), \
                    ("a test cell must fail with the stub, with its own message", path.name, cell.source[:80], errors and errors[0].ename)
            else:
                assert not errors, (path.name, cell.source[:80], errors and errors[0].evalue)


def test_command_line(tmp_path, capsys):
    assert main(["student", str(ROOT / "notebooks"), str(tmp_path / "copies")]) == 0
    written = capsys.readouterr().err.strip().split("\n")  # status lines, on stderr
    assert len(written) == len(CHAPTERS) and all(line.startswith("wrote ") for line in written)
    assert main(["student", str(tmp_path / "empty"), str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.startswith("error: ")
