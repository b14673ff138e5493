import numpy as np
import pytest

from aadlib import AadError
from aadlib.gan import AnoGAN, dcgan_discriminator, dcgan_encoder, dcgan_generator


def test_builders_shapes():
    assert dcgan_generator(16, (32, 32)).output_shape == (None, 32, 32, 1)
    assert dcgan_generator(8, (16, 32), filters=(4,)).output_shape == (None, 16, 32, 1)
    logits, feats = dcgan_discriminator((32, 32)).output_shape
    assert logits == (None, 1) and feats == (None, 4 * 4 * 32)
    assert dcgan_encoder(16, (32, 32)).output_shape == (None, 16)
    with pytest.raises(ValueError, match="divisible by 8"):
        dcgan_generator(16, (30, 32))


@pytest.fixture(scope="module")
def patches():
    # Normal patches: smooth horizontal bands of random level and slope.
    rng = np.random.default_rng(0)
    rows = np.linspace(0, 1, 32)[:, None]
    return np.stack([(a + b * rows) * np.ones((32, 32)) for a, b in rng.normal(size=(64, 2))]).reshape(64, -1)


@pytest.fixture(scope="module")
def fitted(patches):
    return AnoGAN(epochs=3, encoder_epochs=3, batch_size=16, search_steps=20, random_state=1).fit(patches)


def test_a_generated_patch_scores_lower_than_a_perturbed_one(fitted):
    exact = fitted.generate(1, seed=5).reshape(1, -1)
    perturbed = exact + np.random.default_rng(0).normal(scale=0.5 * exact.std(), size=exact.shape)
    z0 = np.random.default_rng(5).uniform(-1, 1, (1, fitted.latent_dim))
    _, trace = fitted.latent_search(np.vstack([exact, perturbed]), steps=1, start=np.vstack([z0, z0]))
    assert trace[0, 0] < 1e-4 < trace[0, 1]  # G(z0) is explained exactly by z0; the noise is not
    for search in ("gradient", "encoder"):
        scores = fitted.score_parts(np.vstack([exact, perturbed]), search)["score"]
        assert scores[0] < scores[1]


def test_latent_search_lowers_the_score(fitted, patches):
    _, trace = fitted.latent_search(patches[:8], steps=20)
    assert trace.shape == (20, 8) and np.all(trace[-1] < trace[0])


def test_score_is_the_lambda_mix_and_rebuilt_is_in_input_units(fitted, patches):
    parts = fitted.score_parts(patches[:4], "encoder")
    np.testing.assert_allclose(parts["score"], 0.9 * parts["residual"] + 0.1 * parts["discrimination"], rtol=1e-5)
    assert parts["rebuilt"].shape == (4, 1024)
    assert patches.min() - 1e-6 <= parts["rebuilt"].min() and parts["rebuilt"].max() <= patches.max() + 1e-6
    np.testing.assert_allclose(fitted.decision_function(patches[:4]), fitted.score_parts(patches[:4])["score"], rtol=1e-6)


def test_training_is_deterministic_for_a_seed(fitted, patches):
    again = AnoGAN(epochs=3, encoder_epochs=3, batch_size=16, search_steps=20, random_state=1).fit(patches)
    for key in ("d_loss", "g_loss", "d_real"):
        assert again.history_[key] == fitted.history_[key]
    # The encoder's float sums can differ in the last bit once other graphs (earlier tests' latent
    # searches) have run in the process; a fresh process, like a notebook run, repeats exactly.
    np.testing.assert_allclose(again.history_["e_loss"], fitted.history_["e_loss"], rtol=1e-5)
    np.testing.assert_allclose(again.decision_scores_, fitted.decision_scores_, rtol=1e-3)
    other = AnoGAN(epochs=3, encoder_epochs=3, batch_size=16, search_steps=20, random_state=2).fit(patches)
    assert other.history_["g_loss"] != fitted.history_["g_loss"]


def test_history_and_snapshots(patches):
    model = AnoGAN(epochs=4, encoder_epochs=2, batch_size=32, snapshot_every=2, random_state=0).fit(patches)
    assert all(len(model.history_[key]) == 4 for key in ("d_loss", "g_loss", "d_real"))
    assert len(model.history_["e_loss"]) == 2
    assert [epoch for epoch, _ in model.snapshots_] == [1, 2, 4]
    assert model.snapshots_[0][1].shape == (4, 32, 32)


def test_bad_input_is_explained(fitted):
    with pytest.raises(AadError, match="choose 'gradient'"):
        AnoGAN(search="newton").fit(np.zeros((4, 1024)))  # checked before any training
    with pytest.raises(AadError, match="choose 'gradient'"):
        fitted.score_parts(np.zeros((1, 1024)), "newton")
    with pytest.raises(AadError, match="1024 values, not 100"):
        fitted.latent_search(np.zeros((1, 100)))


def test_scoring_in_chunks_gives_the_scores_of_one_pass(fitted, patches, monkeypatch):
    from aadlib import gan

    whole = {search: fitted.score_parts(patches[:8], search) for search in ("gradient", "encoder")}
    monkeypatch.setattr(gan, "SCORE_CHUNK", 3)  # 8 patches in chunks of 3, 3 and 2
    for search, parts in whole.items():
        chunked = fitted.score_parts(patches[:8], search)
        for key in ("residual", "discrimination", "score", "rebuilt"):
            np.testing.assert_allclose(chunked[key], parts[key], rtol=1e-4, atol=1e-6, err_msg=f"{search}: {key}")
