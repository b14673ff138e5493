"""Peak memory and time of the whole `aad benchmark` command on generated folders of growing size.

Usage: python benchmarks/run_memory.py [MACHINES ...] [--clips-per-machine N] [--method NAME ...] [--max-memory MB] [--workdir DIR]

Generates a DCASE 2020 folder with MACHINES valve ids (default: 2 and 10) of N clips of 10 s at
16 kHz each (default 1000: 800 training, 100 normal and 100 anomalous test clips), so that the
default folders hold 2,000 and 10,000 clips. Then runs `aad benchmark` on each folder in a fresh
process, twice (empty feature cache, then warm), and prints a Markdown table: clips, seconds, and
peak resident memory (MB) of the command's process and of its largest worker. The methods
default to lof; `--max-memory 0` makes the autoencoders train from disk through tf.data.

The folder grows, the machines do not: if memory stays flat from 2,000 to 10,000 clips, it is
bounded by one machine, not by the folder.
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from aadlib.benchmark import MAX_MEMORY_MB

SR = 16000

RUN = """
import json, resource, sys, time
from aadlib import benchmark
folder, out, cache, max_memory_mb, *methods = sys.argv[1:]
started = time.perf_counter()
table = benchmark.run(folder, methods, out_dir=out, cache_dir=cache, progress=False, max_memory_mb=float(max_memory_mb))
seconds = time.perf_counter() - started
from joblib.externals.loky import get_reusable_executor
get_reusable_executor().shutdown(wait=True)  # the workers' peak memory is counted once they have exited
print(json.dumps({"seconds": seconds, "rows": len(table), "errors": int((table.error != "").sum()), "auc": float(table[table.machine_type == "mean"].auc.min()),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "workers_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def generate(folder, machines, per_machine):
    """Noise with a click every 0.5 s; an anomalous clip's clicks are twice as loud."""
    rng = np.random.default_rng(0)
    for m in range(machines):
        for i in range(per_machine):
            n_train, n_normal = int(0.8 * per_machine), int(0.9 * per_machine)
            kind = "train/normal" if i < n_train else ("test/normal" if i < n_normal else "test/anomaly")
            signal = 0.02 * rng.standard_normal(10 * SR)
            for start in rng.integers(0, SR // 2) + np.arange(19) * SR // 2:
                signal[start : start + 80] += (0.6 if kind == "test/anomaly" else 0.3) * rng.standard_normal(80)
            path = Path(folder) / "valve" / f"{kind}_id_{2 * m:02d}_{i:08d}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(path, signal.astype(np.float32), SR, subtype="PCM_16")


def measure(folder, workdir, methods, max_memory_mb):
    args = [folder, workdir / "out", workdir / "cache", max_memory_mb, *methods]
    result = subprocess.run([sys.executable, "-c", RUN, *map(str, args)], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("machines", nargs="*", type=int, default=[2, 10])
    parser.add_argument("--clips-per-machine", type=int, default=1000)
    parser.add_argument("--method", action="append", default=None)
    parser.add_argument("--max-memory", type=float, default=MAX_MEMORY_MB, metavar="MB")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    methods = args.method or ["lof"]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="aad-memory-"))
    print("| clips | cache | seconds | clips / s | peak MB (command) | peak MB (largest worker) | mean AUC |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for machines in args.machines:
        run_dir = workdir / f"{machines}-machines"
        folder = run_dir / "data"
        if not folder.exists():
            started = time.perf_counter()
            generate(folder, machines, args.clips_per_machine)
            print(f"generated {machines * args.clips_per_machine} clips in {time.perf_counter() - started:.0f} s: {folder}", file=sys.stderr)
        shutil.rmtree(run_dir / "cache", ignore_errors=True)
        clips = machines * args.clips_per_machine
        for cache in ("empty", "warm"):
            r = measure(folder, run_dir, methods, args.max_memory)
            assert r["errors"] == 0, r
            print(f"| {clips} | {cache} | {r['seconds']:.0f} | {clips / r['seconds']:.0f} | {r['peak_mb']:.0f} | {r['workers_peak_mb']:.0f} | {r['auc']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
