"""The estimator train fits: built-ins by name, the learner's own by module:function, and one sentence when wrong."""

import numpy as np
import pytest

from mlsteps.config import ConfigError
from mlsteps.model_contract import frame
from mlsteps.table import Table, make_frame
from mlsteps.train.pipelines import BUILTINS, NATIVE, choose, describe, make_estimator

MIXED = [{"name": "island", "type": "text", "categories": ["Biscoe", "Dream"]}, {"name": "mass", "type": "number"}]


def mixed_table() -> Table:
    """Text with missing values, numbers with missing values, an integer regression target."""
    island = np.array(["Biscoe", "Dream", None, "Dream"] * 10, dtype=object)
    mass = np.array([3000.0, np.nan, 4200.0, 3900.0] * 10) + np.arange(40)
    y = np.array([3100, 3600, 4300, 3950] * 10) + np.arange(40)
    return Table(make_frame({"island": island, "mass": mass}), y, "auto", "body_mass_g", "test")


LEARNER_MODULE = """
from sklearn.linear_model import Ridge
def regressor(task): return Ridge()
def not_an_estimator(task): return {"a": 1}
def broken(task): return undefined_name
"""


@pytest.fixture
def learner_module(learner_code):
    return learner_code("learner_pipelines", LEARNER_MODULE)


@pytest.mark.parametrize("name, task", [(name, task) for name, tasks in BUILTINS.items() for task in tasks])
def test_every_builtin_prepares_then_models_named_for_the_grid(name, task):
    estimator = make_estimator(name, task, MIXED)
    assert [step for step, _ in estimator.steps] == (["model"] if name in NATIVE else ["prepare", "model"])


def test_empty_means_the_tasks_default():
    assert describe(make_estimator("", "classification")) == "SimpleImputer -> StandardScaler -> LogisticRegression"
    assert describe(make_estimator("", "clustering")) == "SimpleImputer -> StandardScaler -> KMeans"
    assert (
        describe(make_estimator("", "regression", MIXED))
        == "ColumnTransformer(SimpleImputer -> StandardScaler | OneHotEncoder) -> Ridge"
    )


@pytest.mark.parametrize("name, task", [(name, task) for name, tasks in BUILTINS.items() for task in tasks])
def test_every_builtin_fits_and_answers_text_missing_values_and_unseen_categories(name, task):
    """The user guide's mixed table, as the built-ins take it by default: no 5xx for a category never seen."""
    table = mixed_table()
    y = None if task == "clustering" else (table.y if task == "regression" else (table.y > 3500).astype(int))
    model = make_estimator(name, task, table.features()).fit(table.X, y)
    new = frame([["Atlantis", None], [None, 4100.0]], table.features())  # an unseen island, then a missing one
    assert len(model.predict(new)) == 2


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
    ],
)
def test_a_bad_pipeline_is_one_sentence_naming_the_variable(learner_module, spec, task, words):
    with pytest.raises(ConfigError, match="^MLSTEPS_PIPELINE=") as error:
        make_estimator(spec.format(m=learner_module), task)
    assert words in str(error.value)


GUESS = ("classification", "the target holds 3 distinct whole numbers (at most 20)")


def test_auto_takes_the_task_from_the_learners_estimator_before_the_targets_guess(learner_module):
    """A count target looks like classes; a learner's Ridge says it is a regression, and is believed."""
    estimator, task, why = choose(f"{learner_module}:regressor", None, GUESS, [])
    assert task == "regression" and why == "from the estimator: Ridge is a regressor"
    assert choose("", None, GUESS, [])[1:] == (
        "classification",
        f"guessed: {GUESS[1]}; set MLSTEPS_TASK to say otherwise",
    )


def test_a_declared_task_the_estimator_contradicts_is_one_sentence(learner_module):
    with pytest.raises(ConfigError, match="returned a regressor \\(Ridge\\), and the task is declared classification"):
        choose(f"{learner_module}:regressor", "classification", GUESS, [])
