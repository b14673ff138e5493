import numpy as np
import pandas as pd
import pytest
from sklearn.covariance import LedoitWolf

import aadlib
from aadlib.utils import AadError

DETECTORS = list(aadlib.DETECTORS.values())


def blobs(seed=0):
    rng = np.random.default_rng(seed)
    train = rng.normal(size=(60, 4))
    inliers = rng.normal(size=(20, 4))
    outliers = rng.normal(size=(20, 4)) + 6
    return train, np.vstack([inliers, outliers]), np.array([0] * 20 + [1] * 20)


@pytest.mark.parametrize("detector_class", DETECTORS)
def test_outliers_score_higher(detector_class):
    train, test, y = blobs()
    detector = detector_class().fit(train)
    scores = detector.decision_function(test)
    assert scores.shape == (40,)
    assert aadlib.auc(y, scores) > 0.95
    assert scores[y == 1].mean() > scores[y == 0].mean()


@pytest.mark.parametrize("detector_class", DETECTORS)
def test_threshold_and_predict(detector_class):
    train, test, y = blobs()
    detector = detector_class(contamination=0.1).fit(train)
    assert np.mean(detector.decision_scores_ > detector.threshold_) == pytest.approx(0.1, abs=0.03)
    predicted = detector.predict(test)
    assert set(np.unique(predicted)) <= {0, 1}
    np.testing.assert_array_equal(predicted, (detector.decision_function(test) > detector.threshold_).astype(int))
    assert predicted[y == 1].mean() > 0.9


@pytest.mark.parametrize("detector_class", DETECTORS)
def test_gamma_threshold_rule(detector_class):
    train, _, _ = blobs()
    detector = detector_class(threshold="gamma").fit(train)
    assert detector.threshold_ == pytest.approx(aadlib.threshold_gamma(detector.decision_scores_, q=0.9))


@pytest.mark.parametrize("detector_class", [aadlib.GMM, aadlib.IForest])
def test_seeded_detectors_are_deterministic(detector_class):
    train, test, _ = blobs()
    first = detector_class(random_state=3).fit(train).decision_function(test)
    again = detector_class(random_state=3).fit(train).decision_function(test)
    np.testing.assert_array_equal(first, again)


def test_standardisation_uses_training_statistics_only():
    train, test, _ = blobs()
    scaled = aadlib.GMM().fit(train * 1000 + 5)
    plain = aadlib.GMM().fit(train)
    np.testing.assert_allclose(scaled.decision_function(test * 1000 + 5), plain.decision_function(test), rtol=1e-6)


def test_lof_training_scores_exclude_the_point_itself():
    train, _, _ = blobs()
    lof = aadlib.LOF().fit(train)
    np.testing.assert_allclose(lof.decision_scores_, -lof.model_.negative_outlier_factor_)
    assert lof.model_.n_neighbors == 10
    assert aadlib.LOF(n_neighbors=50).fit(train[:8]).model_.n_neighbors == 7


def test_errors_for_people():
    train, test, _ = blobs()
    with pytest.raises(AadError, match="not fitted yet"):
        aadlib.GMM().decision_function(test)
    with pytest.raises(AadError, match="2-D array"):
        aadlib.GMM().fit(train[0])
    with pytest.raises(AadError, match="fitted on 4 features, not 3"):
        aadlib.GMM().fit(train).decision_function(test[:, :3])
    with pytest.raises(AadError, match="NaN"):
        aadlib.GMM().fit(np.full((5, 2), np.nan))
    with pytest.raises(AadError, match="'percentile' or 'gamma'"):
        aadlib.GMM(threshold="median").fit(train)  # checked in fit, as scikit-learn checks parameters: set_params is checked too


def test_score_clips_averages_frame_scores():
    train, _, _ = blobs()
    detector = aadlib.GMM(n_components=1).fit(train)
    frames = np.random.default_rng(1).normal(size=(3, 5, 4))
    frames[2] += 6
    clip_scores = aadlib.score_clips(detector, frames)
    np.testing.assert_allclose(clip_scores, [detector.decision_function(f).mean() for f in frames])
    assert clip_scores.argmax() == 2


def test_repr_shows_the_parameters_that_differ_from_the_defaults():
    assert repr(aadlib.LOF(n_neighbors=5, threshold="gamma")) == "LOF(n_neighbors=5, threshold='gamma')"


