"""Features of a clip: log-mel, MFCC, CENS chroma, HPSS, DCASE frame vectors, summaries over time;
and two made-up changes to clips, noise at a signal-to-noise ratio and an added tone.

Every feature of one clip is a matrix (n_features, n_frames); :func:`extract`
applies a feature to every clip of a :class:`aadlib.data.Clips`.
All parameters are explicit; defaults follow the DCASE 2020 Task 2 baseline
(n_fft 1024, hop 512, 128 mel bands, power spectrogram in dB).

Notebook: 00_task_and_data to 07_comparison.
"""

import numpy as np

from .utils import SEED, AadError


def log_mel(y, sr, *, n_fft=1024, hop_length=512, n_mels=128, fmin=0.0, fmax=None, ref=1.0, top_db=None):
    """Log-mel power spectrogram in dB.

    Args:
        y (np.ndarray): Mono signal (n_samples,).
        sr (int): Sample rate in Hz.
        n_fft, hop_length (int): STFT size and hop in samples.
        n_mels (int): Number of mel bands.
        fmin, fmax (float): Band edges in Hz (fmax None = sr / 2).
        ref (float | callable): 0 dB reference; 1.0 keeps absolute levels
            (loudness stays in the feature), ``np.max`` makes every clip peak
            at 0 dB (loudness is removed).
        top_db (float | None): Floor at ``max - top_db`` dB; None = no floor.

    Returns:
        np.ndarray: (n_mels, n_frames) float32, n_frames = 1 + n_samples // hop_length.
    """
    import librosa

    power = librosa.feature.melspectrogram(
        y=y, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, fmin=fmin, fmax=fmax, power=2.0
    )
    return librosa.power_to_db(power, ref=ref, top_db=top_db).astype(np.float32)


def mfcc(y, sr, *, n_mfcc=20, n_fft=1024, hop_length=512, n_mels=128):
    """Mel-frequency cepstral coefficients (DCT-II of the log-mel in dB).

    Returns:
        np.ndarray: (n_mfcc, n_frames) float32.
    """
    import librosa

    spec = log_mel(y, sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)
    return librosa.feature.mfcc(S=spec, n_mfcc=n_mfcc).astype(np.float32)


def cens(y, sr, *, hop_length=512, fmin=65.4, n_octaves=6):
    """Chroma energy normalised statistics (CENS): 12 pitch classes, smoothed and normalised.

    The constant-Q transform starts at C2 (65.4 Hz) and spans 6 octaves: the
    librosa default C1 with 7 octaves needs more samples in its lowest octave
    than a 2.5 s clip has once downsampled, and warns.

    Returns:
        np.ndarray: (12, n_frames) float32.
    """
    import librosa

    return librosa.feature.chroma_cens(y=y, sr=sr, hop_length=hop_length, fmin=fmin, n_octaves=n_octaves).astype(
        np.float32
    )


def hpss_log_mel(y, sr, *, n_fft=1024, hop_length=512, n_mels=128, margin=1.0):
    """Log-mel spectrograms of the harmonic and the percussive part (median-filtering HPSS).

    Harmonic energy is steady in time (horizontal lines: hum, whine);
    percussive energy is short and broadband (vertical lines: clicks, valve
    impacts).

    Returns:
        tuple[np.ndarray, np.ndarray]: harmonic and percussive, each (n_mels, n_frames) dB, float32.
    """
    import librosa

    stft = librosa.stft(y, n_fft=n_fft, hop_length=hop_length)
    harmonic, percussive = librosa.decompose.hpss(np.abs(stft) ** 2, margin=margin)
    bank = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)
    return tuple(librosa.power_to_db(bank @ part).astype(np.float32) for part in (harmonic, percussive))


