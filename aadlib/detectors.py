"""Classical outlier detectors behind one interface, in PyOD's style, as scikit-learn estimators.

Each detector learns what normal looks like from training vectors only:

- ``fit(X, y=None)``: X (n_samples, n_features) of normal data (y is ignored: it is there so that a
  detector can end a scikit-learn ``Pipeline``); standardises each feature with the training mean
  and deviation (``standardize=True``), fits, and sets ``threshold_`` from the training scores.
- ``decision_function(X)``: (n_samples,) anomaly scores, higher = more anomalous.
- ``predict(X)``: (n_samples,) 1 = anomaly (score above ``threshold_``), 0 = normal (PyOD's
  convention, not scikit-learn's -1/+1).

Built on ``sklearn.base.BaseEstimator``: ``get_params``/``set_params``, ``sklearn.base.clone``,
``Pipeline`` and ``GridSearchCV`` work (scored with :func:`aadlib.metrics.scorer`).

Notebook: 01_distribution_modelling, 06_transfer_learning (KNN), 08_real_flights (GridSearchCV).
"""

import time

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.covariance import EmpiricalCovariance, LedoitWolf
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

from .metrics import auc_interval, evaluate, threshold_gamma, threshold_percentile
from .store import FeatureFiles
from .utils import SEED, AadError

THRESHOLDS = ("percentile", "gamma")


class NotFittedError(AadError, SklearnNotFittedError):
    """A detector was asked to score before ``fit``: the course's error type and scikit-learn's at once,
    so that ``except AadError`` and scikit-learn's own checks (``check_is_fitted``) both catch it."""


def decision_threshold(train_scores, threshold="percentile", contamination=0.1):
    """The score above which a clip is called anomalous, from the scores of normal training clips.

    Args:
        train_scores (np.ndarray): (n_train,) anomaly scores of the training clips.
        threshold (str): "percentile" (of the training scores, at ``100 * (1 - contamination)``) or
            "gamma" (DCASE baselines: the ``1 - contamination`` quantile of a gamma fitted to them).
        contamination (float): Share of training clips expected above the threshold.

    Returns:
        float: The threshold.
    """
    _check_threshold(threshold)
    if threshold == "gamma":
        return threshold_gamma(train_scores, q=1 - contamination)
    return threshold_percentile(train_scores, q=100 * (1 - contamination))


def _check_threshold(threshold):
    if threshold not in THRESHOLDS:
        raise AadError(f"threshold must be 'percentile' or 'gamma', not {threshold!r}.")


