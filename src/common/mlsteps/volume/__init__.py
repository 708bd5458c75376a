"""The volume: all that the steps share, and it knows no step.

`snapshots` (numbered data files that load-data writes and train reads), `registry` (versioned model
folders and the `latest.json` pointer that train moves and serve watches), `atomic` (whole files only,
a lock, checksums and signatures).
"""
