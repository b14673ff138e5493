import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from conftest import SR, tone  # noqa: E402

from aadlib import features, plots  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_waveform_and_spectrogram():
    y = tone()
    fig = plots.waveform_and_spectrogram(y, SR, features.log_mel(y, SR), title="a tone")
    assert len(fig.axes) == 3  # waveform, spectrogram, colour bar
    assert fig.axes[0].get_title() == "a tone"


def test_waveform_and_spectrogram_fills_a_given_subfigure():
    y = tone()
    fig = plt.figure(figsize=(7, 9))
    panels = fig.subfigures(2, 1)
    for panel, name in zip(panels, ("first", "second")):
        assert plots.waveform_and_spectrogram(y, SR, features.log_mel(y, SR), title=name, fig=panel) is panel
    assert len(fig.axes) == 6 and [len(panel.axes) for panel in panels] == [3, 3]  # no new figure: all in one
    assert [panel.axes[0].get_title() for panel in panels] == ["first", "second"]


def test_roc_pr_legends_carry_auc_and_ap():
    y = np.array([0, 0, 1, 1])
    fig = plots.roc_pr(y, {"good": np.array([0.1, 0.2, 0.8, 0.9]), "bad": np.array([0.9, 0.2, 0.1, 0.3])})
    roc_labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    pr_labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert "good (AUC 1.00)" in roc_labels and "bad (AUC 0.25)" in roc_labels
    assert "good (AP 1.00)" in pr_labels


def test_score_strip_draws_every_clip_and_the_threshold():
    y = np.array([0, 0, 1])
    fig = plots.score_strip(y, np.array([0.1, 0.2, 0.9]), threshold=0.5, train_scores=np.array([0.0, 0.1]))
    ax = fig.axes[0]
    assert sum(len(c.get_offsets()) for c in ax.collections) == 5
    assert any(np.allclose(line.get_ydata(), 0.5) for line in ax.get_lines())


def test_pca_scatter_fits_on_training_vectors():
    rng = np.random.default_rng(0)
    fig = plots.pca_scatter(rng.normal(size=(20, 5)), rng.normal(size=(6, 5)), np.array([0, 0, 0, 1, 1, 1]))
    ax = fig.axes[0]
    assert [len(c.get_offsets()) for c in ax.collections] == [20, 3, 3]
    assert "% of variance" in ax.get_xlabel()


def test_error_over_time_draws_one_line_per_clip_on_a_time_axis():
    fig = plots.error_over_time({"test normal": np.ones(10), "test anomaly": np.zeros(10)}, frame_seconds=0.5)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2 and lines[0].get_xdata()[-1] == 4.5
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["test normal", "test anomaly"]


def test_reconstruction_maps_show_input_output_and_error():
    original = np.arange(12.0).reshape(3, 4)
    fig = plots.reconstruction_maps(original, original + 1, title="clip", extent=(0, 2.5))
    images = [ax.get_images()[0] for ax in fig.axes if ax.get_images()]
    assert len(images) == 3
    np.testing.assert_allclose(images[2].get_array(), np.ones((3, 4)))
    assert fig.axes[2].get_title() == "squared error" and images[0].get_extent() == [0, 2.5, 0, 3]


def test_reconstruction_maps_fill_a_given_subfigure():
    original = np.arange(12.0).reshape(3, 4)
    fig = plt.figure(layout="constrained")
    panels = fig.subfigures(2, 1)
    for panel, name in zip(panels, ("normal", "anomaly")):
        assert plots.reconstruction_maps(original, original + 1, title=name, fig=panel) is panel
    assert plt.get_fignums() == [fig.number]  # no new figure: all in one
    assert [len(panel.axes) for panel in panels] == [5, 5]  # three images and two colour bars each
    assert [panel.get_suptitle() for panel in panels] == ["normal", "anomaly"]


def test_gan_training_draws_both_losses_and_d_real_per_run():
    history = {"d_loss": [1.4, 1.2, 1.1], "g_loss": [0.7, 0.9, 1.0], "d_real": [0.5, 0.6, 0.55]}
    fig = plots.gan_training({"seed 0": history, "seed 1": history})
    loss_ax, real_ax = fig.axes
    assert len(loss_ax.get_lines()) == 4  # D and G per run
    assert [line.get_label() for line in real_ax.get_lines()][:2] == ["seed 0", "seed 1"]
    assert real_ax.get_ylim() == (0, 1)


def test_patch_grid_has_one_row_per_entry():
    rows = {"generated": np.zeros((4, 8, 8)), "real": np.ones((2, 8, 8))}
    fig = plots.patch_grid(rows, xlabel="frames")
    assert len(fig.axes) == 8  # 2 rows x 4 columns; the short row leaves empty axes
    assert "generated" in fig.axes[0].get_ylabel() and "real" in fig.axes[4].get_ylabel()