def test_evaluate_seeds_reports_mean_and_spread():
    train, test, y = blobs()
    noisy_test = test + np.random.default_rng(5).normal(scale=3, size=test.shape)
    result, detectors = aadlib.evaluate_seeds(lambda s: aadlib.IForest(random_state=s, n_estimators=5), train, noisy_test, y, seeds=range(4))
    assert set(result) == {f"{k}{s}" for k in ("auc", "pauc", "ap", "fit_s", "score_s") for s in ("", "_std")} | {"auc_low", "auc_high"}
    assert [d.random_state for d in detectors] == [0, 1, 2, 3]
    aucs = [aadlib.auc(y, aadlib.IForest(random_state=s, n_estimators=5).fit(train).decision_function(noisy_test)) for s in range(4)]
    assert result["auc"] == pytest.approx(np.mean(aucs)) and result["auc_std"] == pytest.approx(np.std(aucs))
    assert result["auc_std"] > 0  # five trees: the seed matters
    assert result["fit_s"] > 0 and result["score_s"] > 0
    fixed, _ = aadlib.evaluate_seeds(lambda s: aadlib.LOF(), train, test, y, seeds=range(3))
    assert fixed["auc_std"] == 0
    # the interval is the first seed's: over its test clips, not over the seeds
    first = aadlib.IForest(random_state=0, n_estimators=5).fit(train).decision_function(noisy_test)
    assert (result["auc_low"], result["auc_high"]) == aadlib.metrics.auc_interval(y, first)
    assert result["auc_low"] <= aucs[0] <= result["auc_high"]


def test_evaluate_seeds_scores_frames_per_clip():
    rng = np.random.default_rng(0)
    train_frames = rng.normal(size=(10, 6, 3))
    test_frames = rng.normal(size=(4, 6, 3))
    test_frames[2:] += 5
    y = np.array([0, 0, 1, 1])
    result, (detector,) = aadlib.evaluate_seeds(lambda s: aadlib.GMM(n_components=1, random_state=s), train_frames, test_frames, y, seeds=[0])
    assert detector.scaler_.n_samples_seen_ == 60  # fitted on all 10 x 6 frames
    assert result["auc"] == aadlib.auc(y, aadlib.score_clips(detector, test_frames)) == 1.0


def test_summarize_gives_mean_and_population_std_of_every_key():
    summary = aadlib.summarize([{"auc": 1.0, "fit_s": 2.0}, {"auc": 0.5, "fit_s": 4.0}])
    assert summary == {"auc": 0.75, "fit_s": 3.0, "auc_std": 0.25, "fit_s_std": 1.0}


def test_summarize_adds_the_first_runs_auc_interval_when_given_its_scores():
    runs = [{"auc": 0.96}, {"auc": 1.0}]
    y, scores = np.repeat([0, 1], 5), np.array([0, 1, 2, 3, 5, 4, 6, 7, 8, 9.0])  # one pair out of order: AUC 0.96
    summary = aadlib.summarize(runs, y, scores)
    assert (summary["auc_low"], summary["auc_high"]) == aadlib.metrics.auc_interval(y, scores)
    assert summary["auc_low"] < 0.96 < summary["auc_high"] == 1.0
    perfect = aadlib.summarize(runs, y, np.arange(10.0))
    assert perfect["auc_low"] == perfect["auc_high"] == 1.0  # a perfect ranking: every resample is perfect too
    with pytest.raises(aadlib.AadError, match="both y_test and scores"):
        aadlib.summarize(runs, y)
    flights = np.array([0, 0, 1, 1, 2, 3, 3, 4, 4, 5])  # clips cut from long recordings: the bootstrap resamples whole recordings
    grouped = aadlib.summarize(runs, y, scores, flights)
    assert (grouped["auc_low"], grouped["auc_high"]) == aadlib.metrics.auc_interval(y, scores, flights)
    assert (grouped["auc_low"], grouped["auc_high"]) != (summary["auc_low"], summary["auc_high"])


def two_domains():
    """Two domains of 8 training rows each, the corners of a square: source around (0, 0), target around (10, 0);
    each domain's mean is its centre and its covariance (divided by n) the identity."""
    corners = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]] * 2, float)
    return np.vstack([corners, corners + [10, 0]]), np.repeat(["source", "target"], 8)


