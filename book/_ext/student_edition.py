"""The student edition of the site: the same book with every solution taken out.

With ``hide_solutions: true`` sphinx-exercise (1.2.1) drops ``{solution}`` blocks, but of a gated
solution (``{solution-start}`` ... ``{solution-end}``, the form the chapters use because their
solutions hold code cells) it drops only the opening directive: the solution's text, code and
outputs stay on the page, and the HTML writer then fails on the left-over end marker. As a Sphinx
extension (``sphinx.local_extensions`` in ``_config.yml``) this module removes each gated solution
whole, from its start to its end directive, when ``hide_solutions`` is true; otherwise it does
nothing.

Run as a script, it writes the student edition's configuration: ``_config.yml`` with
``hide_solutions: true`` and the main build's jupyter-cache, so that ``make book-student`` renders
the notebooks ``make book`` executed instead of executing them again::

    python book/_ext/student_edition.py _config.yml > _build/student/_config.yml
"""

import sys
from pathlib import Path

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx.util import logging
from sphinx_exercise.directive import SolutionStartDirective
from sphinx_exercise.nodes import solution_end_node

logger = logging.getLogger(__name__)


class hidden_solution_start(nodes.Element):
    """Where a gated solution began; removed with everything up to its end directive."""


class SolutionStart(SolutionStartDirective):
    """sphinx-exercise's ``{solution-start}``, leaving a marker where it hides the solution."""

    def run(self):
        result = super().run()  # registers the directive for sphinx-exercise's structure check
        return [hidden_solution_start()] if self.config.hide_solutions else result


class RemoveHiddenSolutions(SphinxTransform):
    """Removes every hidden gated solution: its marker, the nodes after it and its end marker."""

    default_priority = 5  # after sphinx-exercise checks the gated structure (1), before it merges (10)

    def apply(self):
        for start in list(self.document.findall(hidden_solution_start)):
            siblings = start.parent.children
            first = siblings.index(start)
            last = next((i for i in range(first, len(siblings)) if isinstance(siblings[i], solution_end_node)), None)
            if last is None:
                logger.warning("a {solution-start} has no {solution-end} after it in the same section", location=start)
                start.parent.remove(start)
                continue
            del siblings[first:last + 1]


def setup(app):
    app.setup_extension("sphinx_exercise")
    app.add_directive("solution-start", SolutionStart, override=True)
    app.add_node(hidden_solution_start)
    app.add_transform(RemoveHiddenSolutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def student_config(path):
    """The configuration of the student edition, from the book's ``_config.yml`` at ``path``."""
    import yaml

    path = Path(path).resolve()
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["sphinx"]["config"]["hide_solutions"] = True
    # Paths become absolute: the generated file lives elsewhere, and the cache is the main build's.
    config["execute"]["cache"] = str(path.parent / "_build" / ".jupyter_cache")
    config["sphinx"]["local_extensions"] = {
        name: str(path.parent / folder) for name, folder in config["sphinx"]["local_extensions"].items()
    }
    return config


if __name__ == "__main__":
    import yaml

    yaml.safe_dump(student_config(sys.argv[1]), sys.stdout, sort_keys=False, allow_unicode=True)
