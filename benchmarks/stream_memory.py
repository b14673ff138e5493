"""Peak memory of training an autoencoder and a GAN on a large feature set: in memory, or from disk through tf.data.

Usage: python benchmarks/stream_memory.py [N_CLIPS] [N_VALUES] [WORKDIR]

Writes N_CLIPS (default 5000) feature files of N_VALUES float32 values each (default 65536, 256 KB:
the size of the modulation patches of a 10 s clip) to WORKDIR, then, each in a fresh process,
trains `aadlib.autoencoders.Autoencoder` (the dense autoencoder, 2 epochs, batch 256) and scores
the training set:

- in memory: the files read into one array, as `aad benchmark` does below `--max-memory`;
- streamed: `aadlib.benchmark.FeatureFiles`, as `aad benchmark` does above it.

Then `fanogan` as `aad benchmark` builds it (each file's values as 64 patches of 32 x 32), on the
first 1,000 files (64,000 patches: about 900 clips of 10 s), for 1 epoch of the GAN and 1 of the
encoder (memory does not grow with epochs), scoring its training patches for the threshold; again
in memory and from disk.

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
from aadlib.benchmark import FeatureFiles, PerPatch
folder, mode = sys.argv[1], sys.argv[2]
paths = sorted(Path(folder).glob("*.npy"))
gan = mode.startswith("gan")
files = FeatureFiles(paths[:1000] if gan else paths)
data = files if mode.endswith("streamed") else np.asarray(files)
started = time.perf_counter()
if gan:
    from aadlib.gan import AnoGAN
    detector = PerPatch(AnoGAN(search="encoder", epochs=1, encoder_epochs=1, random_state=0), 1024).fit(data).detector_
else:
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
    print("| model | training data | GB (float32) | seconds | peak MB |")
    print("| --- | --- | --- | --- | --- |")
    for model, mode, label in (("dense_ae", "memory", "in memory"), ("dense_ae", "streamed", "from disk (tf.data)"),
                               ("fanogan, 1 epoch", "gan", "64,000 patches (1,000 files), in memory"),
                               ("fanogan, 1 epoch", "gan-streamed", "64,000 patches (1,000 files), from disk (tf.data)")):
        result = subprocess.run([sys.executable, "-c", TRAIN, str(folder), mode], capture_output=True, text=True, check=True)
        r = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"| {model} | {label} | {r['gb']:.2f} | {r['seconds']:.0f} | {r['peak_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
