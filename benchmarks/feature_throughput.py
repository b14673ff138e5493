"""Feature-extraction throughput and peak memory of `aad benchmark` on a generated folder.

Usage: python benchmarks/feature_throughput.py [N_CLIPS] [WORKDIR]

Writes N_CLIPS (default 2000) clips of 10 s at 16 kHz in the DCASE 2020 layout to WORKDIR
(default a temporary folder), then times, each in a fresh process so peak memory is its own:

- a plain loop: librosa.load + log-mel + mean/std per band, results kept in a list;
- aadlib.benchmark.features_of with 1 worker and with 2 workers (empty cache);
- features_of again with a warm cache.

Prints a Markdown table: clips per second and peak resident memory (MB) of the parent process
and of its largest child process (joblib's workers; 0 when there is none). Run it a few times and
take medians: the first runs after generating the clips also measure the disk cache warming up.
"""

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

SR = 16000

PLAIN = """
import json, resource, sys, time
from pathlib import Path
import librosa, numpy as np
files = sorted(Path(sys.argv[1]).rglob("*.wav"))
started = time.perf_counter()
rows = []
for path in files:
    y, sr = librosa.load(path, sr=16000)
    spec = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, n_fft=1024, hop_length=512, n_mels=128), ref=np.max)
    rows.append(np.concatenate([spec.mean(axis=1), spec.std(axis=1)]))
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "clips": len(rows),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "workers_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""

AADLIB = """
import json, resource, sys, time
from aadlib.benchmark import features_of
from aadlib.data import scan
folder, jobs, cache = sys.argv[1], int(sys.argv[2]), sys.argv[3]
files = [name for name, _ in scan(folder)[1]]
started = time.perf_counter()
values, bad = features_of(folder, files, "clip_summary", n_jobs=jobs, cache_dir=cache, progress=False)
seconds = time.perf_counter() - started
from joblib.externals.loky import get_reusable_executor
get_reusable_executor().shutdown(wait=True)  # the workers' peak memory is counted once they have exited
print(json.dumps({"seconds": seconds, "clips": len(values),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "workers_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def generate(folder, n_clips):
    rng = np.random.default_rng(0)
    for i in range(n_clips):
        kind = "train/normal" if i < n_clips * 0.8 else ("test/normal" if i % 2 else "test/anomaly")
        path = Path(folder) / "valve" / f"{kind}_id_00_{i:08d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, (0.05 * rng.standard_normal(10 * SR)).astype(np.float32), SR, subtype="PCM_16")


def measure(code, *args):
    result = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    n_clips = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    workdir = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp(prefix="aad-throughput-"))
    folder = workdir / "data"
    if not folder.exists():
        started = time.perf_counter()
        generate(folder, n_clips)
        print(f"generated {n_clips} clips of 10 s in {time.perf_counter() - started:.0f} s: {folder}")
    for cache in ("cache1", "cache2"):
        shutil.rmtree(workdir / cache, ignore_errors=True)
    runs = {
        "plain librosa loop": measure(PLAIN, folder),
        "features_of, 1 worker": measure(AADLIB, folder, 1, workdir / "cache1"),
        "features_of, 2 workers": measure(AADLIB, folder, 2, workdir / "cache2"),
        "features_of, 2 workers, warm cache": measure(AADLIB, folder, 2, workdir / "cache2"),
    }
    print("| run | clips | seconds | clips / s | peak MB (parent) | peak MB (largest worker) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, r in runs.items():
        print(f"| {name} | {r['clips']} | {r['seconds']:.1f} | {r['clips'] / r['seconds']:.1f} | {r['peak_mb']:.0f} | {r['workers_peak_mb']:.0f} |")


if __name__ == "__main__":
    main()
