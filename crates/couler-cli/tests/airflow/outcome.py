"""Prints what one `airflow dags test` run of a DAG ended with, as JSON, read from Airflow's
SQLite metadata database: {"runId", "state", "tasks": {task_id: [{"mapIndex", "state", "xcom"}]}}
for the DAG's latest run ("state": the DAG run's).
Used by crates/couler-cli/tests/airflow.rs, and as a module by batch.py.
Usage: outcome.py AIRFLOW_DB DAG_ID"""
import json
import sqlite3
import sys


def outcome(con, dag_id, run_id=None):
    """The outcome of run `run_id` of `dag_id` (its latest run when None), or None if none."""
    if run_id is None:
        run = con.execute(
            "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
        ).fetchone()
    else:
        run = con.execute(
            "SELECT run_id, state FROM dag_run WHERE dag_id = ? AND run_id = ?", (dag_id, run_id)
        ).fetchone()
    if run is None:
        return None
    out = {}
    for task_id, map_index, state in con.execute(
        "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = ? AND run_id = ? ORDER BY task_id, map_index",
        (dag_id, run[0]),
    ):
        row = con.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? AND key = 'return_value'",
            (dag_id, run[0], task_id, map_index),
        ).fetchone()
        value = None
        if row is not None and row[0] is not None:
            value = json.loads(row[0])
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
        out.setdefault(task_id, []).append({"mapIndex": map_index, "state": state, "xcom": value})
    return {"runId": run[0], "state": run[1], "tasks": out}


if __name__ == "__main__":
    db, dag_id = sys.argv[1], sys.argv[2]
    found = outcome(sqlite3.connect(db), dag_id)
    if found is None:
        sys.exit(f"no run of DAG {dag_id} in {db}")
    print(json.dumps(found))
