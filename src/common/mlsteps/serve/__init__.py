"""The serve step: a FastAPI app answering predictions from the newest promoted model.

Read in this order: `app` (the app, built from its parts, and the step), `routes` (the endpoints;
`api_key` guards the data ones when MLSTEPS_API_KEY is set, `home_page` fills `templates/home.html`),
`request_body` (what /predict accepts), `scoring` (the model's answers), `live_model` (which model
answers, swapped when the volume's pointer moves), `served_model` and `acceptance` (a model loaded, and
tried before it goes live), `responses` (what each route answers), `metrics` (Prometheus).
Watching the model: `prediction_log` (each answer queued and written in batches), `feedback` (POST
/feedback), `live_report` and `monitor_view` (the monitor's newest report: /monitor, /monitor.json).
`speed_tricks/` makes the same answers faster; MLSTEPS_SPEED_TRICKS=false turns every trick off.
"""

from mlsteps.serve.app import create_app, run_server

__all__ = ["create_app", "run_server"]
