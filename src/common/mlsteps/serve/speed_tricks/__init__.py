"""serve's speed tricks: the same answers as the plain FastAPI path, computed faster.

Each trick is optional and the answers never depend on it (tests/test_speed_tricks.py compares both
paths); MLSTEPS_SPEED_TRICKS=false turns all of them off. `predict_shortcut` (POST /predict without
FastAPI's per-request routing), `plain_rows` (plain rows of numbers read by orjson), `linear_scorer`
(linear pipelines scored with numpy alone, a few rows in plain Python). docs/concepts.md ("Serving
speed") has each one's figure.
"""