def frame_stack(spec, n_frames=5):
    """Concatenate each run of ``n_frames`` consecutive frames into one vector, as the DCASE baseline does.

    Vector t holds frames t, t+1, ..., t+n_frames-1 one after the other, so
    with 128 mel bands and 5 frames each vector has 640 values.

    Args:
        spec (np.ndarray): (n_features, n_frames_total) of one clip, or
            (n_clips, n_features, n_frames_total) of many.
        n_frames (int): Frames per vector.

    Returns:
        np.ndarray: (n_vectors, n_frames * n_features), or (n_clips, n_vectors, n_frames * n_features),
        with n_vectors = n_frames_total - n_frames + 1.
    """
    windows = np.lib.stride_tricks.sliding_window_view(spec, n_frames, axis=-1)  # (..., feat, vectors, n_frames)
    stacked = np.swapaxes(windows, -3, -2)  # (..., vectors, feat, n_frames)
    stacked = np.swapaxes(stacked, -2, -1)  # (..., vectors, n_frames, feat)
    return np.ascontiguousarray(stacked.reshape(*stacked.shape[:-2], -1))


def fit_frames(spec, n_frames):
    """Crop or pad the time axis (the last) to exactly ``n_frames`` frames.

    Cropping drops frames at the end; padding repeats the last frame
    (``np.pad`` mode "edge"), so no artificial silence or step enters the
    image. Convolutional autoencoders need this: pooling and upsampling turn
    an odd frame count such as 431 into 432, and the output no longer
    matches the input.

    Args:
        spec (np.ndarray): (..., n_frames_in).
        n_frames (int): Frames wanted.

    Returns:
        np.ndarray: (..., n_frames).
    """
    missing = n_frames - spec.shape[-1]
    if missing <= 0:
        return spec[..., :n_frames]
    return np.pad(spec, [(0, 0)] * (spec.ndim - 1) + [(0, missing)], mode="edge")


def time_bins(spec, n_bins):
    """Average the frames (the last axis) into ``n_bins`` equal spans of time: a clip of any length as a fixed number of columns.

    Bin k averages the frames from ``floor(k * n / n_bins)`` up to the next bin's first, with
    n the clip's frames: every frame counts once, none is cropped. A clip with fewer frames than
    bins repeats frames (each bin takes the frame it starts at).

    Args:
        spec (np.ndarray): (..., n_frames), e.g. a log-mel (n_mels, n_frames) in dB.
        n_bins (int): Columns wanted.

    Returns:
        np.ndarray: (..., n_bins), the dtype of ``spec``.

    Notebook: behind ``aad benchmark``'s ``logmel_image`` (:data:`aadlib.store.FEATURES`).
    """
    n = spec.shape[-1]
    if n < 1 or n_bins < 1:
        raise AadError(f"time_bins needs at least one frame and one bin, not {n} frames and {n_bins} bins.")
    starts = np.floor(np.arange(n_bins + 1) * n / n_bins).astype(int)
    sums = np.add.reduceat(spec, starts[:-1], axis=-1)
    return (sums / np.maximum(np.diff(starts), 1)).astype(spec.dtype)


def standardize_bands(train, *others):
    """Scale every band (row) to zero mean and unit variance with statistics of the training clips only.

    Each band gets its own mean and deviation, over all training clips and
    frames. Without it, the loud low bands dominate a squared error and quiet
    high bands, where a fault may show, hardly count.

    Args:
        train (np.ndarray): (n_clips, n_bands, n_frames) training features.
        *others (np.ndarray): Further arrays of the same band count (e.g. test features).

    Returns:
        list[np.ndarray]: ``train`` and each of ``others``, scaled, float32.
    """
    mean = train.mean(axis=(0, 2), keepdims=True)
    std = train.std(axis=(0, 2), keepdims=True)
    return [((array - mean) / std).astype(np.float32) for array in (train, *others)]


def modulation_spectrum(spec, n_rates=None, n_fft=None):
    """Log-magnitude spectrum of each band's level over time: how strongly, and how fast, it fluctuates.

    Row b, column k is the magnitude of the k-th Fourier coefficient of band b's
    dB curve (mean removed), in log scale. A sound that repeats regularly
    (a valve clicking twice a second) gives a peak at its rate in every band
    it fills, wherever in the clip the repetitions fall: the representation is
    blind to time shifts.

    Args:
        spec (np.ndarray): (..., n_bands, n_frames), e.g. log-mel in dB.
        n_rates (int | None): Keep the first n_rates rates (default all, n_fft // 2 + 1).
        n_fft (int | None): Zero-pad each curve to this length first (default
            n_frames); column k is the rate ``k * frame_rate / n_fft`` Hz.

    Returns:
        np.ndarray: (..., n_bands, n_rates) float32, natural log of the magnitude (+1e-3 against log 0).
    """
    curves = spec - spec.mean(axis=-1, keepdims=True)
    magnitude = np.abs(np.fft.rfft(curves, n=n_fft, axis=-1))[..., :n_rates]
    return np.log(magnitude + 1e-3).astype(np.float32)


