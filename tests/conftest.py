"""Shared fixtures: generated clip folders in every layout, and a loopback HTTP server."""

import functools
import http.server
import threading

import numpy as np
import pytest
import soundfile

SR = 16000


def tone(seconds=0.5, sr=SR, freq=440.0, channels=1, seed=0):
    """A sine plus a little noise, (n,) or (n, channels) float32."""
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    signal = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.size)
    if channels > 1:
        signal = np.stack([signal * (c + 1) / channels for c in range(channels)], axis=1)
    return signal.astype(np.float32)


def write(path, signal=None, sr=SR):
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, tone() if signal is None else signal, sr, subtype="PCM_16")
    return path


LAYOUT_FILES = {
    "anomaly_mini": ["train_0.wav", "train_1.wav", "test_normal_0.wav", "test_anomaly_0.wav"],
    "MIMII": [
        "valve/id_00/normal/00000000.wav",
        "valve/id_00/normal/00000001.wav",
        "valve/id_00/normal/00000002.wav",
        "valve/id_00/abnormal/00000000.wav",
        "valve/id_02/normal/00000000.wav",
        "valve/id_02/normal/00000001.wav",
        "valve/id_02/abnormal/00000000.wav",
    ],
    "DCASE 2020": [
        "valve/train/normal_id_00_00000000.wav",
        "valve/train/normal_id_02_00000000.wav",
        "valve/test/normal_id_00_00000000.wav",
        "valve/test/anomaly_id_00_00000000.wav",
    ],
    "DCASE 2021+": [
        "fan/train/section_00_source_train_normal_0000_strength_1_ambient.wav",
        "fan/train/section_01_target_train_normal_0000.wav",
        "fan/test/section_00_source_test_normal_0000.wav",
        "fan/test/section_00_target_test_anomaly_0001_m-n_W.wav",
    ],
}


@pytest.fixture
def layout_folder(tmp_path):
    """Build a folder of one layout with distinct generated clips: layout_folder(name) -> Path."""

    def build(layout):
        for i, name in enumerate(LAYOUT_FILES[layout]):
            write(tmp_path / layout / name, tone(freq=200 + 50 * i, seed=i))
        return tmp_path / layout

    return build


@pytest.fixture
def http_folder(tmp_path):
    """Serve a folder on 127.0.0.1 over HTTP; yields (folder, base_url)."""
    served = tmp_path / "served"
    served.mkdir()
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # no request lines on stderr, where the tests read aad's own
            pass

    handler = functools.partial(Quiet, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