def test_selective_mahalanobis_keeps_a_gaussian_per_domain():
    train, domains = two_domains()
    test = np.array([[5.0, 0.0], [0.0, 1.0], [10.0, 1.0]])  # halfway between the domains (the anomaly), a source and a target row
    selective = aadlib.Mahalanobis(shrinkage=False, standardize=False).fit(train, domains=domains)
    assert selective.domains_ == ["source", "target"]
    # by hand: distance to (0, 0) and to (10, 0) with the identity covariance, the smaller one
    np.testing.assert_allclose(selective.domain_scores(test), [[25, 25], [1, 101], [101, 1]])
    np.testing.assert_allclose(selective.decision_function(test), [25, 1, 1])
    # one Gaussian for both: mean (5, 0), variance 1 + 5^2 = 26 along x and 1 along y; the anomaly sits on its mean
    simple = aadlib.Mahalanobis(shrinkage=False, standardize=False).fit(train)
    assert simple.domains_ == [None]
    np.testing.assert_allclose(simple.decision_function(test), [0, 25 / 26 + 1, 25 / 26 + 1])
    np.testing.assert_allclose(selective.decision_scores_, np.full(16, 2.0))  # every corner: 1 + 1 to its own centre


def test_mahalanobis_without_domains_or_with_one_is_the_simple_one():
    train, test, _ = blobs()
    simple = aadlib.Mahalanobis().fit(train)
    reference = LedoitWolf().fit(simple.scaler_.transform(train)).mahalanobis(simple.scaler_.transform(test))
    np.testing.assert_array_equal(simple.decision_function(test), reference)  # as before domains existed, to the bit
    np.testing.assert_array_equal(aadlib.Mahalanobis().fit(train, domains=["a"] * len(train)).decision_function(test), reference)
    standardised = aadlib.Mahalanobis().fit(train, domains=np.arange(len(train)) % 2)
    np.testing.assert_allclose(standardised.scaler_.mean_, train.mean(axis=0))  # one standardisation from every row


def test_selective_mahalanobis_errors_for_people():
    train, domains = two_domains()
    with pytest.raises(AadError, match=r"one label per training row \(16 rows\)"):
        aadlib.Mahalanobis().fit(train, domains=domains[:-1])
    with pytest.raises(AadError, match="Domain 'target' has only 1 training row; a covariance needs at least 2"):
        aadlib.Mahalanobis().fit(train[:9], domains=domains[:9])
    with pytest.raises(aadlib.NotFittedError, match="not fitted yet"):
        aadlib.Mahalanobis().domain_scores(train)


def test_evaluate_seeds_takes_inputs_that_change_with_the_seed():
    train, test, y = blobs()
    shifted = {seed: (train + seed, test + seed) for seed in (3, 4)}  # e.g. the embeddings of a network per seed
    result, detectors = aadlib.evaluate_seeds(lambda s: aadlib.LOF(), {s: pair[0] for s, pair in shifted.items()},
                                              {s: pair[1] for s, pair in shifted.items()}, y, seeds=[3, 4])
    assert [d.scaler_.mean_[0] for d in detectors] == pytest.approx([train[:, 0].mean() + 3, train[:, 0].mean() + 4])
    same, _ = aadlib.evaluate_seeds(lambda s: aadlib.LOF(), train, test, y, seeds=[3, 4])
    assert result["auc"] == pytest.approx(same["auc"])  # LOF standardises: a shift changes nothing
    with pytest.raises(aadlib.AadError, match="none for seed 5"):
        aadlib.evaluate_seeds(lambda s: aadlib.LOF(), {3: train}, test, y, seeds=[3, 5])


def seed_results():
    """A long table of results by hand: kNN over seeds 0-2 (AUC 0.9, 1.0, 0.8), then the GMM over seeds 0-1 (0.6, 0.8)."""
    return pd.DataFrame({"detector": ["kNN", "kNN", "GMM", "GMM", "kNN"], "seed": [0, 1, 0, 1, 2],
                         "auc": [0.9, 1.0, 0.6, 0.8, 0.8], "pauc": [0.5, 0.7, 0.2, 0.4, 0.6]})


def test_summarize_by_gives_mean_population_std_min_and_max_per_group_in_order():
    table = aadlib.summarize_by(seed_results(), "detector")
    assert list(table.index) == ["kNN", "GMM"]  # the order in which the groups first appear, not sorted
    assert list(table.columns) == [(metric, stat) for metric in ("auc", "pauc") for stat in ("mean", "std", "min", "max")]  # no seed
    # kNN: mean 0.9, deviations 0, 0.1, -0.1: population std sqrt(0.02 / 3) = 0.0816 (the sample std, ddof=1, would be 0.1)
    np.testing.assert_allclose(table.loc["kNN", "auc"], [0.9, np.sqrt(0.02 / 3), 0.8, 1.0])
    np.testing.assert_allclose(table.loc["GMM", "auc"], [0.7, 0.1, 0.6, 0.8])  # deviations -0.1, 0.1: std 0.1 (ddof=1: 0.141)
    np.testing.assert_allclose(table.loc["GMM", "pauc"], [0.3, 0.1, 0.2, 0.4])
    chosen = aadlib.summarize_by(seed_results(), "detector", metrics=["pauc"], stats=("max", "mean"))
    assert list(chosen.columns) == [("pauc", "max"), ("pauc", "mean")] and chosen.loc["kNN", ("pauc", "max")] == 0.7


