"""The volume: all that the steps share, and it knows no step.

`snapshots` (numbered data files that load-data writes and train reads), `registry` (versioned model
folders and the `latest.json` pointer that train moves and serve watches), `prediction_log` (serve's
batches of answers and feedback), `reports` (the monitor's reports and retrain request), all on a `store`
(`local_store` a folder, `s3_store` a bucket; `location` picks one), and `atomic` (whole files only, a
lock, checksums and signatures).
"""
