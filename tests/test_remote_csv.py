"""MLSTEPS_DATASET=csv:https://... and csv:s3://...: the learner's CSV read where it lives, with a size limit,
a timeout, and the same checks and sentences as a local file (naming the URL)."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest

from helpers import REPO_ROOT
from mlsteps.cli import main
from mlsteps.load_data.csv_files import read_csv_table
from mlsteps.load_data.sources import fetch

PENGUINS = REPO_ROOT / "src" / "my_ml" / "penguins_sample.csv"
BAD = "x,target\n" + "1,a\n" * 10 + "1e999,b\n"  # line 12 is not a finite number


@pytest.fixture
def web_folder(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/web (where a team would publish its data)."""
    folder = tmp_path / "web"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # the test reads stderr
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def one_sentence(capsys) -> str:
    """The one line the step wrote about its failure (exit 2 at start, or a failed run's log line)."""
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err, err
    (line,) = [line for line in err.splitlines() if "error:" in line or "failed:" in line]
    return line


@pytest.fixture(autouse=True)
def no_stale_log_handler():
    """main() logs to the stderr of its test; afterwards that stream is closed: take its handler away."""
    import logging

    yield
    for handler in logging.getLogger().handlers[:]:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            logging.getLogger().removeHandler(handler)


def test_a_csv_by_url_is_the_same_table_as_the_local_file(settings, web_folder):
    folder, url = web_folder
    (folder / "penguins.csv").write_bytes(PENGUINS.read_bytes())
    by_url = fetch(settings.model_copy(update={"dataset": f"csv:{url}/penguins.csv", "target_column": "species"}), 1)
    local = read_csv_table(PENGUINS, "species")
    assert by_url.source == f"csv:{url}/penguins.csv" and by_url.feature_names == local.feature_names
    assert by_url.X.equals(local.X) and (by_url.y == local.y).all()


def test_a_bad_row_by_url_says_what_a_local_file_says_naming_the_url(settings, web_folder, tmp_path, capsys):
    folder, url = web_folder
    (folder / "bad.csv").write_text(BAD)
    (tmp_path / "bad.csv").write_text(BAD)
    data_dir = str(settings.data_dir)
    assert main(["load-data", "--dataset", f"csv:{tmp_path / 'bad.csv'}", "--data-dir", data_dir]) == 2
    local = one_sentence(capsys)
    assert main(["load-data", "--dataset", f"csv:{url}/bad.csv", "--data-dir", data_dir]) == 2
    remote = one_sentence(capsys)
    assert remote.split(" ", 2)[2] == local.split(" ", 2)[2].replace(str(tmp_path / "bad.csv"), f"{url}/bad.csv")
    assert "line 12, column 'x': '1e999' is not a finite number" in remote


def test_a_missing_or_too_large_file_by_url_is_exit_2(settings, web_folder, monkeypatch, capsys):
    from mlsteps.load_data import remote_csv

    folder, url = web_folder
    data_dir = str(settings.data_dir)
    assert main(["load-data", "--dataset", f"csv:{url}/none.csv", "--data-dir", data_dir]) == 2
    assert f"--dataset csv:{url}/none.csv answered HTTP 404" in one_sentence(capsys)
    (folder / "big.csv").write_text(BAD)
    monkeypatch.setattr(remote_csv, "MAX_CSV_BYTES", 20)
    assert main(["load-data", "--dataset", f"csv:{url}/big.csv", "--data-dir", data_dir]) == 2
    assert "is larger than 20 bytes, the most load-data downloads" in one_sentence(capsys)


def test_a_server_that_does_not_answer_is_exit_1_within_the_timeout(settings, capsys):
    import socket
    import time

    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/data.csv"
        started = time.monotonic()
        code = main(["load-data", "--dataset", f"csv:{url}", "--data-dir", str(settings.data_dir)])
        took = time.monotonic() - started
    assert code == 1 and took < 4 * 5  # bounded by MLSTEPS_STORE_TIMEOUT_SECONDS (below) per network call
    assert f"cannot download csv:{url}" in capsys.readouterr().err


@pytest.fixture(autouse=True)
def short_timeout(monkeypatch):
    monkeypatch.setenv("MLSTEPS_STORE_TIMEOUT_SECONDS", "5")


@pytest.mark.e2e
def test_a_csv_in_a_bucket_is_read_with_the_aws_settings(settings, seaweedfs, monkeypatch, capsys):
    for name, value in seaweedfs.env().items():
        monkeypatch.setenv(name, value)
    seaweedfs.client().put_object(Bucket=seaweedfs.bucket, Key="datasets/penguins.csv", Body=PENGUINS.read_bytes())
    location = f"s3://{seaweedfs.bucket}/datasets/penguins.csv"
    table = fetch(settings.model_copy(update={"dataset": f"csv:{location}", "target_column": "species"}), 1)
    assert table.source == f"csv:{location}" and table.X.equals(read_csv_table(PENGUINS, "species").X)
    missing = f"csv:s3://{seaweedfs.bucket}/datasets/none.csv"
    assert main(["load-data", "--dataset", missing, "--data-dir", str(settings.data_dir)]) == 2
    assert f"--dataset {missing} cannot be read (NoSuchKey)" in one_sentence(capsys)
