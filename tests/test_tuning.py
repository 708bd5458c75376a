"""The fine-tuning step: a cross-validated search before the final fit, recorded in the model's metadata."""

import json
import logging

import pytest

from mlsteps.cli import main
from mlsteps.load_data import load_data
from mlsteps.train import train
from mlsteps.volume.registry import load_latest


def test_a_grid_is_searched_and_the_best_parameters_are_recorded(settings, caplog):
    caplog.set_level(logging.INFO)
    settings = settings.model_copy(update={"param_grid": '{"model__C": [0.01, 1, 100]}'})
    load_data(settings)
    train(settings)
    tuning = load_latest(settings.models_dir).metadata["tuning"]
    assert tuning["best_params"]["model__C"] in (0.01, 1, 100) and tuning["scoring"] == "accuracy"
    assert [c["params"]["model__C"] for c in tuning["candidates"]] == [0.01, 1, 100]
    assert all(0 <= c["cv_score"] <= 1 for c in tuning["candidates"])
    assert f"best {tuning['best_params']}" in caplog.text


def test_clustering_picks_k_by_silhouette_over_the_k_range(settings):
    settings = settings.model_copy(update={"dataset": "blobs", "k_range": "2-6"})
    load_data(settings)
    result = train(settings)
    metadata = load_latest(settings.models_dir).metadata
    assert metadata["task"] == "clustering" and metadata["primary_metric"] == "silhouette"
    assert [c["params"]["model__n_clusters"] for c in metadata["tuning"]["candidates"]] == [2, 3, 4, 5, 6]
    assert result.metrics["k"] == metadata["tuning"]["best_params"]["model__n_clusters"] == 4  # the blobs' centers
    assert result.metrics["silhouette"] > 0.5


@pytest.mark.parametrize(
    "grid, words",
    [
        (
            '{"model__nope": [1, 2]}',
            "MLSTEPS_PARAM_GRID names model__nope, not a parameter of SimpleImputer -> StandardScaler -> "
            "LogisticRegression; valid names include: ",
        ),
        ('{"model__C": [-1]}', "MLSTEPS_PARAM_GRID: a candidate could not be fitted"),
        ("[1, 2]", "MLSTEPS_PARAM_GRID='[1, 2]' must be a JSON object of parameter name -> list of values"),
        ("{model__C: [1]}", "is not JSON"),
    ],
)
def test_a_bad_grid_stops_train_with_one_sentence_and_exit_2(settings, capsys, monkeypatch, grid, words):
    assert main(["load-data"]) == 0
    monkeypatch.setenv("MLSTEPS_PARAM_GRID", grid)
    assert main(["train"]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_model_shows_the_tuning_in_its_metadata_file(settings):
    settings = settings.model_copy(update={"param_grid": json.dumps({"model__C": [1, 10]})})
    load_data(settings)
    train(settings)
    record = json.loads((settings.models_dir / "v000001" / "metadata.json").read_text())
    assert (
        record["tuning"]["folds"] == 5
        and record["estimator"] == "SimpleImputer -> StandardScaler -> LogisticRegression"
    )
