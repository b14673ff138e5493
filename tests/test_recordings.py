"""Long recordings: the registry of the drone flights, downloads file by file, clips cut from flights, splits by recording."""

import csv
import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SR, tone, write

import aadlib
from aadlib import benchmark, data, recordings
from aadlib.utils import AadError

UAV_FILES = [
    "Dataset/normal/cw_square/1/ch1.wav",
    "Dataset/normal/cw_square/2/ch1.wav",
    "Dataset/normal/cw_square/3/ch1.wav",
    "Dataset/normal/ccw_f8/1/ch1.wav",
    "Dataset/normal/ccw_f8/2/ch1.wav",
    "Dataset/1_broken/0001/cw_square/1/ch1.wav",
    "Dataset/2_broken/0011/ccw_f8/1/ch1.wav",
    "Dataset/3_4_broken/3_broken/0111/cw_square/1/ch1.wav",
    "Dataset/3_4_broken/4_broken/1111/ccw_f8/1/ch1.wav",
]


@pytest.fixture
def uav_folder(tmp_path):
    """A small folder in the drone set's layout: 5 normal flights on 2 missions, 4 broken ones; 12 s each."""
    for i, name in enumerate(UAV_FILES):
        write(tmp_path / "uav" / name, tone(seconds=12, freq=300 + 40 * i, seed=i))
    return tmp_path / "uav"


# -- the registry and file-by-file downloads -----------------------------------------------------


def test_the_registry_lists_every_file_of_the_drone_set_at_a_pinned_commit():
    entry = aadlib.REGISTRY["uav_propeller"]
    files = entry.files()
    assert len(files) == 293 and sum(size for _, size, _ in files) > 500e6
    assert all(path.endswith(".wav") and len(digest) == 64 for path, _, digest in files)
    assert sum(path.startswith("Dataset/normal/") for path, _, _ in files) == 78
    assert entry.base_url.startswith("https://github.com/tiiuae/UAV-Propeller-Anomaly-Audio-Dataset/raw/") and len(entry.base_url.split("/")[-2]) == 40


def test_the_offline_copy_matches_the_registry():
    """CI's copy (AAD_DATA_DIR) holds part of the set; every file it has is one the registry lists, with its checksum."""
    folder = data.data_dir() / "uav_propeller"
    if not folder.is_dir():
        pytest.skip(f"no copy of the drone flights in {data.data_dir()}")
    listed = {path: digest for path, _, digest in aadlib.REGISTRY["uav_propeller"].files()}
    local = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.wav"))
    assert local and all(path in listed for path in local)
    assert data.verified(folder, [(p, (folder / p).stat().st_size, listed[p]) for p in local]) == set(local)


@pytest.fixture
def file_set(tmp_path, monkeypatch, http_folder):
    """A registered FileSet 'flights' of 3 small WAV files served over loopback HTTP; cache in tmp_path/cache."""
    served, base = http_folder
    names = UAV_FILES[:2] + UAV_FILES[5:6]
    rows = []
    for i, name in enumerate(names):
        write(served / name, tone(seconds=1, seed=i))
        rows.append((name, (served / name).stat().st_size, hashlib.sha256((served / name).read_bytes()).hexdigest()))
    listing = tmp_path / "flights.csv"
    with open(listing, "w", newline="") as f:
        csv.writer(f).writerows([("path", "bytes", "sha256"), *rows])
    entry = data.FileSet(base_url=f"{base}/", listing=str(listing), folder="flights", description="")
    rows.sort()  # the order of entry.files(), and of the downloads
    monkeypatch.setitem(data.REGISTRY, "flights", entry)
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(data, "user_cache_dir", lambda: tmp_path / "user-cache")
    return entry, served, rows, tmp_path / "cache"


def count_downloads(monkeypatch):
    calls = []
    real = data._retrieve
    monkeypatch.setattr(data, "_retrieve", lambda url, destination, progress=False: (calls.append(url), real(url, destination, progress)))
    return calls


