"""The feature store: each clip's features computed once, cached on disk, and read when needed.

``aad benchmark`` (:mod:`aadlib.benchmark`) and :mod:`aadlib.recordings` get their features here:

- :data:`FEATURES` names the feature kinds (the chapters' recipes) and their parameters;
  :func:`extract_file` and :func:`extract_audio` compute one clip's.
- :func:`features_of` streams many clips through them, on all cores (joblib), with a progress
  bar (tqdm), and caches each clip's features as one ``.npy`` file, keyed by the file (path,
  size, modification time), the kind, its parameters and the sample rate: a second run reads
  the cache.
- :class:`FeatureFiles` holds the cache files of many clips and reads them when needed: a chunk
  at a time for statistics and scores, or as a ``tf.data`` pipeline of shuffled batches, so that
  the autoencoders and GANs train on a set larger than memory. :func:`load_features` keeps a
  set on disk as :class:`FeatureFiles` when it is larger than :data:`MAX_MEMORY_MB`, and reads
  it into one array otherwise.

The store sits below the detectors: the detectors of :mod:`aadlib.detectors`,
:mod:`aadlib.autoencoders`, :mod:`aadlib.gan` and :mod:`aadlib.auxiliary` import it to tell
:class:`FeatureFiles` apart from arrays, and it imports none of them. It imports TensorFlow only
inside :meth:`FeatureFiles.dataset`, and the pretrained backbones (:mod:`aadlib.transfer`)
only when an ``embedding:`` kind is extracted.

Notebook: 07_comparison (:func:`features_of`), 08_real_flights (:data:`FEATURES`, through
:mod:`aadlib.recordings`); behind ``aad benchmark``.
"""

import functools
import hashlib
import json
import warnings
from pathlib import Path

import numpy as np

from . import features
from .data import read_wav, user_cache_dir
from .utils import AadError

MUSICNN_BACKBONES = ("MTT_musicnn", "MSD_musicnn", "MTT_vgg", "MSD_vgg")
"""The backbones of :mod:`aadlib.transfer` that work offline (named here so that ``aad --help`` need not import Keras)."""

FEATURES = {
    "clip_summary": dict(n_mels=128, stats=("mean", "std")),
    "pitch_summaries": dict(n_mels=128, stats=("mean", "std"), n_steps=(0, 2, -2)),
    "level": dict(),
    "window_summary": dict(n_mels=64, window=30, hop=5, stats=("mean", "std")),
    "frame_stacks": dict(n_mels=128, n_frames=5),
    "modulation_image": dict(n_mels=64, hop_length=625, size=64),
    "modulation_patches": dict(n_mels=32, hop_length=256, window=64, hop=8, n_rates=32),
    "logmel_image": dict(n_mels=64, n_bins=64),
    "pitch_logmel_images": dict(n_mels=64, n_bins=64, n_steps=(0, 2, -2)),
    "logmel_image_waveform": dict(n_mels=64, n_bins=64),
    **{f"embedding:{name}": dict(backbone=name) for name in MUSICNN_BACKBONES},
}
"""Feature kinds. Level-free log-mel (``ref=np.max``, hop 512) summarised over the clip, or over windows;
the same clip summary of the clip and of its copies shifted in pitch by ``n_steps`` semitones (the
self-supervised classifier's input, :class:`aadlib.auxiliary.SelfSupervised`);
the clip's level alone (RMS in dB, the trivial baseline every detector must beat);
the DCASE 2020 baseline's input, every run of 5 frames of the log-mel in dB (absolute, ``ref=1``) as one vector;
a 64 x 64 modulation image (:func:`aadlib.features.modulation_image`); 32 x 32 modulation patches of
1 s windows every 0.13 s (chapter 05's GAN input); a 64 x 64 log-mel image, level-free, its frames averaged
into 64 equal spans of the clip (:func:`aadlib.features.time_bins`: a 5 s or a 10 s clip gives the same shape, no
frame left out; the convolutional auxiliary classifier's input, :func:`aadlib.auxiliary.conv_embedding`), and the same
image of the clip and of its copies shifted by ``n_steps`` semitones; the same image flat, followed by the
clip's waveform at the clip's rate (one row of 64 * 64 + n_samples values: the input of the waveform branch of
:func:`aadlib.auxiliary.conv_embedding`, a simplified STgram); or a pretrained backbone's
embedding (its default layer, the mean over the clip's 3 s patches)."""


