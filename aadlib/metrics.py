"""Evaluation as DCASE Task 2 reports it: AUC, pAUC (max FPR 0.1), average precision, thresholds.

Scores are oriented "higher = more anomalous" everywhere in aadlib; labels are
1 = anomaly, 0 = normal.

Notebook: 00_task_and_data, 01_distribution_modelling, 08_real_flights (confidence intervals).
"""

import numpy as np
from sklearn import metrics as _sk
from sklearn.model_selection import PredefinedSplit

MAX_FPR = 0.1
"""The false-positive rate up to which DCASE Task 2 measures the partial AUC."""


def _check(y_true, scores):
    y_true, scores = np.asarray(y_true), np.asarray(scores, dtype=float)
    if y_true.shape != scores.shape or y_true.ndim != 1:
        raise ValueError(f"Labels {y_true.shape} and scores {scores.shape} must be 1-D and of one length.")
    if set(np.unique(y_true)) != {0, 1}:
        raise ValueError("The labels must hold both classes, 1 = anomaly and 0 = normal.")
    if not np.all(np.isfinite(scores)):
        raise ValueError("Some scores are NaN or infinite; check the model that produced them.")
    return y_true, scores


def auc(y_true, scores):
    """Area under the ROC curve: the chance that a random anomaly scores above a random normal clip.

    Args:
        y_true (array): (n,) 1 = anomaly, 0 = normal.
        scores (array): (n,) higher = more anomalous.

    Returns:
        float: In [0, 1]; 0.5 is chance, ties count half.
    """
    return float(_sk.roc_auc_score(*_check(y_true, scores)))


def pauc(y_true, scores, max_fpr=MAX_FPR, standardized=True):
    """Partial AUC over false-positive rates 0 to ``max_fpr``.

    With ``standardized=True`` (the default) this is scikit-learn's
    ``roc_auc_score(..., max_fpr=max_fpr)``, which is what the DCASE Task 2
    evaluators report. Note that scikit-learn returns the McClish-standardised
    value, ``0.5 * (1 + (A - A_min) / (A_max - A_min))`` with ``A`` the raw
    partial area, ``A_min = max_fpr**2 / 2`` (the chance diagonal) and
    ``A_max = max_fpr``: chance scores 0.5 and a perfect detector 1.0.
    With ``standardized=False`` it returns the raw partial area ``A`` itself,
    in [0, max_fpr]; ``A / max_fpr`` is the form of the DCASE papers' formula.

    Returns:
        float: The partial AUC.
    """
    y_true, scores = _check(y_true, scores)
    if standardized:
        return float(_sk.roc_auc_score(y_true, scores, max_fpr=max_fpr))
    fpr, tpr, _ = _sk.roc_curve(y_true, scores)
    stop = np.searchsorted(fpr, max_fpr, side="right")
    fpr_cut = np.append(fpr[:stop], max_fpr)
    tpr_cut = np.append(tpr[:stop], np.interp(max_fpr, fpr, tpr))
    return float(_sk.auc(fpr_cut, tpr_cut))


def evaluate(y_true, scores, max_fpr=MAX_FPR):
    """AUC, pAUC (standardised, as DCASE reports it) and average precision of one set of scores.

    Returns:
        dict: ``{"auc": float, "pauc": float, "ap": float}``.
    """
    y_true, scores = _check(y_true, scores)
    return {
        "auc": auc(y_true, scores),
        "pauc": pauc(y_true, scores, max_fpr=max_fpr),
        "ap": float(_sk.average_precision_score(y_true, scores)),
    }


