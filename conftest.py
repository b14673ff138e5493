"""Notebook timing for `make test`: nbval runs each cell as a test, so sum the cells per notebook.

Prints the time of every notebook at the end of the run and fails the run when one exceeds
the budget (90 s on the 2-core reference machine, 120 s for the real-data chapters; the one-time
numba compile is paid by the unit tests, which run first). ``AAD_NOTEBOOK_BUDGET_S`` sets another budget; the portability
runs (benchmarks/portability.py) set none, since they check claims, not time, and report the times.
"""

import os
from collections import defaultdict

NOTEBOOK_BUDGET_S = float(os.environ.get("AAD_NOTEBOOK_BUDGET_S", 90))
# The real-data chapters train on hundreds of clips; their budget is 120 s (after the one-time feature extraction).
REAL_DATA_BUDGET_S = float(os.environ.get("AAD_NOTEBOOK_BUDGET_S", 120))
REAL_DATA_CHAPTERS = {"notebooks/08_real_flights.ipynb", "notebooks/09_auxiliary_classification.ipynb"}
_seconds = defaultdict(float)


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _seconds:
        return
    terminalreporter.section("notebook times")
    for path, seconds in sorted(_seconds.items()):
        flag = "  OVER BUDGET" if seconds > budget(path) else ""
        terminalreporter.write_line(f"{seconds:7.1f} s  {path}{flag}")
    terminalreporter.write_line(f"budget: {NOTEBOOK_BUDGET_S:.0f} s per notebook, {REAL_DATA_BUDGET_S:.0f} s for {', '.join(sorted(REAL_DATA_CHAPTERS))}")


def budget(path):
    """Seconds a notebook may take under nbval."""
    return REAL_DATA_BUDGET_S if path in REAL_DATA_CHAPTERS else NOTEBOOK_BUDGET_S


def pytest_sessionfinish(session, exitstatus):
    if exitstatus == 0 and any(seconds > budget(path) for path, seconds in _seconds.items()):
        session.exitstatus = 1