def extract_file(path, kind, sr=16000):
    """The features of one clip.

    Args:
        path (str | Path): A WAV file.
        kind (str): A key of :data:`FEATURES`.
        sr (int): Resample to this rate (Hz) first.

    Returns:
        np.ndarray: float32; ``clip_summary``: (2 * 128,) mean and standard deviation of each
        band; ``pitch_summaries``: (3, 2 * 128), the clip's summary, then its copies' at +2 and -2 semitones; ``level``: (1,) RMS in dB (full scale = 0 dB); ``window_summary``: (n_windows, 2 * 64); ``frame_stacks``: (n_frames_total - 4, 5 * 128); ``modulation_image``: (64, 64);
        ``modulation_patches``: (n_patches, 32, 32); ``logmel_image``: (64, 64) (mel bands, spans of time);
        ``pitch_logmel_images``: (3, 64, 64), the clip's image, then its copies' at +2 and -2 semitones;
        ``logmel_image_waveform``: (64 * 64 + n_samples,), the ``logmel_image`` flat (band by band), then the
        clip's n_samples samples at ``sr`` (80,000 for a 5 s clip at 16 kHz);
        ``embedding:<backbone>``: (dim,) at 16 kHz
        whatever ``sr`` is, the rate the backbones were trained at.
    """
    audio, rate = read_wav(path, sr=16000 if "backbone" in FEATURES[kind] else sr)
    return extract_audio(audio, rate, kind)


def extract_audio(audio, rate, kind):
    """The features of one clip's samples (n_samples,) at ``rate`` Hz: as :func:`extract_file`
    (the backbones need 16 kHz)."""
    params = FEATURES[kind]
    if "backbone" in params:
        return _backbone(params["backbone"]).embed([audio], rate)[0]
    if kind == "level":
        return np.array([10 * np.log10(np.mean(np.square(audio, dtype=np.float64)) + 1e-12)], np.float32)
    if kind == "modulation_image":
        return features.modulation_image(audio, rate, **params)
    if kind == "modulation_patches":
        spec = features.log_mel(audio, rate, n_mels=params["n_mels"], hop_length=params["hop_length"], ref=np.max)
        return features.modulation_spectrum(features.patches(spec, params["window"], params["hop"]), n_rates=params["n_rates"])
    if kind == "frame_stacks":
        return features.frame_stack(features.log_mel(audio, rate, n_mels=params["n_mels"]), params["n_frames"]).astype(np.float32)
    if kind in ("pitch_summaries", "pitch_logmel_images"):  # the clip, then its pitch-shifted copies: one summary or image each
        recipe = _clip_summary if kind == "pitch_summaries" else _logmel_image
        return np.stack([recipe(copy, rate, params) for copy in _pitch_copies(audio, rate, params["n_steps"])])
    if kind == "logmel_image":
        return _logmel_image(audio, rate, params)
    if kind == "logmel_image_waveform":
        return np.concatenate([_logmel_image(audio, rate, params).ravel(), audio.astype(np.float32)])
    if kind == "clip_summary":
        return _clip_summary(audio, rate, params)
    spec = features.log_mel(audio, rate, n_mels=params["n_mels"], ref=np.max)
    return features.window_summary(spec, params["window"], params["hop"], params["stats"]).astype(np.float32)


