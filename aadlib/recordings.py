"""Long recordings cut into clips: how monitoring data arrives (whole flights, whole shifts).

A folder of long recordings, each normal or anomalous as a whole, becomes a table of
recordings (:func:`scan_recordings`, no audio read), a table of clips cut from them
(:func:`cut`: clip length, hop, seconds trimmed at both ends) and the clips' features
(:func:`clip_features`: one recording in memory at a time, cached per recording).
:func:`split_by_recording` keeps every clip of a recording on one side of the split:
clips cut from one flight are near copies of each other, so a split by clip would test
on the flights the detector was trained on.

Layouts (:data:`RECORDING_LAYOUTS`):

- ``UAV propeller``: the UAV Propeller Anomaly Audio Data Set (``aadlib.fetch("uav_propeller")``),
  ``Dataset/normal/<mission>/<run>/ch1.wav`` and ``Dataset/<k>_broken/<config>/<mission>/<run>/ch1.wav``
  (``3_4_broken/`` adds a level). ``config`` has a bit per propeller, 1 = broken.
- ``labelled folders``: ``<class>/.../<name>.wav``; the class ``normal`` is normal, any other anomalous.

Notebook: 08_real_flights.
"""

import hashlib
import json
import re
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile

from .utils import SEED, AadError

RECORDING_LAYOUTS = {
    "UAV propeller": "Dataset/normal/cw_square/1/ch1.wav, Dataset/2_broken/0011/ccw_f8/1/ch1.wav",
    "labelled folders": "normal/shift_01.wav, bearing_fault/shift_07.wav (the first folder is the class)",
}
"""The layouts :func:`scan_recordings` understands, with example paths."""

_UAV = re.compile(
    r"(?:^|/)(?:(?P<normal>normal)|(?:3_4_broken/)?(?P<n_broken>[1-4])_broken/(?P<config>[01]{4}))"
    r"/(?P<mission>c?cw_(?:square|f8))/(?P<run>[^/]+)/[^/]+\.wav$"
)

COLUMNS = ["file", "label", "kind", "config", "n_broken", "mission", "duration_s", "sr"]
"""Columns of the table of recordings; a table of clips adds ``recording`` (its row there) and ``start_s``."""


def recording_layout(relative_paths):
    """The layout of :data:`RECORDING_LAYOUTS` that a folder's WAV paths (relative, "/"-separated) are in, or None.

    ``labelled folders`` needs a ``normal`` folder at the top and no path in a clip layout of
    :data:`aadlib.data.LAYOUTS` (a MIMII folder has ``normal`` folders too, deeper down)."""
    from .data import parse_name

    if relative_paths and all(_UAV.search(p) for p in relative_paths):
        return "UAV propeller"
    top = {p.split("/")[0] for p in relative_paths if "/" in p}
    if "normal" in top and all("/" in p and parse_name(p) is None for p in relative_paths):
        return "labelled folders"
    return None


def layout_of(folder):
    """The recording layout of a folder (a key of :data:`RECORDING_LAYOUTS`), or None (e.g. a folder of clips)."""
    from .data import wav_files

    folder = Path(folder)
    try:
        return recording_layout([p.relative_to(folder).as_posix() for p in wav_files(folder)])
    except AadError:  # no folder, or no WAV files: no layout, and the caller says so in its own words
        return None


