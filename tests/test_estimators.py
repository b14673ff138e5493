"""Every detector is a scikit-learn estimator: the contract over every ``aad benchmark`` method, and
clone, Pipeline and GridSearchCV as a practitioner would use them after the course."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

import aadlib
from aadlib.benchmark import METHODS

# One clip's features per feature kind, small: the contract does not depend on the sizes.
EXAMPLE_SHAPES = {"clip_summary": (16,), "modulation_image": (16, 16), "window_summary": (6, 4), "modulation_patches": (2, 16, 16), "frame_stacks": (3, 20),
                  "pitch_summaries": (3, 16), "logmel_image": (16, 16), "pitch_logmel_images": (3, 16, 16),
                  "logmel_image_waveform": (64 * 64 + 128,)}  # its image's shape is the kind's (64 x 64), then 2 samples a frame
# A few epochs and search steps: the contract is about the interface, not about how well they learn.
TINY = {"epochs": 2, "encoder_epochs": 1, "search_steps": 5}


def clips(kind, seed=0):
    """24 normal training clips, and 8 normal + 8 anomalous (every value shifted by 4) test clips, as rows."""
    size = int(np.prod(EXAMPLE_SHAPES.get(kind, (8,))))  # embeddings: 8 values
    rng = np.random.default_rng(seed)
    train, test = rng.normal(size=(24, size)), rng.normal(size=(16, size))
    test[8:] += 4
    return train, test, np.r_[np.zeros(8, int), np.ones(8, int)]


# The auxiliary classifiers' label per training clip: two machines, the second's clips with their first half of values
# shifted, so that there is something to classify (test clips are of both kinds, anomalies or not).
AUX = np.arange(24) % 2


def fit(detector, method, train):
    """Fit as ``aad benchmark`` does: with the auxiliary labels where the method takes them. A self-supervised
    method's rows per clip (its "transformations") differ, each shifted in its own block of values, so that there
    is something to classify."""
    if METHODS[method].self_supervised:
        rows = train.reshape(len(train), 3, -1).copy()
        size = rows.shape[2] // 2
        rows[:, 1, :size] += 3
        rows[:, 2, size:] += 3
        return detector.fit(rows.reshape(len(train), -1))
    if not METHODS[method].auxiliary:
        return detector.fit(train)
    train = train.copy()
    train[AUX == 1, : train.shape[1] // 2] += 3
    return detector.fit(train, aux=AUX)


def tiny(detector):
    """The detector with the TINY settings it has (nested in PerPatch as ``detector__...``)."""
    params = detector.get_params()
    return detector.set_params(**{key: TINY[key.split("__")[-1]] for key in params if key.split("__")[-1] in TINY})


def make(method, seed):
    kind, factory = METHODS[method]
    example = np.zeros(EXAMPLE_SHAPES.get(kind, (8,)))
    detector = tiny(factory(seed, example))
    # An auxiliary classifier's embedding after 2 epochs is near random (AUC 0.62-0.75 here); 30 epochs of 24 rows are quick.
    if METHODS[method].self_supervised:
        return detector.set_params(detector__epochs=30)
    return detector.set_params(epochs=30) if METHODS[method].auxiliary else detector


@pytest.mark.parametrize("method", list(METHODS))
def test_every_benchmark_method_keeps_the_detector_contract(method):
    train, test, y = clips(METHODS[method][0])
    detector = fit(make(method, seed=1), method, train)
    scores = detector.decision_function(test)
    assert scores.shape == (16,) and np.all(np.isfinite(scores))
    assert aadlib.auc(y, scores) > 0.9, "higher scores must mean more anomalous"
    assert np.ndim(detector.threshold_) == 0
    np.testing.assert_array_equal(detector.predict(test), (scores > detector.threshold_).astype(int))

    copy = clone(detector)  # same parameters, seed included, and nothing learnt
    assert copy.get_params().keys() == detector.get_params().keys()
    with pytest.raises(aadlib.NotFittedError, match="not fitted yet"):
        copy.decision_function(test)
    np.testing.assert_allclose(fit(copy, method, train).decision_function(test), scores, rtol=1e-6, err_msg="same seed, same scores")


def test_not_fitted_is_the_course_error_and_scikit_learns():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(aadlib.AadError):
        aadlib.LOF().predict(np.zeros((2, 3)))
    with pytest.raises(NotFittedError):
        aadlib.LOF().decision_function(np.zeros((2, 3)))
    with pytest.raises(NotFittedError):
        check_is_fitted(aadlib.LOF())
    check_is_fitted(aadlib.LOF().fit(np.random.default_rng(0).normal(size=(20, 3))))


def test_a_detector_ends_a_pipeline():
    train, test, y = clips("clip_summary")
    pipeline = make_pipeline(StandardScaler(), aadlib.LOF(standardize=False)).fit(train * 100)
    np.testing.assert_allclose(pipeline.decision_function(test * 100), aadlib.LOF().fit(train).decision_function(test))
    assert pipeline.predict(test * 100)[y == 1].all()


def test_grid_search_on_a_labelled_validation_set_trains_on_normal_clips_only():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(40, 2))
    # The anomalies overlap the normal cloud (a wider spread, the same centre): the grid's AUCs differ.
    validation = np.r_[rng.normal(size=(20, 2)), 1.5 * rng.normal(size=(20, 2))]
    y_val = np.r_[np.zeros(20, int), np.ones(20, int)]
    X, y = np.r_[train, validation], np.r_[np.zeros(40, int), y_val]
    search = GridSearchCV(aadlib.KNN(), {"n_neighbors": [1, 5, 30]}, scoring=aadlib.scorer("auc"),
                          cv=aadlib.validation_split(len(train), len(validation)), refit=False).fit(X, y)
    expected = [aadlib.auc(y_val, aadlib.KNN(n_neighbors=k).fit(train).decision_function(validation)) for k in (1, 5, 30)]
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], expected)
    assert len(set(np.round(expected, 6))) > 1, "the grid must tell the settings apart for this test to mean something"
    assert search.best_params_ == {"n_neighbors": (1, 5, 30)[int(np.argmax(expected))]}

    pauc_search = GridSearchCV(aadlib.KNN(), {"n_neighbors": [1, 5]}, scoring=aadlib.scorer("pauc"),
                               cv=aadlib.validation_split(len(train), len(validation)), refit=False).fit(X, y)
    assert pauc_search.cv_results_["mean_test_score"][0] == pytest.approx(
        aadlib.pauc(y_val, aadlib.KNN(n_neighbors=1).fit(train).decision_function(validation)))
    with pytest.raises(ValueError, match="'auc' or 'pauc'"):
        aadlib.scorer("f1")


def test_parameters_are_checked_when_fitting_so_set_params_is_checked_too():
    train, _, _ = clips("clip_summary")
    detector = aadlib.GMM().set_params(threshold="median")
    with pytest.raises(aadlib.AadError, match="'percentile' or 'gamma'"):
        detector.fit(train)
