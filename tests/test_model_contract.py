"""The estimator's own contract, through train and serve: the task it declares, the answers it has, and a trial
before it is published; and a real table (text, missing values, an integer target) from CSV to /predict."""

import html
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import FixedThresholdClassifier

from helpers import PENGUIN_ROW, REPO_ROOT
from mlsteps.cli import main
from mlsteps.load_data import load_data
from mlsteps.model_contract import ContractError, outputs, task_of, trial
from mlsteps.serve import create_app
from mlsteps.serve.responses import Prediction
from mlsteps.train import train
from mlsteps.volume.registry import load_latest, publish

PENGUINS = REPO_ROOT / "src/my_ml/penguins_sample.csv"
LEARNER = """
from sklearn.cluster import DBSCAN, KMeans
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import LinearSVC


def numbers_then(model):
    return make_pipeline(SimpleImputer(), StandardScaler(), model)


def svc(task): return numbers_then(LinearSVC())
def ridge(task): return numbers_then(Ridge())
def thresholded(task): return numbers_then(FixedThresholdClassifier(LogisticRegression(max_iter=2000), threshold=0.9))
def dbscan(task): return numbers_then(DBSCAN())
def counts():  # eggs laid: a few whole numbers, which alone would read as classes
    X = [[float(i), float(i % 5)] for i in range(60)]
    return {"X": X, "y": [i % 4 for i in range(60)], "feature_names": ["a", "b"]}


def by_name(task):  # the user guide's way: a ColumnTransformer that names its columns
    prepare = make_column_transformer(
        (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), ["bill_length_mm", "flipper_length_mm"]),
        (OneHotEncoder(handle_unknown="ignore"), ["island", "sex"]),
    )
    return make_pipeline(prepare, LogisticRegression(max_iter=1000))
"""
PENGUIN = PENGUIN_ROW  # a Gentoo, with text and a null


@pytest.fixture
def learner(learner_code):
    module = learner_code("learner_contract", LEARNER)
    return lambda name: f"{module}:{name}"


def serve(settings):
    return TestClient(create_app(settings))


def test_the_task_and_the_outputs_come_from_the_estimator():
    X, y = load_breast_cancer(return_X_y=True)
    from sklearn.cluster import KMeans
    from sklearn.svm import LinearSVC

    assert task_of(LinearSVC()) == "classification" and task_of(KMeans()) == "clustering" and task_of({}) is None
    assert outputs(LinearSVC().fit(X[:, :3], y), "classification") == ["predictions", "classes"]
    assert outputs(LogisticRegression().fit(X[:, :3], y), "classification")[-1] == "probabilities"
    assert outputs(KMeans(n_clusters=2, n_init=1).fit(X[:, :3]), "clustering") == ["predictions", "distances"]


def test_a_model_that_cannot_answer_fails_its_trial_in_one_sentence():
    from sklearn.cluster import DBSCAN

    X = load_breast_cancer(return_X_y=True)[0][:50, :3]
    with pytest.raises(ContractError, match="a DBSCAN has no predict method"):
        trial(DBSCAN().fit(X), X, "clustering")


def test_a_classifier_without_predict_proba_is_trained_published_and_served(settings, learner):
    settings = settings.model_copy(update={"pipeline": learner("svc")})
    load_data(settings)
    assert train(settings).promoted
    with serve(settings) as client:
        assert client.get("/readyz").status_code == 200
        model = client.get("/model").json()
        assert model["outputs"] == ["predictions", "classes"] and model["estimator"].endswith("LinearSVC")
        answer = client.post("/predict", json={"instances": [[5.1, 3.5, 1.4, 0.2]]}).json()
    assert answer["predictions"] == ["setosa"] and "probabilities" not in answer


def test_a_thresholded_classifier_answers_its_own_predict_not_the_argmax(settings, learner, tmp_path):
    """breast_cancer with the threshold at 0.9: its labels differ from the argmax of predict_proba on many rows."""
    bunch = load_breast_cancer()
    names = [f"f{i}" for i in range(bunch.data.shape[1])]
    source = tmp_path / "cancer.csv"
    lines = [",".join(names + ["target"])] + [
        ",".join(map(str, [*row, t])) for row, t in zip(bunch.data, bunch.target, strict=True)
    ]
    source.write_text("\n".join(lines) + "\n")
    settings = settings.model_copy(update={"dataset": f"csv:{source}", "pipeline": learner("thresholded")})
    load_data(settings)
    train(settings)
    model = load_latest(settings.models_dir).model
    assert isinstance(model[-1], FixedThresholdClassifier)
    own = model.predict(_frame(bunch, names))
    argmax = model.classes_[model.predict_proba(_frame(bunch, names)).argmax(axis=1)]
    assert (own != argmax).sum() > 10  # the two really differ here
    with serve(settings) as client:
        answer = client.post("/predict", json={"instances": bunch.data.tolist()}).json()
    assert answer["predictions"] == own.tolist() and answer["classes"] == [0, 1]  # integers stay integers
    documented = Prediction.model_validate(answer)  # the answer fits the schema /docs shows, integers and all
    assert documented.classes == [0, 1] and documented.predictions == own.tolist()


def _frame(bunch, names):
    import pandas as pd

    return pd.DataFrame(bunch.data, columns=names)


def test_a_model_serve_would_refuse_is_never_published_exit_1(settings, learner, capsys, monkeypatch):
    monkeypatch.setenv("MLSTEPS_DATA_DIR", str(settings.data_dir))
    assert main(["load-data", "--dataset", "blobs"]) == 0
    monkeypatch.setenv("MLSTEPS_PIPELINE", learner("dbscan"))
    assert main(["train", "--dataset", "blobs"]) == 1
    err = capsys.readouterr().err
    assert "is not published: a DBSCAN has no predict method, so it cannot answer new rows" in err
    assert "Traceback" not in err and not settings.models_dir.joinpath("latest.json").exists()