def _pitch_copies(audio, rate, n_steps):
    """The clip shifted by each of ``n_steps`` semitones (0: the clip itself), same length and rate."""
    import librosa

    return [audio if steps == 0 else librosa.effects.pitch_shift(audio, sr=rate, n_steps=steps) for steps in n_steps]


def _logmel_image(audio, rate, params):
    """The convolutional classifier's image, float32 (n_mels, n_bins): the log-mel (``ref=np.max``), its frames averaged into ``n_bins`` spans."""
    return features.time_bins(features.log_mel(audio, rate, n_mels=params["n_mels"], ref=np.max), params["n_bins"]).astype(np.float32)


def _clip_summary(audio, rate, params):
    """Chapter 01's clip summary, float32 (2 * n_mels,): the statistics over time of each band of the log-mel (``ref=np.max``)."""
    spec = features.log_mel(audio, rate, n_mels=params["n_mels"], ref=np.max)
    return features.time_summary(spec, params["stats"]).astype(np.float32)


@functools.lru_cache(maxsize=None)
def _backbone(name):
    """One network per backbone and process (building it takes longer than embedding a clip)."""
    from .transfer import Backbone

    return Backbone(name)


EMBED_BATCH = 64
"""Clips a GPU embeds in one call (:func:`features_of`): their 3 s patches go through the network together."""


def gpu_present():
    """Whether this machine has an NVIDIA GPU (its driver lists one), read without importing TensorFlow."""
    gpus = Path("/proc/driver/nvidia/gpus")
    return gpus.is_dir() and any(gpus.iterdir())


def _embedded_in_batches(paths, kind, sr, cache_dir, load):
    """As many :func:`_cached_extract` results, in order, with the clips not cached yet embedded
    :data:`EMBED_BATCH` at a time by one network in this process (the GPU path of :func:`features_of`)."""
    backbone = _backbone(FEATURES[kind]["backbone"])
    for start in range(0, len(paths), EMBED_BATCH):
        batch = paths[start : start + EMBED_BATCH]
        cached = [Path(cache_dir) / f"{_cache_key(path, kind, sr)}.npy" for path in batch]
        results, audio = [None] * len(batch), {}
        for i, (path, file) in enumerate(zip(batch, cached)):
            if file.exists():
                results[i] = (np.load(file) if load else file), None
                continue
            try:
                audio[i] = read_wav(path, sr=16000)[0]
            except (AadError, ValueError) as error:
                results[i] = None, str(error)
        try:
            embedded = backbone.embed(list(audio.values()), 16000) if audio else []
        except (AadError, ValueError):  # a clip the network cannot take: one at a time, to name it
            embedded, audio = [], {i: _cached_extract(batch[i], kind, sr, cache_dir, load) for i in audio}
            for i, result in audio.items():
                results[i] = result
        for i, values in zip(audio, embedded):
            partial = cached[i].with_suffix(".partial.npy")
            np.save(partial, values)
            partial.replace(cached[i])
            results[i] = (values if load else cached[i]), None
        yield from results


def _cache_key(path, kind, sr):
    stat = Path(path).stat()
    blob = json.dumps([str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns, kind, FEATURES[kind], sr])
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _cached_extract(path, kind, sr, cache_dir, load=True):
    """(features, or their cache file if not load, or None; error message or None); reads and writes the cache."""
    cached = Path(cache_dir) / f"{_cache_key(path, kind, sr)}.npy"
    if cached.exists():
        return (np.load(cached) if load else cached), None
    try:
        values = extract_file(path, kind, sr)
    except (AadError, ValueError) as error:
        return None, str(error)
    partial = cached.with_suffix(".partial.npy")
    np.save(partial, values)
    partial.replace(cached)  # a run stopped midway never leaves a half-written cache file
    return (values if load else cached), None