def test_a_file_set_is_downloaded_verified_and_never_again(file_set, monkeypatch):
    entry, served, rows, cache = file_set
    calls = count_downloads(monkeypatch)
    folder = aadlib.fetch("flights")
    assert folder == cache / "flights" and len(calls) == 3
    assert all((folder / name).read_bytes() == (served / name).read_bytes() for name, _, _ in rows)
    assert not list(folder.rglob("*.part"))
    assert aadlib.fetch("flights") == folder and len(calls) == 3


def test_an_interrupted_download_never_counts_as_good(file_set, monkeypatch):
    """A run stopped in the middle of a file leaves at most a .part file; the next run downloads that file again."""
    entry, served, rows, cache = file_set
    real = data._retrieve

    def stopped(url, destination, progress=False):
        if url.endswith(rows[1][0]):
            destination.write_bytes(b"RIFF half a file")
            raise KeyboardInterrupt
        real(url, destination, progress)

    monkeypatch.setattr(data, "_retrieve", stopped)
    with pytest.raises(KeyboardInterrupt):
        aadlib.fetch("flights")
    folder = cache / "flights"
    assert (folder / rows[0][0]).is_file() and not (folder / rows[1][0]).exists()
    monkeypatch.setattr(data, "_retrieve", real)
    calls = count_downloads(monkeypatch)
    aadlib.fetch("flights")
    assert calls == [entry.base_url + rows[1][0], entry.base_url + rows[2][0]]  # the verified file was not fetched again
    assert (folder / rows[1][0]).read_bytes() == (served / rows[1][0]).read_bytes()


def test_a_file_with_a_wrong_checksum_is_set_aside_and_fetched_again(file_set):
    entry, served, rows, cache = file_set
    aadlib.fetch("flights")
    damaged = cache / "flights" / rows[0][0]
    damaged.write_bytes(b"x" * rows[0][1])  # same size, other bytes
    aadlib.fetch("flights")
    assert damaged.read_bytes() == (served / rows[0][0]).read_bytes()
    assert damaged.with_name(damaged.name + ".corrupt").read_bytes() == b"x" * rows[0][1]


def test_a_download_with_a_wrong_checksum_names_the_file(file_set):
    entry, served, rows, cache = file_set
    (served / rows[2][0]).write_bytes(b"changed at the source")
    with pytest.raises(AadError, match=f"The download of {rows[2][0]} from .* has SHA-256"):
        aadlib.fetch("flights")
    assert (cache / "flights" / (rows[2][0] + ".corrupt")).is_file() and not (cache / "flights" / rows[2][0]).exists()


def offline(entry, http_folder, monkeypatch):
    """Register the same files at a URL where nothing listens (port 9), as without network."""
    moved = data.FileSet(entry.base_url.replace(http_folder[1], "http://127.0.0.1:9"), entry.listing, entry.folder, "")
    monkeypatch.setitem(data.REGISTRY, "flights", moved)
    return moved.base_url


def test_offline_a_missing_file_is_one_sentence_with_its_name_and_url(file_set, http_folder, monkeypatch):
    entry, served, rows, cache = file_set
    base_url = offline(entry, http_folder, monkeypatch)
    with pytest.raises(AadError) as excinfo:
        aadlib.fetch("flights")
    text = str(excinfo.value)
    assert text.startswith(f"Could not download {rows[0][0]} from {base_url}{rows[0][0]} (ConnectionError)")
    assert "0 of 3 files" in text and excinfo.value.__cause__ is None


def test_offline_with_part_of_the_set_in_a_read_only_copy(file_set, http_folder, monkeypatch):
    """CI's case: the shared copy is read-only and holds some files; partial=True works with them, and says how many."""
    entry, served, rows, cache = file_set
    shared = cache / "flights"
    for name, _, _ in rows[:2]:
        (shared / name).parent.mkdir(parents=True, exist_ok=True)
        (shared / name).write_bytes((served / name).read_bytes())
    before = sorted(shared.rglob("*"))
    real_access = os.access
    monkeypatch.setattr(data.os, "access", lambda path, mode: False if Path(path) == cache else real_access(path, mode))
    offline(entry, http_folder, monkeypatch)
    with pytest.raises(AadError, match=f"Could not download {rows[2][0]} .*2 of 3 files are in .*partial=True"):
        aadlib.fetch("flights")
    with pytest.warns(UserWarning, match="working with the 2 of 3 files"):
        folder = aadlib.fetch("flights", partial=True)
    assert folder == cache.parent / "user-cache" / "flights"
    assert len(recordings.scan_recordings(folder)) == 2
    assert sorted(shared.rglob("*")) == before  # nothing written into the shared copy


