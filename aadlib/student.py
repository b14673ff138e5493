"""Student copies of the chapters: exercises kept, solutions taken out.

Solutions are written in two ways in the chapters:

- solution *code* sits between the nbgrader markers ``### BEGIN SOLUTION`` and
  ``### END SOLUTION`` in a code cell; the student copy keeps the cell and
  replaces that region with a stub that raises ``NotImplementedError``;
- solution *text* sits between the ``{solution-start}`` and ``{solution-end}``
  directives of sphinx-exercise in markdown cells; the student copy drops it,
  directives included (a markdown cell left empty is dropped).

Each solution cell is followed by a *test cell* of asserts whose messages say
what is wrong without giving the answer. The student copy keeps its visible
checks and drops the ones between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS`` (a code cell left empty is dropped). The names a
solution must set are assigned ``None`` above its BEGIN SOLUTION line, so with
the stub a test cell fails with its own message, not with a NameError.

Everything else is unchanged, and every output is cleared. nbgrader users can
take the chapters as they are: the markers and the cell metadata
(``"nbgrader": {"solution": true}`` on solution cells, ``"grade": true`` on
test cells) are nbgrader's own.

Notebook: all chapters (their exercises).
"""

import re
from pathlib import Path

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
_DIRECTIVE = re.compile(r"^(`{3,}|:{3,})\{solution-(start|end)\}")


def _strip_region(source, begin, end, stub):
    """Replace every begin/end region of a code cell by the stub lines, keeping its indentation."""
    lines, out, inside = source.split("\n"), [], False
    for line in lines:
        stripped = line.strip()
        if stripped == begin:
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + stub_line for stub_line in stub)
        elif stripped == end:
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"'{begin}' without '{end}' in a code cell")
    return "\n".join(out)


def _strip_code(source):
    """The student's version of a code cell: solutions become the stub, hidden tests go."""
    source = _strip_region(source, BEGIN, END, STUB.split("\n"))
    return _strip_region(source, BEGIN_HIDDEN, END_HIDDEN, []).rstrip("\n")


def _strip_markdown(source, inside):
    """Drop solution text and the solution directives; returns (kept text, still inside a solution)."""
    kept, fence = [], None
    for line in source.split("\n"):
        match = _DIRECTIVE.match(line.strip())
        if fence is None and match:
            fence, inside = match.group(1), match.group(2) == "start"
            continue
        if fence is not None:  # the directive's option lines, up to its closing fence
            if line.strip() == fence:
                fence = None
            continue
        if not inside:
            kept.append(line)
    return "\n".join(kept).strip("\n"), inside


def student_notebook(nb):
    """A student copy of one notebook (an nbformat NotebookNode); the input is not changed.

    Args:
        nb (nbformat.NotebookNode): A chapter, version 4.

    Returns:
        nbformat.NotebookNode: The copy, without solutions and outputs.
    """
    import copy

    student = copy.deepcopy(nb)
    cells, inside = [], False
    for cell in student.cells:
        if cell.cell_type == "markdown":
            cell.source, inside = _strip_markdown(cell.source, inside)
            if not cell.source.strip():
                continue
        elif cell.cell_type == "code":
            cell.source = _strip_code(cell.source)
            cell.outputs, cell.execution_count = [], None
            if not cell.source.strip():
                continue
        cells.append(cell)
    student.cells = cells
    return student


def write_student_copies(notebook_dir, out_dir):
    """Write a student copy of every ``*.ipynb`` in ``notebook_dir`` to ``out_dir``.

    Args:
        notebook_dir (str | Path): Folder of the chapters.
        out_dir (str | Path): Folder for the copies (created; files of the same name are replaced).

    Returns:
        list[Path]: The files written.

    Raises:
        FileNotFoundError: ``notebook_dir`` has no notebooks.
    """
    import nbformat

    sources = sorted(Path(notebook_dir).glob("*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"{notebook_dir} holds no .ipynb files; point to the notebooks/ folder of the course.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sources:
        student = student_notebook(nbformat.read(path, as_version=4))
        nbformat.validate(student)
        nbformat.write(student, out_dir / path.name)
        written.append(out_dir / path.name)
    return written
