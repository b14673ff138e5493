"""Time, peak memory and AUC of every `aad benchmark` method on a folder of drone flights.

Usage: python benchmarks/flights.py FOLDER [--method NAME ...] [--clip-s S] [--workdir DIR]

FOLDER is the UAV propeller layout (``aad fetch uav_propeller``; the course's tests use 62 of its
293 flights). First, per feature kind, the clip features of every flight are computed in a fresh
process with an empty cache (the one-time cost). Then each method runs in a fresh process on the
warm cache, as ``aad benchmark FOLDER --method NAME`` with one seed (5 s clips, split by flight):
it prints a Markdown table of the features' cost and one of each method's training and scoring
time, peak resident memory of the process and of its largest worker, and AUC / pAUC on all test
clips and on the 1-broken ones.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from aadlib.benchmark import METHODS

FEATURES = """
import json, resource, sys, time
from aadlib import recordings
folder, cache, kind, clip_s = sys.argv[1:]
table = recordings.scan_recordings(folder)
started = time.perf_counter()
clips, values = recordings.clip_features(folder, table, kind, float(clip_s), cache_dir=cache, progress=False)
seconds = time.perf_counter() - started
from joblib.externals.loky import get_reusable_executor
get_reusable_executor().shutdown(wait=True)  # the workers' peak memory is counted once they have exited
print(json.dumps({"seconds": seconds, "recordings": len(table), "clips": len(clips), "shape": list(values.shape[1:]),
                  "mb": values.nbytes / 2**20, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "workers_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""

METHOD = """
import json, resource, sys, time
from aadlib import recordings
folder, out, cache, method, clip_s = sys.argv[1:]
started = time.perf_counter()
table = recordings.run_recordings(folder, [method], seeds=1, out_dir=out, clip_s=float(clip_s), cache_dir=cache, progress=False)
seconds = time.perf_counter() - started
row = lambda machine: table[table.machine == machine].iloc[0]
if table.error.iloc[0]:
    print(json.dumps({"error": table.error.iloc[0]}))
    sys.exit()
print(json.dumps({"seconds": seconds, "fit_s": float(row("all").fit_s), "score_s": float(row("all").score_s),
                  "auc": float(row("all").auc), "pauc": float(row("all").pauc), "auc_1": float(row("1 broken").auc),
                  "n_train": int(row("all").n_train), "n_test": int(row("all").n_test),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "workers_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def fresh_process(code, *args):
    result = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"the run failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--method", action="append", default=None, help="a method of aad benchmark (default: every one)")
    parser.add_argument("--clip-s", type=float, default=5.0)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    methods = args.method or list(METHODS)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="aad-flights-"))
    cache = workdir / "cache"
    print("| feature kind | flights | clips | values per clip | MB | seconds (empty cache) | clips / s | peak MB (command) | peak MB (largest worker) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for kind in dict.fromkeys(METHODS[m][0] for m in methods):
        r = fresh_process(FEATURES, args.folder, cache, kind, args.clip_s)
        print(f"| {kind} | {r['recordings']} | {r['clips']} | {' x '.join(map(str, r['shape']))} | {r['mb']:.0f} | {r['seconds']:.0f} "
              f"| {r['clips'] / r['seconds']:.0f} | {r['peak_mb']:.0f} | {r['workers_peak_mb']:.0f} |", flush=True)
    print()
    print("| method | training clips | test clips | fit s | score s | whole command s (warm cache) | peak MB | AUC | pAUC | AUC, 1 broken |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for method in methods:
        r = fresh_process(METHOD, args.folder, workdir / "out", cache, method, args.clip_s)
        if "error" in r:
            print(f"| {method} | {r['error']} |||||||||", flush=True)
            continue
        print(f"| {method} | {r['n_train']} | {r['n_test']} | {r['fit_s']:.1f} | {r['score_s']:.1f} | {r['seconds']:.0f} "
              f"| {max(r['peak_mb'], r['workers_peak_mb']):.0f} | {r['auc']:.3f} | {r['pauc']:.3f} | {r['auc_1']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
