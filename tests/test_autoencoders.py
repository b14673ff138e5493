import numpy as np
import pytest
import sklearn.base

import aadlib
from aadlib.autoencoders import (
    Autoencoder,
    Interpolator,
    MahalanobisAutoencoder,
    block_cae,
    conv1d_autoencoder,
    dense_autoencoder,
    flat,
    interpolation_network,
    lstm_autoencoder,
    nrmse,
    reconstruct,
    small_cae,
    ssim,
    ssim_loss,
    strided_cae,
    train_epochs,
)


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


def test_scores_computed_a_block_at_a_time_equal_one_block(monkeypatch):
    from aadlib import autoencoders

    train, test, _ = ring_data()
    detector = small_ae().fit(train)
    whole = detector.decision_function(test)
    monkeypatch.setattr(autoencoders, "SCORE_BATCH", 7)  # 60 rows in blocks of 7, the last of 4
    np.testing.assert_allclose(detector.decision_function(test), whole, rtol=1e-6)


def test_frame_level_scores_average_per_clip():
    train, test, _ = ring_data()
    detector = small_ae().fit(train)
    frames = test[:60].reshape(6, 10, 12)
    np.testing.assert_allclose(aadlib.score_clips(detector, frames), detector.decision_function(test[:60]).reshape(6, 10).mean(axis=1), rtol=1e-6)


def test_strided_cae_has_the_reported_259971_trainable_parameters():
    model = strided_cae((64, 64, 1))
    assert model.output_shape == (None, 64, 64, 1)
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 259_971
    assert min(layer.output.shape[1] for layer in model.layers) == 4  # 64 halved four times


def test_small_cae_keeps_shape_and_refuses_odd_frame_counts():
    assert small_cae((128, 216, 1)).output_shape == (None, 128, 216, 1)
    with pytest.raises(ValueError, match="fit_frames"):
        small_cae((128, 431, 1))


def test_block_cae_five_blocks_with_and_without_inception():
    plain = block_cae((64, 64, 1))
    assert plain.output_shape == (None, 64, 64, 1)
    assert min(layer.output.shape[1] for layer in plain.layers) == 2  # 64 / 2**5
    with_inception = block_cae((64, 64, 1), inception=True)
    assert with_inception.output_shape == (None, 64, 64, 1)
    assert any(layer.__class__.__name__ == "Concatenate" for layer in with_inception.layers)
    with pytest.raises(ValueError, match="divisible by 32"):
        block_cae((48, 64, 1))


def test_flat_wraps_an_image_model_for_the_detector():
    build = flat(strided_cae, (16, 16, 1))
    model = build(256)
    assert model.input_shape == (None, 256) and model.output_shape == (None, 256)
    with pytest.raises(ValueError, match="not 255"):
        build(255)


def test_lstm_autoencoder_maps_sequences_to_sequences():
    model = lstm_autoencoder(7, 5, units=6, latent=3)
    assert model.input_shape == (None, 7, 5) and model.output_shape == (None, 7, 5)
    code = next(layer for layer in model.layers if layer.__class__.__name__ == "RepeatVector")
    assert code.output.shape == (None, 7, 3)  # the 3-number code, repeated for every step
    assert flat(lstm_autoencoder, 7, 5)(35).output_shape == (None, 35)


def test_lstm_detector_is_deterministic_per_seed_and_finds_a_broken_rhythm():
    rng = np.random.default_rng(0)
    steps = np.arange(8)
    normal = np.stack([np.sin(steps + phase) for phase in rng.uniform(0, 2 * np.pi, 40)])[..., None]
    test = np.concatenate([normal[:10], normal[:10, ::-1] * -3])  # a broken rhythm: reversed and louder
    y = np.repeat([0, 1], 10)

    def detector(seed):
        return Autoencoder(flat(lstm_autoencoder, 8, 1, units=8, latent=2), epochs=30, batch_size=10, random_state=seed).fit(normal.reshape(40, -1))

    first, again, other = detector(1), detector(1), detector(2)
    scores = first.decision_function(test.reshape(20, -1))
    np.testing.assert_array_equal(scores, again.decision_function(test.reshape(20, -1)))
    assert not np.array_equal(scores, other.decision_function(test.reshape(20, -1)))
    assert aadlib.auc(y, scores) > 0.9


def test_nrmse_definition():
    x = np.array([[0.0, 2.0, 4.0, 6.0]])
    x_hat = x + np.array([[1.0, -1.0, 1.0, -1.0]])
    np.testing.assert_allclose(nrmse(x, x_hat), [1.0 / 6.0])
    np.testing.assert_allclose(nrmse(x * 10, x_hat * 10), nrmse(x, x_hat))  # scale-free


