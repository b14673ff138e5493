"""Notebook timing for `make test`: nbval runs each cell as a test, so sum the cells per notebook.

Prints the time of every notebook at the end of the run and fails the run when one exceeds
the budget (90 s on the 2-core reference machine, 120 s for the real-data chapters; the one-time
numba compile is paid by the unit tests, which run first). ``AAD_NOTEBOOK_BUDGET_S`` sets another budget; the portability
runs (benchmarks/portability.py) set none, since they check claims, not time, and report the times.

The budgets are seconds on an otherwise idle machine. When other work shares the cores (another
job, or a host that runs other virtual machines on them: "steal" time), a notebook takes longer
for reasons that are not its own; CI failed twice so, with every chapter about twice as slow. So
the run also reads from Linux's ``/proc`` two measures of the time the notebook lost to other work:
the CPU time the rest of the machine used while it ran (all busy CPU time, steal included, minus
that of this test process and its children: the notebook's kernel and its workers), spread over
the cores; and the time the kernel's main thread, which runs the cells, spent ready to run but
waiting for a core (its scheduler statistics). The first over-counts when the notebook did not
need every core, the second under-counts while the kernel waits for its own worker threads; the
notebook is judged by its time minus the smaller of the two. Both times are printed. On an idle
machine the first is zero, and the judged time is the measured one.
"""

import os
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest

NOTEBOOK_BUDGET_S = float(os.environ.get("AAD_NOTEBOOK_BUDGET_S", 90))
# The real-data chapters train on hundreds of clips; their budget is 120 s (after the one-time feature extraction).
REAL_DATA_BUDGET_S = float(os.environ.get("AAD_NOTEBOOK_BUDGET_S", 120))
REAL_DATA_CHAPTERS = {"notebooks/08_real_flights.ipynb", "notebooks/09_auxiliary_classification.ipynb"}
_seconds = defaultdict(float)
_others_cpu_s = defaultdict(float)  # CPU seconds the rest of the machine used while the notebook ran
_kernel_wait_s = defaultdict(float)  # seconds the notebook's kernel waited for a core
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


def _processes():
    """{pid: (parent pid, CPU ticks used by the process and its finished children)} of every process."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # the process ended meanwhile
            stats[int(entry.name)] = int(fields[1]), sum(map(int, fields[11:15]))  # ppid; utime, stime, cutime, cstime
    return stats


def own_cpu_s():
    """CPU seconds this process and its descendants have used, the finished ones included (None off Linux)."""
    stats = _processes()
    if os.getpid() not in stats:
        return None
    tree, total = [os.getpid()], 0
    while tree:
        pid = tree.pop()
        total += stats[pid][1]
        tree += [child for child, (parent, _) in stats.items() if parent == pid]
    return total / _CLOCK_TICKS


def kernel_wait_s():
    """Seconds the main thread of this process's notebook kernel (a child running ipykernel) has spent
    ready to run but waiting for a core since it started (None if there is none, or off Linux)."""
    for pid, (parent, _) in _processes().items():
        try:
            if parent == os.getpid() and b"ipykernel" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            continue
    return None


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
        if report.when == "call":
            _kernel_wait_s[path] = max(_kernel_wait_s[path], kernel_wait_s() or 0.0)  # the kernel's counter only grows


def budget(path):
    """Seconds a notebook may take under nbval on the idle reference machine."""
    return REAL_DATA_BUDGET_S if path in REAL_DATA_CHAPTERS else NOTEBOOK_BUDGET_S


def lost_seconds(path):
    """The smaller of the two measures of the time other work took from the notebook (see the module's docstring)."""
    return min(_others_cpu_s[path] / CORES, _kernel_wait_s[path])


def own_seconds(path):
    """The notebook's time without what other work took from it."""
    return max(0.0, _seconds[path] - lost_seconds(path))


def pytest_terminal_summary(terminalreporter):
    if not _seconds:
        return
    terminalreporter.section("notebook times")
    for path, seconds in sorted(_seconds.items()):
        shared = _others_cpu_s[path] / seconds / CORES if seconds else 0.0
        busy = (f"  (other work took {shared:.0%} of the {CORES} cores meanwhile, and the kernel waited {_kernel_wait_s[path]:.1f} s for one: "
                f"{own_seconds(path):.1f} s without it)") if shared > 0.05 else ""
        flag = "  OVER BUDGET" if own_seconds(path) > budget(path) else ""
        terminalreporter.write_line(f"{seconds:7.1f} s  {path}{busy}{flag}")
    terminalreporter.write_line(f"budget: {NOTEBOOK_BUDGET_S:.0f} s per notebook, {REAL_DATA_BUDGET_S:.0f} s for "
                                f"{', '.join(sorted(REAL_DATA_CHAPTERS))}, on cores not shared with other work")


def pytest_sessionfinish(session, exitstatus):
    if exitstatus == 0 and any(own_seconds(path) > budget(path) for path in _seconds):
        session.exitstatus = 1


_before = []  # the caller's TMPDIR and tempfile.tempdir, put back when the run's folder is removed


def pytest_configure(config):
    """Every temporary file of the run (TensorFlow's generated code, a chapter's benchmark folder) goes into one folder,
    removed at the end: nbval stops each notebook's kernel without letting it clean up, so repeated runs filled /tmp.
    A pytest started inside the run (a test of a script) uses its caller's folder."""
    if "AAD_TEST_TMPDIR" not in os.environ:
        _before.append((os.environ.get("TMPDIR"), tempfile.tempdir))
        os.environ["AAD_TEST_TMPDIR"] = os.environ["TMPDIR"] = tempfile.tempdir = tempfile.mkdtemp(prefix="aad-tests-")


def pytest_unconfigure(config):
    if _before:  # this run made the folder: remove it, and let later temporary files go where they went before
        shutil.rmtree(os.environ.pop("AAD_TEST_TMPDIR"), ignore_errors=True)
        tmpdir, tempfile.tempdir = _before.pop()
        if tmpdir is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = tmpdir
