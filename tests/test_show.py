"""`mlsteps show`: a look inside the volume, since snapshots are pickles you cannot `cat`."""

from mlsteps.cli import main


def test_an_empty_volume_says_what_to_run(settings, capsys):
    assert main(["show"]) == 0
    out = capsys.readouterr().out
    assert "no snapshot yet" in out and "(run load-data)" in out and "no model yet" in out


def test_show_lists_the_newest_rows_and_which_model_is_live(settings, capsys):
    for _ in range(2):
        assert main(["bootstrap"]) == 0
    assert main(["rollback", "1"]) == 0
    capsys.readouterr()
    assert main(["show"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("newest snapshot: snapshot-000002.pkl (300 rows x 4 features, classification")
    assert lines[2].split() == ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm", "target"]
    assert len(lines[3].split()) == 5 and lines[8].startswith("models (2 kept, live: v1)")
    assert "v2" in lines[9] and "promoted before" in lines[9] and "LIVE" in lines[11] and "accuracy=" in lines[11]
    assert lines[10].split() == ["onnx:", str((settings.models_dir / "v000002" / "model.onnx").resolve())]


def test_a_clustering_snapshot_has_no_target_column(settings, capsys, monkeypatch):
    monkeypatch.setenv("MLSTEPS_DATASET", "blobs")
    assert main(["bootstrap"]) == 0
    capsys.readouterr()
    main(["show"])
    out = capsys.readouterr().out
    assert out.splitlines()[2].split() == ["x1", "x2"] and "k=4" in out