def scan_recordings(folder):
    """Find the long recordings below a folder and read their labels from their paths (no audio is read).

    Args:
        folder (str | Path): A folder in one of :data:`RECORDING_LAYOUTS`.

    Returns:
        pandas.DataFrame: One row per recording, sorted by path, columns :data:`COLUMNS`: ``file``
        (relative path), ``label`` ("normal" or "anomaly"), ``kind`` (the class: "normal",
        "2_broken", or the folder name), ``config`` and ``n_broken`` (UAV: the broken propellers,
        e.g. "0011" and 2; else "" and -1), ``mission`` (UAV: e.g. "cw_f8"; else ""),
        ``duration_s`` and ``sr`` (Hz) from the file's header. ``attrs["layout"]`` names the layout.

    Raises:
        AadError: Missing folder, no WAV files, a file outside the layout, a header that cannot
            be read, or no normal recording.
    """
    from .data import wav_files

    folder = Path(folder)
    paths = wav_files(folder, "recordings")
    relatives = [p.relative_to(folder).as_posix() for p in paths]
    layout = recording_layout(relatives) or "labelled folders"
    uav = [_UAV.search(r) for r in relatives]
    if any(uav) and not all(uav):
        stray = relatives[[bool(m) for m in uav].index(False)]
        raise AadError(f"{stray} is not in the layout of the other recordings ({RECORDING_LAYOUTS['UAV propeller']}); move it out of the folder.")
    rows = []
    for relative, path, match in zip(relatives, paths, uav):
        if layout == "UAV propeller":
            normal = bool(match["normal"])
            kind = "normal" if normal else f"{match['n_broken']}_broken"
            config, n_broken, mission = ("0000", 0, match["mission"]) if normal else (match["config"], int(match["n_broken"]), match["mission"])
        else:
            if "/" not in relative:
                raise AadError(f"{relative} is in no class folder; recordings go in folders named by their class "
                               f"({RECORDING_LAYOUTS['labelled folders']}).")
            kind, config, n_broken, mission = relative.split("/")[0], "", -1, ""
        try:
            info = soundfile.info(path)
        except Exception as error:  # libsndfile's own words say what is wrong with the header
            raise AadError(f"{relative} is not a readable WAV file ({error}); replace it or remove it from the folder.") from None
        rows.append([relative, "normal" if kind == "normal" else "anomaly", kind, config, n_broken, mission, info.duration, info.samplerate])
    table = pd.DataFrame(rows, columns=COLUMNS)
    if not (table.label == "normal").any():
        raise AadError(f"The folder {folder} has no normal recording (a folder named 'normal'); the detectors train on normal ones.")
    table.attrs["layout"] = layout
    return table


def cut(recordings, clip_s=5.0, hop_s=None, trim_s=(0.0, 0.0)):
    """The clips cut from each recording: a table, no audio read.

    Args:
        recordings (pandas.DataFrame): From :func:`scan_recordings` (any subset of its rows).
        clip_s (float): Clip length in seconds.
        hop_s (float | None): Seconds between clip starts (default ``clip_s``: clips do not overlap).
        trim_s (tuple[float, float]): Seconds left out at the start and at the end of each
            recording (e.g. a drone's take-off and landing).

    Returns:
        pandas.DataFrame: One row per clip, in recording order: ``recording`` (the recording's
        index label in ``recordings``), ``start_s``, and the recording's columns. A recording
        too short for one clip gives none.
    """
    hop_s = clip_s if hop_s is None else hop_s
    if clip_s <= 0 or hop_s <= 0 or min(trim_s) < 0:
        raise AadError(f"Clip length ({clip_s} s) and hop ({hop_s} s) must be positive and the trims ({trim_s}) not negative.")
    parts, short = [], []
    for index, row in recordings.iterrows():
        starts = np.arange(trim_s[0], row.duration_s - trim_s[1] - clip_s + 1e-9, hop_s)
        parts.append(pd.DataFrame({"recording": index, "start_s": starts, **{c: row[c] for c in COLUMNS}}))
        if not len(starts):
            short.append(f"{row.file} ({row.duration_s:.1f} s)")
    if short:
        warnings.warn(f"{len(short)} recording(s) too short for one {clip_s:g} s clip after trimming {trim_s[0]:g} s and "
                      f"{trim_s[1]:g} s, left out: {'; '.join(short)}.", stacklevel=2)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["recording", "start_s", *COLUMNS])


