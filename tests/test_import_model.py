"""`mlsteps import-model`: a model trained elsewhere is checked, scored on the holdout as train does, published."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import pickle
import signal
import subprocess
import sys
import threading

import joblib
import numpy as np
import pytest
import skops.io
from pydantic import SecretStr
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from helpers import REPO_ROOT, free_port, http_json, wait_for
from mlsteps import model_contract
from mlsteps.cli import main
from mlsteps.load_data import load_data
from mlsteps.load_data.datasets import bundled
from mlsteps.train import train
from mlsteps.train.import_model import download, import_model
from mlsteps.train.split import holdout_mask
from mlsteps.volume.registry import list_versions, load_latest, read_metadata, read_pointer
from mlsteps.volume.snapshots import list_snapshots, read_snapshot

PENGUINS = REPO_ROOT / "src/my_ml/penguins_sample.csv"


def save(model, path):
    """The model in the format the file's suffix names, as a learner would save it."""
    if path.suffix == ".skops":
        skops.io.dump(model, path)
    elif path.suffix == ".joblib":
        joblib.dump(model, path)
    else:
        path.write_bytes(pickle.dumps(model))
    return path


def newest_table(settings):
    return read_snapshot(settings.snapshots_dir, list_snapshots(settings.snapshots_dir)[-1])[0]


def fitted_elsewhere(settings, model):
    """`model` fitted on the newest snapshot's training rows, as a notebook would (its own DataFrame)."""
    table = newest_table(settings)
    held = holdout_mask(table, settings.seed)
    return model.fit(table.X[~held], table.y[~held])


@pytest.fixture
def iris(settings):
    load_data(settings)
    return settings


@pytest.fixture
def penguins(settings):
    """The shipped mixed table: text columns, missing values, a text target."""
    settings = settings.model_copy(update={"dataset": f"csv:{PENGUINS}", "target_column": "species"})
    load_data(settings)
    return settings


def mixed_pipeline():
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    numbers = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    prepare = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["island", "sex"]),
        (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numbers),
    )
    return make_pipeline(prepare, LogisticRegression(max_iter=1000))


