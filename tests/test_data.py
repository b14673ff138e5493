import hashlib
import io
import os
import socket
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import LAYOUT_FILES, SR, tone, write

import aadlib
from aadlib import data
from aadlib.utils import AadError

# --------------------------------------------------------------------------- layouts


def test_anomaly_mini_layout(layout_folder):
    clips = aadlib.load_clips(layout_folder("anomaly_mini"))
    assert clips.layout == "anomaly_mini"
    assert clips.files == ["test_anomaly_0.wav", "test_normal_0.wav", "train_0.wav", "train_1.wav"]
    assert list(clips.split) == ["test", "test", "train", "train"]
    assert list(clips.label) == ["anomaly", "normal", "normal", "normal"]
    assert list(clips.y) == [1, 0, 0, 0]
    assert clips.signals.shape == (4, SR // 2) and clips.signals.dtype == np.float32 and clips.sr == SR
    assert len(clips.train) == 2 and set(clips.train.label) == {"normal"}
    assert list(clips.test.y) == [1, 0]


def test_mimii_layout_gets_the_baseline_split(layout_folder):
    clips = aadlib.load_clips(layout_folder("MIMII"))
    assert clips.layout == "MIMII"
    table = dict(zip(clips.files, zip(clips.machine_id, clips.split, clips.label)))
    assert table["valve/id_00/abnormal/00000000.wav"] == ("id_00", "test", "anomaly")
    # as many normal clips as anomalies go to the test set, the first ones by name
    assert table["valve/id_00/normal/00000000.wav"] == ("id_00", "test", "normal")
    assert table["valve/id_00/normal/00000001.wav"] == ("id_00", "train", "normal")
    assert table["valve/id_02/normal/00000000.wav"] == ("id_02", "test", "normal")
    assert table["valve/id_02/normal/00000001.wav"] == ("id_02", "train", "normal")
    assert set(clips.machine_type) == {"valve"}


def test_dcase2020_layout(layout_folder):
    clips = aadlib.load_clips(layout_folder("DCASE 2020"))
    assert clips.layout == "DCASE 2020"
    assert list(clips.split) == ["test", "test", "train", "train"]
    assert list(clips.label) == ["anomaly", "normal", "normal", "normal"]
    assert list(clips.machine_id) == ["id_00", "id_00", "id_00", "id_02"]
    assert set(clips.machine_type) == {"valve"}


def test_dcase2021_layout_with_sections_and_domains(layout_folder):
    clips = aadlib.load_clips(layout_folder("DCASE 2021+"))
    assert clips.layout == "DCASE 2021+"
    by_file = {f: (sec, dom, sp, lab) for f, sec, dom, sp, lab in zip(clips.files, clips.section, clips.domain, clips.split, clips.label)}
    assert by_file["fan/test/section_00_target_test_anomaly_0001_m-n_W.wav"] == ("00", "target", "test", "anomaly")
    assert by_file["fan/train/section_01_target_train_normal_0000.wav"] == ("01", "target", "train", "normal")
    assert by_file["fan/train/section_00_source_train_normal_0000_strength_1_ambient.wav"] == ("00", "source", "train", "normal")
    assert set(clips.machine_type) == {"fan"}


@pytest.mark.parametrize("layout", list(LAYOUT_FILES))
def test_every_example_name_parses_to_its_layout(layout):
    for name in LAYOUT_FILES[layout]:
        assert data.parse_name(name)[0] == layout


def test_parse_name_rejects_other_names():
    assert data.parse_name("recording_01.wav") is None
    assert data.parse_name("valve/id_00/broken/0.wav") is None


def test_dcase_evaluation_clips_are_test_clips_without_labels():
    assert data.parse_name("ToyCar/test/id_05_00000000.wav") == ("DCASE 2020", {
        "split": "test", "label": "", "machine_type": "ToyCar", "machine_id": "id_05", "section": "", "domain": ""})
    layout, fields = data.parse_name("fan/source_test/section_03_source_test_0000.wav")  # 2021
    assert (layout, fields["split"], fields["label"], fields["section"], fields["domain"]) == ("DCASE 2021+", "test", "", "03", "source")
    layout, fields = data.parse_name("bearing/test/section_00_0000.wav")  # 2022 on: no domain either
    assert (layout, fields["split"], fields["label"], fields["machine_type"], fields["domain"]) == ("DCASE 2021+", "test", "", "bearing", "")
    assert data.parse_name("valve/train/id_00_00000000.wav")[1]["label"] == "normal"  # training clips are normal
    assert data.parse_name("normal/section_00_0000.wav") is None  # only in a test folder


def test_folders_above_the_machine_type_are_part_of_it():
    assert data.parse_name("-6_dB_valve/valve/id_00/normal/00000000.wav")[1]["machine_type"] == "-6_dB_valve/valve"
    assert data.parse_name("6dB/valve/id_00/abnormal/00000000.wav")[1]["machine_type"] == "6dB/valve"
    assert data.parse_name("dev_data/fan/train/section_00_source_train_normal_0000.wav")[1]["machine_type"] == "dev_data/fan"


def test_a_folder_of_one_machine_type_gives_its_name(layout_folder):
    layout, records = aadlib.scan(layout_folder("DCASE 2020") / "valve")
    assert layout == "DCASE 2020" and {fields["machine_type"] for _, fields in records} == {"valve"}
    layout, records = aadlib.scan(layout_folder("MIMII") / "valve" / "id_00" / "..")  # a path that ends in ".."
    assert {fields["machine_type"] for _, fields in records} == {"valve"}


def test_mimii_snr_folders_get_the_baseline_split_each(tmp_path):
    for snr in ("-6_dB", "6_dB"):
        for i, name in enumerate(LAYOUT_FILES["MIMII"]):
            write(tmp_path / snr / name, tone(freq=200 + 50 * i, seed=i))
    clips = aadlib.load_clips(tmp_path)
    assert set(clips.machine_type) == {"-6_dB/valve", "6_dB/valve"}
    for snr in ("-6_dB", "6_dB"):
        mine = clips.select(clips.machine_type == f"{snr}/valve")
        assert (mine.split == "test").sum() == 4 and (mine.split == "train").sum() == 3  # as many normal test clips as anomalies


def eval_folder(root):
    """A DCASE 2020 evaluation set: labelled training clips, unlabelled test clips of two machine types."""
    names = ["ToyCar/train/normal_id_05_00000000.wav", "ToyCar/test/id_05_00000000.wav", "ToyCar/test/id_05_00000001.wav",
             "valve/train/normal_id_05_00000000.wav", "valve/test/id_05_00000000.wav"]
    for i, name in enumerate(names):
        write(root / name, tone(freq=200 + 50 * i, seed=i))
    return root


def test_unlabelled_test_clips_load_with_an_empty_label(tmp_path):
    clips = aadlib.load_clips(eval_folder(tmp_path))
    assert list(clips.test.label) == ["", "", ""] and list(clips.train.label) == ["normal", "normal"]


def test_dcase2020_ground_truth_labels_the_evaluation_clips(tmp_path):
    """eval_data_list.csv: a machine type alone on a line, then file, labelled name, label; one file name
    (id_05_00000000.wav) is in two machine types with different labels."""
    truth = tmp_path / "eval_data_list.csv"
    truth.write_text("ToyCar\nid_05_00000000.wav,anomaly_id_05_00000000.wav,1\nid_05_00000001.wav,normal_id_05_00000001.wav,0\n"
                     "valve\nid_05_00000000.wav,normal_id_05_00000000.wav,0\n")
    clips = aadlib.load_clips(eval_folder(tmp_path / "eval"), ground_truth=truth)
    labels = dict(zip(clips.files, clips.label))
    assert labels["ToyCar/test/id_05_00000000.wav"] == "anomaly" and labels["ToyCar/test/id_05_00000001.wav"] == "normal"
    assert labels["valve/test/id_05_00000000.wav"] == "normal"


def test_dcase2023_ground_truth_gives_labels_and_domains(tmp_path):
    """The evaluator's folders: ground_truth_data (labels), ground_truth_domain (0 source, 1 target),
    ground_truth_attributes (not ground truth: skipped)."""
    for name in ["bearing/train/section_00_source_train_normal_0000_vel_6.wav", "bearing/test/section_00_0000.wav",
                 "bearing/test/section_00_0001.wav"]:
        write(tmp_path / "eval" / name)
    for folder, rows in (("data", "section_00_0000.wav,1\nsection_00_0001.wav,0\n"), ("domain", "section_00_0000.wav,0\nsection_00_0001.wav,1\n"),
                         ("attributes", "vel_6,section_00_0000\n")):
        (tmp_path / "gt" / f"ground_truth_{folder}").mkdir(parents=True)
        (tmp_path / "gt" / f"ground_truth_{folder}" / "ground_truth_bearing_section_00_test.csv").write_text(rows)
    truth = data.read_ground_truth(tmp_path / "gt")
    assert truth == {("bearing", "section_00_0000.wav"): {"label": "anomaly", "domain": "source"},
                     ("bearing", "section_00_0001.wav"): {"label": "normal", "domain": "target"}}
    clips = aadlib.load_clips(tmp_path / "eval", ground_truth=tmp_path / "gt").test
    assert list(zip(clips.label, clips.domain)) == [("anomaly", "source"), ("normal", "target")]


def test_ground_truth_of_another_set_is_an_error(tmp_path):
    truth = tmp_path / "ground_truth_fan_section_03_source_test.csv"
    truth.write_text("section_03_source_test_0000.wav,1\n")
    with pytest.raises(AadError, match="names none of the test clips") as excinfo:
        aadlib.load_clips(eval_folder(tmp_path / "eval"), ground_truth=truth)
    message(excinfo)


def test_ground_truth_with_a_value_other_than_0_or_1_names_the_line(tmp_path):
    truth = tmp_path / "ground_truth_fan_section_03_test.csv"
    truth.write_text("section_03_0000.wav,1\nsection_03_0001.wav,anomaly\n")
    with pytest.raises(AadError, match=r"line 2: the label of section_03_0001.wav is 'anomaly', not 0 or 1") as excinfo:
        data.read_ground_truth(truth)
    message(excinfo)
    with pytest.raises(AadError, match="does not exist"):
        data.read_ground_truth(tmp_path / "nowhere")


# --------------------------------------------------------------------------- bad input


def message(excinfo):
    """The error's text, after checking it is one line and hides the library error behind it."""
    error = excinfo.value
    assert "\n" not in str(error)
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    return str(error)


def test_missing_folder(tmp_path):
    with pytest.raises(AadError, match="does not exist") as excinfo:
        aadlib.load_clips(tmp_path / "nowhere")
    assert "aadlib.fetch()" in message(excinfo)


def test_folder_without_wav_files(tmp_path):
    (tmp_path / "notes.txt").write_text("no audio here")
    with pytest.raises(AadError, match="has no .wav files"):
        aadlib.load_clips(tmp_path)


def test_file_in_no_known_layout_lists_the_layouts(tmp_path):
    write(tmp_path / "recording_01.wav")
    with pytest.raises(AadError) as excinfo:
        aadlib.load_clips(tmp_path)
    text = message(excinfo)
    assert "recording_01.wav fits none of the known layouts" in text
    assert all(layout in text for layout in aadlib.LAYOUTS)


def test_mixed_layouts(tmp_path):
    write(tmp_path / "train_0.wav")
    write(tmp_path / "valve/train/normal_id_00_00000000.wav")
    with pytest.raises(AadError, match="mixes the layouts"):
        aadlib.load_clips(tmp_path)


def test_header_only_wav(tmp_path):
    write(tmp_path / "train_0.wav")
    write(tmp_path / "train_1.wav", np.zeros(0, dtype=np.float32))
    assert (tmp_path / "train_1.wav").stat().st_size == 44
    with pytest.raises(AadError, match=r"train_1.wav has no audio samples") as excinfo:
        aadlib.load_clips(tmp_path)
    message(excinfo)


def test_zero_byte_file(tmp_path):
    write(tmp_path / "train_0.wav")
    (tmp_path / "train_1.wav").write_bytes(b"")
    with pytest.raises(AadError, match=r"train_1.wav is not a readable WAV file"):
        aadlib.load_clips(tmp_path)


def test_corrupt_wav(tmp_path):
    write(tmp_path / "train_0.wav")
    (tmp_path / "train_1.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk" + os.urandom(64))
    with pytest.raises(AadError, match=r"train_1.wav is not a readable WAV file") as excinfo:
        aadlib.load_clips(tmp_path)
    message(excinfo)


def test_mixed_sample_rates_name_the_file(tmp_path):
    write(tmp_path / "train_0.wav")
    write(tmp_path / "train_1.wav", tone(sr=22050), sr=22050)
    with pytest.raises(AadError, match=r"train_1.wav is sampled at 22050 Hz but train_0.wav at 16000 Hz; pass sr=16000"):
        aadlib.load_clips(tmp_path)


def test_resampling_on_request(tmp_path):
    write(tmp_path / "train_0.wav")
    write(tmp_path / "train_1.wav", tone(sr=32000), sr=32000)
    clips = aadlib.load_clips(tmp_path, sr=SR)
    assert clips.sr == SR and clips.signals.shape == (2, SR // 2)


def test_mixed_lengths_name_the_file(tmp_path):
    write(tmp_path / "train_0.wav")
    write(tmp_path / "train_1.wav", tone(seconds=0.25))
    with pytest.raises(AadError, match=r"train_1.wav has 4000 samples but train_0.wav has 8000"):
        aadlib.load_clips(tmp_path)


def test_stereo_is_downmixed_by_averaging(tmp_path):
    stereo = tone(channels=2)
    write(tmp_path / "train_0.wav", stereo)
    clips = aadlib.load_clips(tmp_path)
    assert clips.signals.shape == (1, SR // 2)
    np.testing.assert_allclose(clips.signals[0], stereo.mean(axis=1), atol=1e-4)


# --------------------------------------------------------------------------- fetch


def make_zip(folder="anomaly_mini", names=LAYOUT_FILES["anomaly_mini"]):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in names:
            wav = io.BytesIO()
            soundfile.write(wav, tone(), SR, format="WAV", subtype="PCM_16")
            zf.writestr(f"{folder}/{name}", wav.getvalue())
    return buffer.getvalue()


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/test.zip"


@pytest.fixture
def registry(monkeypatch, tmp_path):
    """Register a data set 'test' served from a URL set by the test; cache in tmp_path/cache."""
    payload = make_zip()
    cache = tmp_path / "cache"
    monkeypatch.setenv(data.DATA_DIR_ENV, str(cache))
    monkeypatch.setattr(data, "user_cache_dir", lambda: tmp_path / "user-cache")

    def register(url, sha=None):
        entry = data.Download(url=url, sha256=sha or data.hashlib.sha256(payload).hexdigest(), filename="test.zip", folder="anomaly_mini", description="")
        monkeypatch.setitem(data.REGISTRY, "test", entry)
        return entry

    return register, payload, cache


def test_fetch_downloads_verifies_and_unpacks(registry, http_folder):
    register, payload, cache = registry
    served, base = http_folder
    (served / "test.zip").write_bytes(payload)
    register(f"{base}/test.zip")
    folder = aadlib.fetch("test")
    assert folder == cache / "anomaly_mini"
    assert (cache / "test.zip").read_bytes() == payload
    assert len(aadlib.load_clips(folder)) == 4
    assert not list(cache.glob("*.part")) and not list(cache.glob("tmp*"))


def test_two_processes_downloading_at_once_both_get_the_file(registry, http_folder, monkeypatch):
    """Chapter 07 run alone on a fresh cache: two feature workers downloaded musicnn's wheel at once, into one
    partial file, and the second one's rename failed once the first had moved it."""
    register, payload, cache = registry
    served, base = http_folder
    (served / "test.zip").write_bytes(payload)
    register(f"{base}/test.zip")
    real_retrieve = data._retrieve

    def other_process_finishes_first(url, destination, progress=False):
        real_retrieve(url, destination, progress)
        real_retrieve(url, cache / "test.zip.other", progress)  # the other worker's download is complete and in place
        (cache / "test.zip.other").replace(cache / "test.zip")
        for shared in cache.glob("test.zip.part"):  # where it wrote, had it used this process's partial file name
            shared.unlink()

    monkeypatch.setattr(data, "_retrieve", other_process_finishes_first)
    assert aadlib.fetch("test") == cache / "anomaly_mini"
    assert (cache / "test.zip").read_bytes() == payload and not list(cache.glob("*.part"))


def test_cached_file_with_the_right_hash_is_not_downloaded(registry):
    register, payload, cache = registry
    cache.mkdir()
    (cache / "test.zip").write_bytes(payload)
    register(closed_port_url())  # any download attempt would fail
    assert aadlib.fetch("test") == cache / "anomaly_mini"


def test_no_network_says_where_to_put_the_file(registry):
    register, _, cache = registry
    entry = register(closed_port_url())
    with pytest.raises(AadError) as excinfo:
        aadlib.fetch("test")
    text = message(excinfo)
    assert "Could not download test.zip" in text and entry.url in text and str(cache / "test.zip") in text
    assert data.DATA_DIR_ENV in text


def test_downloaded_file_with_a_wrong_hash_is_kept_aside(registry, http_folder):
    register, payload, cache = registry
    served, base = http_folder
    (served / "test.zip").write_bytes(payload + b"tampered")
    entry = register(f"{base}/test.zip")
    with pytest.raises(AadError) as excinfo:
        aadlib.fetch("test")
    text = message(excinfo)
    got = data.hashlib.sha256(payload + b"tampered").hexdigest()
    assert got in text and entry.sha256 in text
    assert (cache / "test.zip.corrupt").read_bytes() == payload + b"tampered"
    assert not (cache / "test.zip").exists()


def test_corrupt_cached_file_is_set_aside_and_downloaded_again(registry, http_folder):
    register, payload, cache = registry
    served, base = http_folder
    (served / "test.zip").write_bytes(payload)
    cache.mkdir()
    (cache / "test.zip").write_bytes(b"half a download")
    register(f"{base}/test.zip")
    with pytest.warns(UserWarning, match="moved to"):
        folder = aadlib.fetch("test")
    assert (cache / "test.zip.corrupt").read_bytes() == b"half a download"
    assert (cache / "test.zip").read_bytes() == payload
    assert len(aadlib.load_clips(folder)) == 4


def test_two_processes_unpacking_at_once_both_get_the_folder(registry, monkeypatch):
    """Chapter 07's feature workers both found musicnn not yet unpacked; the second one's rename failed."""
    register, payload, cache = registry
    cache.mkdir()
    (cache / "test.zip").write_bytes(payload)
    register(closed_port_url())
    real_extractall = zipfile.ZipFile.extractall

    def other_process_finishes_first(self, path=None, *args, **kwargs):
        real_extractall(self, path, *args, **kwargs)
        real_extractall(self, cache)  # the other worker's folder is in place before this one's rename

    monkeypatch.setattr(zipfile.ZipFile, "extractall", other_process_finishes_first)
    assert aadlib.fetch("test") == cache / "anomaly_mini"
    assert len(aadlib.load_clips(cache / "anomaly_mini")) == 4 and not list(cache.glob("tmp*"))


def test_read_only_cache_unpacks_into_the_user_cache(registry, tmp_path, monkeypatch):
    """A shared read-only copy (CI's) is unpacked elsewhere; os.access is patched since root can write anywhere."""
    register, payload, cache = registry
    cache.mkdir()
    (cache / "test.zip").write_bytes(payload)
    register(closed_port_url())
    real_access = os.access
    monkeypatch.setattr(data.os, "access", lambda path, mode: False if Path(path) == cache else real_access(path, mode))
    assert aadlib.fetch("test") == tmp_path / "user-cache" / "anomaly_mini"
    assert not (cache / "anomaly_mini").exists()


def test_read_only_cache_without_the_file_downloads_into_the_user_cache(registry, http_folder, tmp_path, monkeypatch):
    """CI's shared copy holds anomaly_mini only; what it lacks (musicnn's wheel) goes to the user cache."""
    register, payload, cache = registry
    served, base = http_folder
    (served / "test.zip").write_bytes(payload)
    cache.mkdir()
    register(f"{base}/test.zip")
    real_access = os.access
    monkeypatch.setattr(data.os, "access", lambda path, mode: False if Path(path) == cache else real_access(path, mode))
    assert aadlib.fetch("test") == tmp_path / "user-cache" / "anomaly_mini"
    assert (tmp_path / "user-cache" / "test.zip").read_bytes() == payload and not list(cache.iterdir())
    register(closed_port_url())  # a second call finds the download there
    assert aadlib.fetch("test") == tmp_path / "user-cache" / "anomaly_mini"


def test_unknown_data_set_lists_the_known_ones():
    with pytest.raises(AadError, match="Unknown data set 'nope'; registered data sets: anomaly_mini"):
        aadlib.fetch("nope")


def test_default_cache_is_the_checkouts_data_folder(monkeypatch):
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    assert data.data_dir() == Path(data.__file__).resolve().parents[1] / "data"


def test_the_real_anomaly_mini(monkeypatch):
    """The registered archive, from the cache that AAD_DATA_DIR or data/ provides (no download)."""
    archive = data.data_dir() / "anomaly_mini.zip"
    if not archive.is_file():
        pytest.skip(f"{archive} is not there; `make data` fetches it")
    assert data.sha256(archive) == data.REGISTRY["anomaly_mini"].sha256
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clips = aadlib.load_clips(aadlib.fetch("anomaly_mini"))
    assert clips.layout == "anomaly_mini" and clips.sr == 44100
    assert clips.signals.shape == (30, 110250)
    assert (clips.split == "train").sum() == 20 and clips.y.sum() == 5


def test_command_line_fetch_prints_one_sentence_on_error(registry, capsys):
    from aadlib.__main__ import main

    register, _, _ = registry
    register(closed_port_url())
    assert main(["fetch", "test"]) == 1
    status, error = capsys.readouterr().err.splitlines()  # the status line naming the download, then the error
    assert status.startswith("Downloading test.zip") and error.startswith("error: Could not download test.zip") and "Traceback" not in error


def test_command_line_fetch_prints_the_folder(registry, capsys):
    from aadlib.__main__ import main

    register, payload, cache = registry
    cache.mkdir()
    (cache / "test.zip").write_bytes(payload)
    register(closed_port_url())
    assert main(["fetch", "test"]) == 0
    assert capsys.readouterr().out == f"test: {cache / 'anomaly_mini'}\n"


def test_command_line_fetch_shows_a_progress_bar_while_downloading(registry, http_folder, capsys):
    from aadlib.__main__ import main

    register, payload, cache = registry
    served, base = http_folder
    (served / "test.zip").write_bytes(payload)
    register(f"{base}/test.zip")
    assert main(["fetch", "test"]) == 0
    captured = capsys.readouterr()
    assert "100%" in captured.err and captured.out.endswith(f"test: {cache / 'anomaly_mini'}\n")
    assert main(["fetch", "test"]) == 0  # cached: nothing to show
    assert "100%" not in capsys.readouterr().err


def test_command_line_help_gives_an_example_for_every_command(capsys):
    from aadlib.__main__ import main

    for command in ("fetch", "student", "benchmark"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert f"example: aad {command} " in capsys.readouterr().out


def test_download_says_what_it_fetches_and_restores_pooch_logging(registry, http_folder, capsys):
    import pooch

    register, payload, cache = registry
    served, base = http_folder
    (served / "test.zip").write_bytes(payload)
    entry = register(f"{base}/test.zip")
    level = pooch.get_logger().level
    aadlib.fetch("test")
    assert capsys.readouterr().err.startswith(f"Downloading test.zip from {entry.url} into {cache}\n")  # a status line: on stderr
    assert pooch.get_logger().level == level


def test_a_folder_marked_read_only_is_not_written_even_by_root(tmp_path, monkeypatch):
    """CI's shared copy is r-x for everyone; root could write there, aadlib must not."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o555)
    monkeypatch.setenv(data.DATA_DIR_ENV, str(shared))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    try:
        assert data.writable_cache() == data.user_cache_dir() != shared
    finally:
        shared.chmod(0o755)
    assert data.writable_cache() == shared


# --------------------------------------------------------------------------- the DCASE and MIMII downloads


def test_the_dcase_and_mimii_downloads_are_registered_with_licence_and_checksum_source():
    records = {"dcase2020_dev": "3678171", "dcase2023_dev": "7882613", "mimii": "3384388"}
    licences = {"dcase2020_dev": "CC BY-NC-SA 4.0", "dcase2023_dev": "CC BY 4.0 (unconfirmed: check Zenodo record 7882613)", "mimii": "CC BY-SA 4.0"}
    for bundle, record in records.items():
        parts = [aadlib.REGISTRY[name] for name in aadlib.REGISTRY[bundle].parts]
        assert len(parts) == {"dcase2020_dev": 6, "dcase2023_dev": 7, "mimii": 12}[bundle]
        for entry in parts:
            assert entry.url == f"https://zenodo.org/records/{record}/files/{entry.filename}?download=1"
            assert entry.doi == f"10.5281/zenodo.{record}" and entry.licence == licences[bundle] and entry.licence in entry.description
            assert entry.into.split("/")[0] == bundle and entry.sha256 == ""  # verified against MD5s until a SHA-256 is pinned
    # the MD5s soundata 1.0.1 publishes for the DCASE 2023 development set; the others come from Zenodo at the first download
    assert aadlib.REGISTRY["dcase2023_dev_valve"].md5 == "b2051a2022eadb53cd97581120811cae"
    assert all(aadlib.REGISTRY[name].md5 for name in aadlib.REGISTRY["dcase2023_dev"].parts)
    assert not any(aadlib.REGISTRY[name].md5 for bundle in ("dcase2020_dev", "mimii") for name in aadlib.REGISTRY[bundle].parts)


@pytest.fixture
def zenodo(monkeypatch, tmp_path, http_folder):
    """Serve dev_valve.zip and dev_fan.zip (DCASE 2020-like archives of valve/ and fan/) on loopback and register
    them, to unpack into sets/dev of the cache (tmp_path/cache) and be checked as the test says."""
    served, base = http_folder
    inside = [name.split("/", 1)[1] for name in LAYOUT_FILES["DCASE 2020"]]  # train/..., test/...
    payload = make_zip("valve", inside)
    (served / "dev_valve.zip").write_bytes(payload)
    (served / "dev_fan.zip").write_bytes(make_zip("fan", inside))
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(data, "user_cache_dir", lambda: tmp_path / "user-cache")

    def register(md5="", doi="", url=None, name="dev_valve", folder="valve"):
        entry = data.Download(url=url or f"{base}/{name}.zip", sha256="", md5=md5, doi=doi, filename=f"{name}.zip", folder=folder,
                              into="sets/dev", description="", licence="CC BY 4.0")
        monkeypatch.setitem(data.REGISTRY, name, entry)
        return entry

    return register, payload, tmp_path / "cache"


def test_a_published_md5_verifies_the_download_and_its_sha256_is_recorded(zenodo, capsys):
    register, payload, cache = zenodo
    register(md5=hashlib.md5(payload).hexdigest())
    folder = aadlib.fetch("dev_valve")
    assert folder == cache / "sets" / "dev" / "valve"
    assert aadlib.load_clips(folder.parent).layout == "DCASE 2020"
    digest = hashlib.sha256(payload).hexdigest()
    assert (cache / "dev_valve.zip.sha256").read_text() == f"{digest}  dev_valve.zip\n"  # sha256sum's format
    assert f"Recorded the SHA-256 of dev_valve.zip ({digest})" in capsys.readouterr().err
    (cache / "dev_valve.zip").write_bytes(payload + b"changed later")  # the recorded SHA-256 checks it from now on
    with pytest.warns(UserWarning, match="SHA-256 .* instead of " + digest):
        aadlib.fetch("dev_valve")
    assert (cache / "dev_valve.zip").read_bytes() == payload


def test_without_a_published_checksum_the_zenodo_record_gives_it_at_the_first_download(zenodo, monkeypatch):
    register, payload, cache = zenodo
    register(doi="10.5281/zenodo.3678171")
    asked = []
    monkeypatch.setattr(data, "_zenodo_md5", lambda entry: asked.append(entry.doi) or hashlib.md5(payload).hexdigest())
    aadlib.fetch("dev_valve")
    assert asked == ["10.5281/zenodo.3678171"] and (cache / "dev_valve.zip.sha256").is_file()
    register(doi="10.5281/zenodo.3678171", url=closed_port_url())
    aadlib.fetch("dev_valve")  # verified by the recorded SHA-256: neither Zenodo nor the download is asked again
    assert asked == ["10.5281/zenodo.3678171"]


def test_the_zenodo_md5_is_read_with_pooch_from_the_records_doi(monkeypatch):
    import pooch

    def load_registry_from_doi(self):
        assert self.base_url == "doi:10.5281/zenodo.3678171/"
        self.registry.update({"dev_data_valve.zip": "md5:34d2672f55bb041589ef79c10dc89934", "dev_data_fan.zip": "md5:0"})

    monkeypatch.setattr(pooch.Pooch, "load_registry_from_doi", load_registry_from_doi)
    assert data._zenodo_md5(aadlib.REGISTRY["dcase2020_dev_valve"]) == "34d2672f55bb041589ef79c10dc89934"
    monkeypatch.setattr(pooch.Pooch, "load_registry_from_doi", lambda self: None)
    with pytest.raises(AadError, match="lists no MD5 of dev_data_valve.zip"):
        data._zenodo_md5(aadlib.REGISTRY["dcase2020_dev_valve"])


def test_an_unreachable_zenodo_record_stops_before_the_download(zenodo, monkeypatch):
    import pooch

    register, payload, cache = zenodo
    entry = register(doi="10.5281/zenodo.3678171")

    def offline(self):
        raise ConnectionError("no network")

    monkeypatch.setattr(pooch.Pooch, "load_registry_from_doi", offline)
    with pytest.raises(AadError) as excinfo:
        aadlib.fetch("dev_valve")
    text = message(excinfo)
    assert text.startswith("Could not read the MD5 of dev_valve.zip from its Zenodo record https://doi.org/10.5281/zenodo.3678171 (ConnectionError)")
    assert entry.url in text and not list(cache.glob("dev_valve*"))


def test_a_download_with_a_wrong_md5_is_kept_aside(zenodo):
    register, payload, cache = zenodo
    entry = register(md5="0" * 32)
    with pytest.raises(AadError) as excinfo:
        aadlib.fetch("dev_valve")
    text = message(excinfo)
    assert f"The download of dev_valve.zip from {entry.url} has MD5 (published) {hashlib.md5(payload).hexdigest()}" in text
    assert (cache / "dev_valve.zip.corrupt").read_bytes() == payload and not (cache / "dev_valve.zip.sha256").exists()


def test_a_cached_archive_that_cannot_be_checked_offline_is_used_with_a_warning(zenodo, monkeypatch):
    register, payload, cache = zenodo
    register(doi="10.5281/zenodo.3678171", url=closed_port_url())
    cache.mkdir()
    (cache / "dev_valve.zip").write_bytes(payload)  # saved by hand, as the error of a failed download says

    def offline(entry):
        raise data._NetworkError("ConnectionError")

    monkeypatch.setattr(data, "_zenodo_md5", offline)
    with pytest.warns(UserWarning, match="could not be verified .* it is used as it is"):
        assert aadlib.fetch("dev_valve") == cache / "sets" / "dev" / "valve"


def test_a_bundle_fetches_every_archive_into_one_folder_and_keeps_them_when_one_fails(zenodo, monkeypatch, capsys):
    from aadlib.__main__ import main

    register, payload, cache = zenodo
    register(md5=hashlib.md5(payload).hexdigest())
    fan = register(name="dev_fan", folder="fan", url=closed_port_url(), md5="0" * 32)
    monkeypatch.setitem(data.REGISTRY, "dev", data.Bundle(parts=("dev_valve", "dev_fan"), folder="dev", description=""))
    assert main(["fetch", "dev"]) == 1
    assert f"error: Could not download dev_fan.zip from {fan.url}" in capsys.readouterr().err
    assert (cache / "dev_valve.zip").is_file()  # the archive fetched before the failure stays
    register(name="dev_fan", folder="fan", md5=hashlib.md5((cache.parent / "served" / "dev_fan.zip").read_bytes()).hexdigest())
    assert main(["-q", "fetch", "dev"]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"dev: {cache / 'sets' / 'dev'}\n" and captured.err == ""  # -q: no status lines either
    assert {p.name for p in (cache / "sets" / "dev").iterdir()} == {"valve", "fan"}
    assert aadlib.load_clips(cache / "sets" / "dev").layout == "DCASE 2020"


def test_an_archive_without_its_folder_says_what_it_holds(zenodo):
    register, payload, cache = zenodo
    register(md5=hashlib.md5(payload).hexdigest(), folder="ToyCar")
    with pytest.raises(AadError, match=r"dev_valve.zip does not unpack to a folder ToyCar \(it holds valve\)") as excinfo:
        aadlib.fetch("dev_valve")
    message(excinfo)
    assert (cache / "dev_valve.zip").is_file()  # the download stays


def test_command_line_fetch_quiet_prints_only_the_error(registry, capsys):
    from aadlib.__main__ import main

    register, _, _ = registry
    register(closed_port_url())
    assert main(["-q", "fetch", "test"]) == 1
    assert capsys.readouterr().err.startswith("error: Could not download test.zip")
