"""The monitor step: each statistic on known distributions, the report, the retrain request and train honouring it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import numpy as np
import pytest
from fastapi.testclient import TestClient

from helpers import volume_read, wait_for
from mlsteps.cli import main
from mlsteps.monitor import monitor
from mlsteps.monitor.statistics import drifts, numeric_drift, psi, text_drift
from mlsteps.traffic import shifted
from mlsteps.volume.location import models_area, monitor_area, snapshots_area
from mlsteps.volume.registry import list_versions
from mlsteps.volume.reports import list_reports, read_latest_report, read_retrain_request, request_retrain
from mlsteps.volume.snapshots import list_snapshots, read_snapshot

DEFAULTS = {"psi_threshold": 0.2, "p_threshold": 0.01}  # the settings' defaults (tests/test_config checks them)


@pytest.fixture
def settings(volume_settings):
    """The step's tests run twice: the log and the reports in a local folder, and in an S3 bucket (SeaweedFS)."""
    return volume_settings


# -- the statistics on known distributions ----------------------------------------------------------


def test_psi_is_the_textbook_sum():
    # (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5)
    assert psi(np.array([0.5, 0.5]), np.array([0.25, 0.75])) == pytest.approx(0.25 * np.log(2) + 0.25 * np.log(1.5))
    assert psi(np.array([0.2] * 5), np.array([0.2] * 5)) == 0


@pytest.mark.parametrize("seed", range(5))
def test_two_samples_of_one_normal_distribution_do_not_drift(seed):
    rng = np.random.default_rng(seed)
    result = numeric_drift(rng.normal(10, 2, 300), rng.normal(10, 2, 500))
    assert result["psi"] < 0.2 and not drifts(result, **DEFAULTS)


@pytest.mark.parametrize("seed", range(5))
def test_a_shift_of_one_standard_deviation_drifts(seed):
    rng = np.random.default_rng(seed)
    result = numeric_drift(rng.normal(10, 2, 300), rng.normal(12, 2, 500))
    assert result["psi"] > 0.2 and result["p_value"] < 1e-6 and drifts(result, **DEFAULTS)
    assert result["test"] == "Kolmogorov-Smirnov" and sum(result["recent_shares"]) == pytest.approx(1)


def test_missing_values_are_left_out_and_a_constant_column_cannot_drift():
    rng = np.random.default_rng(0)
    with_gaps = rng.normal(0, 1, 400)
    with_gaps[::4] = np.nan
    assert not drifts(numeric_drift(rng.normal(0, 1, 300), with_gaps), **DEFAULTS)
    assert numeric_drift(np.ones(100), np.ones(300))["psi"] == 0


@pytest.mark.parametrize("seed", range(5))
def test_text_drifts_when_the_mix_of_categories_changes_and_not_otherwise(seed):
    rng = np.random.default_rng(seed)
    islands = ["Biscoe", "Dream", "Torgersen", None]
    reference = rng.choice(islands, 300, p=[0.5, 0.3, 0.15, 0.05]).tolist()
    same = rng.choice(islands, 500, p=[0.5, 0.3, 0.15, 0.05]).tolist()
    moved = rng.choice(islands, 500, p=[0.1, 0.2, 0.65, 0.05]).tolist()
    assert not drifts(text_drift(reference, same), **DEFAULTS)
    result = text_drift(reference, moved)
    assert result["test"] == "chi-squared" and drifts(result, **DEFAULTS)
    assert "(missing)" in result["bins"] and result["bins"][-1] == "(other)"


def test_a_category_never_seen_in_training_counts_as_other():
    result = text_drift(["a", "b"] * 150, ["zebra"] * 300)
    assert result["recent_shares"][-1] == 1.0 and drifts(result, **DEFAULTS)


# -- the step ---------------------------------------------------------------------------------------


def send(client, table, drift: bool, rows: int = 250, seed: int = 0) -> None:
    """One-row requests like the training data (or shifted), each with its true answer as feedback."""
    X = shifted(table.X) if drift else table.X
    for i in np.random.default_rng(seed).integers(0, len(X), rows):
        answer = client.post("/predict", json={"instances": [X.iloc[i].tolist()]}).json()
        client.post("/feedback", json={"request_id": answer["request_id"], "actual": [str(table.y[i])]})
    client.app.state.prediction_log.flush()


def newest_table(settings):
    data = snapshots_area(settings)
    return read_snapshot(data, list_snapshots(data)[-1])[0]


@pytest.fixture
def served(trained):
    from mlsteps.serve import create_app

    table = newest_table(trained)
    with TestClient(create_app(trained)) as client:
        yield trained, client, table


def test_no_live_model_means_nothing_to_monitor_exit_0(settings, capsys):
    assert main(["monitor"]) == 0
    assert "nothing to monitor" in capsys.readouterr().err and read_latest_report(monitor_area(settings)) is None


def test_too_few_rows_give_no_verdict(served):
    settings, client, table = served
    send(client, table, drift=False, rows=20)
    report = monitor(settings)
    assert report["drift_detected"] is None and report["features"] == {} and "too few" in report["verdict"]
    assert not report["retrain_requested"] and report["recent"]["rows"] == 20


def test_traffic_like_the_training_data_reports_no_drift_and_good_quality(served):
    settings, client, table = served
    send(client, table, drift=False)
    report = monitor(settings)
    assert report["drift_detected"] is False and not report["retrain_requested"]
    assert set(report["features"]) == set(table.feature_names) and report["reference"]["the_models_own"]
    quality = report["live_metrics"]
    assert quality["metric"] == "accuracy" and quality["rows"] == 250 and quality["value"] > 0.9
    assert sum(report["answers"]["counts"].values()) == 250
    assert read_retrain_request(monitor_area(settings)) is None