def test_ssim_and_the_sign_of_the_ssim_loss():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(2, 32, 32, 1)).astype("float32")
    noisy = images + rng.normal(scale=0.5, size=images.shape).astype("float32")
    np.testing.assert_allclose(ssim(images, images, max_val=8.0), 1.0, atol=1e-5)
    assert np.all(ssim(images, noisy, max_val=8.0) < 0.9)
    loss = ssim_loss((32, 32, 1), max_val=8.0)
    flat_images, flat_noisy = images.reshape(2, -1), noisy.reshape(2, -1)
    assert float(loss(flat_images, flat_images)) == pytest.approx(0.0, abs=1e-5)
    assert float(loss(flat_images, flat_noisy)) > 0.1  # worse reconstruction -> larger loss: minimising it is right


def test_a_cae_trains_with_the_ssim_loss_and_scores_structure_breaks_higher():
    rng = np.random.default_rng(1)
    stripes = np.tile((np.arange(16) % 4 < 2).astype("float32"), (16, 1))  # vertical stripes
    train = np.stack([np.roll(stripes, rng.integers(4), axis=1) + 0.05 * rng.normal(size=(16, 16)) for _ in range(40)])
    test_normal = np.roll(stripes, 1, axis=1)[None] + 0.05 * rng.normal(size=(4, 16, 16))
    test_broken = stripes.T[None] + 0.05 * rng.normal(size=(4, 16, 16))  # horizontal: new structure
    # 600 steps: enough for batch normalisation's moving statistics (momentum 0.99), which scoring
    # uses, to forget their start; after 200 steps, scores depended on how the batches fell.
    detector = Autoencoder(flat(strided_cae, (16, 16, 1)), epochs=60, batch_size=4, loss=ssim_loss((16, 16, 1), max_val=2.0), random_state=0, standardize=False)
    detector.fit(train.reshape(40, -1))
    x, x_hat = detector.reconstruction(np.vstack([test_normal, test_broken]).reshape(8, -1))
    errors = 1 - ssim(x.reshape(8, 16, 16, 1), x_hat.reshape(8, 16, 16, 1), max_val=2.0)
    assert errors[4:].mean() > errors[:4].mean()


def test_interpolation_network_predicts_the_centre_frame_without_seeing_it():
    model = interpolation_network(5 * 8)
    assert model.input_shape == (None, 40) and model.output_shape == (None, 8)
    stacks = np.random.default_rng(0).standard_normal((3, 40)).astype(np.float32)
    changed = stacks.copy()
    changed[:, 16:24] += 100.0  # the centre frame (frame 2 of 0-4)
    np.testing.assert_array_equal(model.predict(stacks, verbose=0), model.predict(changed, verbose=0))
    changed[:, :8] += 1.0  # an edge frame is an input
    assert not np.allclose(model.predict(stacks, verbose=0), model.predict(changed, verbose=0))
    with pytest.raises(ValueError, match="odd number of frames"):
        interpolation_network(40, n_frames=4)


def smooth_stacks(n, rng, bump=0.0):
    """Stacks of 5 frames x 8 values that change linearly over the frames (the centre is the mean of its
    neighbours), with ``bump`` added to the centre frame."""
    start, slope = rng.standard_normal((n, 1, 8)), rng.standard_normal((n, 1, 8))
    frames = start + slope * np.arange(5)[None, :, None] + 0.05 * rng.standard_normal((n, 5, 8))
    frames[:, 2] += bump
    return frames.reshape(n, 40)


def test_interpolator_finds_centre_frames_that_do_not_follow_from_their_neighbours():
    rng = np.random.default_rng(0)
    train, normal = smooth_stacks(400, rng), smooth_stacks(50, rng)
    broken = smooth_stacks(50, rng, bump=rng.choice([-1.5, 1.5], (50, 1, 8)).reshape(50, 8))
    detector = Interpolator(epochs=40, batch_size=32, random_state=0).fit(train)
    scores = detector.decision_function(np.vstack([normal, broken]))
    assert aadlib.auc(np.r_[np.zeros(50), np.ones(50)], scores) > 0.95
    target, predicted = detector.reconstruction(normal)
    assert target.shape == predicted.shape == (50, 8)
    np.testing.assert_allclose(scores[:50], np.mean(detector.residuals(normal) ** 2, axis=1), rtol=1e-5)
    again = Interpolator(epochs=40, batch_size=32, random_state=0).fit(train).decision_function(normal)
    np.testing.assert_array_equal(again, scores[:50])  # the same seed, the same scores
    assert sklearn.base.clone(detector).get_params()["n_frames"] == 5


