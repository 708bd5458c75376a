"""The fast path must give scikit-learn's own answers, or not be used at all."""

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from mlsteps.datasets import bundled
from mlsteps.fast_path import compile_linear
from mlsteps.pipelines import make_estimator


@pytest.mark.parametrize("name", ["iris", "breast_cancer", "digits", "diabetes"])
def test_same_answers_as_scikit_learn(name):
    table = bundled(name)
    model = make_estimator("linear", table.task).fit(table.X, table.y)
    scorer = compile_linear(model, table.X.shape[1])
    assert scorer is not None
    if table.task == "classification":  # breast_cancer is binary, iris and digits multiclass
        assert np.allclose(scorer.predict_proba(table.X), model.predict_proba(table.X))
    else:
        assert np.allclose(scorer.predict(table.X), model.predict(table.X))


def test_other_models_are_left_to_scikit_learn():
    table = bundled("iris")
    assert compile_linear(RandomForestClassifier(n_estimators=3).fit(table.X, table.y), 4) is None
