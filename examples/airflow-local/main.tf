# Airflow on this machine next to the quickstart's Spark cluster.
#
#   terraform init && terraform apply
#   terraform output -raw airflow_password   # then log in at airflow_url as airflow_user
#   terraform destroy                        # stops both; Airflow's logs and database stay in its work_dir
#
# Airflow runs from .venv-airflow of the source tree the provider was built
# from (scripts/airflow-venv, run by scripts/bootstrap); set airflow_bin to
# use another Airflow 3.

terraform {
  required_providers {
    sparkflow = {
      source = "sparkflow/sparkflow"
    }
  }
}

provider "sparkflow" {}

resource "sparkflow_cluster" "dev" {
  name = "finances-dev"
  local {
    workers       = 2
    worker_cores  = 1
    worker_memory = "1g"
  }
}

resource "sparkflow_airflow" "ops" {
  name = "finances-airflow"

  local {
    # Defaults: work_dir ~/.sparkflow/airflow/<name>, a free loopback port,
    # parallelism 4.
    parallelism = 2
  }
}

output "airflow_url" {
  description = "The Airflow UI and REST API (loopback only)."
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

output "airflow_dags_folder" {
  description = "Where pipelines put their specs (specs/<pipeline>.json)."
  value       = sparkflow_airflow.ops.details["dags_folder"]
}

output "spark_master_url" {
  description = "What the pipelines' Spark tasks submit to."
  value       = sparkflow_cluster.dev.master_url
}
