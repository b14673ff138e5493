"""Do the chapters' claims hold on other machines? Run every chapter under nbval in several numeric settings.

A number a chapter asserts can move with the machine: TensorFlow's oneDNN kernels, NumPy's SIMD
loops, OpenBLAS and numba pick code paths by the processor's instruction set, and a different
number of threads sums in a different order. One machine can compute what others would:

- ``default``: as this machine computes;
- ``avx2``: what a machine without AVX-512 computes (oneDNN, NumPy, OpenBLAS and numba held to AVX2);
- ``onednn-off``: TensorFlow without its oneDNN custom operations (Eigen kernels);
- ``threads-1``: one thread for TensorFlow, OpenMP and OpenBLAS (a machine with another core count).

``run`` executes the chapters with nbval once per setting (``make test-portability`` runs all four)
and records every value the asserts compare (``benchmarks/claims.py``) in ``<out>/<setting>.jsonl``;
``--seed-offset N`` shifts the seeds the chapters train with (``AAD_SEED_OFFSET``, see
``aadlib.seeds``) and records in ``<out>/<setting>+seeds<N>.jsonl``. ``report`` turns what
``<out>`` holds into ``benchmarks/portability.md``: one row per compared claim, its value in every
setting and over seeds, and its smallest margin; what that file holds below its ``KEPT`` line (sections
written by hand) is kept.

Usage:
    python benchmarks/portability.py run [--settings default avx2 ...] [--seed-offset N] [--jobs 2] [notebooks ...]
    python benchmarks/portability.py report [--write benchmarks/portability.md]
"""

import argparse
import ast
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "_build" / "portability"
REPORT = ROOT / "benchmarks" / "portability.md"
KEPT = "<!-- Written by hand from here on: `portability.py report` keeps it. -->"
"""The line of the report after which its sections are written by hand (runs of one chapter, claims added later)."""