def features_of(folder, files, kind, sr=16000, n_jobs=-1, cache_dir=None, on_bad="skip", progress=True, load=True):
    """Features of many clips, streamed in parallel and cached per file.

    Args:
        folder (str | Path): The data folder.
        files (list[str]): Paths relative to it.
        kind (str): A key of :data:`FEATURES`.
        sr (int): Sample rate (Hz) to resample to.
        n_jobs (int): Worker processes (joblib; -1 = all cores). On a machine with an NVIDIA GPU
            (:func:`gpu_present`), a pretrained backbone's embeddings are computed in this process
            instead, :data:`EMBED_BATCH` clips at a time (TensorFlow's memory growth on: :func:`aadlib.utils.tensorflow_defaults`).
        cache_dir (str | Path | None): Folder of the cache (default ``features/`` in the user
            cache, ``~/.cache/aadlib/features`` on Linux; data folders are often read-only).
        on_bad (str): "skip" unreadable or empty clips with one warning listing them, or "stop"
            with an error naming the first; features cached so far are kept either way.
        progress (bool): Show a progress bar.
        load (bool): Return the features; if False, return each clip's cache file instead
            (``np.load`` it), so that memory holds no clip's features, whatever the folder's size.

    Returns:
        tuple[list[np.ndarray | Path | None], list[str]]: Features (or cache files) per file (None
        where skipped), and the skipped files with the reason.
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    if kind not in FEATURES:
        raise AadError(f"Unknown feature kind {kind!r}; choose from {', '.join(FEATURES)}.")
    if on_bad not in ("skip", "stop"):
        raise AadError(f"on_bad must be 'skip' or 'stop', not {on_bad!r}.")
    folder = Path(folder)
    cache_dir = Path(cache_dir) if cache_dir else user_cache_dir() / "features"
    cache_dir.mkdir(parents=True, exist_ok=True)
    if "backbone" in FEATURES[kind] and gpu_present():  # one network on the GPU, fed in batches, not one per worker
        results = _embedded_in_batches([folder / name for name in files], kind, sr, cache_dir, load)
    else:
        jobs = (delayed(_cached_extract)(folder / name, kind, sr, cache_dir, load) for name in files)
        results = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    values, bad = [], []
    for name, (value, error) in tqdm(zip(files, results), total=len(files), desc=f"{kind}", unit="clip", disable=not progress):
        if error is not None:
            if on_bad == "stop":
                raise AadError(f"{error} (stopped: features of the clips before it are cached; rerun with --on-bad skip to skip such clips)")
            bad.append(f"{name}: {error}")
        values.append(value)
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable clip(s): " + "; ".join(bad), stacklevel=2)
    return values, bad


MAX_MEMORY_MB = 256
"""Above this size (MB of float32 features), a machine's features stay on disk. Training an
autoencoder in memory holds about 7 times its data at its peak (the array, float64 copies for the
checks and the standardisation, a float32 tensor): 8.3 GB for 1.2 GB of features, where the
``tf.data`` path peaked at 1.9 GB (``benchmarks/stream_memory.py``). 256 MB keeps the in-memory
path under 2 GB, within an 8 GB machine."""


SHUFFLE_ROWS = 8192
"""Rows (e.g. patches) :meth:`FeatureFiles.dataset` shuffles among when a file holds many, so that a batch
draws from the patches of about 115 clips of 10 s (71 patches each), not from one clip's
consecutive, overlapping ones. 32 MB of 32 x 32 float32 patches."""


class FeatureFiles:
    """Features of many clips, one ``.npy`` file per clip (the feature cache), read when needed.

    A training set too large for memory: :class:`aadlib.autoencoders.Autoencoder` and
    :class:`aadlib.gan.AnoGAN` train on it through a ``tf.data`` pipeline that holds a few batches
    at a time; the other detectors train on the whole array (``np.asarray``). Every detector of
    :mod:`aadlib.detectors` scores it a chunk at a time.

    Args:
        paths (list[str | Path]): One file per clip, all holding arrays of one shape.
        chunk (int): Clips read at once to compute statistics and scores.
        row_size (int | None): Values per row: a file's values are its rows one after the other
            (e.g. 1024 for a clip's 32 x 32 patches); default: a file is one row.
    """

    def __init__(self, paths, chunk=256, row_size=None):
        self.paths, self.chunk = [str(path) for path in paths], chunk
        values = int(np.load(self.paths[0], mmap_mode="r").size)
        self.n_features = row_size or values
        if values % self.n_features:
            raise AadError(f"{self.paths[0]} holds {values} values, not rows of {self.n_features}.")
        self.rows_per_file = values // self.n_features

    def as_rows(self, row_size):
        """The same files, read as rows of ``row_size`` values (e.g. a clip's patches)."""
        return FeatureFiles(self.paths, self.chunk, row_size)

    def __len__(self):
        """Rows in all files."""
        return len(self.paths) * self.rows_per_file

    @property
    def shape(self):
        """(rows, n_features), as the array would have."""
        return len(self), self.n_features

    @property
    def nbytes(self):
        """Bytes of the whole set as one float32 array."""
        return 4 * len(self) * self.n_features

    def _read(self, paths):
        return np.concatenate([np.load(path).reshape(-1, self.n_features) for path in paths]).astype(np.float32, copy=False)

    def chunks(self):
        """The rows of ``chunk`` files at a time: arrays (<= chunk * rows_per_file, n_features) float32."""
        for start in range(0, len(self.paths), self.chunk):
            yield self._read(self.paths[start : start + self.chunk])

    def __array__(self, dtype=None, copy=None):
        return np.concatenate(list(self.chunks())).astype(dtype or np.float32, copy=False)

    def scaler(self, standardize=True):
        """A StandardScaler fitted chunk by chunk (identity if not ``standardize``)."""
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler(with_mean=standardize, with_std=standardize)
        for rows in self.chunks():
            scaler.partial_fit(rows)
        return scaler

    def dataset(self, transform, batch_size, seed):
        """A ``tf.data.Dataset`` of batches (<= batch_size, n_features) of transformed float32 rows, reshuffled every epoch.

        Args:
            transform (callable): Rows (n, n_features) float32 -> rows as the model takes them,
                e.g. a fitted scaler's ``transform``.
            batch_size (int): Rows per batch.
            seed (int): Seeds the order of the files and of the rows.

        The files come in a new order every epoch; where a file holds many rows, they are mixed
        with those of other files in a buffer of :data:`SHUFFLE_ROWS` rows.
        """
        import tensorflow as tf

        def load(paths):  # one call per batch of files: a call per file would cost more than reading it
            return transform(self._read([path.decode() for path in paths])).astype(np.float32)

        files = tf.data.Dataset.from_tensor_slices(self.paths).shuffle(len(self.paths), seed=seed, reshuffle_each_iteration=True)
        rows = files.batch(max(1, batch_size // self.rows_per_file)).map(
            lambda names: tf.ensure_shape(tf.numpy_function(load, [names], tf.float32), (None, self.n_features)),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        if self.rows_per_file > 1:
            rows = rows.unbatch().shuffle(SHUFFLE_ROWS, seed=seed, reshuffle_each_iteration=True).batch(batch_size)
        return rows.prefetch(tf.data.AUTOTUNE)


def load_features(paths, max_bytes):
    """Clips' features from their cache files, in memory or on disk (the memory policy of ``aad benchmark``).

    Args:
        paths (list[str | Path]): One cache file per clip (:func:`features_of` with ``load=False``).
        max_bytes (float): The largest set (as float32) read into memory, e.g. ``MAX_MEMORY_MB * 2**20``.

    Returns:
        np.ndarray | FeatureFiles: An array (n_clips, n_values) float32, or :class:`FeatureFiles` if larger than ``max_bytes``.
    """
    files = FeatureFiles(paths)
    return files if files.nbytes > max_bytes else np.asarray(files)
