# The quickstart, run through Airflow: a local Spark cluster, Airflow on this
# machine, and the household-finance pipeline as an Airflow DAG
# (sparkflow_household-finances) whose runs apply triggers and follows.
#
#   make demo-airflow    # generates lake/ with sample data, then applies this
#
# or by hand, after `make install` and generating data into ./lake:
#
#   terraform init && terraform apply
#   terraform output -raw airflow_password   # then log in at airflow_url as airflow_user
#   open lake/curated/report/index.html
#   terraform destroy    # stops Spark and Airflow; the data in lake/ and
#                        # Airflow's logs and database (its work_dir) stay
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

variable "lake_dir" {
  description = "Absolute path of the data lake; defaults to ./lake next to this file."
  type        = string
  default     = ""
}

locals {
  lake_dir = var.lake_dir != "" ? var.lake_dir : "${abspath(path.module)}/lake"
  jobs     = "${abspath(path.module)}/../../dags/jobs"
}

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

resource "sparkflow_pipeline" "finances" {
  cluster_id = sparkflow_cluster.dev.id
  name       = "household-finances"
  lake       = "file://${local.lake_dir}"
  input      = "raw/transactions"
  reference  = "reference"
  output     = "curated"

  # Each run is a DAG run of sparkflow_household-finances on this Airflow;
  # a new file in raw/transactions starts one by itself.
  airflow = sparkflow_airflow.ops

  stage {
    name   = "validate"
    script = "${local.jobs}/validate_transactions.py"
  }
  stage {
    name   = "process"
    script = "${local.jobs}/process_transactions.py"
  }
  stage {
    name   = "marts"
    script = "${local.jobs}/build_marts.py"
  }
}

output "master_web_ui" {
  description = "The Spark master's web UI while the cluster runs."
  value       = sparkflow_cluster.dev.web_ui_url
}

output "rows" {
  description = "What the stages counted: rows read, valid, rejected, written..."
  value       = sparkflow_pipeline.finances.metrics
}

output "report" {
  description = "The static report: open it in a browser."
  value       = "${local.lake_dir}/curated/report/index.html"
}

output "tables" {
  description = "Where the published tables are."
  value       = sparkflow_pipeline.finances.output_uri
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

output "dag_runs_url" {
  description = "The pipeline's DAG in the Airflow UI: its runs and their tasks."
  value       = "${sparkflow_airflow.ops.url}/dags/sparkflow_household-finances"
}

output "airflow_dags_folder" {
  description = "Where pipelines put their specs (specs/<pipeline>.json)."
  value       = sparkflow_airflow.ops.details["dags_folder"]
}
