"""Run the course's methods on any data folder: streamed, cached features and DCASE-style results.

``aad benchmark DATA_DIR --method lof --method dense_ae`` calls :func:`run`:

1. :func:`aadlib.data.scan` lists the clips and reads split, label, machine
   type, id and section from the file names (no audio is read yet).
2. :func:`features_of` streams the clips one by one through a feature
   function, on all cores (joblib), with a progress bar (tqdm), and caches
   each clip's features on disk, keyed by the file and the parameters. A second
   run reads the cache. Memory holds neither the audio nor the features of the
   whole folder: only the names of the cache files.
3. For each machine (type and id, or type and section), its clips' features are
   read from the cache (so memory grows with the largest machine, not with the
   folder; a machine larger than ``max_memory_mb`` stays on disk as
   :class:`FeatureFiles`, which the autoencoders and GANs train on through ``tf.data``),
   and for each method and seed, the method is trained on the
   machine's normal training clips and scores its test clips. Scores (the mean
   over seeds) go to one CSV per machine and method, named and laid out as in DCASE (``anomaly_score_<type>_<section or id>_<method>.csv``:
   file name, score; no header), or, with ``dcase_submission``, named as the
   DCASE edition's submission asks, with decision files (:func:`submission_file_names`).
   Unlabelled test clips (DCASE evaluation sets) are scored too.
4. A results table gives AUC, pAUC (max FPR 0.1) and AP per machine (means
   over seeds, from the labelled test clips), their arithmetic mean and their
   harmonic mean, and in a DCASE folder the official score of that edition
   (:func:`official_scores`), as CSV and Markdown.

Notebook: 07_comparison; the command line's version of chapters 01 to 06.
"""

import functools
import hashlib
import importlib.util
import json
import re
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from . import features
from .data import LAYOUTS, read_wav, scan, user_cache_dir, writable_cache
from sklearn.base import BaseEstimator, OutlierMixin, clone

from .detectors import GMM, KNN, LOF, OCSVM, IForest, NotFittedError, decision_threshold, score_clips, summarize
from .metrics import evaluate
from .utils import AadError, seeds as seed_list

MUSICNN_BACKBONES = ("MTT_musicnn", "MSD_musicnn", "MTT_vgg", "MSD_vgg")
"""The backbones of :mod:`aadlib.transfer` that work offline (named here so that ``aad --help`` need not import Keras)."""

FEATURES = {
    "clip_summary": dict(n_mels=128, stats=("mean", "std")),
    "level": dict(),
    "window_summary": dict(n_mels=64, window=30, hop=5, stats=("mean", "std")),
    "frame_stacks": dict(n_mels=128, n_frames=5),
    "modulation_image": dict(n_mels=64, hop_length=625, size=64),
    "modulation_patches": dict(n_mels=32, hop_length=256, window=64, hop=8, n_rates=32),
    **{f"embedding:{name}": dict(backbone=name) for name in MUSICNN_BACKBONES},
}
"""Feature kinds. Level-free log-mel (``ref=np.max``, hop 512) summarised over the clip, or over windows;
the clip's level alone (RMS in dB, the trivial baseline every detector must beat);
the DCASE 2020 baseline's input, every run of 5 frames of the log-mel in dB (absolute, ``ref=1``) as one vector;
a 64 x 64 modulation image (:func:`aadlib.features.modulation_image`); 32 x 32 modulation patches of
1 s windows every 0.13 s (chapter 05's GAN input); or a pretrained backbone's
embedding (its default layer, the mean over the clip's 3 s patches)."""