def test_bootstrap_if_missing_trains_again_when_the_promoted_model_fails_serves_trial(trained, capsys):
    meta = load_latest(trained.models_dir).metadata
    keep = {k: v for k, v in meta.items() if k not in ("version", "sha256", "promoted")}
    publish(trained.models_dir, {"not": "a model"}, keep, promote=True)  # loads, and cannot answer
    assert main(["bootstrap", "--if-missing", "--data-dir", str(trained.data_dir)]) == 0
    assert load_latest(trained.models_dir).version == 3  # a new model, trained because v2 failed its trial


def test_auto_takes_regression_from_a_learners_ridge_on_a_count_target(settings, learner, caplog):
    """A count target (few whole numbers) would be guessed classes; the learner's Ridge says regression."""
    caplog.set_level("INFO")
    settings = settings.model_copy(update={"dataset": f"python:{learner('counts')}", "pipeline": learner("ridge")})
    load_data(settings)
    assert set(train(settings).metrics) == {"r2", "mae"}
    assert "task: regression (from the estimator: SimpleImputer -> StandardScaler -> Ridge is a regressor)" in (
        caplog.text
    )


def test_a_contradiction_is_one_sentence_and_exit_2(settings, capsys, monkeypatch):
    monkeypatch.setenv("MLSTEPS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("MLSTEPS_TARGET_COLUMN", "species")
    monkeypatch.setenv("MLSTEPS_TASK", "regression")
    assert main(["load-data", "--dataset", f"csv:{PENGUINS}"]) == 2
    err = capsys.readouterr().err
    assert "the target 'species' holds text ('Adelie'), and a regression needs numbers" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_mixed_table_with_an_integer_target_trains_and_answers_text_and_null(settings):
    settings = settings.model_copy(update={"dataset": f"csv:{PENGUINS}", "target_column": "body_mass_g"})
    load_data(settings)
    train(settings)
    with serve(settings) as client:
        model = client.get("/model").json()
        assert model["task"] == "regression" and [f["name"] for f in model["features"]][:2] == ["species", "island"]
        assert {f["name"]: f["type"] for f in model["features"]}["sex"] == "text"
        row = {"species": "Gentoo", **{k: v for k, v in PENGUIN.items() if k != "body_mass_g"}}
        answer = client.post("/predict", json={"instances": [row, {**row, "island": "Atlantis", "sex": "male"}]})
        assert answer.status_code == 200 and all(isinstance(v, float) for v in answer.json()["predictions"])
        as_list = client.post("/predict", json={"instances": [list(row.values())]}).json()
        assert as_list["predictions"][0] == answer.json()["predictions"][0]
        wrong = client.post("/predict", json={"instances": [{**row, "bill_length_mm": "long"}]})
        home = html.unescape(client.get("/").text)  # its curl example is a request serve answers
        example = json.loads(home.split("-d '")[1].split("'</pre>")[0])
        assert example["instances"][0][:2] == ["Adelie", "Biscoe"]
        assert client.post("/predict", json=example).status_code == 200
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "instances", 0, "bill_length_mm"]
    assert "column 'bill_length_mm' expects a number or null, got 'long'" in wrong.json()["detail"][0]["msg"]


@pytest.mark.parametrize("pipeline", ["", "boosting", "knn", "forest", "learner_contract:by_name"])
def test_every_pipeline_answers_a_category_never_seen_without_a_5xx(settings, learner, pipeline):
    settings = settings.model_copy(
        update={"dataset": f"csv:{PENGUINS}", "target_column": "species", "pipeline": pipeline}
    )
    load_data(settings)
    train(settings)
    with serve(settings) as client:
        row = {**PENGUIN, "island": "Atlantis", "sex": "unknown"}
        answer = client.post("/predict", json={"instances": [row, PENGUIN]})
    assert answer.status_code == 200 and set(answer.json()["predictions"]) <= {"Adelie", "Chinstrap", "Gentoo"}


def test_a_csv_with_no_target_column_is_clustered(settings, tmp_path):
    source = tmp_path / "points.csv"
    source.write_text(
        "x,y,colour\n" + "".join(f"{i % 7},{(i * 3) % 5},{['red', 'blue', 'NA'][i % 3]}\n" for i in range(40))
    )
    settings = settings.model_copy(update={"dataset": f"csv:{source}", "task": "clustering"})
    load_data(settings)
    train(settings)
    record = load_latest(settings.models_dir).metadata
    assert record["task"] == "clustering" and record["outputs"] == ["predictions", "distances"]
    with serve(settings) as client:
        answer = client.post("/predict", json={"instances": [[1, 2, "red"], [3, 4, None]]}).json()
    assert len(answer["predictions"]) == 2 and all(isinstance(c, int) for c in answer["predictions"])
    assert len(answer["distances"]) == 2


def test_the_metadata_records_the_features_outputs_and_why_the_task(settings):
    load_data(settings)
    train(settings)
    record = json.loads((settings.models_dir / "v000001" / "metadata.json").read_text())
    assert record["features"][0] == {"name": "sepal_length_cm", "type": "number"}
    assert record["outputs"] == ["predictions", "classes", "probabilities"] and record["task_from"] == "declared"
    assert np.isclose(record["holdout_rows"] / (record["holdout_rows"] + record["train_rows"]), 0.25, atol=0.12)
