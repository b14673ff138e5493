"""Peak memory of training an autoencoder on a large feature set: in memory, or from disk through tf.data.

Usage: python benchmarks/stream_memory.py [N_CLIPS] [N_VALUES] [WORKDIR]

Writes N_CLIPS (default 5000) feature files of N_VALUES float32 values each (default 65536, 256 KB:
the size of the modulation patches of a 10 s clip) to WORKDIR, then, each in a fresh process,
trains `aadlib.autoencoders.Autoencoder` (the dense autoencoder, 2 epochs, batch 256) and scores
the training set:

- in memory: the files read into one array, as `aad benchmark` does below `--max-memory`;
- streamed: `aadlib.benchmark.FeatureFiles`, as `aad benchmark` does above it.

Prints a Markdown table: seconds and peak resident memory (MB) of each process.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

TRAIN = """
import json, resource, sys, time
from pathlib import Path
import numpy as np
from aadlib.autoencoders import Autoencoder
from aadlib.benchmark import FeatureFiles
folder, mode = sys.argv[1], sys.argv[2]
files = FeatureFiles(sorted(Path(folder).glob("*.npy")))
data = files if mode == "streamed" else np.asarray(files)
started = time.perf_counter()
detector = Autoencoder(epochs=2, batch_size=256, random_state=0).fit(data)
print(json.dumps({"seconds": time.perf_counter() - started, "gb": files.nbytes / 2**30,
                  "threshold": float(detector.threshold_),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main():
    n_clips = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    n_values = int(sys.argv[2]) if len(sys.argv) > 2 else 65536
    folder = Path(sys.argv[3]) if len(sys.argv) > 3 else Path(tempfile.mkdtemp(prefix="aad-stream-"))
    if len(list(folder.glob("*.npy"))) != n_clips:
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        for i in range(n_clips):
            np.save(folder / f"{i:06d}.npy", rng.standard_normal(n_values, dtype=np.float32))
    print("| training data | GB (float32) | seconds | peak MB |")
    print("| --- | --- | --- | --- |")
    for mode in ("in memory", "streamed"):
        result = subprocess.run([sys.executable, "-c", TRAIN, str(folder), mode.split()[-1]], capture_output=True, text=True, check=True)
        r = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"| {mode} | {r['gb']:.2f} | {r['seconds']:.0f} | {r['peak_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
