import warnings

import numpy as np
import pytest
from conftest import SR, tone

from aadlib import features
from aadlib.data import Clips


def test_log_mel_shape_and_reference():
    y = tone(seconds=1.0)
    spec = features.log_mel(y, SR, n_fft=1024, hop_length=512, n_mels=64)
    assert spec.shape == (64, 1 + SR // 512) and spec.dtype == np.float32
    peak_at_zero = features.log_mel(y, SR, n_mels=64, ref=np.max)
    assert peak_at_zero.max() == pytest.approx(0.0, abs=1e-4)
    # absolute dB keeps the level: 6 dB louder signal -> about 6 dB higher bins; ref=np.max removes it
    louder = features.log_mel(2 * y, SR, n_mels=64)
    assert np.median(louder - spec) == pytest.approx(20 * np.log10(2), abs=0.05)
    np.testing.assert_allclose(features.log_mel(2 * y, SR, n_mels=64, ref=np.max), peak_at_zero, atol=1e-3)


def test_top_db_floors_the_spectrogram():
    spec = features.log_mel(tone(), SR, ref=np.max, top_db=40)
    assert spec.min() >= -40 - 1e-4


def test_mfcc_and_cens_shapes_without_warnings():
    y = tone(seconds=2.5, sr=44100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # librosa's default CQT range warns on 2.5 s clips; ours must not
        chroma = features.cens(y, 44100)
        coefficients = features.mfcc(y, 44100, n_mfcc=13)
    frames = 1 + len(y) // 512
    assert coefficients.shape == (13, frames)
    assert chroma.shape == (12, frames)
    # CENS frames are unit-norm (L2) energy distributions over the 12 pitch classes
    np.testing.assert_allclose(np.linalg.norm(chroma, axis=0), 1.0, atol=1e-3)
    # a 440 Hz tone puts the most energy in pitch class A (index 9, C = 0)
    assert np.bincount(chroma.argmax(axis=0)).argmax() == 9


def test_hpss_separates_a_tone_from_clicks():
    y = tone(seconds=1.0)
    clicks = np.zeros_like(y)
    clicks[::4000] = 1.0
    harmonic, percussive = features.hpss_log_mel(y + clicks, SR, n_mels=32)
    assert harmonic.shape == percussive.shape == (32, 1 + SR // 512)
    tone_band = np.argmax(features.log_mel(y, SR, n_mels=32).mean(axis=1))
    assert harmonic[tone_band].mean() > percussive[tone_band].mean() + 10
    click_frames = [0, 8, 16, 24]  # 4000-sample spacing at hop 512 is about every 7.8 frames
    high_bands = slice(24, 32)
    assert percussive[high_bands][:, click_frames[1:]].mean() > harmonic[high_bands][:, click_frames[1:]].mean()


def test_frame_stack_follows_the_dcase_ordering():
    spec = np.arange(3 * 7).reshape(3, 7).astype(float)  # 3 features, 7 frames
    vectors = features.frame_stack(spec, n_frames=5)
    assert vectors.shape == (3, 15)
    # vector t = frame t (all features), then frame t+1, ...
    np.testing.assert_array_equal(vectors[1], np.concatenate([spec[:, t] for t in range(1, 6)]))


def test_frame_stack_dcase_size():
    assert features.frame_stack(np.zeros((128, 313)), 5).shape == (309, 640)


def test_frame_stack_of_a_batch_equals_per_clip_stacks():
    batch = np.random.default_rng(0).normal(size=(3, 4, 9))
    stacked = features.frame_stack(batch, 3)
    assert stacked.shape == (3, 7, 12)
    np.testing.assert_array_equal(stacked[1], features.frame_stack(batch[1], 3))


def test_time_summary_orders_the_statistics():
    spec = np.array([[1.0, 2.0, 3.0], [4.0, 4.0, 4.0]])
    np.testing.assert_allclose(features.time_summary(spec, ("mean", "std", "max")), [2, 4, np.std([1, 2, 3]), 0, 3, 4])
    with pytest.raises(ValueError, match="Unknown statistic 'mode'"):
        features.time_summary(spec, ("mode",))


def test_window_summary_describes_each_window_by_its_statistics():
    spec = np.arange(20, dtype=float).reshape(2, 10)  # 2 features, 10 frames
    windows = features.window_summary(spec, window=4, hop=3)
    assert windows.shape == (3, 4)  # windows start at frames 0, 3, 6; mean and std of 2 features
    np.testing.assert_allclose(windows[1], [4.5, 14.5, np.std([3, 4, 5, 6]), np.std([3, 4, 5, 6])])
    batch = np.stack([spec, 2 * spec])
    np.testing.assert_allclose(features.window_summary(batch, 4, 3)[1], features.window_summary(2 * spec, 4, 3))
    with pytest.raises(ValueError, match="does not fit in 10 frames"):
        features.window_summary(spec, window=11, hop=1)


def test_extract_stacks_one_feature_per_clip():
    signals = np.stack([tone(seed=i) for i in range(3)])
    clips = Clips(signals, SR, ["a", "b", "c"], *(np.array(["x"] * 3) for _ in range(6)), layout="anomaly_mini")
    stacked = features.extract(clips, features.log_mel, n_mels=16)
    assert stacked.shape == (3, 16, 1 + signals.shape[1] // 512)
    np.testing.assert_allclose(stacked[1], features.log_mel(signals[1], SR, n_mels=16))


def test_time_summary_of_a_batch_equals_per_clip_summaries():
    batch = np.random.default_rng(0).normal(size=(4, 3, 10))
    summarised = features.time_summary(batch, ["mean", "max"])
    assert summarised.shape == (4, 6)
    np.testing.assert_allclose(summarised[2], features.time_summary(batch[2], ["mean", "max"]))


def test_fit_frames_crops_and_pads_with_the_edge():
    spec = np.arange(2 * 5, dtype=float).reshape(2, 5)
    np.testing.assert_array_equal(features.fit_frames(spec, 3), spec[:, :3])
    padded = features.fit_frames(spec, 8)
    assert padded.shape == (2, 8)
    np.testing.assert_array_equal(padded[:, 5:], np.repeat(spec[:, -1:], 3, axis=1))
    assert features.fit_frames(np.zeros((4, 128, 431)), 432).shape == (4, 128, 432)


def test_time_bins_average_every_frame_into_a_fixed_number_of_spans():
    spec = np.arange(2 * 10, dtype=np.float32).reshape(2, 10)
    binned = features.time_bins(spec, 4)  # spans of frames 0-1, 2-4, 5-6, 7-9
    np.testing.assert_allclose(binned[0], [0.5, 3.0, 5.5, 8.0])
    assert binned.shape == (2, 4) and binned.dtype == np.float32
    np.testing.assert_allclose(binned @ [2, 3, 2, 3] / 10, spec.mean(axis=-1), rtol=1e-6)  # every frame counts once
    np.testing.assert_array_equal(features.time_bins(spec, 10), spec)
    np.testing.assert_array_equal(features.time_bins(spec[:, :3], 5)[0], [0, 0, 1, 1, 2])  # fewer frames than bins: repeated
    sr = 16000
    for seconds in (5, 10):  # a flight clip and a DCASE clip: one shape
        y = np.random.default_rng(0).normal(size=seconds * sr).astype(np.float32)
        assert features.time_bins(features.log_mel(y, sr, n_mels=64), 64).shape == (64, 64)


def test_standardize_bands_uses_training_statistics_per_band():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(6, 3, 20)) * np.array([1.0, 10.0, 100.0])[:, None] + np.array([0.0, -50.0, 7.0])[:, None]
    test = train[:2] + 1.0
    scaled_train, scaled_test = features.standardize_bands(train, test)
    np.testing.assert_allclose(scaled_train.mean(axis=(0, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(scaled_train.std(axis=(0, 2)), 1, atol=1e-5)
    # the test data are shifted by one unit: that is one deviation in band 0, a hundredth in band 2
    shift = (scaled_test - scaled_train[:2]).mean(axis=(0, 2))
    np.testing.assert_allclose(shift, 1 / train.std(axis=(0, 2)), rtol=1e-4)


def test_modulation_spectrum_finds_the_rate_and_ignores_time_shifts():
    frames = np.arange(64)
    rhythm = (frames % 16 == 0).astype(float) * 20  # a click every 16 frames: rate 4 per 64 frames
    shifted = np.roll(rhythm, 5)
    spec, spec_shifted = np.stack([rhythm, rhythm * 0.5]), np.stack([shifted, shifted * 0.5])
    modulation = features.modulation_spectrum(spec)
    assert modulation.shape == (2, 33) and modulation.dtype == np.float32
    assert modulation[0, 1:].argmax() + 1 == 4
    np.testing.assert_allclose(modulation, features.modulation_spectrum(spec_shifted), atol=1e-4)
    assert features.modulation_spectrum(spec, n_rates=64, n_fft=128).shape == (2, 64)


def test_modulation_image_is_chapter_03s_input_for_a_2_5_s_clip_and_keeps_its_bins_for_longer_ones():
    sr = 16000
    rng = np.random.default_rng(0)

    def clicking(seconds, rate_hz=2.0):
        t = np.arange(int(seconds * sr)) / sr
        return (0.05 * rng.standard_normal(t.size) * (1 + np.sin(2 * np.pi * rate_hz * t) ** 8 * 20)).astype(np.float32)

    short = clicking(2.5)
    spec = features.log_mel(short, sr, n_fft=1024, hop_length=625, n_mels=64)
    chapter_03 = features.modulation_spectrum(features.fit_frames(spec, 64), n_rates=64, n_fft=128)
    np.testing.assert_allclose(features.modulation_image(short, sr), chapter_03, rtol=1e-6)
    # sin^8 at 2 Hz peaks 4 times a second: 4 Hz, bin 20 of 0.2 Hz, at any clip length
    for seconds in (2.5, 10.0):
        profile = features.modulation_image(clicking(seconds), sr).mean(axis=0)
        assert profile.shape == (64,) and np.argmax(profile[5:]) + 5 == 20
    assert features.modulation_image(clicking(1.0), sr).shape == (64, 64)  # a short clip is padded


def test_patches_cut_the_time_axis():
    spec = np.arange(2 * 3 * 10, dtype=np.float32).reshape(2, 3, 10)  # clips, features, frames
    cut = features.patches(spec, 4, 3)
    assert cut.shape == (2, 3, 3, 4)  # clips, patches, features, frames
    np.testing.assert_array_equal(cut[1, 2], spec[1, :, 6:10])
    assert features.patches(spec[0], 4, 3).shape == (3, 3, 4)
    with pytest.raises(ValueError, match="does not fit"):
        features.patches(spec, 11, 1)


def test_add_noise_sets_each_clips_snr_exactly_and_is_seeded():
    rng = np.random.default_rng(1)
    signals = (rng.normal(size=(3, 4000)) * np.array([[0.01], [0.1], [1.0]])).astype(np.float32)  # three levels
    noisy = features.add_noise(signals, snr_db=-12)
    assert noisy.shape == signals.shape and noisy.dtype == np.float32
    noise = noisy.astype(float) - signals
    snr = 10 * np.log10(np.mean(signals.astype(float) ** 2, axis=1) / np.mean(noise**2, axis=1))
    np.testing.assert_allclose(snr, -12, atol=1e-3)  # each clip's own power, not one level for all
    np.testing.assert_array_equal(noisy, features.add_noise(signals, snr_db=-12))  # the default seed
    assert not np.array_equal(noisy, features.add_noise(signals, snr_db=-12, random_state=1))
    one = features.add_noise(signals[1], snr_db=6)  # one clip
    assert one.shape == (4000,)
    assert 10 * np.log10(np.mean(signals[1].astype(float) ** 2) / np.mean((one - signals[1]).astype(float) ** 2)) == pytest.approx(6, abs=1e-3)
    stream = np.random.default_rng(0)  # a generator: two sets draw different noise from one stream
    first, second = features.add_noise(signals, 0, stream), features.add_noise(signals, 0, stream)
    assert not np.array_equal(first, second)
    with pytest.raises(features.AadError, match="float signals"):
        features.add_noise(np.ones((2, 10), dtype=np.int16), 0)


def test_add_tone_adds_a_sine_of_the_given_pitch_and_amplitude():
    signals = np.zeros((2, SR), dtype=np.float32)
    whined = features.add_tone(signals, SR)  # 2 kHz, amplitude 0.01
    assert whined.shape == signals.shape and whined.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(whined[0]))
    assert np.fft.rfftfreq(SR, 1 / SR)[spectrum.argmax()] == 2000
    assert np.max(np.abs(whined)) == pytest.approx(0.01, rel=1e-3) and whined[0, 0] == 0  # phase 0
    per_clip = features.add_tone(signals, SR, freq_hz=np.array([500.0, 3000.0]), amplitude=np.array([0.1, 0.2]))
    for clip, (hz, amplitude) in zip(per_clip, ((500, 0.1), (3000, 0.2))):
        assert np.fft.rfftfreq(SR, 1 / SR)[np.abs(np.fft.rfft(clip)).argmax()] == hz
        assert np.sqrt(2 * np.mean(clip.astype(float) ** 2)) == pytest.approx(amplitude, rel=1e-3)  # power a**2 / 2
    y = tone(seconds=1.0).astype(np.float64)
    np.testing.assert_allclose(features.add_tone(y, SR, 1000.0, 0.5) - y, 0.5 * np.sin(2 * np.pi * 1000 * np.arange(SR) / SR), atol=1e-12)
    with pytest.raises(features.AadError, match="float signals"):
        features.add_tone(np.ones(10, dtype=np.int16), SR)
