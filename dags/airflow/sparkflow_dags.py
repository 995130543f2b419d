"""SparkFlow's DAG factory: one DAG per pipeline spec in specs/ beside this file.

The provider writes `specs/<pipeline>.json` (dags/airflow/README.md) and
asks Airflow to reparse this file.  A spec that cannot be used is logged
(the DAG processor's log for this file) and skipped: raising would make the
whole file an import error and stop every other pipeline.  The provider
checks a spec before writing it and, after the reparse, that its DAG exists.
SPARKFLOW_SPECS_DIR overrides the folder (tests).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sparkflow_airflow.dags import build_dag
from sparkflow_airflow.spec import load_specs

SPECS_DIR = Path(os.environ.get("SPARKFLOW_SPECS_DIR") or Path(__file__).resolve().parent / "specs")

_specs, _errors = load_specs(SPECS_DIR)
for _error in _errors:
    logging.getLogger(__name__).error("sparkflow: spec skipped: %s", _error)
for _spec in _specs:
    globals()[_spec.dag_id] = build_dag(_spec)
