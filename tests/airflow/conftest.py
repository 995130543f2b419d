"""Shared setup of the Airflow suite.  The paths, and the DAG factory's
package on sys.path, come from airflow_env (imported here first, so that
every test module finds sparkflow_airflow); the DAG tests run Airflow from
.venv-airflow as a subprocess."""

from __future__ import annotations

import pytest

from airflow_env import AirflowHome


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> AirflowHome:
    """One migrated AIRFLOW_HOME for every DAG test of the session (a
    migration costs seconds); a test that needs more environment sets
    `extra_env` and resets it."""
    home = AirflowHome(tmp_path_factory.mktemp("airflow"))
    home.migrate()
    return home
