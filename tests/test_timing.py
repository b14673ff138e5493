"""The notebook timing of `make test` (the project's root conftest.py): what it counts as the notebook's own CPU."""

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("root_conftest", Path(__file__).resolve().parents[1] / "conftest.py")
timing = importlib.util.module_from_spec(spec)
spec.loader.exec_module(timing)
linux = pytest.mark.skipif(timing.machine_busy_s() is None, reason="reads Linux's /proc")

BURN = "import time\nend = time.process_time() + 1.0\nwhile time.process_time() < end: pass"


@linux
def test_a_finished_child_and_grandchild_count_as_the_test_process_own_cpu():
    before = timing.own_cpu_s()
    subprocess.run([sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {BURN!r}])"], check=True)
    assert 0.9 <= timing.own_cpu_s() - before < 3  # the grandchild's second, and two interpreters' start-up


@linux
def test_a_process_outside_the_tree_counts_as_other_work():
    outsider = subprocess.Popen([sys.executable, "-c", f"import os\nif os.fork(): os._exit(0)\n{BURN}"])  # orphaned at once
    outsider.wait()
    busy, own = timing.machine_busy_s(), timing.own_cpu_s()
    time.sleep(1.5)
    own_used = timing.own_cpu_s() - own
    assert own_used < 0.5 and (timing.machine_busy_s() - busy) - own_used >= 0.8


def test_a_notebook_is_judged_without_the_smaller_measure_of_what_other_work_took(monkeypatch):
    path = "notebooks/x.ipynb"
    monkeypatch.setitem(timing._seconds, path, 100.0)
    monkeypatch.setitem(timing._others_cpu_s, path, 60.0 * timing.CORES)  # other work used 60 s of every core
    monkeypatch.setitem(timing._kernel_wait_s, path, 70.0)
    assert timing.own_seconds(path) == pytest.approx(40.0)
    monkeypatch.setitem(timing._kernel_wait_s, path, 25.0)  # the kernel waited less: it did not need every core
    assert timing.own_seconds(path) == pytest.approx(75.0)
    monkeypatch.setitem(timing._others_cpu_s, path, 0.0)  # an idle machine: the measured time
    assert timing.own_seconds(path) == 100.0 > timing.budget(path)


@linux
def test_a_kernel_that_waits_for_a_core_is_seen():
    """A child named like a kernel, competing with two busy processes for the cores, waits for one."""
    kernel = subprocess.Popen([sys.executable, "-c", f"import sys; sys.argv = ['ipykernel_launcher']\n{BURN.replace('1.0', '3.0')}", "ipykernel"])
    busy = [subprocess.Popen([sys.executable, "-c", BURN.replace("1.0", "3.0")]) for _ in range(2 * timing.CORES)]
    time.sleep(2.0)
    waited = timing.kernel_wait_s()
    for process in (kernel, *busy):
        process.kill()
        process.wait()
    assert waited is not None and waited > 0.2
