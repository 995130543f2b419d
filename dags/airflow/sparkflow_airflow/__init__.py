"""SparkFlow's Airflow side: pipeline specs (spec), the lake contract (lake), the DAG
builder (dags) and the input trigger (trigger).  dags/airflow/README.md explains them."""