def extract_file(path, kind, sr=16000):
    """The features of one clip.

    Args:
        path (str | Path): A WAV file.
        kind (str): A key of :data:`FEATURES`.
        sr (int): Resample to this rate (Hz) first.

    Returns:
        np.ndarray: float32; ``clip_summary``: (2 * 128,) mean and standard deviation of each
        band; ``level``: (1,) RMS in dB (full scale = 0 dB); ``window_summary``: (n_windows, 2 * 64); ``frame_stacks``: (n_frames_total - 4, 5 * 128); ``modulation_image``: (64, 64);
        ``modulation_patches``: (n_patches, 32, 32);
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
    spec = features.log_mel(audio, rate, n_mels=params["n_mels"], ref=np.max)
    if kind == "clip_summary":
        return features.time_summary(spec, params["stats"]).astype(np.float32)
    return features.window_summary(spec, params["window"], params["hop"], params["stats"]).astype(np.float32)


@functools.lru_cache(maxsize=None)
def _backbone(name):
    """One network per backbone and process (building it takes longer than embedding a clip)."""
    from .transfer import Backbone

    return Backbone(name)


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
        n_jobs (int): Worker processes (joblib; -1 = all cores).
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
    at a time; any other detector gets the whole array (``np.asarray``).

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


def _autoencoder(build, **params):
    """``make(seed, example)`` for an autoencoder; ``build(example)`` returns its Keras builder."""

    def make(seed, example):
        from .autoencoders import Autoencoder

        return Autoencoder(build(example), random_state=seed, **params)

    return make


def _dense(example):
    from .autoencoders import dense_autoencoder

    return dense_autoencoder


def _conv1d(example):
    from .autoencoders import conv1d_autoencoder

    return lambda dim: conv1d_autoencoder(dim, channels=2)


def _cae2d(example):
    from .autoencoders import flat, strided_cae

    return flat(strided_cae, (*example.shape, 1))  # example: one (64, 64) image


class PerPatch(OutlierMixin, BaseEstimator):
    """A detector of patches behind the clip interface: fitted on every patch of the training clips,
    a clip's score is the mean score of its patches (as chapter 05 scores clips).

    Args:
        detector (Detector): Unfitted, on (n_patches, patch_size); its ``threshold`` and
            ``contamination`` set the clips' threshold.
        patch_size (int): Values per patch; a clip's row holds its patches one after the other.

    Attributes:
        detector_ (Detector): The fitted copy of ``detector``.
        threshold_ (float): From the training clips' scores (:func:`aadlib.detectors.decision_threshold`).
    """

    def __init__(self, detector, patch_size):
        self.detector, self.patch_size = detector, patch_size

    def fit(self, X, y=None):
        """Fit on the patches of X: an array (n_clips, n_values), or :class:`FeatureFiles`, whose patches stay on disk;
        y is ignored; returns self."""
        patches = X.as_rows(self.patch_size) if isinstance(X, FeatureFiles) else np.asarray(X).reshape(-1, self.patch_size)
        self.detector_ = clone(self.detector).fit(patches)
        self.threshold_ = decision_threshold(self.decision_function(X), self.detector.threshold, self.detector.contamination)
        return self

    def __sklearn_is_fitted__(self):
        return hasattr(self, "detector_")

    def decision_function(self, X):
        """Clip scores (n_clips,): the mean score of each clip's patches."""
        if not self.__sklearn_is_fitted__():
            raise NotFittedError("This PerPatch is not fitted yet; call fit(X_train) first.")
        if isinstance(X, FeatureFiles):
            return np.concatenate([self.decision_function(clips) for clips in X.chunks()])
        return score_clips(self.detector_, np.asarray(X).reshape(len(X), -1, self.patch_size))

    def predict(self, X):
        """Labels (n_clips,): 1 = anomaly (score above ``threshold_``), 0 = normal."""
        return (self.decision_function(X) > self.threshold_).astype(int)


def _per_frame_stack(network, **params):
    """``make(seed, example)`` for a network on frame stacks (``example``: one clip's, (n_stacks, 640)), a clip
    scored by the mean of its stacks' scores, as the DCASE baselines score a clip."""

    def make(seed, example):
        from .autoencoders import Autoencoder, Interpolator, dense_autoencoder

        detector = Interpolator(random_state=seed, **params) if network == "interpolator" else Autoencoder(dense_autoencoder, random_state=seed, **params)
        return PerPatch(detector, example[0].size)

    return make


def _gan(search):
    def make(seed, example):
        from .gan import AnoGAN

        return PerPatch(AnoGAN(shape=example.shape[1:], search=search, random_state=seed), example[0].size)

    return make


def _lstm(example):
    from .autoencoders import flat, lstm_autoencoder

    return flat(lstm_autoencoder, *example.shape, latent=8)  # example: (n_windows, n_features)


