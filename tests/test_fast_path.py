"""The fast path must give scikit-learn's own answers, or not be used at all (and the log says why)."""

import logging

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline as sklearn_pipeline
from sklearn.preprocessing import StandardScaler

from mlsteps.load_data.datasets import bundled
from mlsteps.serve.speed_tricks.linear_scorer import compile_linear
from mlsteps.train.pipelines import make_estimator


@pytest.mark.parametrize("name", ["iris", "breast_cancer", "digits", "diabetes"])
def test_same_answers_as_scikit_learn(name):
    table = bundled(name)
    model = make_estimator("linear", table.task, table.features()).fit(table.X, table.y)
    scorer = compile_linear(model)
    assert scorer is not None
    X = table.X.to_numpy(copy=True)
    X[::7, 1] = np.nan  # a null in a request: the scorer fills it in as the pipeline's imputer does
    frame = table.X.assign(**{table.feature_names[1]: X[:, 1]})
    if table.task == "classification":  # breast_cancer is binary, iris and digits multiclass
        assert np.allclose(scorer.predict_proba(X), model.predict_proba(frame))
        assert np.array_equal(scorer.predict(X), model.predict(frame))  # the labels are predict's, every one
    else:
        assert np.allclose(scorer.predict(X), model.predict(frame))


def test_a_model_fitted_before_missing_values_were_filled_in_still_folds():
    table = bundled("iris")
    model = sklearn_pipeline(StandardScaler(), LogisticRegression()).fit(table.X.to_numpy(), table.y)
    scorer = compile_linear(model)
    assert scorer is not None and np.array_equal(scorer.predict(table.X.to_numpy()), model.predict(table.X.to_numpy()))


def test_other_models_are_left_to_scikit_learn_and_the_log_says_why(caplog):
    table = bundled("iris")
    with caplog.at_level(logging.INFO, logger="mlsteps.serve"):
        assert compile_linear(RandomForestClassifier(n_estimators=3).fit(table.X, table.y)) is None
    assert "fast path not used: the model is a RandomForestClassifier, not a Pipeline of StandardScaler" in caplog.text


class ClippingScaler(StandardScaler):
    """A learner's own scaler: standardises, then clips outliers. Folding the scaler cannot express that."""

    def transform(self, X, copy=None):
        return np.clip(super().transform(X, copy=copy), -1.0, 1.0)


def test_a_model_the_probes_catch_is_left_to_scikit_learn(caplog):
    table = bundled("iris")
    model = sklearn_pipeline(ClippingScaler(), LogisticRegression()).fit(table.X, table.y)
    with caplog.at_level(logging.INFO, logger="mlsteps.serve"):
        assert compile_linear(model) is None
    assert "fast path not used: on 64 probe rows it differed from scikit-learn's answers" in caplog.text


def test_a_ridge_with_several_targets_is_left_to_scikit_learn(caplog):
    table = bundled("diabetes")
    model = sklearn_pipeline(StandardScaler(), Ridge()).fit(table.X, np.column_stack([table.y, -table.y]))
    with caplog.at_level(logging.INFO, logger="mlsteps.serve"):
        assert compile_linear(model) is None
    assert "differed from scikit-learn's answers" in caplog.text
