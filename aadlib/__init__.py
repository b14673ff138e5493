"""aadlib: the library behind the aad-book course on audio anomaly detection for machine sounds.

One module per topic; the names the chapters use are re-exported here.
"""

from . import data, detectors, features, metrics, plots, utils
from .data import LAYOUTS, REGISTRY, Clips, FileSet, fetch, load_clips, scan
from .detectors import DETECTORS, GMM, KNN, LOF, OCSVM, IForest, Mahalanobis, NotFittedError, evaluate_seeds, score_clips, summarize, summarize_by, summary_table
from .metrics import MAX_FPR, auc, evaluate, pauc, scorer, threshold_gamma, threshold_percentile, validation_split
from .utils import SEED, AadError, seeds, set_seed

__version__ = "0.1.0"

__all__ = [
    "data", "detectors", "features", "metrics", "plots", "utils",
    "LAYOUTS", "REGISTRY", "Clips", "FileSet", "fetch", "load_clips", "scan",
    "DETECTORS", "GMM", "KNN", "LOF", "OCSVM", "IForest", "Mahalanobis", "NotFittedError", "evaluate_seeds", "score_clips", "summarize", "summarize_by", "summary_table",
    "MAX_FPR", "auc", "evaluate", "pauc", "scorer", "threshold_gamma", "threshold_percentile", "validation_split",
    "SEED", "AadError", "seeds", "set_seed",
]