METHODS = {
    "gmm": ("clip_summary", lambda seed, example: GMM(random_state=seed)),
    "iforest": ("clip_summary", lambda seed, example: IForest(random_state=seed)),
    "ocsvm": ("clip_summary", lambda seed, example: OCSVM()),
    "lof": ("clip_summary", lambda seed, example: LOF()),
    "dense_ae": ("clip_summary", _autoencoder(_dense, epochs=60, batch_size=20)),
    "conv1d_ae": ("clip_summary", _autoencoder(_conv1d, epochs=60, batch_size=20)),
    # 20 epochs where chapter 03 trains 40: the same AUC on anomaly_mini (1.00 for seeds 0-2), in 60 % of the time
    "cae2d": ("modulation_image", _autoencoder(_cae2d, epochs=20, batch_size=4)),
    "lstm_ae": ("window_summary", _autoencoder(_lstm, epochs=30, batch_size=4, learning_rate=2e-3)),
    # the DCASE 2020 baseline's network and input, trained as chapter 09 trains it (30 epochs, not 100); its dB values as they are
    "dcase2020_ae": ("frame_stacks", _per_frame_stack("autoencoder", epochs=30, batch_size=64, standardize=False)),
    "idnn": ("frame_stacks", _per_frame_stack("interpolator", epochs=30, batch_size=64)),
    "anogan": ("modulation_patches", _gan("gradient")),
    "fanogan": ("modulation_patches", _gan("encoder")),
    **{f"transfer:{name}": (f"embedding:{name}", lambda seed, example: KNN()) for name in MUSICNN_BACKBONES},
}
"""Methods by name: (feature kind, ``make(seed, example)`` returning an unfitted detector, where
``example`` is one clip's features, for models whose shape depends on them). The settings are
those of the chapters: 01 (gmm, iforest, ocsvm, lof), 02 (dense_ae, conv1d_ae), 03 (cae2d: the
strided CAE on modulation images, standardised per value instead of per band), 04 (lstm_ae),
05 (anogan: AnoGAN's latent search, fanogan: f-AnoGAN's encoder, on modulation patches),
06 (transfer:<backbone>: kNN distance on the backbone's embedding), 09 (dcase2020_ae: the DCASE 2020
baseline's dense autoencoder on frame stacks; idnn: the interpolation network on the same stacks,
standardised per value)."""


CLASSICAL = ("gmm", "iforest", "ocsvm", "lof")
"""The methods that need no deep-learning library; every other one needs Keras and TensorFlow (aadlib's ``deep`` extra)."""