def test_command_line_fetch_of_a_file_set(file_set, capsys):
    from aadlib.__main__ import main

    assert main(["fetch", "flights"]) == 0
    out = capsys.readouterr().out
    assert "flights: 3 of 3 files" in out and str(file_set[3] / "flights") in out


# -- recordings, clips and splits ---------------------------------------------------------------


def test_scan_reads_the_drone_layout(uav_folder):
    table = recordings.scan_recordings(uav_folder)
    assert table.attrs["layout"] == "UAV propeller" and len(table) == len(UAV_FILES)
    assert list(table.label).count("normal") == 5
    broken = table[table.label == "anomaly"].set_index("config")
    assert dict(broken.n_broken) == {"0001": 1, "0011": 2, "0111": 3, "1111": 4}
    assert set(table.mission) == {"cw_square", "ccw_f8"}
    assert np.allclose(table.duration_s, 12) and set(table.sr) == {SR}


def test_scan_reads_labelled_folders(tmp_path):
    for name in ("normal/a.wav", "normal/b.wav", "bearing/c.wav"):
        write(tmp_path / name, tone(seconds=3))
    table = recordings.scan_recordings(tmp_path)
    assert table.attrs["layout"] == "labelled folders"
    assert list(table.label) == ["anomaly", "normal", "normal"] and list(table.kind) == ["bearing", "normal", "normal"]


@pytest.mark.parametrize(
    "files, message",
    [(["loose.wav"], "is in no class folder"), (["fault/a.wav"], "has no normal recording"), ([], "has no .wav files")],
)
def test_scan_explains_what_is_wrong(tmp_path, files, message):
    tmp_path.joinpath("keep").mkdir()
    for name in files:
        write(tmp_path / name)
    with pytest.raises(AadError, match=message):
        recordings.scan_recordings(tmp_path)


def test_a_file_outside_the_drone_layout_is_named(uav_folder):
    write(uav_folder / "Dataset/5_broken/11111/cw_square/1/ch1.wav")
    with pytest.raises(AadError, match=r"^Dataset/5_broken/11111/cw_square/1/ch1.wav is not in the layout"):
        recordings.scan_recordings(uav_folder)


def test_cut_gives_clips_of_the_chosen_length_hop_and_trims(uav_folder):
    table = recordings.scan_recordings(uav_folder).iloc[:2]
    assert len(recordings.cut(table, clip_s=5)) == 2 * 2  # 0-5, 5-10 of 12 s
    clips = recordings.cut(table, clip_s=2, hop_s=1, trim_s=(3, 4))  # starts 3, 4, 5, 6 (6 + 2 <= 12 - 4)
    assert list(clips.start_s[clips.recording == 0]) == [3, 4, 5, 6]
    assert set(clips.columns) >= {"recording", "start_s", "mission", "n_broken", "label"}
    with pytest.warns(UserWarning, match=r"2 recording\(s\) too short for one 20 s clip .*Dataset/1_broken/0001/cw_square/1/ch1.wav \(12.0 s\)"):
        assert recordings.cut(table, clip_s=20).empty


def test_split_is_by_recording_stratified_by_mission_and_seeded(uav_folder):
    table = recordings.scan_recordings(uav_folder)
    split = recordings.split_by_recording(table, seed=0)
    assert set(split[table.label == "anomaly"]) == {"test"}
    for mission in ("cw_square", "ccw_f8"):
        sides = split[(table.label == "normal") & (table.mission == mission)]
        assert {"train", "test"} <= set(sides)
    assert list(split) == list(recordings.split_by_recording(table, seed=0))
    assert len({tuple(recordings.split_by_recording(table, seed=s)) for s in range(6)}) > 1


