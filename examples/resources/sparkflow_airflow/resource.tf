# Airflow 3 on this machine: api-server, scheduler, DAG processor and
# triggerer in one process group, listening on 127.0.0.1 only.
resource "sparkflow_airflow" "ops" {
  name = "finances-airflow"

  local {
    parallelism = 2 # task instances at once (one ~130 MB worker each)
  }
}

output "airflow_url" {
  description = "The Airflow UI and REST API."
  value       = sparkflow_airflow.ops.url
}

output "airflow_user" {
  value = sparkflow_airflow.ops.user
}

output "airflow_password" {
  description = "Read it with: terraform output -raw airflow_password"
  value       = sparkflow_airflow.ops.password
  sensitive   = true
}