def check_methods(methods):
    """Raise one clear error for an unknown method name, listing the known ones, or for a method whose
    deep-learning libraries are not installed, naming the extra that installs them."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise AadError(f"Unknown method {unknown[0]!r}; known methods: {', '.join(METHODS)}.")
    deep = [m for m in methods if m not in CLASSICAL]
    missing = [name for name in ("keras", "tensorflow") if importlib.util.find_spec(name) is None]
    if deep and missing:
        raise AadError(f"Method {deep[0]!r} needs {' and '.join(missing)}, which is not installed; install aadlib's "
                       f"deep-learning extra (pip install 'aadlib[deep]'), or run only {', '.join(CLASSICAL)}.")


def resumable(out_dir, options, resume, key):
    """For ``--resume``: the rows of the run already in ``out_dir`` that finished without error, by ``key``.

    Writes this run's options to ``out_dir/run.json``; a resumed run must have the same ones, so that
    the results it keeps and the ones it adds compare.

    Args:
        out_dir (Path): The output folder (exists).
        options (dict): What the results depend on (folder, seeds, feature settings), JSON-serialisable.
        resume (bool): Keep the finished rows of ``out_dir/results.csv`` (else start afresh).
        key (list[str]): Columns that name one unit of work, e.g. machine type, machine and method.

    Returns:
        dict: ``tuple(key values)`` -> that unit's rows (list of dicts), as :func:`run` makes them.
    """
    options = json.loads(json.dumps(options))
    path, results = out_dir / "run.json", out_dir / "results.csv"
    done = {}
    if resume and results.exists():
        earlier = json.loads(path.read_text()) if path.exists() else None
        if earlier != options:
            raise AadError(f"{out_dir} holds the results of a run with other options ({earlier}, not {options}); "
                           "resume with the same options, or write to another --out.")
        text = ["machine_type", "machine", "domain", "method", "error"]
        table = pd.read_csv(results, dtype=dict.fromkeys(text, str))
        table[text] = table[text].fillna("")
        table = table[~table.machine_type.isin(SUMMARY_ROWS)]
        for values, part in table.groupby(key, sort=False):
            if (part.error == "").all():
                done[values] = part.to_dict("records")
    path.write_text(json.dumps(options, indent=1) + "\n")
    return done


def _group_of(fields):
    """(machine type, "section_XX" or "id_XX" or "") of one clip."""
    if fields["section"]:
        return fields["machine_type"], f"section_{fields['section']}"
    return fields["machine_type"], fields["machine_id"]


def score_file_name(machine_type, machine, method):
    """DCASE's name for a per-file score CSV, e.g. ``anomaly_score_valve_id_00_lof.csv``
    (``anomaly_score_lof.csv`` for a folder without machine names, such as anomaly_mini). Folders above
    the machine type become folders of the output: "6_dB/valve" gives ``6_dB/anomaly_score_valve_id_00_lof.csv``."""
    prefix, _, machine_type = machine_type.rpartition("/")
    name = "_".join(["anomaly_score", *(part for part in (machine_type, machine) if part), method]) + ".csv"
    return f"{prefix}/{name}" if prefix else name


SUMMARY_ROWS = ("mean", "harmonic mean", "official score")
"""The machine_type of the rows that summarise machines in a results table."""


def dcase_edition(layout, files):
    """The DCASE Task 2 edition whose rules (submission files, official score) a folder of clips follows.

    Args:
        layout (str): A key of :data:`aadlib.data.LAYOUTS`.
        files (list[str]): The clips' paths relative to the folder.

    Returns:
        str | None: "DCASE 2020"; "DCASE 2021" (DCASE 2021+ layout with test clips in ``source_test/``
        and ``target_test/`` folders, as 2021 published them); "DCASE 2022+" (one ``test/`` folder per
        machine type, as 2022 to 2024 published them); None for other layouts.
    """
    if layout == "DCASE 2020":
        return "DCASE 2020"
    if layout != "DCASE 2021+":
        return None
    return "DCASE 2021" if any(re.search(r"(?:^|/)(?:source|target)_test/", name) for name in files) else "DCASE 2022+"


def submission_file_names(edition, machine_type, machine, domain=""):
    """The file names a DCASE Task 2 submission (and the task's evaluator) expects for one machine.

    Args:
        edition (str): From :func:`dcase_edition`.
        machine_type (str): E.g. "valve" (without folders above it).
        machine (str): "id_05" (2020) or "section_03".
        domain (str): "source" or "target" (2021, which has one file per domain).

    Returns:
        tuple[str, str | None]: The anomaly-score file (file name, score; no header) and the
        decision file (file name, 0 normal or 1 anomaly), None for 2020, which asked for none:
        ``anomaly_score_valve_id_05.csv`` (2020),
        ``anomaly_score_valve_section_03_source_test.csv`` and ``decision_result_...`` (2021),
        ``anomaly_score_valve_section_03_test.csv`` and ``decision_result_...`` (2022 on).
    """
    if edition == "DCASE 2020":
        return f"anomaly_score_{machine_type}_{machine}.csv", None
    test = f"{domain}_test" if edition == "DCASE 2021" else "test"
    return f"anomaly_score_{machine_type}_{machine}_{test}.csv", f"decision_result_{machine_type}_{machine}_{test}.csv"


def _write_submission(folder, edition, machine_type, machine, names, scores, threshold, domains):
    """One machine's files in a DCASE submission's names (:func:`submission_file_names`) in ``folder``;
    decisions are 1 where the score is above the threshold."""
    prefix, _, machine_type = machine_type.rpartition("/")
    folder = folder / prefix if prefix else folder
    folder.mkdir(parents=True, exist_ok=True)
    decisions = (scores > threshold).astype(int)
    parts = [(d, domains == d) for d in sorted(set(domains))] if edition == "DCASE 2021" else [("", np.ones(len(names), bool))]
    for domain, part in parts:
        score_file, decision_file = submission_file_names(edition, machine_type, machine, domain)
        pd.DataFrame({"file": names[part], "score": scores[part]}).to_csv(folder / score_file, index=False, header=False)
        if decision_file:
            pd.DataFrame({"file": names[part], "decision": decisions[part]}).to_csv(folder / decision_file, index=False, header=False)


def harmonic_mean(values):
    """Harmonic mean of positive numbers (DCASE 2021+ uses it to average over machines); 0 if any is 0."""
    values = np.asarray(values, dtype=float)
    return 0.0 if np.any(values <= 0) else float(len(values) / np.sum(1.0 / values))


def official_scores(table, edition):
    """Per method, the score DCASE Task 2 ranked systems by in an edition, from a results table's machine rows.

    - DCASE 2020: the mean of AUC and pAUC, each averaged over the machine IDs of a machine type and then
      over machine types (the per-type averages of y-kawagu/dcase2020_task2_evaluator; Koizumi et al.,
      "Description and discussion on DCASE2020 Challenge Task2", arXiv:2006.05822).
    - DCASE 2021: the harmonic mean of the AUCs and pAUCs of every machine type, section and domain, each
      domain's on its own test clips (Kawaguchi et al., "Description and discussion on DCASE 2021
      Challenge Task 2", arXiv:2106.04492; y-kawagu/dcase2021_task2_evaluator).
    - DCASE 2022+: the harmonic mean of the source and target AUCs of every machine type and section, a
      domain's AUC computed on that domain's normal test clips and all anomalous test clips of the
      section, and the pAUC of every section on all its test clips (Dohi et al., "Description and
      discussion on DCASE 2022 Challenge Task 2", arXiv:2206.05876, and on 2023, arXiv:2305.07828;
      nttcslab/dcase2023_task2_evaluator and dcase2024_task2_evaluator, ``official score``).

    A method gets its score only when every machine has labelled test clips (names or ground truth),
    no error and, after 2020, the AUCs of both domains. The evaluators floor values at machine epsilon
    before the harmonic mean; :func:`harmonic_mean` gives 0 where one is 0, the same to 15 digits.

    Args:
        table (pd.DataFrame): The rows :func:`run` makes per machine and domain.
        edition (str | None): From :func:`dcase_edition`; None gives no rows.

    Returns:
        pd.DataFrame: One row per method: machine_type "official score", machine the edition, auc and
        pauc (the means they enter the score as: arithmetic in 2020, harmonic after) and score.
    """
    rows = []
    machines = table[~table.machine_type.isin(SUMMARY_ROWS)] if edition else table.iloc[:0]
    for method, part in machines.groupby("method", sort=False):
        whole = part[part.domain == ""]
        if (whole.error != "").any() or whole.auc.isna().any():
            continue
        if edition == "DCASE 2020":
            per_type = whole.groupby("machine_type")[["auc", "pauc"]].mean()
            auc, pauc = float(per_type.auc.mean()), float(per_type.pauc.mean())
            score = (auc + pauc) / 2
        else:
            domains = part[part.domain.isin(["source", "target"])]
            if len(domains) != 2 * len(whole):
                continue
            paucs = domains.pauc if edition == "DCASE 2021" else whole.pauc
            auc, pauc = harmonic_mean(domains.auc), harmonic_mean(paucs)
            score = harmonic_mean(np.concatenate([domains.auc, paucs]))
        rows.append({"machine_type": "official score", "machine": edition, "domain": "", "method": method,
                     "auc": auc, "pauc": pauc, "score": score, "error": ""})
    return pd.DataFrame(rows)


def run(folder, methods, seeds=1, out_dir="aad_results", sr=16000, n_jobs=-1, cache_dir=None, on_bad="skip", progress=True,
        max_memory_mb=None, resume=False, ground_truth=None, dcase_submission=False):
    """Train and score every method on every machine of a folder; write score CSVs and a results table.

    Args:
        folder (str | Path): Data folder in one of the layouts of :data:`aadlib.data.LAYOUTS`.
        methods (list[str]): Keys of :data:`METHODS`.
        seeds (int): Seeds 0 .. seeds - 1 per method (results are means over them; ``AAD_SEED_OFFSET``
            shifts them, see :func:`aadlib.utils.seeds`).
        out_dir (str | Path): Output folder (created).
        sr (int): Sample rate (Hz) the clips are resampled to.
        n_jobs (int): Feature-extraction workers (-1 = all cores).
        cache_dir (str | Path | None): Feature cache (default: see :func:`features_of`).
        on_bad (str): "skip" or "stop" on unreadable clips (see :func:`features_of`).
        progress (bool): Show progress bars.
        max_memory_mb (float | None): A machine's training (or test) features larger than this
            (as float32; default :data:`MAX_MEMORY_MB`) stay on disk (:class:`FeatureFiles`): the
            autoencoders and GANs train on them through ``tf.data``; other methods still read them whole.
        resume (bool): Keep what an earlier run with the same options wrote to ``out_dir`` and run only
            the (machine, method) pairs it did not finish (see :func:`resumable`). ``results.csv`` is
            rewritten as each pair finishes, so a killed run keeps its work.
        ground_truth (str | Path | None): DCASE's ground-truth CSV file, or a folder of them, giving the
            labels (and domains) of an evaluation set's unlabelled test clips (:func:`aadlib.data.read_ground_truth`).
        dcase_submission (bool): Name the score files as a DCASE submission of the folder's edition asks
            (:func:`submission_file_names`), one folder per method (``<out_dir>/<method>/``), with decision
            files from each detector's ``threshold_`` (the mean over seeds; 1 = score above it).

    Returns:
        pd.DataFrame: One row per machine and method (columns machine_type, machine, domain,
        method, auc, pauc, ap, fit_s and score_s (seconds to train, and to score the machine's
        test clips), each with its ``_std`` over seeds, and error), plus "mean" and "harmonic
        mean" rows per method. AUC, pAUC and AP come from the labelled test clips; a machine whose
        test clips are all unlabelled has none (its scores are written all the same). Where the
        test clips have domains (DCASE 2021 and later), each machine also gets one row per domain,
        scored as that edition defined a domain's AUC (2021: the domain's test clips; 2022 on: the
        domain's normal clips and all anomalous ones; no times: the models are the same), and the
        means are per domain too. In a DCASE folder, an "official score" row per method gives the
        edition's ranking score (:func:`official_scores`, column score).
    """
    check_methods(methods)
    layout, records = scan(folder, ground_truth)
    edition = dcase_edition(layout, [name for name, _ in records])
    if dcase_submission and edition is None:
        raise AadError(f"DCASE submission files need a folder in a DCASE layout (DCASE 2020: {LAYOUTS['DCASE 2020']}; "
                       f"DCASE 2021+: {LAYOUTS['DCASE 2021+']}), but {folder} is in the {layout} layout.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame([{"file": name, **fields} for name, fields in records])
    frame["group"] = [_group_of(fields) for _, fields in records]
    if not (frame.split == "test").any() or not (frame.split == "train").any():
        raise AadError(f"{folder} needs both training and test clips; in the {layout} layout they are named {LAYOUTS[layout]}.")
    cached_by_kind = {}  # each clip's cache file: features are read one machine at a time
    for kind in sorted({METHODS[m][0] for m in methods}):
        cached_by_kind[kind], _ = features_of(folder, list(frame.file), kind, sr=sr, n_jobs=n_jobs, cache_dir=cache_dir,
                                              on_bad=on_bad, progress=progress, load=False)
    max_bytes = (MAX_MEMORY_MB if max_memory_mb is None else max_memory_mb) * 2**20
    options = {"folder": str(Path(folder).resolve()), "seeds": seed_list(seeds), "sr": sr}
    if ground_truth is not None:
        options["ground_truth"] = str(Path(ground_truth).resolve())
    if dcase_submission:
        options["dcase_submission"] = True
    done = resumable(out_dir, options, resume, ["machine_type", "machine", "method"])
    rows = []
    for (machine_type, machine), members in frame.groupby("group", sort=True):
        for method in methods:
            rows.extend(done.get((machine_type, machine, method))
                        or _run_machine(method, machine_type, machine, members, cached_by_kind[METHODS[method][0]], seeds, out_dir,
                                        max_bytes, edition, dcase_submission))
            pd.DataFrame(rows).to_csv(out_dir / "results.csv", index=False)
    table = pd.DataFrame(rows)
    summaries = [part for part in (_averages(table), official_scores(table, edition)) if not part.empty]
    table = pd.concat([table, *summaries], ignore_index=True)
    table.to_csv(out_dir / "results.csv", index=False)
    (out_dir / "results.md").write_text(to_markdown(table) + "\n")
    return table


NO_LABELS = {"auc": np.nan, "pauc": np.nan, "ap": np.nan}
"""The metrics of a machine whose test clips are all unlabelled."""


def _run_machine(method, machine_type, machine, members, cached, seeds, out_dir, max_bytes, edition=None, submission=False):
    """The machine's result row, then one row per domain of its test clips (DCASE 2021+ layouts).
    ``cached``: every clip's cache file (None where skipped); only this machine's are read. All test
    clips are scored and written; the metrics come from the labelled ones."""
    row = {"machine_type": machine_type, "machine": machine, "domain": "", "method": method}
    usable = [i for i in members.index if cached[i] is not None]
    train = [i for i in usable if members.split[i] == "train"]
    test = [i for i in usable if members.split[i] == "test"]
    labels = members.label[test].to_numpy()
    labelled = labels != ""
    y = (labels == "anomaly").astype(int)
    if not train or not test or (labelled.any() and len(set(y[labelled])) < 2):
        return [{**row, "error": "needs training clips and both normal and anomalous test clips"}]
    try:
        X_train, X_test = (_features([cached[i] for i in part], max_bytes) for part in (train, test))
        example = np.load(cached[train[0]])
        runs, all_scores, thresholds = [], [], []
        for seed in seed_list(seeds):
            started = time.perf_counter()
            detector = METHODS[method][1](seed, example).fit(X_train)
            fit_s = time.perf_counter() - started
            started = time.perf_counter()
            scores = detector.decision_function(X_test)
            all_scores.append(scores)
            thresholds.append(detector.threshold_)
            metrics = evaluate(y[labelled], scores[labelled]) if labelled.any() else NO_LABELS
            runs.append({**metrics, "fit_s": fit_s, "score_s": time.perf_counter() - started})
    except Exception as error:  # one method failing on one machine must not lose the other results
        return [{**row, "error": f"{type(error).__name__}: {error}"}]
    names = np.array([Path(members.file[i]).name for i in test])
    domains = members.domain[test].to_numpy()
    if submission:
        _write_submission(out_dir / method, edition, machine_type, machine, names, np.mean(all_scores, axis=0),
                          float(np.mean(thresholds)), domains)
    else:
        path = out_dir / score_file_name(machine_type, machine, method)
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"file": names, "score": np.mean(all_scores, axis=0)}).to_csv(path, index=False, header=False)
    rows = [{**row, **summarize(runs), "error": ""}]
    for domain in sorted(set(domains) - {""}):
        if edition == "DCASE 2021":  # each domain on its own normal and anomalous test clips
            part = labelled & (domains == domain)
        else:  # 2022 on: the domain's normal clips and every anomalous clip of the section
            part = labelled & ((domains == domain) | (y == 1))
        if len(set(y[part])) == 2:
            runs = [evaluate(y[part], scores[part]) for scores in all_scores]
            rows.append({**row, "domain": domain, **summarize(runs), "error": ""})
    return rows



def _features(paths, max_bytes):
    """Clips' features from the cache: an array (n_clips, n_values), or :class:`FeatureFiles` if larger than max_bytes."""
    files = FeatureFiles(paths)
    return files if files.nbytes > max_bytes else np.asarray(files)


def _averages(table):
    """Per method (and domain, where there are domains): mean and harmonic mean over the machines with metrics."""
    rows = []
    for (method, domain), part in table.groupby(["method", "domain"], sort=False):
        ok = part[(part.error == "") & part.auc.notna()] if "auc" in part else part.iloc[:0]
        if ok.empty:
            continue
        for name, average in (("mean", np.mean), ("harmonic mean", harmonic_mean)):
            rows.append({"machine_type": name, "machine": "", "domain": domain, "method": method, "error": "",
                         **{key: float(average(ok[key])) for key in ("auc", "pauc", "ap")}})
    return pd.DataFrame(rows)


def to_markdown(table):
    """The results table as a Markdown table (AUC, pAUC, AP with their spread over seeds; the official
    score where the table has one)."""
    scored = "score" in table.columns and table.score.notna().any()
    columns = ["machine type", "machine", "domain", "method", "AUC", "pAUC", "AP", *(["score"] if scored else []), "train s", "error"]
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]

    def cell(row, key):
        value = row.get(key)
        if value is None or pd.isna(value):
            return ""
        spread = row.get(f"{key}_std")
        return f"{value:.3f}" + (f" ± {spread:.3f}" if spread is not None and not pd.isna(spread) else "")

    for _, row in table.iterrows():
        fit = "" if pd.isna(row.get("fit_s")) else f"{row['fit_s']:.1f}"
        score = f" {cell(row, 'score')} |" if scored else ""
        lines.append(f"| {row.machine_type} | {row.machine} | {row.domain} | {row.method} | {cell(row, 'auc')} | {cell(row, 'pauc')} | {cell(row, 'ap')} |{score} {fit} | {row.error} |")
    return "\n".join(lines)


