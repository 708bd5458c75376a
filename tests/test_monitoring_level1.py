"""End to end at level 1, real processes: traffic with feedback, then shifted traffic; the monitor reports
drift, train retrains on request, /monitor shows it; and a real Prometheus (Debian's package) scrapes that
serve, reads the gauges and fires the drift alert of src/monitoring/alert-rules.yaml."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest

from helpers import LAUNCHER, REPO_ROOT, free_port, http_json, need, wait_for
from mlsteps.volume.reports import list_reports, read_report

RULES = REPO_ROOT / "src" / "monitoring" / "alert-rules.yaml"


@pytest.fixture(scope="module")
def level1(tmp_path_factory):
    """The launcher with its four steps; load-data and train wait an hour, so a new model comes only on request."""
    folder = tmp_path_factory.mktemp("level1")
    port = free_port()
    log = (folder / "launcher.log").open("w")
    command = [sys.executable, str(LAUNCHER), "--port", str(port), "--data-dir", str(folder / "volume")]
    command += ["--load-data-every", "3600", "--train-every", "3600", "--monitor-every", "2"]
    process = subprocess.Popen(command, stderr=log, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for("/readyz", lambda: http_json(f"{base}/readyz")[1].get("status") == "ready", 90)
        yield base, port, folder / "volume", folder / "launcher.log"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        log.close()


def traffic(port: int, volume, *flags: str) -> str:
    command = [sys.executable, "-m", "mlsteps", "traffic", "--port", str(port), "--data-dir", str(volume), *flags]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def report(base: str) -> dict:
    return http_json(f"{base}/monitor.json")[1]


@pytest.mark.slow
def test_drift_appears_train_retrains_on_request_and_monitor_shows_it(level1):
    base, port, volume, log_path = level1
    assert "sent 300 requests of rows like the training data" in traffic(port, volume, "--feedback")
    # The monitor runs every 2 s, also while the log's writer is a second behind: wait for every feedback.
    calm = wait_for(
        "a report on 300 rows", lambda: (r := report(base)).get("live_metrics", {}).get("rows") == 300 and r, 30
    )
    assert calm["drift_detected"] is False and not calm["retrain_requested"]
    assert calm["recent"]["rows"] == 300 and calm["live_metrics"]["value"] > 0.9
    version = calm["model_version"]

    traffic(port, volume, "--drift", "--feedback")
    # The monitor runs every 2 s, also while the traffic goes on: wait for a window of shifted rows only.
    drifted = wait_for(
        "a report with drift", lambda: len((r := report(base)).get("drifted_features", [])) == 4 and r, 30
    )
    assert drifted["drift_detected"]
    asked = [read_report(volume / "monitor", name) for name in list_reports(volume / "monitor")]
    asked = [r for r in asked if r["retrain_requested"] and r["model_version"] == version]
    assert asked and asked[0]["reasons"][0].startswith("drift in ")
    wait_for("a model trained on request", lambda: http_json(f"{base}/model")[1].get("version", 0) > version, 60)
    log = log_path.read_text()
    assert "train: asked to run now" in log and "retraining because the monitor asked" in log
    page = urllib.request.urlopen(f"{base}/monitor", timeout=5).read().decode()
    assert "DRIFT" in page and page.count("<svg") == 5
    kept = [read_report(volume / "monitor", name) for name in list_reports(volume / "monitor")]
    assert any(r["live_metrics"]["quality_low"] for r in kept)
    show = subprocess.run(
        [sys.executable, "-m", "mlsteps", "show", "--data-dir", str(volume)], capture_output=True, text=True, timeout=60
    )
    assert "monitor (" in show.stdout and "DRIFT in" in show.stdout


def prometheus_api(port: int, path: str, **query: str) -> dict:
    url = f"http://127.0.0.1:{port}/api/v1/{path}?{urllib.parse.urlencode(query)}"
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())["data"]


@pytest.mark.e2e
@pytest.mark.slow
def test_a_real_prometheus_scrapes_serve_and_fires_the_drift_alert(level1, tmp_path):
    need(
        shutil.which("prometheus") is not None, "Debian's prometheus is not installed (scripts/runtimes/prometheus.sh)"
    )
    base, port, volume, _ = level1
    traffic(port, volume, "--drift", "--feedback", "--requests", "250")
    wait_for("a report with drift", lambda: report(base).get("drift_detected"), 30)
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: [{RULES}]\n"
        f"scrape_configs: [{{job_name: mlsteps-serve, static_configs: [{{targets: ['127.0.0.1:{port}']}}]}}]\n"
    )
    checked = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    web = free_port()
    prometheus = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{web}"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "prometheus.log").open("w"),
    )  # fmt: skip
    try:
        drift = wait_for(
            "Prometheus to scrape the drift gauges",
            lambda: prometheus_api(web, "query", query="mlsteps_feature_drift")["result"],
            60,
        )
        assert {series["metric"]["feature"] for series in drift} == {
            "sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"
        }  # fmt: skip
        assert all(float(series["value"][1]) >= 0.2 for series in drift)
        quality = prometheus_api(web, "query", query="mlsteps_live_quality_low")["result"]
        assert quality and quality[0]["value"][1] in ("0", "1")  # 1 once the live model's own answers are judged

        def firing() -> list[str]:
            alerts = prometheus_api(web, "alerts")["alerts"]
            return [alert["labels"]["alertname"] for alert in alerts if alert["state"] == "firing"]

        assert "MlstepsDriftDetected" in wait_for("the drift alert to fire", firing, 60)
        assert "MlstepsServeNotReady" not in firing()
    finally:
        prometheus.send_signal(signal.SIGTERM)
        prometheus.wait(timeout=30)