def test_split_needs_two_normal_recordings_per_mission(uav_folder):
    table = recordings.scan_recordings(uav_folder)
    with pytest.raises(AadError, match="Mission ccw_f8 has 1 normal recording"):
        recordings.split_by_recording(table.drop(index=table.index[table.file == "Dataset/normal/ccw_f8/1/ch1.wav"]))


def test_clip_features_are_those_of_the_cut_audio_and_cached_per_recording(uav_folder, tmp_path, monkeypatch):
    table = recordings.scan_recordings(uav_folder).iloc[:3]
    clips, values = recordings.clip_features(uav_folder, table, "clip_summary", clip_s=4, hop_s=4, cache_dir=tmp_path / "cache", n_jobs=1)
    assert values.shape == (3 * 3, 256) and len(clips) == len(values)
    audio, rate = data.read_wav(uav_folder / table.file[1])
    expected = benchmark.extract_audio(audio[4 * rate : 8 * rate], rate, "clip_summary")
    assert np.allclose(values[4], expected)
    assert len(list((tmp_path / "cache").glob("recording_*.npy"))) == 3
    monkeypatch.setattr(recordings, "recording_features", lambda *args: pytest.fail("the cache was not used"))
    again = recordings.clip_features(uav_folder, table, "clip_summary", clip_s=4, hop_s=4, cache_dir=tmp_path / "cache", n_jobs=1)[1]
    assert np.array_equal(again, values)


def test_the_offline_drone_flights():
    """What the chapter builds on: every flight of the offline copy, cut into 5 s clips."""
    folder = data.data_dir() / "uav_propeller"
    if not folder.is_dir():
        pytest.skip(f"no copy of the drone flights in {data.data_dir()}")
    table = recordings.scan_recordings(folder)
    assert table.attrs["layout"] == "UAV propeller" and len(table) >= 8
    assert set(table.sr) == {16000} and table.duration_s.between(40, 120).all()  # 42 to 108 s in CI's copy of 62
    clips = recordings.cut(table, clip_s=5)
    assert len(clips) > 10 * len(table)


def test_recording_layouts_are_told_apart_from_clip_layouts():
    assert recordings.recording_layout(UAV_FILES) == "UAV propeller"
    assert recordings.recording_layout(["normal/a.wav", "fault/b.wav"]) == "labelled folders"
    assert recordings.recording_layout(["valve/id_00/normal/00000000.wav", "valve/id_00/abnormal/00000000.wav"]) is None  # MIMII
    assert recordings.recording_layout(["train_0.wav", "test_normal_0.wav"]) is None  # anomaly_mini


def test_command_line_benchmark_on_long_recordings(uav_folder, tmp_path, capsys):
    """Clips cut from each flight, split by flight; results overall, per number of broken propellers and per mission."""
    from aadlib.__main__ import main

    for i, name in enumerate(UAV_FILES[:5]):  # a third normal flight per mission, so that each side has one
        write(uav_folder / f"{name.rsplit('/', 2)[0]}/9{i}/ch1.wav", tone(seconds=12, freq=300 + 40 * i, seed=20 + i))
    out = tmp_path / "out"
    status = main(["benchmark", str(uav_folder), "--method", "gmm", "--seeds", "2", "--clip", "2", "--trim", "1", "1",
                   "--out", str(out), "--cache", str(tmp_path / "cache"), "--jobs", "1"])
    assert status == 0, capsys.readouterr().err
    table = pd.read_csv(out / "results.csv")
    assert set(table.machine) == {"all", "1 broken", "2 broken", "3 broken", "4 broken", "mission cw_square", "mission ccw_f8"}
    assert table.auc.between(0, 1).all() and (table.error.isna()).all()
    assert (table.auc_low <= table.auc_high).all() and table.auc_high.between(0, 1).all()  # the first seed's interval, by flights
    scores = pd.read_csv(out / "anomaly_score_uav_gmm.csv", header=None, names=["name", "score"])
    clips_per_flight = 5  # 12 s less 1 s at each end: 10 s, five 2 s clips
    train_flights = table.n_train[0] // clips_per_flight
    assert len(scores) == (len(UAV_FILES) + 5 - train_flights) * clips_per_flight
    assert scores["name"].str.match(r"Dataset/.+/ch1\.wav#t=\d+").all()
    tested = set(scores["name"].str.split("#").str[0])
    assert len(tested) == len(UAV_FILES) + 5 - train_flights  # every clip of a tested flight is tested, none of a training flight