def split_by_recording(recordings, test_size=0.5, seed=SEED):
    """Train/test split by recording: anomalous recordings are all test, normal ones are split.

    The normal recordings are split within each mission (where the layout has missions), so both
    sides fly every path.

    Args:
        recordings (pandas.DataFrame): From :func:`scan_recordings`.
        test_size (float): Share of each mission's normal recordings that go to the test side.
        seed (int): Seeds the draw.

    Returns:
        np.ndarray: "train" or "test" per recording, in the table's order.

    Raises:
        AadError: A mission with fewer than two normal recordings (no split leaves one on each side).
    """
    split = np.full(len(recordings), "test", dtype=object)
    rng = np.random.default_rng(seed)
    labels, missions = recordings.label.to_numpy(), recordings.mission.to_numpy()
    for mission in sorted(set(missions[labels == "normal"])):
        normal = np.flatnonzero((labels == "normal") & (missions == mission))
        if len(normal) < 2:
            raise AadError(f"Mission {mission or '(none)'} has {len(normal)} normal recording(s); a split by recording needs at least 2.")
        n_test = min(len(normal) - 1, max(1, round(test_size * len(normal))))
        split[rng.permutation(normal)[n_test:]] = "train"
    return split.astype(str)


def _cache_file(cache_dir, path, kind, sr, clip_s, hop_s, trim_s):
    from .store import FEATURES

    stat = Path(path).stat()
    blob = json.dumps([str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns, kind, FEATURES[kind], sr, clip_s, hop_s, list(trim_s)])
    return Path(cache_dir) / f"recording_{hashlib.sha256(blob.encode()).hexdigest()[:32]}.npy"


def recording_features(path, starts_s, kind, clip_s, sr=16000):
    """The features of the clips of one recording, read once.

    Args:
        path (str | Path): The WAV file.
        starts_s (array): Clip starts in seconds (from :func:`cut`).
        kind (str): A feature kind of :data:`aadlib.store.FEATURES`.
        clip_s (float): Clip length in seconds.
        sr (int): Resample to this rate (Hz) first (the backbones take 16 kHz whatever it is).

    Returns:
        np.ndarray: (n_clips, ...) float32, a clip's features as
        :func:`aadlib.store.extract_file` gives them.
    """
    from .store import FEATURES, extract_audio
    from .data import read_wav

    audio, rate = read_wav(path, sr=16000 if "backbone" in FEATURES[kind] else sr)
    n = int(round(clip_s * rate))
    return np.stack([extract_audio(audio[int(round(s * rate)) : int(round(s * rate)) + n], rate, kind) for s in starts_s]).astype(np.float32)