class Detector(OutlierMixin, BaseEstimator):
    """Base class: standardisation, threshold and prediction; subclasses fit and score.

    Subclasses list every parameter in their ``__init__`` signature (scikit-learn reads them from
    there for ``get_params`` and ``clone``) and store each one unchanged; they are checked in ``fit``.

    Args:
        contamination (float): Share of training clips expected above the threshold
            (PyOD's convention; see :func:`decision_threshold`).
        threshold (str): "percentile" or "gamma" (see :func:`decision_threshold`).
        standardize (bool): Scale each feature to zero mean and unit variance
            with the training statistics before fitting and scoring.
    """

    def __init__(self, contamination=0.1, threshold="percentile", standardize=True):
        self.contamination = contamination
        self.threshold = threshold
        self.standardize = standardize

    def fit(self, X, y=None):
        """Learn the normal data X (n_samples, n_features); y is ignored; returns self."""
        X = self._check(X, fitting=True)
        self.scaler_ = StandardScaler(with_mean=self.standardize, with_std=self.standardize).fit(X)
        scaled = self.scaler_.transform(X)
        del X  # the checked float64 copy: a large training set should not be held twice while the model trains
        self.model_ = self._fit(scaled)
        self._set_threshold(self._train_scores(scaled))
        return self

    def _set_threshold(self, train_scores):
        self.decision_scores_ = train_scores
        self.threshold_ = decision_threshold(train_scores, self.threshold, self.contamination)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_")

    def decision_function(self, X):
        """Anomaly scores (n_samples,) of X (n_samples, n_features); higher = more anomalous.
        X may also be a set too large for memory (:class:`aadlib.store.FeatureFiles`), scored a chunk at a time."""
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit(X_train) first.")
        if isinstance(X, FeatureFiles):
            return np.concatenate([self.decision_function(rows) for rows in X.chunks()])
        return self._score(self.scaler_.transform(self._check(X)))

    def predict(self, X):
        """Labels (n_samples,): 1 = anomaly (score above ``threshold_``), 0 = normal."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    def _check(self, X, fitting=False):
        if fitting:
            _check_threshold(self.threshold)  # before the model trains, not after
        X = np.asarray(X, dtype=float)
        if X.ndim != 2:
            raise AadError(f"Expected a 2-D array (n_samples, n_features), got shape {X.shape}; summarise each clip to one vector first.")
        if not np.all(np.isfinite(X)):
            raise AadError("The feature array holds NaN or infinite values; check the feature extraction.")
        if not fitting and X.shape[1] != self.scaler_.n_features_in_:
            raise AadError(f"The detector was fitted on {self.scaler_.n_features_in_} features, not {X.shape[1]}.")
        return X

    def _train_scores(self, Xs):
        return self._score(Xs)


class GMM(Detector):
    """Gaussian mixture; score = negative log-likelihood of a vector under the mixture.

    Args:
        n_components (int): Number of Gaussians.
        covariance_type (str): "full", "diag", "tied" or "spherical".
        reg_covar (float): Added to the covariance diagonals; with fewer
            training vectors than features a full covariance is singular and
            this term alone keeps it invertible.
        random_state (int): Seed of the k-means initialisation.
        contamination, threshold, standardize: As :class:`Detector`.
    """

    def __init__(self, n_components=2, covariance_type="full", reg_covar=1e-6, random_state=SEED,
                 contamination=0.1, threshold="percentile", standardize=True):
        super().__init__(contamination, threshold, standardize)
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.random_state = random_state

    def _fit(self, X):
        return GaussianMixture(
            n_components=self.n_components,
            covariance_type=self.covariance_type,
            reg_covar=self.reg_covar,
            random_state=self.random_state,
        ).fit(X)

    def _score(self, X):
        return -self.model_.score_samples(X)


class IForest(Detector):
    """Isolation Forest; score = how few random splits isolate a vector (sign flipped from scikit-learn).

    Args:
        n_estimators (int): Trees.
        random_state (int): Seed of the random splits and subsamples.
        contamination, threshold, standardize: As :class:`Detector`.
    """

    def __init__(self, n_estimators=200, random_state=SEED,
                 contamination=0.1, threshold="percentile", standardize=True):
        super().__init__(contamination, threshold, standardize)
        self.n_estimators = n_estimators
        self.random_state = random_state

    def _fit(self, X):
        return IsolationForest(n_estimators=self.n_estimators, random_state=self.random_state).fit(X)

    def _score(self, X):
        return -self.model_.score_samples(X)


class OCSVM(Detector):
    """One-Class SVM with an RBF kernel; score = minus the signed distance to the learned boundary.

    Args:
        nu (float): Upper bound on the share of training vectors outside the boundary.
        gamma (str | float): RBF width; "scale" = 1 / (n_features * var(X)).
        contamination, threshold, standardize: As :class:`Detector`.
    """

    def __init__(self, nu=0.1, gamma="scale",
                 contamination=0.1, threshold="percentile", standardize=True):
        super().__init__(contamination, threshold, standardize)
        self.nu = nu
        self.gamma = gamma

    def _fit(self, X):
        return OneClassSVM(nu=self.nu, gamma=self.gamma).fit(X)

    def _score(self, X):
        return -self.model_.score_samples(X)


class LOF(Detector):
    """Local Outlier Factor in novelty mode; score = how much sparser a vector's neighbourhood is than its neighbours'.

    The training scores come from the fitted model's own outlier factors:
    scoring the training vectors again would count each one as its own
    nearest neighbour.

    Args:
        n_neighbors (int): Neighbours compared (at most n_training - 1).
        contamination, threshold, standardize: As :class:`Detector`.
    """

    def __init__(self, n_neighbors=10,
                 contamination=0.1, threshold="percentile", standardize=True):
        super().__init__(contamination, threshold, standardize)
        self.n_neighbors = n_neighbors

    def _fit(self, X):
        return LocalOutlierFactor(n_neighbors=min(self.n_neighbors, len(X) - 1), novelty=True).fit(X)

    def _score(self, X):
        return -self.model_.score_samples(X)

    def _train_scores(self, Xs):
        return -self.model_.negative_outlier_factor_


class KNN(Detector):
    """k nearest neighbours; score = mean distance to the k closest (standardised) training vectors.

    Needs no model of the distribution at all, so it works with fewer training
    vectors than dimensions (a GMM with full covariance does not). The training
    scores leave each vector out of its own neighbours.

    Args:
        n_neighbors (int): Neighbours averaged (at most n_training - 1).
        metric (str): "euclidean", or "cosine" (1 - cos of the angle between two vectors: only
            their directions count, the usual distance between embeddings), or any metric of
            ``sklearn.neighbors.NearestNeighbors``.
        contamination, threshold, standardize: As :class:`Detector`.

    Notebook: 06_transfer_learning, 09_auxiliary_classification.
    """

    def __init__(self, n_neighbors=1, metric="euclidean",
                 contamination=0.1, threshold="percentile", standardize=True):
        super().__init__(contamination, threshold, standardize)
        self.n_neighbors = n_neighbors
        self.metric = metric

    def _fit(self, X):
        return NearestNeighbors(n_neighbors=min(self.n_neighbors, len(X) - 1), metric=self.metric).fit(X)

    def _score(self, X):
        return self.model_.kneighbors(X)[0].mean(axis=1)

    def _train_scores(self, Xs):
        return self.model_.kneighbors()[0].mean(axis=1)


class Mahalanobis(Detector):
    """Mahalanobis distance to the training mean; score = (x - mu)^T Sigma^-1 (x - mu), squared.

    One Gaussian with the training covariance Sigma: a direction in which normal vectors hardly
    vary counts far more than one in which they vary a lot. The DCASE 2023 and 2024 baselines score
    an autoencoder's reconstruction errors this way. With fewer training vectors than features the
    sample covariance is singular; Ledoit-Wolf shrinkage (the default) pulls it towards a multiple
    of the identity just enough to invert it.

    **Selective** Mahalanobis (the DCASE 2023 and 2024 baselines' score): given the domain of each training
    vector (``fit(X, domains=labels)``, e.g. "source" and "target"), one mean mu_d and covariance
    Sigma_d per domain d, each from that domain's vectors alone, and a vector's score is its distance
    to the domain it fits best,

        s(x) = min_d (x - mu_d)^T Sigma_d^-1 (x - mu_d),

    so that a domain with few training vectors keeps its own Gaussian instead of being averaged into
    the large one. Without domains (or with one) it is the simple version above. The standardisation
    (``standardize``) uses every training vector, whatever its domain.

    Args:
        shrinkage (bool): Ledoit-Wolf shrinkage (``sklearn.covariance.LedoitWolf``); False = the
            sample covariance (``EmpiricalCovariance``).
        contamination, threshold, standardize: As :class:`Detector`.

    Attributes:
        domains_ (list): The domains in the order of ``model_``; ``[None]`` if fitted without domains.
        model_ (list): One fitted covariance estimator per domain.

    Notebook: 09_auxiliary_classification (sections 4, 5 and 7).
    """

    def __init__(self, shrinkage=True,
                 contamination=0.1, threshold="percentile", standardize=True):
        super().__init__(contamination, threshold, standardize)
        self.shrinkage = shrinkage

    def fit(self, X, y=None, domains=None):
        """Learn the normal data.

        Args:
            X (np.ndarray): (n_samples, n_features) normal training vectors.
            y: Ignored.
            domains (array | None): (n_samples,) the domain of each vector (any labels, e.g. "source"
                and "target"), each domain with at least 2 vectors; None = one Gaussian for all.

        Returns:
            Mahalanobis: self.
        """
        X = self._check(X, fitting=True)
        self._row_domains = check_domains(domains, len(X))
        try:
            return super().fit(X)
        finally:
            del self._row_domains

    def _fit(self, X):
        covariance = LedoitWolf if self.shrinkage else EmpiricalCovariance
        if self._row_domains is None:
            self.domains_ = [None]
            return [covariance().fit(X)]
        self.domains_ = np.unique(self._row_domains).tolist()
        return [covariance().fit(X[self._row_domains == domain]) for domain in self.domains_]

    def domain_scores(self, X):
        """The squared distance of each vector to each domain's Gaussian.

        Args:
            X (np.ndarray): (n_samples, n_features).

        Returns:
            np.ndarray: (n_samples, n_domains), the columns in the order of ``domains_``; their
            minimum over the columns is ``decision_function(X)``.
        """
        if not self.__sklearn_is_fitted__():
            raise NotFittedError("This Mahalanobis is not fitted yet; call fit(X_train) first.")
        return self._domain_scores(self.scaler_.transform(self._check(X)))

    def _domain_scores(self, X):
        return np.column_stack([model.mahalanobis(X) for model in self.model_])

    def _score(self, X):
        return self._domain_scores(X).min(axis=1)


def check_domains(domains, n_rows):
    """The domain of each training row, checked: one label per row and at least 2 rows per domain
    (a covariance needs two).

    Args:
        domains (array | None): (n_rows,) labels, e.g. "source" and "target"; None = no domains.
        n_rows (int): Training rows.

    Returns:
        np.ndarray | None: ``domains`` as an array, or None.
    """
    if domains is None:
        return None
    domains = np.asarray(domains)
    if domains.shape != (n_rows,):
        raise AadError(f"domains must give one label per training row ({n_rows} rows), not an array of shape {domains.shape}.")
    names, counts = np.unique(domains, return_counts=True)
    if counts.min() < 2:
        raise AadError(f"Domain {names[counts.argmin()].item()!r} has only {counts.min()} training row; a covariance needs at least 2 "
                       f"rows per domain: give it more training rows or merge it with another domain.")
    return domains


DETECTORS = {"gmm": GMM, "iforest": IForest, "ocsvm": OCSVM, "lof": LOF, "knn": KNN, "mahalanobis": Mahalanobis}
"""The detectors by short name."""


def score_clips(detector, frames):
    """Clip scores from a detector fitted on frames: the mean score of each clip's frames.

    Args:
        detector (Detector): Fitted on frame vectors (n_clips * n_frames, n_features).
        frames (np.ndarray): (n_clips, n_frames, n_features).

    Returns:
        np.ndarray: (n_clips,) mean frame score per clip, higher = more anomalous.
    """
    n_clips, n_frames, n_features = frames.shape
    return detector.decision_function(frames.reshape(-1, n_features)).reshape(n_clips, n_frames).mean(axis=1)


class ClipWrapper(OutlierMixin, BaseEstimator):
    """Base of the detectors of clips that fit another detector on rows made from each clip (its
    patches, its transformed copies) and score a clip from its rows' scores: the not-fitted check,
    the threshold and the prediction. A subclass's ``fit`` sets ``detector_`` (the fitted copy of its
    ``detector``) and then calls ``_set_threshold(X)``; its ``_clip_scores(X)`` scores the clips.

    Attributes:
        detector_ (Detector): The fitted inner detector.
        threshold_ (float): From the training clips' scores, with the inner detector's ``threshold``
            and ``contamination`` (:func:`decision_threshold`).

    Notebook: behind ``aad benchmark`` (:class:`aadlib.methods.PerPatch`, :class:`aadlib.auxiliary.SelfSupervised`).
    """

    def _set_threshold(self, X):
        self.threshold_ = decision_threshold(self.decision_function(X), self.detector_.threshold, self.detector_.contamination)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "detector_")

    def decision_function(self, X):
        """Clip scores (n_clips,), higher = more anomalous, as the class describes."""
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit(X_train) first.")
        return self._clip_scores(X)

    def predict(self, X):
        """Labels (n_clips,): 1 = anomaly (score above ``threshold_``), 0 = normal."""
        return (self.decision_function(X) > self.threshold_).astype(int)


def evaluate_seeds(make_detector, X_train, X_test, y_test, seeds=range(5)):
    """Fit and evaluate a detector once per seed; mean and standard deviation of each metric.

    Args:
        make_detector (callable): ``make_detector(seed)`` returns an unfitted
            detector, e.g. ``lambda s: GMM(random_state=s)``; one that ignores
            the seed gives a standard deviation of 0.
        X_train (np.ndarray | dict): (n_train, n_features) normal training vectors, or
            (n_train, n_frames, n_features) frames: fitted on all frames. Or a dict seed -> such
            an array, for inputs that change with the seed (e.g. the embeddings of a network
            initialised with it): run s trains on ``X_train[s]``.
        X_test (np.ndarray | dict): (n_test, n_features), or (n_test, n_frames, n_features):
            each clip scored by the mean score of its frames (:func:`score_clips`); or a dict
            seed -> such an array, as ``X_train``.
        y_test (array): (n_test,) 1 = anomaly.
        seeds (iterable of int): The seeds.

    Returns:
        tuple[dict, list]: The means ``auc``, ``pauc``, ``ap``, ``fit_s``, ``score_s``
        (seconds to fit and to score) with ``auc_std``, ``pauc_std``, ``ap_std``,
        ``fit_s_std``, ``score_s_std``; ``auc_low`` and ``auc_high``, the 95 % bootstrap
        interval over the test clips of the first seed's AUC (:func:`summarize`); and the
        fitted detectors, one per seed.

    Notebook: 01_distribution_modelling to 04_lstm_autoencoder, 06_transfer_learning (a dict of
    embeddings per seed for the random-weights networks).
    """
    runs, detectors, first_scores = [], [], None
    for seed in seeds:
        train, test = np.asarray(_of_seed(X_train, seed, "X_train")), _of_seed(X_test, seed, "X_test")
        started = time.perf_counter()
        detector = make_detector(seed).fit(train.reshape(-1, train.shape[-1]))
        fitted = time.perf_counter()
        scores = score_clips(detector, test) if np.ndim(test) == 3 else detector.decision_function(test)
        runs.append({**evaluate(y_test, scores), "fit_s": fitted - started, "score_s": time.perf_counter() - fitted})
        detectors.append(detector)
        first_scores = scores if first_scores is None else first_scores
    return summarize(runs, y_test, first_scores), detectors


def _of_seed(X, seed, name):
    """X itself, or X[seed] if X is a dict of inputs per seed."""
    if not isinstance(X, dict):
        return X
    if seed not in X:
        raise AadError(f"{name} is a dict of arrays per seed but has none for seed {seed}; give one for every seed of the run.")
    return X[seed]


def summarize(runs, y_test=None, scores=None, groups=None):
    """Mean and standard deviation over runs (e.g. seeds) of every number the runs report.

    Given the test labels and the first run's test scores too, it adds the 95 % bootstrap interval
    of that run's AUC over the test clips (:func:`aadlib.metrics.auc_interval`, 2,000 resamples,
    seed 0): how far the AUC could move with other test clips like these, beside ``auc_std``, how
    far it moves with another training run. The course reports it for the first seed everywhere.

    Args:
        runs (list[dict]): One dict per run with the same keys, e.g. the output of
            :func:`aadlib.metrics.evaluate` plus timings.
        y_test (array | None): (n_test,) 1 = anomaly, 0 = normal.
        scores (array | None): (n_test,) the first run's scores of the test clips, higher = more anomalous.
        groups (array | None): (n_test,) the recording of each test clip, where clips are cut from
            long recordings: the bootstrap then resamples whole recordings (:func:`aadlib.metrics.auc_interval`).

    Returns:
        dict: ``key`` -> mean and ``key_std`` -> standard deviation, for every key; with
        ``y_test`` and ``scores`` also ``auc_low`` and ``auc_high``.

    Notebook: 00_task_and_data (what the interval means), 05_gan_detection; also behind
    :func:`evaluate_seeds` and ``aad benchmark``.
    """
    means = {key: float(np.mean([run[key] for run in runs])) for key in runs[0]}
    spreads = {f"{key}_std": float(np.std([run[key] for run in runs])) for key in runs[0]}
    if (y_test is None) != (scores is None):
        raise AadError("Give both y_test and scores (the first run's test scores) for the AUC interval, or neither.")
    if scores is None:
        return {**means, **spreads}
    low, high = auc_interval(y_test, scores, groups)
    return {**means, **spreads, "auc_low": low, "auc_high": high}


STATISTICS = ("mean", "std", "min", "max")
"""The statistics :func:`summarize_by` can give, in its default order."""


def summarize_by(results, by, metrics=None, stats=STATISTICS):
    """Mean, standard deviation, minimum and maximum over runs (e.g. seeds) of each group of a long table of results.

    The long table holds one row per group (a method, a setting) and run, as a loop over seeds
    collects them. The standard deviation is the population one (``np.std``, ddof=0), as in
    :func:`summarize` and every table of the course; the groups keep the order in which they first
    appear in ``results``.

    Args:
        results (pd.DataFrame): One row per group and run, e.g. the columns ``detector``, ``seed``,
            ``auc`` and ``pauc``.
        by (str | list[str]): The column, or columns, that name a group, e.g. ``"detector"`` or
            ``["detector", "training"]``.
        metrics (sequence of str | None): The numeric columns to summarise, in this order; None =
            every numeric column but those of ``by`` and ``seed``.
        stats (sequence of str): Some of :data:`STATISTICS` ("mean", "std", "min", "max"), in the
            order of the columns.

    Returns:
        pd.DataFrame: One row per group, indexed by ``by``; columns (metric, statistic), e.g.
        ``table[("auc", "mean")]``. :func:`summary_table` turns its means and standard deviations
        into the course's "mean ± std" text.

    Notebook: 08_real_flights, 09_auxiliary_classification.
    """
    import pandas as pd

    if not isinstance(results, pd.DataFrame) or results.empty:
        raise AadError("results must be a pandas DataFrame with one row per group and run (e.g. seed); build it with pd.DataFrame(rows).")
    keys = [by] if isinstance(by, str) else list(by)
    missing = [column for column in keys if column not in results]
    if missing:
        raise AadError(f"results has no column {missing[0]!r} to group by; its columns are {', '.join(map(str, results.columns))}.")
    unknown = [stat for stat in stats if stat not in STATISTICS]
    if unknown:
        raise AadError(f"Unknown statistic {unknown[0]!r}; choose from {', '.join(STATISTICS)}.")
    numeric = [column for column in results.select_dtypes("number").columns if column not in keys]
    metrics = [column for column in numeric if column != "seed"] if metrics is None else list(metrics)
    wrong = [metric for metric in metrics if metric not in numeric]
    if wrong or not metrics:
        raise AadError(f"Cannot summarise {wrong[0]!r}: give numeric columns of results other than the groups' ({', '.join(numeric)})."
                       if wrong else "results has no numeric column to summarise besides the groups and the seed.")
    grouped = results.groupby(by, sort=False)[metrics]
    computed = {"mean": grouped.mean, "std": lambda: grouped.std(ddof=0), "min": grouped.min, "max": grouped.max}
    table = pd.concat({stat: computed[stat]() for stat in stats}, axis=1).swaplevel(axis=1)
    return table[pd.MultiIndex.from_product([metrics, list(stats)])]


METRIC_LABELS = {"auc": "AUC", "pauc": "pAUC", "ap": "AP"}
"""The column headers of :func:`summary_table`, by metric."""


def summary_table(results, metrics=("auc", "pauc", "ap"), digits=2):
    """The course's table of results over seeds: each metric as "mean ± std", the 95 % interval of the
    first seed's AUC as "low to high", and the seconds to train.

    Args:
        results (pd.DataFrame | dict): One row per method with the keys of :func:`summarize` (``auc``,
            ``auc_std``, ...; ``auc_low``, ``auc_high`` and ``fit_s`` if there), e.g. the results of
            ``aad benchmark``; or a dict method -> such a dict (the output of :func:`evaluate_seeds`
            or :func:`summarize`); or the output of :func:`summarize_by` (columns (metric, statistic):
            its ("auc", "mean") is read as ``auc``, its ("auc", "std") as ``auc_std``).
        metrics (sequence of str): Keys of :data:`METRIC_LABELS`, in the order of the columns.
        digits (int): Decimals of the metrics.

    Returns:
        pd.DataFrame: Indexed like ``results`` (a dict's keys), text columns ``AUC``, ``AUC 95 % (seed 0)``
        (where ``results`` has the interval; empty where a row has none), ``pAUC``, ``AP`` (those of
        ``metrics``), and ``train s``, the mean seconds to train, rounded to 0.01 s (where ``results``
        has ``fit_s``).

    Notebook: 02_autoencoders_1d, 04_lstm_autoencoder, 05_gan_detection, 06_transfer_learning, 07_comparison,
    08_real_flights.
    """
    import pandas as pd

    unknown = [metric for metric in metrics if metric not in METRIC_LABELS]
    if unknown:
        raise AadError(f"Unknown metric {unknown[0]!r}; choose from {', '.join(METRIC_LABELS)}.")
    results = pd.DataFrame(results).T if isinstance(results, dict) else results
    if isinstance(results.columns, pd.MultiIndex):  # summarize_by's (metric, statistic) columns, named as summarize names them
        results = results.set_axis([metric if stat == "mean" else f"{metric}_{stat}" for metric, stat in results.columns], axis=1)
    missing = [key for metric in metrics for key in (metric, f"{metric}_std") if key not in results]
    if missing:
        raise AadError(f"The results lack {', '.join(missing)}; give the means and spreads of summarize or evaluate_seeds.")
    table = pd.DataFrame(index=results.index)
    for metric in metrics:
        table[METRIC_LABELS[metric]] = [f"{mean:.{digits}f} ± {std:.{digits}f}" for mean, std in zip(results[metric], results[f"{metric}_std"])]
        if metric == "auc" and "auc_low" in results:
            table["AUC 95 % (seed 0)"] = [f"{low:.{digits}f} to {high:.{digits}f}" if pd.notna(low) else ""
                                          for low, high in zip(results.auc_low, results.auc_high)]
    if "fit_s" in results:
        table["train s"] = results.fit_s.astype(float).round(2)
    return table
