"""Runs many compiled DAGs with real Airflow in one process: for each DAG file of a plan, copies
it alone into the DAGs folder (`dag.test()` re-parses the whole folder on every call), imports it
with `DagBag`, runs it `runs` times with `dag.test()` (what `airflow dags test` calls, without
starting Airflow again for every DAG), and writes one JSON line per DAG: {"dag", "runs":
[outcome.py's outcome of each run], "seconds"}, or {"dag", "error"} when it does not import or
run. AIRFLOW_HOME, the DAGs folder and the database come from the environment.
Used by crates/couler-cli/tests/airflow_decisions.rs. Usage: batch.py PLAN.json OUT.jsonl, where
PLAN.json is [{"file": DAG_FILE, "dag": DAG_ID, "runs": N, "rerun_conf": CONF}, ...] (runs after
the first get CONF as their params)."""
import json
import os
import shutil
import sqlite3
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from outcome import outcome  # noqa: E402

from airflow.configuration import conf  # noqa: E402
from airflow.dag_processing.dagbag import DagBag  # noqa: E402


def run_one(entry, folder, db):
    path = os.path.join(folder, os.path.basename(entry["file"]))
    shutil.copy(entry["file"], path)
    try:
        bag = DagBag(dag_folder=path)
        if bag.import_errors:
            return {"error": "import errors: %s" % bag.import_errors}
        dag = bag.get_dag(entry["dag"])
        if dag is None:
            return {"error": "no DAG %s in %s" % (entry["dag"], entry["file"])}
        runs = []
        for n in range(entry["runs"]):
            run = dag.test(logical_date=None, run_conf=entry.get("rerun_conf") if n else None)
            with sqlite3.connect(db, timeout=60) as con:
                runs.append(outcome(con, entry["dag"], run.run_id))
        return {"runs": runs}
    finally:
        os.remove(path)


def main():
    plan_path, out_path = sys.argv[1], sys.argv[2]
    folder = conf.get("core", "dags_folder")
    db = conf.get("database", "sql_alchemy_conn").removeprefix("sqlite:///")
    with open(plan_path, encoding="utf-8") as f:
        plan = json.load(f)
    with open(out_path, "w", encoding="utf-8") as out:
        for entry in plan:
            started = time.monotonic()
            try:
                line = run_one(entry, folder, db)
            except Exception:
                line = {"error": traceback.format_exc()}
            line["dag"] = entry["dag"]
            line["seconds"] = round(time.monotonic() - started, 3)
            out.write(json.dumps(line) + "\n")
            out.flush()


if __name__ == "__main__":
    main()
