import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

from mnist_mlp.model.estimator import NumpyMLPClassifier  # noqa: E402


def test_constructor_only_stores_parameters_and_clone_copies_them():
    est = NumpyMLPClassifier(epochs=3, lr=0.01, random_state=5)
    assert est.get_params()["epochs"] == 3 and not hasattr(est, "model_")
    copy = clone(est)
    assert copy.get_params() == est.get_params() and copy is not est


def test_works_in_a_pipeline_with_cross_validation(mnist):
    x, y = mnist[0][:3000], mnist[1][:3000]
    pipeline = make_pipeline(FunctionTransformer(lambda a: a / 255.0), NumpyMLPClassifier(epochs=5, lr=3e-3))
    scores = cross_val_score(pipeline, x, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.85


def test_fit_predict_proba_score_on_string_labels():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (100, 5)), rng.normal(3, 1, (100, 5))])
    y = np.array(["low"] * 100 + ["high"] * 100)
    est = NumpyMLPClassifier(hidden_layer_sizes=(8,), epochs=30, batch_size=32, lr=0.01).fit(x, y)
    proba = est.predict_proba(x)
    assert proba.shape == (200, 2) and np.allclose(proba.sum(axis=1), 1)
    assert set(est.predict(x)) == {"low", "high"} and est.score(x, y) > 0.95


def test_passes_scikit_learns_estimator_checks():
    # enough steps that the checks' tiny data sets (~100 rows) can be fitted
    est = NumpyMLPClassifier(hidden_layer_sizes=(16,), epochs=60, batch_size=16, lr=0.01)
    failed = [r for r in check_estimator(est, on_fail=None) if r["status"] == "failed"]
    assert not failed, [(r["check_name"], str(r["exception"])[:200]) for r in failed]