@pytest.mark.parametrize("suffix", [".pkl", ".joblib", ".skops"])
def test_a_fitted_pipeline_is_published_with_real_metrics_and_its_provenance(iris, tmp_path, suffix):
    model = fitted_elsewhere(iris, make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)))
    path = save(model, tmp_path / f"iris-model{suffix}")
    result = import_model(iris, str(path))
    assert result.version == 1 and result.promoted
    loaded = load_latest(iris.models_dir)
    meta = loaded.metadata
    assert meta["imported"]["file"] == path.name
    assert meta["imported"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert meta["imported"]["format"] == {".pkl": "pickle", ".joblib": "joblib", ".skops": "skops"}[suffix]
    table = newest_table(iris)
    held = holdout_mask(table, iris.seed)
    accuracy = float((model.predict(table.X[held]) == table.y[held]).mean())
    assert meta["metrics"]["accuracy"] == round(accuracy, 4) and meta["holdout_rows"] == int(held.sum())
    assert meta["task"] == "classification" and meta["feature_names"] == bundled("iris").feature_names
    model_contract.trial_loaded(loaded)  # what serve tries before it serves


@pytest.mark.parametrize("suffix", [".joblib", ".skops"])
def test_a_pipeline_of_the_mixed_table_answers_text_and_missing_values(penguins, tmp_path, suffix):
    path = save(fitted_elsewhere(penguins, mixed_pipeline()), tmp_path / f"penguins{suffix}")
    trust = ["numpy.dtype"] if suffix == ".skops" else None  # the encoder's dtype parameter, for skops
    assert import_model(penguins, str(path), trusted=trust).promoted
    loaded = load_latest(penguins.models_dir)
    assert [f["type"] for f in loaded.metadata["features"]][:2] == ["text", "number"]
    answers = model_contract.trial(
        loaded.model,
        model_contract.frame([["Biscoe"], [47.5], [15.0], [217.0], [None], [5100.0]], loaded.metadata["features"]),
        "classification",
    )
    assert answers["predictions"].tolist() == ["Gentoo"]


def test_skops_refuses_types_it_does_not_trust_unless_listed(penguins, tmp_path, capsys):
    path = save(fitted_elsewhere(penguins, mixed_pipeline()), tmp_path / "penguins.skops")
    assert main(["import-model", str(path)]) == 2
    err = capsys.readouterr().err
    assert "penguins.skops holds types skops does not trust by default (numpy.dtype)" in err and err.count("\n") == 1
    assert list_versions(penguins.models_dir) == []
    assert main(["import-model", str(path), "--trust", "numpy.dtype"]) == 0


def one_sentence_exit_2(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlsteps import-model: error: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


def test_an_unfitted_estimator_is_one_sentence_exit_2(iris, tmp_path, capsys):
    path = save(make_pipeline(StandardScaler(), LogisticRegression()), tmp_path / "unfitted.joblib")
    err = one_sentence_exit_2(capsys, ["import-model", str(path)])
    assert "unfitted.joblib holds an unfitted StandardScaler -> LogisticRegression" in err
    assert list_versions(iris.models_dir) == []


def test_something_else_than_an_estimator_is_one_sentence_exit_2(iris, tmp_path, capsys):
    err = one_sentence_exit_2(capsys, ["import-model", str(save({"weights": [1, 2]}, tmp_path / "dict.pkl"))])
    assert "dict.pkl holds a dict, not a scikit-learn estimator" in err
    (tmp_path / "notes.txt").write_text("not a model")
    assert "notes.txt cannot be read as a pickle" in one_sentence_exit_2(
        capsys, ["import-model", str(tmp_path / "notes.txt")]
    )


def test_a_model_for_other_columns_is_one_sentence_exit_2(iris, tmp_path, capsys):
    diabetes = bundled("diabetes")
    path = save(Ridge().fit(diabetes.X, diabetes.y), tmp_path / "diabetes.joblib")
    err = one_sentence_exit_2(capsys, ["import-model", str(path)])
    assert "none of the columns diabetes.joblib was fitted on (age, sex, bmi" in err
    some = bundled("iris").X.iloc[:, :3]  # three of the four columns: the fourth is not missing, but extra
    three = save(LogisticRegression(max_iter=1000).fit(some, bundled("iris").y), tmp_path / "three.joblib")
    assert main(["import-model", str(three)]) == 0  # a model may use a subset of the columns
    assert load_latest(iris.models_dir).metadata["feature_names"] == list(some.columns)
    capsys.readouterr()
    wider = bundled("iris").X.assign(extra=1.0)
    path = save(LogisticRegression(max_iter=1000).fit(wider, bundled("iris").y), tmp_path / "wider.joblib")
    assert "wider.joblib needs columns the newest snapshot lacks (extra)" in one_sentence_exit_2(
        capsys, ["import-model", str(path)]
    )


def test_a_model_saved_by_another_scikit_learn_is_refused(iris, tmp_path, capsys):
    blob = pickle.dumps(fitted_elsewhere(iris, LogisticRegression(max_iter=1000)))
    import sklearn

    other = ("0" + sklearn.__version__[1:]).encode()  # same length: the pickle stays valid
    (tmp_path / "old.pkl").write_bytes(blob.replace(sklearn.__version__.encode(), other))
    err = one_sentence_exit_2(capsys, ["import-model", str(tmp_path / "old.pkl")])
    assert f"old.pkl was saved with scikit-learn {other.decode()}" in err


def test_no_snapshot_to_evaluate_on_is_one_sentence_exit_2(settings, tmp_path, capsys):
    path = save(LogisticRegression(max_iter=1000).fit(bundled("iris").X, bundled("iris").y), tmp_path / "m.joblib")
    assert "run `mlsteps load-data` first" in one_sentence_exit_2(capsys, ["import-model", str(path)])


def test_the_promotion_gate_applies_unless_force(iris, tmp_path, capsys):
    train(iris)  # v1, a good model, live
    guesser = save(fitted_elsewhere(iris, DummyClassifier(strategy="uniform", random_state=0)), tmp_path / "g.joblib")
    assert main(["import-model", str(guesser)]) == 0
    assert "NOT promoted, it scores clearly worse" in capsys.readouterr().err
    assert read_pointer(iris.models_dir)["version"] == 1
    record = read_metadata(iris.models_dir, 2)
    assert record["promoted"] is False and record["compared_with"]["version"] == 1
    assert main(["import-model", str(guesser), "--force"]) == 0
    assert read_pointer(iris.models_dir)["version"] == 3 and read_metadata(iris.models_dir, 3)["forced"] is True


def test_signed_when_a_key_is_set(iris, tmp_path):
    signed = iris.model_copy(update={"signing_key": SecretStr("k" * 32)})
    path = save(fitted_elsewhere(iris, LogisticRegression(max_iter=1000)), tmp_path / "m.joblib")
    import_model(signed, str(path))
    assert load_latest(iris.models_dir, signed.signing_secret).metadata["signature"]
    with pytest.raises(Exception, match="does not match MLSTEPS_SIGNING_KEY"):
        load_latest(iris.models_dir, "another key of at least 32 chars!")


@pytest.fixture
def web_folder(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path (where a team would put its model file)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # the test reads stderr
            pass

    handler = functools.partial(Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_url_is_downloaded_with_a_size_limit(iris, tmp_path, web_folder, capsys):
    path = save(fitted_elsewhere(iris, LogisticRegression(max_iter=1000)), tmp_path / "m.joblib")
    assert main(["import-model", f"{web_folder}/m.joblib"]) == 0
    meta = load_latest(iris.models_dir).metadata
    assert meta["imported"]["url"] == f"{web_folder}/m.joblib" and meta["imported"]["file"] == "m.joblib"
    assert meta["imported"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(Exception, match="is larger than 100 bytes"):
        download(f"{web_folder}/m.joblib", limit=100)
    capsys.readouterr()
    assert "answered HTTP 404" in one_sentence_exit_2(capsys, ["import-model", f"{web_folder}/none.joblib"])


LEARNER = """
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
def fitted(task):
    X, y = load_iris(return_X_y=True, as_frame=True)
    return LogisticRegression(max_iter=1000).fit(X, y)
"""


def test_a_fitted_estimator_from_mlsteps_pipeline_points_to_import_model(iris, learner_code, monkeypatch, capsys):
    """Train would fit it again, silently: it is refused, with the command that publishes it as it is."""
    monkeypatch.setenv("MLSTEPS_PIPELINE", learner_code("learner_fitted", LEARNER) + ":fitted")
    assert main(["train"]) == 2
    err = capsys.readouterr().err
    assert "returned a fitted LogisticRegression" in err and "mlsteps import-model FILE" in err
    assert list_versions(iris.models_dir) == []


@pytest.mark.slow
def test_level1_imports_a_joblib_file_and_serve_answers_with_it(settings, tmp_path):
    """The real CLI in real processes: load-data, import-model of a joblib file, then serve answers with it."""
    env = {**os.environ, "MLSTEPS_DATASET": f"csv:{PENGUINS}", "MLSTEPS_TARGET_COLUMN": "species"}

    def mlsteps(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "mlsteps", *argv], env=env, capture_output=True, text=True, timeout=120
        )

    assert mlsteps("load-data").returncode == 0
    penguins = settings.model_copy(update={"dataset": f"csv:{PENGUINS}", "target_column": "species"})
    path = save(fitted_elsewhere(penguins, mixed_pipeline()), tmp_path / "penguins.joblib")
    imported = mlsteps("import-model", str(path))
    assert imported.returncode == 0 and "imported penguins.joblib (joblib" in imported.stderr, imported.stderr
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlsteps", "serve", "--port", str(port)], env=env, stderr=subprocess.DEVNULL
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for("serve to become ready", lambda: http_json(f"{base}/readyz")[0] == 200, 60)
        status, model = http_json(f"{base}/model")
        assert status == 200 and model["pipeline"] == "imported" and model["imported"]["file"] == "penguins.joblib"
        row = {"island": "Biscoe", "bill_length_mm": 47.5, "bill_depth_mm": 15.0, "flipper_length_mm": 217}
        status, answer = http_json(f"{base}/predict", {"instances": [{**row, "sex": None, "body_mass_g": 5100}]})
        assert status == 200 and answer["predictions"] == ["Gentoo"] and answer["model_version"] == 1
        assert json.dumps(answer["classes"]) == '["Adelie", "Chinstrap", "Gentoo"]'
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=15) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once stopped


def test_holdout_scores_are_those_of_train_evaluate(iris, tmp_path):
    """import-model and train score on the same rows with the same function: an imported copy of v1 scores as v1."""
    train(iris)
    live = load_latest(iris.models_dir)
    path = save(live.model, tmp_path / "copy.joblib")
    result = import_model(iris, str(path))
    assert result.metrics == live.metadata["metrics"] and result.promoted
    assert np.isclose(
        read_metadata(iris.models_dir, 2)["compared_with"]["accuracy"], live.metadata["metrics"]["accuracy"]
    )