RECORDED = ("auc", "auc_std", "pauc", "pauc_std", "ap", "ap_std", "fit_s", "fit_s_std", "score_s", "score_s_std")
"""The numbers a chapter records per method, the means and spreads over seeds that :func:`run` reports."""

_OPTIONAL = ("seeds", "feature_s")
"""Numbers a chapter may record too (see :func:`record`)."""


def _records(data):
    return writable_cache() / "results" / data


def record(chapter, rows, data="anomaly_mini"):
    """Save a chapter's results for the comparison chapter, as ``results/<data>/<chapter>.csv`` in
    the cache. Chapters whose methods are too slow to train again in chapter 07 record what they
    measured; recording again replaces the chapter's file.

    Args:
        chapter (str): The notebook's name, e.g. "05_gan_detection".
        rows (dict): Method name (a key of :data:`METHODS`, measured with that method's settings)
            -> dict with every key of :data:`RECORDED` (e.g. the output of
            :func:`aadlib.detectors.summarize` over seeds, with ``score_s`` the seconds to score
            all test clips) and optionally ``seeds`` and ``feature_s`` (seconds to compute the
            test clips' features, where the method's features are costly).
        data (str): The data set the numbers were measured on.

    Returns:
        pathlib.Path: The file written.

    Notebook: 05_gan_detection, 06_transfer_learning (write); 07_comparison (reads with :func:`recorded`).
    """
    check_methods(rows)
    missing = {key for values in rows.values() for key in RECORDED if key not in values}
    if missing:
        raise AadError(f"A recorded result needs {', '.join(RECORDED)}; missing {', '.join(sorted(missing))}.")
    from . import __version__

    written = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    table = pd.DataFrame([{"method": method, "chapter": chapter, "written": written, "aadlib": __version__,
                           **{key: values.get(key) for key in (*RECORDED, *_OPTIONAL)}}
                          for method, values in rows.items()])
    path = _records(data) / f"{chapter}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    return path


def recorded(methods, data="anomaly_mini"):
    """The results the chapters recorded (:func:`record`) for some methods.

    Args:
        methods (list[str]): Method names.
        data (str): The data set.

    Returns:
        pd.DataFrame: Indexed by method in the order of ``methods``, one row per method that
        some chapter recorded (the newest if several did), with the :data:`RECORDED` numbers, ``chapter``, ``written``
        (UTC time), ``aadlib`` (version), ``seeds`` and ``feature_s``. Methods no chapter
        recorded are absent.
    """
    files = sorted(_records(data).glob("*.csv"))
    if not files:  # typed, so that rows measured elsewhere can be added to it
        numbers = (*RECORDED, *_OPTIONAL)
        return pd.DataFrame(columns=["chapter", "written", "aadlib", *numbers], index=pd.Index([], name="method")).astype(dict.fromkeys(numbers, float))
    table = pd.concat([pd.read_csv(path) for path in files], ignore_index=True)
    table = table[table.method.isin(methods)].sort_values("written").drop_duplicates("method", keep="last").set_index("method")
    return table.loc[[method for method in methods if method in table.index]]