def small_mahalanobis_ae(seed=0, epochs=60, **kwargs):
    return MahalanobisAutoencoder(lambda d: dense_autoencoder(d, hidden=16, n_hidden=1, bottleneck=2), epochs=epochs, batch_size=32,
                                  random_state=seed, **kwargs)


def test_the_dcase_2023_baseline_scores_the_residual_by_its_mahalanobis_distance():
    """The same network as Autoencoder with the same settings, and chapter 09 section 5's score: the Mahalanobis
    distance of a row's residual to the training residuals, simple or, with domains, selective."""
    train, test, y = ring_data()
    detector = small_mahalanobis_ae(seed=2).fit(train)
    network = small_ae(seed=2).fit(train)
    np.testing.assert_array_equal(detector.residuals(test), network.residuals(test))
    by_hand = aadlib.Mahalanobis(standardize=False).fit(network.residuals(train))
    np.testing.assert_allclose(detector.decision_function(test), by_hand.decision_function(network.residuals(test)), rtol=1e-6)
    np.testing.assert_allclose(detector.decision_scores_, by_hand.decision_function(network.residuals(train)), rtol=1e-6)
    assert aadlib.auc(y, detector.decision_function(test)) > 0.9 and detector.domains_ == [None]

    domains = np.repeat(["source", "target"], [150, 10])
    selective = small_mahalanobis_ae(seed=2).fit(train, domains=domains)
    per_domain = [aadlib.Mahalanobis(standardize=False).fit(network.residuals(train[domains == d])) for d in ("source", "target")]
    expected = np.column_stack([m.decision_function(network.residuals(test)) for m in per_domain])
    np.testing.assert_allclose(selective.domain_scores(test), expected, rtol=1e-5)
    np.testing.assert_allclose(selective.decision_function(test), expected.min(axis=1), rtol=1e-5)
    assert selective.domains_ == ["source", "target"]
    with pytest.raises(aadlib.AadError, match="one label per training row"):
        small_mahalanobis_ae().fit(train, domains=domains[:-1])
    copy = sklearn.base.clone(selective)
    assert copy.get_params()["shrinkage"] and not hasattr(copy, "residual_detector_")


def test_a_clip_of_patches_is_scored_in_the_domain_it_fits_best():
    """Selective, per patch: a clip's score is the smaller of its domains' mean distances over its patches, as the
    DCASE 2024 baseline scores a clip; each training clip's domain reaches every one of its patches."""
    from aadlib.methods import PerPatch

    train, test, _ = ring_data()
    clips_train, clips_test = train.reshape(40, 4 * 12), test.reshape(15, 4 * 12)  # clips of 4 patches of 12 values
    domains = np.repeat(["source", "target"], [30, 10])
    detector = PerPatch(small_mahalanobis_ae(epochs=5), patch_size=12).fit(clips_train, domains=domains)
    assert detector.detector_.domains_ == ["source", "target"]
    per_domain = detector.detector_.domain_scores(test).reshape(15, 4, 2).mean(axis=1)
    np.testing.assert_allclose(detector.decision_function(clips_test), per_domain.min(axis=1), rtol=1e-6)
    assert detector.threshold_ == pytest.approx(np.percentile(detector.decision_function(clips_train), 90))
    with pytest.raises(aadlib.AadError, match=r"one label per training row \(40 rows\)"):
        PerPatch(small_mahalanobis_ae(epochs=1), patch_size=12).fit(clips_train, domains=domains[:-1])


@pytest.mark.parametrize("even_batches, sizes", [(False, [8, 8, 8, 8, 8, 7]), (True, [10, 10, 9, 9, 9])])
def test_train_epochs_visits_every_row_once_per_epoch_in_batches_of_the_asked_sizes(even_batches, sizes):
    import tensorflow as tf

    def step(x):  # per batch: its rows' values summed, its size, its size squared
        n = tf.cast(tf.shape(x)[0], tf.float32)
        return tf.reduce_sum(x), n, n * n

    epochs = list(train_epochs(step, [np.arange(47.0)], batch_size=8, epochs=2, random_state=0, n_sums=3, even_batches=even_batches))
    assert len(epochs) == 2
    for total, count, squares in epochs:  # each sum divided by the 47 rows
        assert total == pytest.approx(np.arange(47).mean()) and count == pytest.approx(1.0)
        assert squares * 47 == pytest.approx(sum(n * n for n in sizes))  # 6 batches, the last of 7; or 5 near-equal ones
