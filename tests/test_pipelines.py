"""The estimator train fits: built-ins by name, the learner's own by module:function, and one sentence when wrong."""

import sys

import pytest

from mlsteps.config import ConfigError
from mlsteps.train.pipelines import BUILTINS, describe, make_estimator

LEARNER_MODULE = """
from sklearn.linear_model import Ridge
def regressor(task): return Ridge()
def not_an_estimator(task): return {"a": 1}
def broken(task): return undefined_name
"""


@pytest.fixture
def learner_module(tmp_path, monkeypatch):
    """A learner's module on the import path, as src/my_ml is at every level."""
    (tmp_path / "learner_pipelines.py").write_text(LEARNER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "learner_pipelines"
    sys.modules.pop("learner_pipelines", None)


@pytest.mark.parametrize("name, task", [(name, task) for name, tasks in BUILTINS.items() for task in tasks])
def test_every_builtin_is_a_scaled_model_named_for_the_grid(name, task):
    estimator = make_estimator(name, task)
    assert [step for step, _ in estimator.steps] == ["scale", "model"]


def test_empty_means_the_tasks_default():
    assert describe(make_estimator("", "classification")) == "StandardScaler -> LogisticRegression"
    assert describe(make_estimator("", "clustering")) == "StandardScaler -> KMeans"


def test_the_example_module_is_a_pipeline_of_three_steps():
    assert (
        describe(make_estimator("my_ml.example:make_pipeline", "classification"))
        == "StandardScaler -> PolynomialFeatures -> LogisticRegression"
    )


@pytest.mark.parametrize(
    "spec, task, words",
    [
        ("kmeans", "classification", "MLSTEPS_PIPELINE='kmeans' has no classification model; for classification use"),
        ("nowhere:make", "classification", "there is no module 'nowhere'"),
        ("{m}:absent", "classification", "has no function 'absent'"),
        ("{m}:not_an_estimator", "classification", "returned dict, not a scikit-learn estimator"),
        ("{m}:regressor", "classification", "returned a regressor; this dataset is classification, which needs a"),
    ],
)
def test_a_bad_pipeline_is_one_sentence_naming_the_variable(learner_module, spec, task, words):
    with pytest.raises(ConfigError, match="^MLSTEPS_PIPELINE=") as error:
        make_estimator(spec.format(m=learner_module), task)
    assert words in str(error.value)