def modulation_image(y, sr, *, n_mels=64, hop_length=625, size=64):
    """A clip of any length as a (n_mels, size) modulation-spectrum image with fixed rate bins.

    Chapter 03's input, generalised: log-mel (n_fft 1024) with ``size * k`` frames
    (k = n_frames // size, at least 1; :func:`fit_frames` crops the rest or pads
    a short clip), each band's curve zero-padded to twice its length, and its
    first ``size * k`` rates averaged in groups of k. The bins are therefore the
    same in Hz for a 2.5 s and a 10 s clip: at 16 kHz and hop 625, 0.2 Hz wide,
    from 0 to 12.6 Hz. For a clip of ``size`` frames (2.5 s) this is exactly
    ``modulation_spectrum(fit_frames(spec, 64), n_rates=64, n_fft=128)``.

    Args:
        y (np.ndarray): Mono signal (n_samples,).
        sr (int): Sample rate in Hz.
        n_mels, hop_length (int): The log-mel's bands and hop.
        size (int): Rate bins (and the frame block).

    Returns:
        np.ndarray: (n_mels, size) float32 log magnitudes.

    Notebook: 03_autoencoders_2d (its 2.5 s case), 07_comparison (``cae2d``).
    """
    spec = log_mel(y, sr, n_fft=1024, hop_length=hop_length, n_mels=n_mels)
    k = max(1, spec.shape[-1] // size)
    rates = modulation_spectrum(fit_frames(spec, k * size), n_rates=k * size, n_fft=2 * k * size)
    return rates.reshape(n_mels, size, k).mean(axis=-1)


SUMMARIES = {
    "mean": np.mean,
    "std": np.std,
    "min": np.min,
    "max": np.max,
    "median": np.median,
}
"""Statistics :func:`time_summary` can take over time, each giving one value per feature row."""


def time_summary(spec, stats=("mean",)):
    """Summarise feature matrices over time: one vector per clip.

    Args:
        spec (np.ndarray): (n_features, n_frames) of one clip, or
            (n_clips, n_features, n_frames) of many (as :func:`extract` returns).
        stats (sequence of str): Keys of :data:`SUMMARIES`, concatenated in this order.

    Returns:
        np.ndarray: (len(stats) * n_features,), or (n_clips, len(stats) * n_features).
    """
    unknown = [s for s in stats if s not in SUMMARIES]
    if unknown:
        raise ValueError(f"Unknown statistic {unknown[0]!r}; choose from {', '.join(SUMMARIES)}.")
    return np.concatenate([SUMMARIES[s](spec, axis=-1) for s in stats], axis=-1)


def window_summary(spec, window, hop, stats=("mean", "std")):
    """Summarise a feature matrix over sliding windows: a shorter sequence of texture vectors.

    Window k covers frames ``k * hop`` to ``k * hop + window - 1``; each is
    described by the statistics of each feature row over its frames, as
    :func:`time_summary` describes a whole clip. A window longer than the gap
    between a machine's recurring events (a valve's clicks) holds at least one
    event in every normal window, so "a window without one" becomes visible.

    Args:
        spec (np.ndarray): (n_features, n_frames) of one clip, or (n_clips, n_features, n_frames).
        window (int): Frames per window.
        hop (int): Frames between window starts.
        stats (sequence of str): Keys of :data:`SUMMARIES`, concatenated in this order.

    Returns:
        np.ndarray: (n_windows, len(stats) * n_features), or (n_clips, n_windows, len(stats) * n_features),
        with n_windows = (n_frames - window) // hop + 1.

    Notebook: 04_lstm_autoencoder.
    """
    return time_summary(patches(spec, window, hop), stats)


def patches(spec, size, hop):
    """Cut feature matrices into patches of ``size`` frames every ``hop`` frames.

    Args:
        spec (np.ndarray): (n_features, n_frames) of one clip, or (n_clips, n_features, n_frames).
        size (int): Frames per patch.
        hop (int): Frames between patch starts.

    Returns:
        np.ndarray: (n_patches, n_features, size), or (n_clips, n_patches, n_features, size),
        with n_patches = (n_frames - size) // hop + 1.

    Notebook: 04_lstm_autoencoder (through :func:`window_summary`), 05_gan_detection.
    """
    if spec.shape[-1] < size:
        raise ValueError(f"A window of {size} frames does not fit in {spec.shape[-1]} frames; use a shorter window.")
    windows = np.lib.stride_tricks.sliding_window_view(spec, size, axis=-1)[..., ::hop, :]  # (..., feat, n_win, size)
    return np.ascontiguousarray(np.swapaxes(windows, -3, -2))


def add_noise(signals, snr_db, random_state=SEED):
    """White Gaussian noise added to every clip at a signal-to-noise ratio: each clip's noise is scaled
    so that the clip's power over the power of its noise is exactly ``snr_db``.

    Args:
        signals (np.ndarray): (n_samples,) one clip, or (n_clips, n_samples), float.
        snr_db (float): Signal-to-noise ratio in dB, 10 * log10(clip power / noise power); -12 dB is
            noise about 16 times as strong as the clip.
        random_state (int | np.random.Generator): Seed of the noise, or a generator to draw it
            from (to draw the noise of several sets, e.g. training and test clips, from one stream).

    Returns:
        np.ndarray: The noisy clips, shape and dtype of ``signals`` (computed in that dtype).

    Notebook: 03_autoencoders_2d (a noisy clip for the autoencoder), 06_transfer_learning (noise at -12 dB).
    """
    signals = np.asarray(signals)
    if not np.issubdtype(signals.dtype, np.floating):
        raise AadError(f"add_noise takes float signals (as load_clips gives them), not {signals.dtype}; convert them with .astype(np.float32).")
    noise = np.random.default_rng(random_state).standard_normal(signals.shape).astype(signals.dtype)
    noise *= np.sqrt(np.mean(signals**2, axis=-1, keepdims=True) / np.mean(noise**2, axis=-1, keepdims=True) / 10 ** (snr_db / 10))
    return signals + noise


def add_tone(signals, sr, freq_hz=2000.0, amplitude=0.01):
    """A sine tone (a whine) added to every clip: a made-up fault that *adds* sound.

    Args:
        signals (np.ndarray): (n_samples,) one clip, or (n_clips, n_samples), float.
        sr (int): Sampling rate (Hz).
        freq_hz (float | np.ndarray): Frequency of the tone (Hz): one for all clips, or one per clip,
            (n_clips,) or (n_clips, 1).
        amplitude (float | np.ndarray): Peak amplitude of the tone, in the units of the signals
            (full scale 1.0): one for all clips, or one per clip. A tone of amplitude a has the power
            a**2 / 2: ``amplitude = np.sqrt(2) * rms * 10 ** (level_db / 20)`` puts it ``level_db`` dB
            above (below, if negative) a clip of RMS ``rms``.

    Returns:
        np.ndarray: ``signals`` plus the tone (starting at phase 0), shape and dtype of ``signals``.

    Notebook: 01_distribution_modelling (made-up anomalies for validation), 02_autoencoders_1d,
    07_comparison (the whine exercises).
    """
    signals = np.asarray(signals)
    if not np.issubdtype(signals.dtype, np.floating):
        raise AadError(f"add_tone takes float signals (as load_clips gives them), not {signals.dtype}; convert them with .astype(np.float32).")
    per_clip = lambda value: np.reshape(value, (-1, 1)) if signals.ndim == 2 and np.ndim(value) == 1 else value  # noqa: E731
    seconds = np.arange(signals.shape[-1]) / sr
    return signals + (per_clip(amplitude) * np.sin(2 * np.pi * per_clip(freq_hz) * seconds)).astype(signals.dtype)


def extract(clips, feature, **params):
    """Apply a feature function to every clip and stack the results.

    Args:
        clips (aadlib.data.Clips): The clips.
        feature (callable): ``feature(y, sr, **params)``, e.g. :func:`log_mel`.
        **params: Passed on to ``feature``.

    Returns:
        np.ndarray: (n_clips, ...) with the shape of one clip's feature after the first axis.
    """
    return np.stack([feature(y, clips.sr, **params) for y in clips.signals])