def auc_interval(y_true, scores, groups=None, level=0.95, n_boot=2000, seed=0):
    """Bootstrap confidence interval of the AUC: how far it could move with other test data like this.

    Each of ``n_boot`` resamples draws, with replacement, as many normal and as many anomalous
    units as the test set has (so both classes are always there), and the interval holds the
    middle ``level`` of their AUCs (percentile bootstrap). The units are clips, or, with
    ``groups``, whole groups such as recordings: clips cut from one flight are not independent
    draws, and resampling them one by one would make the interval too narrow.

    The interval can only reshuffle the clips at hand. If the scores rank every anomaly above
    every normal clip, so does every resample, and the interval is (1.0, 1.0): on a small test
    set that says "no pair of these clips is out of order", not "the detector is perfect".

    Args:
        y_true (array): (n,) 1 = anomaly, 0 = normal; within a group all the same.
        scores (array): (n,) higher = more anomalous.
        groups (array | None): (n,) the group (e.g. recording) of each clip, or None.
        level (float): Coverage of the interval, e.g. 0.95.
        n_boot (int): Resamples.
        seed (int): Seeds the resampling.

    Returns:
        tuple[float, float]: The interval's low and high end.

    Notebook: 00_task_and_data (what the interval means on 10 clips), 01-07 (beside the spread over
    seeds, via :func:`aadlib.detectors.evaluate_seeds`), 08_real_flights.
    """
    y_true, scores = _check(y_true, scores)
    groups = np.arange(len(y_true)) if groups is None else np.asarray(groups)
    units = [np.unique(groups[y_true == label]) for label in (0, 1)]
    if len(np.intersect1d(*units)):
        raise ValueError("A group holds both normal and anomalous clips; the bootstrap resamples whole groups of one label.")
    members = {g: np.flatnonzero(groups == g) for g in np.concatenate(units)}
    rng = np.random.default_rng(seed)
    aucs = np.empty(n_boot)
    for i in range(n_boot):
        normal, anomalous = (np.concatenate([members[g] for g in rng.choice(part, len(part))]) for part in units)
        # the AUC by counting pairs, ties half, without roc_auc_score's checks: 2,000 resamples of 10 clips in 0.05 s
        below = np.sort(scores[normal])
        pairs = np.searchsorted(below, scores[anomalous], "left") + np.searchsorted(below, scores[anomalous], "right")
        aucs[i] = pairs.sum() / 2 / (len(normal) * len(anomalous))
    low, high = np.percentile(aucs, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


def threshold_percentile(train_scores, q=90.0):
    """Decision threshold at the q-th percentile of the scores of the (normal) training clips.

    PyOD sets its ``threshold_`` this way with ``q = 100 * (1 - contamination)``.

    Returns:
        float: Scores above it are called anomalous.
    """
    return float(np.percentile(np.asarray(train_scores, dtype=float), q))


def threshold_gamma(train_scores, q=0.9):
    """Decision threshold at quantile q of a gamma distribution fitted to the training scores.

    This is the DCASE 2021-2023 baselines' rule (q = 0.9): anomaly scores such
    as reconstruction errors are positive and skewed, and a fitted gamma gives
    a smoother quantile than a percentile of a few training clips. The scores
    are shifted to be positive before the fit when they are not.

    Returns:
        float: Scores above it are called anomalous.
    """
    from scipy import stats

    scores = np.asarray(train_scores, dtype=float)
    shift = scores.min() - 1e-9 if scores.min() <= 0 else 0.0
    shape, loc, scale = stats.gamma.fit(scores - shift)
    return float(stats.gamma.ppf(q, shape, loc=loc, scale=scale) + shift)


def scorer(metric="auc"):
    """A scikit-learn scorer of a detector's ``decision_function``, for ``GridSearchCV`` and ``cross_val_score``.

    Args:
        metric (str): "auc" (:func:`auc`) or "pauc" (:func:`pauc`, max FPR 0.1).

    Returns:
        callable: ``scorer(estimator, X, y)`` -> the metric of ``estimator.decision_function(X)``
        against ``y`` (1 = anomaly).

    Notebook: 08_real_flights.
    """
    metrics = {"auc": auc, "pauc": pauc}
    if metric not in metrics:
        raise ValueError(f"metric must be 'auc' or 'pauc', not {metric!r}.")
    return _sk.make_scorer(metrics[metric], response_method="decision_function")


def validation_split(n_train, n_validation):
    """The one split of a search that trains on normal clips only and scores on a labelled validation set.

    Stack the training rows first, the validation rows after them (``X = [X_train; X_val]``,
    ``y = [0...0; y_val]``): every candidate is fitted on the first ``n_train`` rows and scored on
    the rest. Use ``GridSearchCV(..., cv=validation_split(...), refit=False)``: refitting on all rows
    would train on the validation anomalies too.

    Args:
        n_train (int): Normal training rows.
        n_validation (int): Validation rows (normal and anomalous).

    Returns:
        sklearn.model_selection.PredefinedSplit: One (train, validation) split.

    Notebook: 08_real_flights.
    """
    return PredefinedSplit(np.r_[np.full(n_train, -1), np.zeros(n_validation, int)])