def test_shifted_traffic_drifts_asks_for_retraining_once_and_train_honours_it(served, caplog):
    settings, client, table = served
    send(client, table, drift=True)
    report = monitor(settings)
    assert report["drift_detected"] and report["drifted_features"] == table.feature_names
    assert report["live_metrics"]["quality_low"] and report["retrain_requested"]
    request = read_retrain_request(monitor_area(settings))
    assert request["model_version"] == 1 and request["reasons"][0].startswith("drift in ")
    assert monitor(settings)["retrain_note"] == "already asked for this version"  # once per live version
    assert read_retrain_request(monitor_area(settings)) == request and len(list_reports(monitor_area(settings))) == 2
    from mlsteps.train import train

    caplog.set_level("INFO", logger="mlsteps.train")
    train(settings)
    assert "retraining because the monitor asked" in caplog.text and "drift in" in caplog.text
    assert read_retrain_request(monitor_area(settings)) is None and list_versions(models_area(settings)) == [1, 2]
    again = monitor(settings)  # v2 answered none of the drifted rows: no request until it answered enough
    assert again["model_version"] == 2 and again["drift_detected"] and not again["retrain_requested"]
    assert (
        "v2 answered 0 of these rows" in again["retrain_note"] and read_retrain_request(monitor_area(settings)) is None
    )


def test_a_scheduled_train_runs_on_its_next_tick_when_the_monitor_asks(trained):
    process = subprocess.Popen(
        [sys.executable, "-m", "mlsteps", "train", "--every", "3600"], stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for("the scheduled first run", lambda: len(list_versions(models_area(trained))) == 2, 60)
        request_retrain(monitor_area(trained), {"requested_at": "now", "model_version": 2, "reasons": ["a test"]})
        wait_for("a run before the hour is up", lambda: len(list_versions(models_area(trained))) == 3, 30)
    finally:
        process.send_signal(signal.SIGTERM)
        log = process.communicate(timeout=10)[1]
    assert "asked to run now" in log and "retraining because the monitor asked at now (live model v2): a test" in log
    assert read_retrain_request(monitor_area(trained)) is None


def test_the_report_is_json_on_the_volume_and_show_prints_its_verdict(served, capsys):
    settings, client, table = served
    send(client, table, drift=True)
    monitor(settings)
    assert json.loads(volume_read(settings, "monitor/latest.json"))["drift_detected"] is True
    assert main(["show"]) == 0
    out = capsys.readouterr().out
    assert "monitor (" in out and "DRIFT in" in out and "retrain requested at" in out


def test_the_window_is_the_newest_rows(served):
    settings, client, table = served
    send(client, table, drift=False, rows=50)
    send(client, table, drift=True, rows=30)
    report = monitor(settings.model_copy(update={"monitor_window_rows": 30, "monitor_min_rows": 10}))
    assert report["recent"]["rows"] == 30 and report["drift_detected"]  # only the shifted ones


# -- what a learner sees in serve ---------------------------------------------------------------------


def test_serve_shows_the_newest_report_as_json_a_page_and_gauges(trained, make_app):
    table = newest_table(trained)
    with TestClient(make_app(trained.model_copy(update={"reload_seconds": 0.1}))) as client:
        assert client.get("/monitor.json").status_code == 404 and client.get("/monitor").status_code == 404
        send(client, table, drift=False)
        monitor(trained)
        send(client, table, drift=True)
        monitor(trained)
        wait_for(
            "serve to read the new report", lambda: client.get("/monitor.json").json().get("retrain_requested"), 10
        )
        report = client.get("/monitor.json").json()
        page = client.get("/monitor").text
        metrics = client.get("/metrics").text
    assert report["drift_detected"] is True and set(report["features"]) == set(table.feature_names)
    assert {"psi", "p_value", "drift"} <= set(report["features"]["petal_length_cm"]) and report["live_metrics"]["rows"]
    assert page.count("<svg") == len(table.feature_names) + 1 and "DRIFT" in page and "2 reports" in page
    assert 'mlsteps_feature_drift{feature="petal_length_cm"}' in metrics and "mlsteps_drift_detected 1.0" in metrics
    assert (
        'mlsteps_live_quality{metric="accuracy"}' in metrics and "mlsteps_monitor_report_timestamp_seconds" in metrics
    )


def test_the_page_escapes_what_it_reads_from_the_volume():
    from mlsteps.serve.monitor_view import render

    report = {"model_version": 1, "verdict": "<script>x</script>", "features": {"<b>": {"psi": 0.1, "bins": ["<i>"]}}}
    page = render(report, [])
    assert "<script>" not in page and "&lt;script&gt;" in page and "<b>&lt;b&gt;</b>" in page


def test_traffic_without_a_snapshot_is_exit_2_and_without_serve_exit_1(settings, capsys):
    assert main(["traffic", "--requests", "3"]) == 2
    assert "there is no snapshot" in capsys.readouterr().err
    assert main(["load-data"]) == 0
    from helpers import free_port

    assert main(["traffic", "--requests", "3", "--port", str(free_port())]) == 1
    assert "0 of 3 requests answered" in capsys.readouterr().out


def test_a_bad_threshold_is_one_sentence_exit_2(settings, capsys, monkeypatch):
    monkeypatch.setenv("MLSTEPS_DRIFT_P_VALUE", "2")
    assert main(["monitor"]) == 2
    assert capsys.readouterr().err == "mlsteps monitor: error: MLSTEPS_DRIFT_P_VALUE='2' must be less than 1.\n"


def test_no_snapshot_to_compare_with_is_one_line_exit_1(trained, capsys):
    data = snapshots_area(trained)
    for name in list(data.names()):
        data.store.delete(data.key(name))
    assert main(["monitor"]) == 1
    assert "no snapshot in" in capsys.readouterr().err
