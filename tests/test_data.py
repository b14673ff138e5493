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


def make_zip(folder="anomaly_mini"):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in LAYOUT_FILES["anomaly_mini"]:
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