def test_resume_on_long_recordings_keeps_the_finished_methods(uav_folder, tmp_path, monkeypatch):
    options = {"out_dir": tmp_path / "out", "clip_s": 4, "cache_dir": tmp_path / "cache", "n_jobs": 1, "progress": False}
    first = recordings.run_recordings(uav_folder, ["gmm"], **options)
    real, computed = recordings.clip_features, []
    monkeypatch.setattr(recordings, "clip_features", lambda *args, **kwargs: computed.append(args[2]) or real(*args, **kwargs))
    both = recordings.run_recordings(uav_folder, ["gmm", "lof"], resume=True, **options)
    assert computed == ["clip_summary"]  # for lof only: gmm's rows are kept
    pd.testing.assert_frame_equal(both[both.method == "gmm"].reset_index(drop=True)[["machine", "auc", "pauc"]], first[["machine", "auc", "pauc"]])
    with pytest.raises(AadError, match="other options"):
        recordings.run_recordings(uav_folder, ["gmm"], resume=True, **{**options, "clip_s": 2})


@pytest.mark.parametrize("method", ["cae2d", "lstm_ae"])
def test_models_of_images_and_windows_run_on_long_recordings(uav_folder, tmp_path, method):
    """A clip's features that are an image or a sequence of windows reach the model as one row per clip, as in benchmark.run."""
    table = recordings.run_recordings(uav_folder, [method], out_dir=tmp_path / "out", clip_s=4, cache_dir=tmp_path / "cache", n_jobs=1, progress=False,
                                      config={method: {"epochs": 1, "batch_size": 4}})
    assert (table.error == "").all(), table.error.iloc[0]
    assert table.auc.between(0, 1).all() and (table.machine == "all").any()


def test_the_file_lists_are_in_the_wheel(tmp_path):
    """pip install (Colab's, from git) builds a wheel: the registry's file lists must be in it, not only in a checkout."""
    import shutil
    import subprocess
    import sys
    import zipfile

    root = Path(__file__).resolve().parents[1]
    source = tmp_path / "source"  # a copy: setuptools writes build/ and egg-info into the tree it builds
    shutil.copytree(root / "aadlib", source / "aadlib", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (root / name).exists():
            shutil.copy(root / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(source)],
                   check=True, capture_output=True)
    (wheel,) = tmp_path.glob("aadlib-*.whl")
    listed = {Path(name).name for name in zipfile.ZipFile(wheel).namelist()}
    assert {p.name for p in (root / "aadlib" / "registry").glob("*.csv")} <= listed


def test_an_auxiliary_classifier_learns_the_missions_of_the_normal_training_flights(uav_folder, tmp_path, monkeypatch):
    from aadlib.auxiliary import AuxClassifier

    fits, real_fit = [], AuxClassifier.fit
    monkeypatch.setattr(AuxClassifier, "fit", lambda self, X, y=None, aux=None: fits.append(set(aux)) or real_fit(self, X, y, aux))
    options = {"clip_s": 4, "cache_dir": tmp_path / "cache", "n_jobs": 1, "progress": False, "config": {"adacos": {"epochs": 2}}}
    table = recordings.run_recordings(uav_folder, ["adacos"], out_dir=tmp_path / "out", **options)
    assert (table.error == "").all(), table.error.iloc[0]
    assert fits == [{"cw_square", "ccw_f8"}] and table.auc.between(0, 1).all()

    for name in ("normal/a.wav", "normal/b.wav", "normal/c.wav", "bearing/d.wav"):  # labelled folders: no missions
        write(tmp_path / "plain" / name, tone(seconds=8))
    plain = recordings.run_recordings(tmp_path / "plain", ["adacos", "gmm"], out_dir=tmp_path / "plain_out", **options)
    assert plain[plain.method == "adacos"].error.iloc[0].startswith("an auxiliary classifier learns to tell apart the mission paths")
    assert (plain[plain.method == "gmm"].error == "").all()