def test_summarize_by_several_columns_and_into_the_text_table():
    results = seed_results().assign(training=["all", "half", "all", "all", "all"])
    table = aadlib.summarize_by(results, ["detector", "training"], metrics=["auc"], stats=("mean",))
    assert list(table.index) == [("kNN", "all"), ("kNN", "half"), ("GMM", "all")]
    np.testing.assert_allclose(table[("auc", "mean")], [0.85, 1.0, 0.7])
    text = aadlib.summary_table(aadlib.summarize_by(seed_results(), "detector"), metrics=("auc", "pauc"))
    assert list(text.columns) == ["AUC", "pAUC"] and list(text.index) == ["kNN", "GMM"]
    assert text.loc["kNN", "AUC"] == "0.90 ± 0.08" and text.loc["GMM", "pAUC"] == "0.30 ± 0.10"


def test_summarize_by_errors_for_people():
    with pytest.raises(AadError, match="no column 'method' to group by"):
        aadlib.summarize_by(seed_results(), "method")
    with pytest.raises(AadError, match="Unknown statistic 'median'"):
        aadlib.summarize_by(seed_results(), "detector", stats=("median",))
    with pytest.raises(AadError, match="Cannot summarise 'f1'"):
        aadlib.summarize_by(seed_results(), "detector", metrics=["f1"])
    with pytest.raises(AadError, match="one row per group and run"):
        aadlib.summarize_by(pd.DataFrame(), "detector")


def test_summary_table_formats_mean_and_spread_interval_and_training_time():
    results = {"a": {"auc": 0.875, "auc_std": 0.1234, "pauc": 0.5, "pauc_std": 0.0, "ap": 1.0, "ap_std": 0.0,
                     "fit_s": 1.234, "auc_low": 0.7, "auc_high": 1.0},
               "b": {"auc": 0.5, "auc_std": 0.0, "pauc": 0.5, "pauc_std": 0.0, "ap": 0.5, "ap_std": 0.0,
                     "fit_s": 0.001, "auc_low": float("nan"), "auc_high": float("nan")}}
    table = aadlib.summary_table(results)
    assert list(table.columns) == ["AUC", "AUC 95 % (seed 0)", "pAUC", "AP", "train s"]
    assert list(table.index) == ["a", "b"]
    assert table.loc["a", "AUC"] == "0.88 ± 0.12" and table.loc["a", "AUC 95 % (seed 0)"] == "0.70 to 1.00"
    assert table.loc["b", "AUC 95 % (seed 0)"] == ""  # a row without the interval
    assert table.loc["a", "train s"] == 1.23 and table.loc["b", "train s"] == 0.0
    short = aadlib.summary_table(pd.DataFrame(results).T.drop(columns=["auc_low", "auc_high", "fit_s"]), metrics=("auc", "pauc"), digits=3)
    assert list(short.columns) == ["AUC", "pAUC"] and short.loc["a", "AUC"] == "0.875 ± 0.123"
    # the table of evaluate_seeds' output
    train, test, y = blobs()
    result, _ = aadlib.evaluate_seeds(lambda s: aadlib.IForest(random_state=s, n_estimators=5), train, test, y, seeds=range(2))
    row = aadlib.summary_table({"iforest": result}).loc["iforest"]
    assert row["AUC"] == f"{result['auc']:.2f} ± {result['auc_std']:.2f}"
    assert row["AUC 95 % (seed 0)"] == f"{result['auc_low']:.2f} to {result['auc_high']:.2f}"
    with pytest.raises(aadlib.AadError, match="Unknown metric 'f1'"):
        aadlib.summary_table(results, metrics=("f1",))
    with pytest.raises(aadlib.AadError, match="lack ap, ap_std"):
        aadlib.summary_table({"a": {"auc": 1.0, "auc_std": 0.0, "pauc": 1.0, "pauc_std": 0.0}})
