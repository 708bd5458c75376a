"""The fast path must give scikit-learn's own answers, or not be used at all (and the log says why)."""

import logging

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline as sklearn_pipeline
from sklearn.preprocessing import StandardScaler

from mlsteps.load_data.datasets import bundled
from mlsteps.serve import scoring
from mlsteps.serve.request_body import InputError
from mlsteps.serve.responses import FastJSONResponse
from mlsteps.serve.served_model import ServedModel
from mlsteps.serve.speed_tricks.linear_scorer import compile_linear
from mlsteps.train.pipelines import make_estimator
from mlsteps.volume.registry import LoadedModel


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


@pytest.mark.parametrize("name", ["iris", "breast_cancer", "diabetes"])
def test_a_few_rows_in_plain_python_answer_exactly_what_numpy_answers(name):
    """The JSON of one row, scored in plain Python, is byte for byte numpy's (rounding and signs of zero too)."""
    table = bundled(name)
    model = make_estimator("linear", table.task, table.features()).fit(table.X, table.y)
    served = ServedModel(LoadedModel(model, {"version": 1, "task": table.task}), compile_linear(model))
    assert served.scorer.few_rows(1) and not served.scorer.few_rows(1000)
    X = table.X.to_numpy(copy=True)
    X = np.vstack([X, X * np.random.default_rng(0).normal(1, 3, X.shape), X * 1e5, -X * 1e3])  # far, and overflowing
    X[::5, 0] = np.nan  # a missing value, filled in
    for row in X:
        in_python = scoring.predict(served, row[None, :])  # one row: plain Python
        with np.errstate(all="ignore"):
            in_numpy = {"model_version": 1, **scoring._fast(served, row[None, :])}
        assert FastJSONResponse(in_python).body == FastJSONResponse(in_numpy).body


def test_a_row_whose_answer_overflows_is_refused_in_plain_python_as_in_numpy():
    table = bundled("diabetes")
    model = make_estimator("linear", table.task, table.features()).fit(table.X, table.y)
    served = ServedModel(LoadedModel(model, {"version": 1, "task": table.task}), compile_linear(model))
    row = np.full((1, table.X.shape[1]), 1e308)
    with pytest.raises(InputError, match="cannot score this row with finite numbers"):
        scoring.predict(served, row)


def test_plain_python_rounds_as_numpy_rounds():
    """Halfway cases go to the even neighbour after scaling, as numpy's round does, and a small negative is -0.0."""
    halfway = (np.arange(-5000, 5000) + 0.5) / 1e4
    values = np.concatenate([np.random.default_rng(0).normal(0, 2, 20_000), halfway, [-1e-7, -0.0, 0.0, 1e-7, -3e-5]])
    rounded = [scoring._rounded(value) for value in values.tolist()]
    assert FastJSONResponse(rounded).body == FastJSONResponse(values.round(scoring.DECIMALS)).body