SETTINGS = {
    "default": {},
    "avx2": {
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR",
        "OPENBLAS_CORETYPE": "Haswell",
        "NUMBA_CPU_NAME": "haswell",
    },
    "onednn-off": {"TF_ENABLE_ONEDNN_OPTS": "0"},
    "threads-1": {"TF_NUM_INTRAOP_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
}
"""Environment variables of each numeric setting (set on top of the caller's environment)."""

STARTUP = """import sys
sys.path.insert(0, {benchmarks!r})
import claims
claims.load_ipython_extension(get_ipython())
"""


def run_notebook(notebook, setting, seed_offset, out, ipython_dir):
    """nbval of one notebook in one setting; returns (notebook, passed, seconds, failed cells)."""
    label = setting if not seed_offset else f"{setting}+seeds{seed_offset}"
    env = {**os.environ, **SETTINGS[setting], "IPYTHONDIR": ipython_dir, "AAD_CLAIMS_FILE": str(out / f"{label}.jsonl"),
           "AAD_CLAIMS_NOTEBOOK": notebook.stem, "AAD_SEED_OFFSET": str(seed_offset), "TF_CPP_MIN_LOG_LEVEL": "2",
           "AAD_NOTEBOOK_BUDGET_S": "inf"}  # claims are checked here; the time budget is make test's
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", str(notebook), "--nbval-lax", "-p", "no:cacheprovider", "-q", "-rf"],
                            env=env, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    failed = [re.sub(r"\x1b\[[0-9;]*m", "", line.split("::")[-1]).split(" - ")[0]  # "Cell 6", without nbval's colours
              for line in result.stdout.splitlines() if line.startswith("FAILED")]
    if result.returncode and not failed:  # pytest itself failed (not a cell): show why instead of a bare FAILED
        print(f"{label}: pytest on {notebook.name} failed before any cell ran:\n{(result.stdout + result.stderr).strip()[-2000:]}",
              file=sys.stderr, flush=True)
    with open(out / f"{label}.runs.jsonl", "a") as f:
        f.write(json.dumps({"notebook": notebook.stem, "setting": setting, "seed_offset": seed_offset,
                            "passed": result.returncode == 0, "seconds": round(seconds, 1), "failed": failed}) + "\n")
    return notebook.stem, result.returncode == 0, seconds, failed


def run(notebooks, settings, seed_offset=0, out=OUT, jobs=1):
    """Run every notebook in every setting; print one line per run; True if every run passed."""
    out.mkdir(parents=True, exist_ok=True)
    ok = True
    with tempfile.TemporaryDirectory() as ipython_dir:
        startup = Path(ipython_dir) / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-claims.py").write_text(STARTUP.format(benchmarks=str(ROOT / "benchmarks")))
        for setting in settings:
            label = setting if not seed_offset else f"{setting}+seeds{seed_offset}"
            for stale in (out / f"{label}.jsonl", out / f"{label}.runs.jsonl"):  # drop the earlier records of these notebooks
                kept = [line for line in stale.read_text().splitlines() if json.loads(line)["notebook"] not in {nb.stem for nb in notebooks}] if stale.is_file() else []
                stale.write_text("".join(f"{line}\n" for line in kept))
            started = time.perf_counter()
            # Chapter 07 compares the rows chapters 05 and 06 record, so it runs after the others.
            first, last = [nb for nb in notebooks if not nb.stem.startswith("07")], [nb for nb in notebooks if nb.stem.startswith("07")]
            with ThreadPoolExecutor(jobs) as pool:
                runs = [*pool.map(lambda nb: run_notebook(nb, setting, seed_offset, out, ipython_dir), first),
                        *(run_notebook(nb, setting, seed_offset, out, ipython_dir) for nb in last)]
            for name, passed, seconds, failed in runs:
                ok &= passed
                print(f"{label:>20}  {name:<28} {'passed' if passed else 'FAILED ' + ', '.join(failed)}  {seconds:6.1f} s", flush=True)
            print(f"{label:>20}  all notebooks: {time.perf_counter() - started:.0f} s", flush=True)
    return ok


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------

def margin(ops, values):
    """How far a numeric comparison is from failing (negative: it failed); None if not numeric."""
    if len(values) < 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return None
    gaps = []
    for op, left, right in zip(ops, values, values[1:]):
        if op in ("<", "<="):
            gaps.append(right - left)
        elif op in (">", ">="):
            gaps.append(left - right)
        elif op == "==":
            gaps.append(0.0 - abs(left - right))  # 0.0, not -0.0, when equal
        else:
            return None
    return min(gaps)


def constant_positions(part):
    """Which operands of a comparison are literal numbers in its source (the thresholds)."""
    node = ast.parse(part, mode="eval").body
    if not isinstance(node, ast.Compare):
        return []
    operands = [node.left, *node.comparators]
    return [isinstance(n, ast.Constant) or (isinstance(n, ast.UnaryOp) and isinstance(n.operand, ast.Constant)) for n in operands]


def shown(record):
    """The measured side of a record, as text: the operands that are not thresholds."""
    if not record["ops"]:
        return "true" if record["held"] else "FALSE"
    constants = constant_positions(record["part"])
    measured = [v for v, c in zip(record["values"], constants) if not c] or record["values"]
    text = " vs ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in measured)
    return text if record["held"] else f"**{text} (fails)**"


def load(out):
    """{label: [records]} for every ``<label>.jsonl`` in out, each record numbered within its (cell, part)."""
    runs = {}
    for path in sorted(out.glob("*.jsonl")):
        if path.name.endswith(".runs.jsonl"):
            continue
        seen, records = {}, []
        for line in path.read_text().splitlines():
            record = json.loads(line)
            key = (record["notebook"], record["cell"], record["part"])
            record["occurrence"] = seen[key] = seen.get(key, -1) + 1
            records.append(record)
        runs[path.stem] = records
    return runs


def report(out=OUT):
    """The Markdown report of what ``out`` holds."""
    runs = load(out)
    settings = [s for s in SETTINGS if s in runs]
    seed_labels = sorted((label for label in runs if "+seeds" in label), key=lambda l: int(l.split("+seeds")[1]))
    claims = {}
    for label, records in runs.items():
        for r in records:
            claims.setdefault((r["notebook"], r["cell"], r["part"], r["occurrence"]), {})[label] = r
    offsets = sorted({int(label.split("+seeds")[1]) for label in seed_labels})
    lines = [
        "# Portability: every claim of every chapter, in four numeric settings and over seeds",
        "",
        "Written by `python benchmarks/portability.py report` from the runs of `make test-portability`",
        "(the four settings, with the chapters' own seeds) and of `python benchmarks/portability.py run",
        "--seed-offset N` (the chapters with every seed shifted by N; here N = "
        + (", ".join(map(str, offsets)) or "none yet") + ", in the settings",
        "named in the runs table). What each setting changes: that script's docstring, and",
        "`benchmarks/README.md` for what was learnt from it.",
        "",
        "One row per comparison an assert makes (a loop's repetitions are rows of their own, numbered).",
        "The setting columns give the measured side of the comparison (the threshold is in the claim);",
        "*all runs* gives its range over every run, settings and seeds together; *margin* is the",
        "smallest distance from failing over every run, in the claim's own units (an AUC of 1.00",
        "against a threshold of 0.96 has margin 0.04: one pair of 25 out of order). A claim over",
        "three seeds (a mean, a maximum) is one value per run.",
        "",
    ]
    lines += ["## Runs", "", "| setting | notebooks passed | failed cells (nbval numbering) | seconds, all notebooks |", "| --- | --- | --- | --- |"]
    for label in [*settings, *seed_labels]:
        path = out / f"{label}.runs.jsonl"
        if not path.is_file():
            continue
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        failed = "; ".join(f"{r['notebook']} {', '.join(r['failed'])}" for r in rows if not r["passed"]) or "none"
        lines.append(f"| {label} | {sum(r['passed'] for r in rows)} of {len(rows)} | {failed} | {sum(r['seconds'] for r in rows):.0f} |")
    times = {}
    for label in settings:
        path = out / f"{label}.runs.jsonl"
        for row in (json.loads(line) for line in path.read_text().splitlines()) if path.is_file() else []:
            times.setdefault(row["notebook"], []).append(row["seconds"])
    if times:
        lines += ["", "Seconds per notebook (nbval, including the kernel's start), median over the settings:", ""]
        lines += ["| notebook | median s | runs |", "| --- | --- | --- |"]
        lines += [f"| {name} | {statistics.median(values):.0f} | {len(values)} |" for name, values in sorted(times.items())]
    header = ["chapter", "cell", "claim", *settings, "all runs", "margin"]
    lines += ["", "## Claims", "", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for (notebook, cell, part, occurrence), by_label in sorted(claims.items()):
        cells = [shown(by_label[s]) if s in by_label else "" for s in settings]
        every = list(by_label.values())
        numeric = [r for r in every if margin(r["ops"], r["values"]) is not None]
        if numeric and len(numeric) == len(every):
            measured = [v for r in numeric for v, c in zip(r["values"], constant_positions(part)) if not c]
            seeds = f"{min(measured):.3g} to {max(measured):.3g} ({len(every)})" if measured else ""
        else:
            seeds = f"{sum(r['held'] for r in every)} of {len(every)} hold"
        margins = [m for r in by_label.values() if (m := margin(r["ops"], r["values"])) is not None]
        held_everywhere = all(r["held"] for r in by_label.values())
        worst = f"{min(margins):.3g}" if margins else ("holds" if held_everywhere else "**fails**")
        name = part.replace("|", "\\|") + (f" (#{occurrence + 1})" if occurrence or (notebook, cell, part, 1) in claims else "")
        lines.append(f"| {notebook[:2]} | {cell} | `{name}` | " + " | ".join(cells) + f" | {seeds} | {worst} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="run the notebooks under nbval in the settings, recording every assert's values")
    run_parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    run_parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    run_parser.add_argument("--seed-offset", type=int, default=0, help="shift the chapters' seeds by this much (AAD_SEED_OFFSET)")
    run_parser.add_argument("--jobs", type=int, default=1, help="notebooks run at once (their times then overlap)")
    run_parser.add_argument("--out", type=Path, default=OUT)
    report_parser = sub.add_parser("report", help="write the Markdown table of what --out holds")
    report_parser.add_argument("--out", type=Path, default=OUT)
    report_parser.add_argument("--write", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    if args.command == "run":
        notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
        return 0 if run([nb.resolve() for nb in notebooks], args.settings, args.seed_offset, args.out, args.jobs) else 1
    kept = args.write.read_text().partition(KEPT) if args.write.is_file() else ("", "", "")
    args.write.write_text(report(args.out) + ("\n" + KEPT + kept[2] if kept[1] else ""))
    print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
