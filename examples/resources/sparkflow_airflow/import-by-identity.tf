# Terraform 1.12 and later: import a running Airflow by its identity, its id
# (`airflow-` and 12 hex digits locally, the instance id `i-…` on EC2), next
# to the resource block that will manage it.
import {
  to = sparkflow_airflow.ops
  identity = {
    id = "airflow-3f9a1c2b7d4e"
  }
}