def clip_features(folder, recordings, kind, clip_s=5.0, hop_s=None, trim_s=(0.0, 0.0), sr=16000, cache_dir=None, n_jobs=-1, progress=False):
    """Cut recordings into clips and compute their features, a recording at a time, cached per recording.

    Args:
        folder (str | Path): The folder :func:`scan_recordings` read.
        recordings (pandas.DataFrame): Its table, or a subset of its rows.
        kind (str): A feature kind of :data:`aadlib.store.FEATURES`, e.g. "clip_summary".
        clip_s, hop_s, trim_s: As :func:`cut`.
        sr (int): Sample rate (Hz) to resample to.
        cache_dir (str | Path | None): Folder of the cache (default ``features/`` of the user cache).
        n_jobs (int): Worker processes (joblib; -1 = all cores); each holds one recording's audio.
        progress (bool): Show a progress bar over the recordings.

    Returns:
        tuple[pandas.DataFrame, np.ndarray]: The clips (as :func:`cut`; a warning names the
        recordings too short for one clip) and their features
        (n_clips, ...), row for row. A second call with the same arguments reads the cache.
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    from .data import user_cache_dir
    from .store import FEATURES

    if kind not in FEATURES:
        raise AadError(f"Unknown feature kind {kind!r}; choose from {', '.join(FEATURES)}.")
    folder = Path(folder)
    clips = cut(recordings, clip_s, hop_s, trim_s)
    if clips.empty:
        raise AadError(f"No recording is longer than one clip of {clip_s} s after trimming {trim_s} s; use shorter clips or trims.")
    cache_dir = Path(cache_dir) if cache_dir else user_cache_dir() / "features"
    cache_dir.mkdir(parents=True, exist_ok=True)
    hop_s = clip_s if hop_s is None else hop_s
    groups = list(clips.groupby("recording", sort=False))
    jobs = (delayed(_cached_recording)(folder / members.file.iloc[0], members.start_s.to_numpy(), kind, clip_s, hop_s, trim_s, sr, cache_dir)
            for _, members in groups)
    results = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    values = list(tqdm(results, total=len(groups), desc=kind, unit="recording") if progress else results)  # tqdm.auto warns in notebooks even when disabled
    return clips, np.concatenate(values)


def _cached_recording(path, starts_s, kind, clip_s, hop_s, trim_s, sr, cache_dir):
    cached = _cache_file(cache_dir, path, kind, sr, clip_s, hop_s, trim_s)
    if cached.exists():
        return np.load(cached)
    values = recording_features(path, starts_s, kind, clip_s, sr)
    part = cached.with_suffix(".partial.npy")
    np.save(part, values)
    part.replace(cached)  # a run stopped midway never leaves a half-written cache file
    return values


def clip_name(file, start_s):
    """A clip's name in score files: its recording's path and start, e.g. ``Dataset/normal/cw_f8/1/ch1.wav#t=15``
    (the media-fragment form a browser's audio player understands)."""
    return f"{file}#t={start_s:g}"


def run_recordings(folder, methods, seeds=1, out_dir="aad_results", clip_s=5.0, hop_s=None, trim_s=(0.0, 0.0), test_size=0.5,
                   split_seed=SEED, sr=16000, n_jobs=-1, cache_dir=None, progress=True, resume=False, config=None):
    """:func:`aadlib.benchmark.run` for a folder of long recordings: clips cut from them, split by recording.

    Each method (a key of :data:`aadlib.methods.METHODS`) is trained, per seed, on the clips of
    the normal training recordings (:func:`split_by_recording`) and scores the clips of the test
    recordings; an auxiliary classifier (:attr:`aadlib.methods.Method.auxiliary`) learns their mission paths. Writes ``anomaly_score_<folder name>_<method>.csv`` (clip name, mean score over the
    seeds; no header, as DCASE) and ``results.csv`` / ``results.md``.

    Args:
        folder (str | Path): A folder in one of :data:`RECORDING_LAYOUTS`.
        methods (list[str]): Method names.
        seeds (int): Seeds per method (see :func:`aadlib.utils.seeds`).
        out_dir (str | Path): Output folder (created).
        clip_s, hop_s, trim_s: How clips are cut (:func:`cut`).
        test_size (float): Share of each mission's normal recordings in the test set.
        split_seed (int): Seeds the split (the same for every method and seed, so that they compare).
        sr, n_jobs, cache_dir, progress: As :func:`clip_features`.
        resume (bool): Keep the methods an earlier run with the same options finished in ``out_dir``
            (:func:`aadlib.benchmark.resumable`); ``results.csv`` is rewritten as each method finishes.
        config (dict | None): Settings that change the methods', as :func:`aadlib.benchmark.run` takes them.

    Returns:
        pandas.DataFrame: Per method, a row for all test clips (``machine`` "all"), one per number of
        broken propellers ("1 broken", ...; the normal test clips against that severity's clips) and
        one per mission (that mission's normal and anomalous test clips), where the layout has them;
        columns as :func:`aadlib.benchmark.run` (auc, pauc, ap, their ``_std`` over seeds, fit_s,
        score_s, error; auc_low and auc_high, the 95 % interval of the first seed's AUC from a bootstrap
        that resamples whole test recordings), ``machine_type`` the folder's name; and ``n_train``, ``n_test`` (clips).
    """
    from .benchmark import resumable, to_markdown
    from .detectors import summarize
    from .methods import check_methods, configured
    from .metrics import evaluate
    from .utils import seeds as seed_list

    check_methods(methods)
    registry = configured(config)
    folder, out_dir = Path(folder), Path(out_dir)
    table = scan_recordings(folder)
    split = split_by_recording(table, test_size, split_seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = folder.resolve().name
    options = {"folder": str(folder.resolve()), "seeds": seed_list(seeds), "clip_s": clip_s, "hop_s": hop_s, "trim_s": trim_s,
               "test_size": test_size, "split_seed": split_seed, "sr": sr}
    if config:
        options["config"] = config
    done = resumable(out_dir, options, resume, ["method"])
    rows = []
    for method in methods:
        if (method,) in done:
            rows.extend(done[(method,)])
            continue
        record = registry[method]
        kind, make = record
        clips, values = clip_features(folder, table, kind, clip_s, hop_s, trim_s, sr=sr, cache_dir=cache_dir, n_jobs=n_jobs, progress=progress)
        example = values[0]  # one clip's features in their own shape (an image, windows, patches): models are built from it
        values = values.reshape(len(values), -1)  # and one row per clip, as benchmark.run reads its cache
        train = split[clips.recording.to_numpy()] == "train"
        test_clips, X_train, X_test = clips[~train].reset_index(drop=True), values[train], values[~train]
        y = (test_clips.label == "anomaly").to_numpy().astype(int)
        groups = {"all": np.ones(len(y), bool)}
        if (test_clips.n_broken >= 0).all():
            groups |= {f"{k} broken": (test_clips.n_broken == 0).to_numpy() | (test_clips.n_broken == k).to_numpy()
                       for k in sorted(set(test_clips.n_broken) - {0})}
        groups |= {f"mission {m}": (test_clips.mission == m).to_numpy() for m in sorted(set(test_clips.mission) - {""})}
        base = {"machine_type": name, "domain": "", "method": method, "n_train": int(train.sum())}
        if record.auxiliary and len(set(clips.mission[train]) - {""}) < 2:
            rows.append({**base, "machine": "all", "error": "an auxiliary classifier learns to tell apart the mission paths of the "
                                                            "normal training recordings, and this layout has none; choose another method"})
            pd.DataFrame(rows).to_csv(out_dir / "results.csv", index=False)
            continue
        try:
            runs, all_scores = [], []
            for seed in seed_list(seeds):
                started = time.perf_counter()
                detector = make(seed, example).fit(X_train, **record.fit_arguments(aux=clips.mission[train].to_numpy()))
                fit_s = time.perf_counter() - started
                started = time.perf_counter()
                all_scores.append(detector.decision_function(X_test))
                runs.append({"fit_s": fit_s, "score_s": time.perf_counter() - started})
        except Exception as error:  # one method failing must not lose the others' results
            rows.append({**base, "machine": "all", "error": f"{type(error).__name__}: {error}"})
            pd.DataFrame(rows).to_csv(out_dir / "results.csv", index=False)
            continue
        pd.DataFrame({"file": [clip_name(f, s) for f, s in zip(test_clips.file, test_clips.start_s)], "score": np.mean(all_scores, axis=0)}).to_csv(
            out_dir / f"anomaly_score_{name}_{method}.csv", index=False, header=False)
        for group, part in groups.items():
            if len(set(y[part])) < 2:
                continue
            results = [{**evaluate(y[part], scores[part]), **(times if group == "all" else {})} for scores, times in zip(all_scores, runs)]
            interval = (y[part], all_scores[0][part], test_clips.recording[part])  # the first seed's AUC, resampling whole flights
            rows.append({**base, "machine": group, **summarize(results, *interval), "n_test": int(part.sum()), "error": ""})
        pd.DataFrame(rows).to_csv(out_dir / "results.csv", index=False)  # as each method finishes: a killed run keeps its work
    results = pd.DataFrame(rows)
    results.to_csv(out_dir / "results.csv", index=False)
    (out_dir / "results.md").write_text(to_markdown(results) + "\n")
    return results
