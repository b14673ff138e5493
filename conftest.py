"""Notebook timing for `make test`: nbval runs each cell as a test, so sum the cells per notebook.

Prints the time of every notebook at the end of the run and fails the run when one exceeds
the budget (90 s on the 2-core reference machine, 120 s for the real-data chapters; the one-time
numba compile is paid by the unit tests, which run first). ``AAD_NOTEBOOK_BUDGET_S`` sets another budget; the portability
runs (benchmarks/portability.py) set none, since they check claims, not time, and report the times.

The budgets are seconds on an otherwise idle machine. When other work shares the cores (another
job, or a host that runs other virtual machines on them: "steal" time), a notebook takes longer
for reasons that are not its own; CI failed twice so, with every chapter about twice as slow. So
the run also reads, from Linux's ``/proc``, how much CPU time the rest of the machine used while
each notebook ran: all busy CPU time (steal included) minus that of this test process and its
children (the notebook's kernel and its workers). A notebook is judged by its time minus that
CPU time spread over the cores, the time it would have had with the cores to itself; both times
are printed. On an idle machine the two are the same.
"""

import os
from collections import defaultdict
from pathlib import Path

import pytest

NOTEBOOK_BUDGET_S = float(os.environ.get("AAD_NOTEBOOK_BUDGET_S", 90))
# The real-data chapters train on hundreds of clips; their budget is 120 s (after the one-time feature extraction).
REAL_DATA_BUDGET_S = float(os.environ.get("AAD_NOTEBOOK_BUDGET_S", 120))
REAL_DATA_CHAPTERS = {"notebooks/08_real_flights.ipynb", "notebooks/09_auxiliary_classification.ipynb"}
_seconds = defaultdict(float)
_others_cpu_s = defaultdict(float)  # CPU seconds the rest of the machine used while the notebook ran
_started = {}
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def machine_busy_s():
    """CPU seconds all cores have spent busy since boot, time stolen by the host included (None off Linux)."""
    try:
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split("\n")[0].split()[1:9])
    except (OSError, ValueError):
        return None
    return (user + nice + system + irq + softirq + steal) / _CLOCK_TICKS


def own_cpu_s():
    """CPU seconds this process and its descendants have used, the finished ones included (None off Linux)."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # the process ended meanwhile
            stats[int(entry.name)] = int(fields[1]), sum(map(int, fields[11:15]))  # ppid; utime, stime, cutime, cstime
    if os.getpid() not in stats:
        return None
    tree, total = [os.getpid()], 0
    while tree:
        pid = tree.pop()
        total += stats[pid][1]
        tree += [child for child, (parent, _) in stats.items() if parent == pid]
    return total / _CLOCK_TICKS


def _snapshot():
    busy, own = machine_busy_s(), own_cpu_s()
    return None if busy is None or own is None else busy - own


def _notebook(nodeid):
    path = nodeid.split("::")[0]
    return path if path.endswith(".ipynb") else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Read the rest of the machine's CPU time before a notebook's first cell and after its last one."""
    path = _notebook(item.nodeid)
    if path and path not in _started:
        _started[path] = _snapshot()
    result = yield
    if path and (nextitem is None or _notebook(nextitem.nodeid) != path):
        end = _snapshot()
        if _started[path] is not None and end is not None:
            _others_cpu_s[path] = max(0.0, end - _started[path])
    return result


def pytest_runtest_logreport(report):
    path = _notebook(report.nodeid)
    if path:
        _seconds[path] += report.duration


def budget(path):
    """Seconds a notebook may take under nbval on the idle reference machine."""
    return REAL_DATA_BUDGET_S if path in REAL_DATA_CHAPTERS else NOTEBOOK_BUDGET_S


def own_seconds(path):
    """The notebook's time without the share of the cores that other work took meanwhile."""
    return max(0.0, _seconds[path] - _others_cpu_s[path] / CORES)


def pytest_terminal_summary(terminalreporter):
    if not _seconds:
        return
    terminalreporter.section("notebook times")
    for path, seconds in sorted(_seconds.items()):
        shared = _others_cpu_s[path] / seconds / CORES if seconds else 0.0
        busy = f"  (other work took {shared:.0%} of the {CORES} cores meanwhile: {own_seconds(path):.1f} s without it)" if shared > 0.05 else ""
        flag = "  OVER BUDGET" if own_seconds(path) > budget(path) else ""
        terminalreporter.write_line(f"{seconds:7.1f} s  {path}{busy}{flag}")
    terminalreporter.write_line(f"budget: {NOTEBOOK_BUDGET_S:.0f} s per notebook, {REAL_DATA_BUDGET_S:.0f} s for "
                                f"{', '.join(sorted(REAL_DATA_CHAPTERS))}, on cores not shared with other work")


def pytest_sessionfinish(session, exitstatus):
    if exitstatus == 0 and any(own_seconds(path) > budget(path) for path in _seconds):
        session.exitstatus = 1
