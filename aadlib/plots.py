"""Figures the chapters share: signals, ROC and PR curves, score strips, PCA maps.

Every function draws into new axes and returns the matplotlib Figure. Those with a ``fig``
argument can instead fill one panel of a larger figure (a subfigure), so that several clips
become one figure.

Notebook: 00_task_and_data to 05_gan_detection.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn import metrics as _sk
from sklearn.decomposition import PCA

CLASS_STYLE = {
    "train": dict(color="0.55", marker="o", label="train (normal)"),
    "normal": dict(color="tab:green", marker="o", label="test normal"),
    "anomaly": dict(color="tab:red", marker="D", label="test anomaly"),
}


def waveform_and_spectrogram(y, sr, spec_db, hop_length=512, title="", fig=None):
    """Waveform above its log-mel spectrogram, on one time axis.

    Args:
        y (np.ndarray): (n_samples,) mono signal.
        sr (int): Sample rate in Hz.
        spec_db (np.ndarray): (n_mels, n_frames) log-mel in dB.
        hop_length (int): Hop of ``spec_db`` in samples.
        title (str): Title above the waveform.
        fig (matplotlib.figure.Figure | matplotlib.figure.SubFigure | None): Draw into this, e.g. one of
            ``plt.figure(figsize=(7, 9)).subfigures(2, 1)`` to stack two clips in one figure; None: a new
            7 x 4.5 inch figure.

    Returns:
        matplotlib.figure.Figure | matplotlib.figure.SubFigure: ``fig``, or the new figure.

    Notebook: 00_task_and_data.
    """
    import librosa.display

    fig = plt.figure(figsize=(7, 4.5)) if fig is None else fig
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(1, 2))
    librosa.display.waveshow(y, sr=sr, ax=top, color="tab:blue")
    top.set(ylabel="amplitude", title=title, xlabel="")
    image = librosa.display.specshow(spec_db, sr=sr, hop_length=hop_length, x_axis="time", y_axis="mel", ax=bottom)
    fig.colorbar(image, ax=[top, bottom], format="%+.0f dB", shrink=0.6)
    return fig


def roc_pr(y_true, scores_by_method):
    """ROC curves (AUC in the legend) beside precision-recall curves (average precision in the legend).

    Args:
        y_true (array): (n,) 1 = anomaly.
        scores_by_method (dict[str, array]): Method name -> (n,) scores, higher = more anomalous.
    """
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(9, 4))
    for name, scores in scores_by_method.items():
        fpr, tpr, _ = _sk.roc_curve(y_true, scores)
        roc_ax.plot(fpr, tpr, lw=2, label=f"{name} (AUC {_sk.roc_auc_score(y_true, scores):.2f})")
        precision, recall, _ = _sk.precision_recall_curve(y_true, scores)
        pr_ax.step(recall, precision, where="post", lw=2, label=f"{name} (AP {_sk.average_precision_score(y_true, scores):.2f})")
    roc_ax.plot([0, 1], [0, 1], ls="--", color="0.6", label="chance")
    roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC", xlim=(0, 1), ylim=(0, 1.02))
    pr_ax.axhline(np.mean(y_true), ls="--", color="0.6", label="chance")
    pr_ax.set(xlabel="recall", ylabel="precision", title="Precision-recall", xlim=(0, 1), ylim=(0, 1.02))
    roc_ax.legend(loc="lower right", fontsize="small")
    pr_ax.legend(loc="lower left", fontsize="small")
    fig.tight_layout()
    return fig


def score_strip(y_true, scores, threshold=None, train_scores=None, title="", ylabel="anomaly score"):
    """Each clip's score as a dot in its class column, with the decision threshold as a line.

    Args:
        y_true (array): (n,) test labels, 1 = anomaly.
        scores (array): (n,) test scores.
        threshold (float | None): Drawn as a dashed line when given.
        train_scores (array | None): Shown as a third column when given.
    """
    y_true, scores = np.asarray(y_true), np.asarray(scores)
    columns = [("normal", scores[y_true == 0]), ("anomaly", scores[y_true == 1])]
    if train_scores is not None:
        columns.insert(0, ("train", np.asarray(train_scores)))
    jitter = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    for i, (key, values) in enumerate(columns):
        style = CLASS_STYLE[key]
        x = i + jitter.uniform(-0.12, 0.12, len(values))
        ax.scatter(x, values, color=style["color"], marker=style["marker"], s=30, label=style["label"])
    if threshold is not None:
        ax.axhline(threshold, ls="--", color="k", lw=1, label="threshold")
    ax.set_xticks(range(len(columns)), [CLASS_STYLE[k]["label"] for k, _ in columns])
    ax.set(ylabel=ylabel, title=title)
    fig.tight_layout()
    return fig


def pca_scatter(X_train, X_test, y_test, title="PCA of the feature vectors"):
    """2-D PCA map fitted on the training vectors, with train, test-normal and test-anomaly points.

    Args:
        X_train (np.ndarray): (n_train, n_features), already scaled as the detector sees them.
        X_test (np.ndarray): (n_test, n_features).
        y_test (array): (n_test,) 1 = anomaly.
    """
    pca = PCA(n_components=2).fit(X_train)
    y_test = np.asarray(y_test)
    fig, ax = plt.subplots(figsize=(5, 4))
    for key, points in (("train", X_train), ("normal", X_test[y_test == 0]), ("anomaly", X_test[y_test == 1])):
        xy = pca.transform(points)
        ax.scatter(xy[:, 0], xy[:, 1], s=35, **CLASS_STYLE[key])
    share = pca.explained_variance_ratio_ * 100
    ax.set(xlabel=f"PC 1 ({share[0]:.0f} % of variance)", ylabel=f"PC 2 ({share[1]:.0f} %)", title=title)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def error_over_time(curves, frame_seconds, title="Reconstruction error over time", ylabel="error per frame"):
    """One line per clip: a per-frame score (e.g. reconstruction error) against time.

    Args:
        curves (dict[str, np.ndarray]): Clip name -> (n_frames,) scores.
        frame_seconds (float): Time between frames in seconds (hop / sample rate).
    """
    fig, ax = plt.subplots(figsize=(7, 3))
    for name, curve in curves.items():
        style = CLASS_STYLE.get("anomaly" if "anomal" in name else "normal", {})
        ax.plot(np.arange(len(curve)) * frame_seconds, curve, lw=1.5, color=style.get("color"), label=name)
    ax.set(xlabel="time (s)", ylabel=ylabel, title=title)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def reconstruction_maps(original, rebuilt, title="", extent=None, ylabel="mel band", fig=None):
    """Input, reconstruction and squared error of one spectrogram-like image, side by side.

    Input and reconstruction share one colour scale (the input's 1st to 99th percentile), the
    squared error has its own.

    Args:
        original, rebuilt (np.ndarray): (n_rows, n_columns) input and autoencoder output.
        title (str): Figure title.
        extent (tuple | None): (x_min, x_max) of the horizontal axis, e.g. (0, duration in s).
        ylabel (str): Label of the rows.
        fig (matplotlib.figure.Figure | matplotlib.figure.SubFigure | None): Draw into this, e.g. one of
            ``plt.figure(figsize=(11, 6.4), layout="constrained").subfigures(2, 1)`` to stack two clips in
            one figure; None: a new 11 x 3.2 inch figure.

    Returns:
        matplotlib.figure.Figure | matplotlib.figure.SubFigure: ``fig``, or the new figure.

    Notebook: 03_autoencoders_2d, 05_gan_detection.
    """
    fig = plt.figure(figsize=(11, 3.2), layout="constrained") if fig is None else fig
    axes = fig.subplots(1, 3, sharey=True)
    low, high = np.percentile(original, [1, 99])
    box = None if extent is None else (extent[0], extent[1], 0, original.shape[0])
    for ax, image, name in ((axes[0], original, "input"), (axes[1], rebuilt, "reconstruction")):
        shown = ax.imshow(image, origin="lower", aspect="auto", vmin=low, vmax=high, extent=box)
        ax.set_title(name)
    fig.colorbar(shown, ax=axes[:2], shrink=0.8)
    error = axes[2].imshow((original - rebuilt) ** 2, origin="lower", aspect="auto", cmap="magma", extent=box)
    axes[2].set_title("squared error")
    fig.colorbar(error, ax=axes[2], shrink=0.8)
    axes[0].set_ylabel(ylabel)
    fig.suptitle(title)
    return fig


def gan_training(histories):
    """GAN training curves, one line per run: both losses, and D's belief that real patches are real.

    A healthy run keeps D's mean probability for real patches near 0.5-0.7:
    near 1 D wins and G gets no useful gradient; the losses swinging or
    diverging are the other warning sign.

    Args:
        histories (dict[str, dict]): Run name -> ``AnoGAN.history_`` (``d_loss``, ``g_loss``, ``d_real`` per epoch).

    Notebook: 05_gan_detection.
    """
    fig, (loss_ax, real_ax) = plt.subplots(1, 2, figsize=(10, 3.2), layout="constrained")
    for i, (name, history) in enumerate(histories.items()):
        epochs = np.arange(1, len(history["d_loss"]) + 1)
        loss_ax.plot(epochs, history["d_loss"], color=f"C{i}", label=f"{name}: D")
        loss_ax.plot(epochs, history["g_loss"], color=f"C{i}", ls="--", label=f"{name}: G")
        real_ax.plot(epochs, history["d_real"], color=f"C{i}", label=name)
    loss_ax.set(xlabel="epoch", ylabel="loss (binary cross-entropy)", title="losses")
    real_ax.axhline(0.5, color="0.6", ls=":")
    real_ax.set(xlabel="epoch", ylabel="mean D(real patch)", title="discriminator on real patches", ylim=(0, 1))
    loss_ax.legend(fontsize="x-small", ncol=2)
    real_ax.legend(fontsize="small")
    return fig


def patch_grid(rows, xlabel="", ylabel=""):
    """Rows of small images (e.g. generated patches at several epochs) on one colour scale per row.

    Args:
        rows (dict[str, np.ndarray]): Row name -> (n_images, height, width).
        xlabel, ylabel (str): Axis labels of the images.

    Notebook: 05_gan_detection.
    """
    n_cols = max(len(images) for images in rows.values())
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(1.8 * n_cols, 1.9 * len(rows)), squeeze=False, layout="constrained")
    for ax_row, (name, images) in zip(axes, rows.items()):
        low, high = np.percentile(images, [1, 99])
        for ax, image in zip(ax_row, images):
            ax.imshow(image, origin="lower", aspect="auto", vmin=low, vmax=high)
        for ax in ax_row:
            ax.set_xticks([])
            ax.set_yticks([])
        ax_row[0].set_ylabel(f"{name}\n{ylabel}", fontsize="small")
    for ax in axes[-1]:
        ax.set_xlabel(xlabel, fontsize="small")
    return fig
