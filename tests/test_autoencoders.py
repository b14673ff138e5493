import numpy as np
import pytest

import aadlib
from aadlib.autoencoders import Autoencoder, conv1d_autoencoder, dense_autoencoder, reconstruct


def test_dense_autoencoder_is_the_dcase_2020_baseline():
    model = dense_autoencoder(640)
    assert model.input_shape == (None, 640) and model.output_shape == (None, 640)
    dense_units = [layer.units for layer in model.layers if layer.__class__.__name__ == "Dense"]
    assert dense_units == [128] * 4 + [8] + [128] * 4 + [640]
    # the parameter counts of the DCASE 2020 Task 2 baseline's Keras summary
    assert model.count_params() == 269_992
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 267_928


def test_conv1d_autoencoder_mirrors_its_encoder():
    model = conv1d_autoencoder(256, channels=2, filters=(16, 32), bottleneck=8)
    assert model.input_shape == (None, 256) and model.output_shape == (None, 256)
    lengths = [layer.output.shape[1] for layer in model.layers if "conv1d" in layer.__class__.__name__.lower()]
    assert lengths == [64, 32, 64, 128]  # 128 steps halved twice, then doubled back
    assert min(layer.output.shape[-1] for layer in model.layers if layer.__class__.__name__ == "Dense") == 8


def test_conv1d_autoencoder_reads_channels_as_consecutive_blocks():
    """With an identity-like layout the band-k mean and band-k deviation must meet in one step."""
    model = conv1d_autoencoder(16, channels=2, filters=(4,), bottleneck=2)
    reshaped = model.layers[2]  # Permute after Reshape: (steps, channels)
    probe = aadlib.autoencoders.keras.Model(model.input, reshaped.output)
    x = np.arange(16, dtype="float32")[None]
    np.testing.assert_array_equal(np.asarray(probe(x))[0], np.stack([np.arange(8), np.arange(8, 16)], axis=1))


def test_conv1d_autoencoder_rejects_lengths_it_cannot_halve():
    with pytest.raises(ValueError, match="pad or crop"):
        conv1d_autoencoder(250, channels=2, filters=(16, 32))


def ring_data(seed=0):
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi, 200)
    normal = np.stack([np.cos(angle), np.sin(angle)], axis=1) @ rng.normal(size=(2, 12))  # a 2-D manifold in 12-D
    outliers = rng.normal(scale=2.0, size=(20, 12))
    return normal[:160], np.vstack([normal[160:], outliers]), np.array([0] * 40 + [1] * 20)


def small_ae(seed=0, **kwargs):
    return Autoencoder(lambda d: dense_autoencoder(d, hidden=16, n_hidden=1, bottleneck=2), epochs=60, batch_size=32, random_state=seed, **kwargs)


def test_reconstruction_error_is_higher_off_the_normal_manifold():
    train, test, y = ring_data()
    detector = small_ae().fit(train)
    scores = detector.decision_function(test)
    assert scores.shape == (60,) and aadlib.auc(y, scores) > 0.9
    np.testing.assert_allclose(scores, np.mean(detector.residuals(test) ** 2, axis=1), rtol=1e-5)
    assert detector.predict(test)[y == 1].mean() > 0.8


def test_training_is_deterministic_for_a_seed():
    train, test, _ = ring_data()
    first = small_ae(seed=3).fit(train)
    again = small_ae(seed=3).fit(train)
    np.testing.assert_array_equal(first.decision_function(test), again.decision_function(test))
    assert first.history_["loss"] == again.history_["loss"]
    other = small_ae(seed=4).fit(train)
    assert not np.array_equal(first.decision_function(test), other.decision_function(test))


def test_loss_history_falls():
    train, _, _ = ring_data()
    history = small_ae().fit(train).history_["loss"]
    assert len(history) == 60 and history[-1] < 0.5 * history[0]


def test_reconstruct_in_batches_equals_one_call():
    model = dense_autoencoder(6, hidden=4, n_hidden=1, bottleneck=2)
    x = np.random.default_rng(0).normal(size=(10, 6)).astype("float32")
    np.testing.assert_allclose(reconstruct(model, x, batch_size=3), np.asarray(model(x, training=False)), rtol=1e-6)


def test_frame_level_scores_average_per_clip():
    train, test, _ = ring_data()
    detector = small_ae().fit(train)
    frames = test[:60].reshape(6, 10, 12)
    np.testing.assert_allclose(aadlib.score_clips(detector, frames), detector.decision_function(test[:60]).reshape(6, 10).mean(axis=1), rtol=1e-6)
