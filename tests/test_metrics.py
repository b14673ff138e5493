import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import aadlib
from aadlib import metrics


def test_auc_is_the_share_of_correctly_ordered_pairs():
    rng = np.random.default_rng(1)
    y = np.array([1] * 7 + [0] * 9)
    scores = rng.normal(size=16) + y
    pairs = [(a > n) + 0.5 * (a == n) for a in scores[y == 1] for n in scores[y == 0]]
    assert aadlib.auc(y, scores) == pytest.approx(np.mean(pairs))


def test_orientation_flipping_the_sign_gives_one_minus_auc():
    y = np.array([0, 0, 1, 0, 1, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.2, 0.8, 0.9])
    assert aadlib.auc(y, -scores) == pytest.approx(1 - aadlib.auc(y, scores))


def test_pauc_is_mcclish_standardised_raw_area():
    rng = np.random.default_rng(0)
    y = np.array([1] * 40 + [0] * 60)
    scores = rng.normal(size=100) + 1.2 * y
    p = 0.1
    raw = aadlib.pauc(y, scores, standardized=False)
    mcclish = 0.5 * (1 + (raw - p**2 / 2) / (p - p**2 / 2))
    assert aadlib.pauc(y, scores) == pytest.approx(mcclish, abs=1e-9)
    assert aadlib.pauc(y, scores) == pytest.approx(roc_auc_score(y, scores, max_fpr=p))


def test_pauc_extremes():
    y = np.array([0, 0, 0, 1, 1])
    perfect = np.array([0.0, 0.1, 0.2, 0.8, 0.9])
    assert aadlib.pauc(y, perfect) == 1.0
    assert aadlib.pauc(y, perfect, standardized=False) == pytest.approx(0.1)
    assert aadlib.pauc(y, -perfect, standardized=False) == pytest.approx(0.0)


def test_evaluate_reports_auc_pauc_ap():
    y = np.array([0, 1, 0, 1])
    result = aadlib.evaluate(y, np.array([0.1, 0.9, 0.3, 0.2]))
    assert set(result) == {"auc", "pauc", "ap"}
    assert result["auc"] == pytest.approx(0.75)
    assert result["ap"] == pytest.approx((1 + 2 / 3) / 2)


def test_ap_falls_with_prevalence_while_auc_stays():
    # Chapter 04: one normal clip outscores one of the two anomalies. Scored on test sets with
    # one anomaly each (a lower share of anomalies), the mean AUC stays and the mean AP falls.
    y = np.array([1, 0, 1, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1])
    both = aadlib.evaluate(y, scores)
    rare = [aadlib.evaluate(y[keep], scores[keep]) for keep in ((y == 0) | (np.arange(6) == 0), (y == 0) | (np.arange(6) == 2))]
    assert both["auc"] == pytest.approx(np.mean([r["auc"] for r in rare]))
    assert both["ap"] == pytest.approx((1 + 2 / 3) / 2)
    rare_ap = np.mean([r["ap"] for r in rare])
    assert rare_ap == pytest.approx((1 + 1 / 2) / 2) and rare_ap < both["ap"]


@pytest.mark.parametrize(
    "y, scores, text",
    [
        ([0, 0, 0], [0.1, 0.2, 0.3], "both classes"),
        ([0, 1], [0.1, np.nan], "NaN or infinite"),
        ([0, 1, 1], [0.1, 0.2], "one length"),
    ],
)
def test_bad_input_is_explained(y, scores, text):
    with pytest.raises(ValueError, match=text):
        aadlib.auc(y, scores)


def test_percentile_threshold():
    assert aadlib.threshold_percentile(np.arange(101), q=90) == pytest.approx(90)


def test_gamma_threshold_recovers_the_quantile_of_gamma_data():
    from scipy import stats

    samples = stats.gamma.rvs(3.0, scale=2.0, size=4000, random_state=0)
    assert aadlib.threshold_gamma(samples, q=0.9) == pytest.approx(stats.gamma.ppf(0.9, 3.0, scale=2.0), rel=0.05)


def test_gamma_threshold_handles_negative_scores():
    from scipy import stats

    samples = stats.gamma.rvs(3.0, scale=2.0, size=4000, random_state=0) - 100
    threshold = aadlib.threshold_gamma(samples, q=0.9)
    assert np.mean(samples > threshold) == pytest.approx(0.1, abs=0.02)


def test_max_fpr_is_dcase():
    assert metrics.MAX_FPR == 0.1


def test_the_auc_interval_holds_the_auc_and_narrows_with_more_clips():
    rng = np.random.default_rng(0)
    small_y = np.repeat([0, 1], 10)
    small = rng.normal(small_y * 1.0)
    big_y = np.repeat([0, 1], 400)
    big = rng.normal(big_y * 1.0)
    low, high = metrics.auc_interval(small_y, small, seed=1)
    assert low <= metrics.auc(small_y, small) <= high
    big_low, big_high = metrics.auc_interval(big_y, big, n_boot=500, seed=1)
    assert big_low <= metrics.auc(big_y, big) <= big_high and big_high - big_low < (high - low) / 3
    assert metrics.auc_interval(small_y, small, seed=1) == (low, high)  # seeded


def test_the_auc_interval_keeps_both_classes_in_every_resample_and_collapses_on_a_perfect_ranking():
    y = np.repeat([0, 1], 5)
    assert metrics.auc_interval(y, np.arange(10.0)) == (1.0, 1.0)  # every resample of a perfect ranking is perfect
    assert metrics.auc_interval(y, -np.arange(10.0)) == (0.0, 0.0)
    low, high = metrics.auc_interval(y, np.array([0, 1, 2, 3, 5, 4, 6, 7, 8, 9.0]))  # one pair of 25 out of order
    assert low < metrics.auc(y, np.array([0, 1, 2, 3, 5, 4, 6, 7, 8, 9.0])) < high == 1.0
    ties = metrics.auc_interval(y, np.zeros(10))  # all tied: every resample counts each pair half
    assert ties == (0.5, 0.5)


def test_the_auc_interval_over_groups_is_wider_when_clips_of_a_group_agree():
    """Ten clips per recording that share their recording's score: 20 recordings, not 200 independent clips."""
    rng = np.random.default_rng(0)
    recording_y = np.repeat([0, 1], 10)
    recording_score = rng.normal(recording_y * 1.0)
    y, groups = np.repeat(recording_y, 10), np.repeat(np.arange(20), 10)
    scores = np.repeat(recording_score, 10) + 0.01 * rng.normal(size=200)
    by_clip = metrics.auc_interval(y, scores, n_boot=500)
    by_recording = metrics.auc_interval(y, scores, groups=groups, n_boot=500)
    assert by_recording[1] - by_recording[0] > 2 * (by_clip[1] - by_clip[0])
    with pytest.raises(ValueError, match="both normal and anomalous"):
        metrics.auc_interval(y, scores, groups=np.zeros(200))
