"""A model trained elsewhere, as a notebook would make it: fit on the penguins sample, save with joblib.

    .venv/bin/python src/my_ml/save_a_model.py penguins.joblib

It stands in for your own file in docs/your-own-model.md ("I already have a model"); mlsteps never
runs it. The pipeline is scikit-learn's user guide on mixed tables, as written.
"""

from __future__ import annotations

import sys
from pathlib import Path

import joblib
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

SAMPLE = Path(__file__).with_name("penguins_sample.csv")


def main(target: str) -> None:
    table = pd.read_csv(SAMPLE).dropna(subset=["species"])
    X, y = table.drop(columns="species"), table["species"]
    prepare = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["island", "sex"]),
        (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), X.columns.difference(["island", "sex"])),
    )
    model = make_pipeline(prepare, LogisticRegression(max_iter=1000)).fit(X, y)
    joblib.dump(model, target)
    print(f"saved {type(model[-1]).__name__} fitted on {len(X)} penguins to {target}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "penguins.joblib")
