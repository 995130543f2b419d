# A local Airflow is imported by its id, `airflow-` and 12 hex digits (see
# `terraform state show sparkflow_airflow.<name>` where it was created, or
# ~/.sparkflow/airflow/<name>/host.json). Import finds hosts whose work_dir
# is the default one, ~/.sparkflow/airflow/<name>.
terraform import sparkflow_airflow.ops airflow-3f9a1c2b7d4e
