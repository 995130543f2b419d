# Dashboards: the quickstart pipeline plus a dbt stage that builds the
# dashboard tables (dags/dbt: monthly trends, savings rate, category trends,
# budget variance, unusual spending) and adds a dbt section to the report.
#
#   .venv/bin/python dags/sample_data/generate.py --out examples/dashboards/lake
#   cd examples/dashboards && terraform init && terraform apply
#   ../../.venv/bin/duckdb lake/finances.duckdb \
#     -c "select month, income, spend, savings_rate from savings_rate order by month"
#   terraform destroy    # stops the cluster; the data and lake/finances.duckdb stay
#
# The dbt stage runs dbt from the project's .venv-dbt (scripts/bootstrap
# makes it). A failing dbt test fails the stage, naming the test, and the
# last good tables stay published.

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
  dbt      = "${abspath(path.module)}/../../dags/dbt"
}

resource "sparkflow_cluster" "dev" {
  name = "finances-dashboards"
  local {
    workers       = 2
    worker_cores  = 1
    worker_memory = "1g"
  }
}

resource "sparkflow_pipeline" "finances" {
  cluster_id = sparkflow_cluster.dev.id
  name       = "household-finances"
  lake       = "file://${local.lake_dir}"
  input      = "raw/transactions"
  reference  = "reference"
  output     = "curated"

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
  stage {
    name   = "dbt"
    script = "${local.jobs}/build_dbt_models.py"
  }

  # The fingerprint covers the stage scripts, not the dbt project they run:
  # a change to a model or test re-runs the pipeline through this hash.
  triggers = {
    dbt_project = sha256(join(",", [
      for f in sort(fileset(local.dbt, "**/*.{sql,yml}")) : filesha256("${local.dbt}/${f}")
    ]))
  }

  catalog {
    database = "finances"
  }
}

output "dbt" {
  description = "dbt's results: models built, tests passed and failed."
  value = {
    for k, v in sparkflow_pipeline.finances.metrics : k => v if startswith(k, "dbt_")
  }
}

output "tables" {
  description = "Every published table, the dbt models included, as views in the DuckDB catalog."
  value       = sparkflow_pipeline.finances.tables
}

output "query" {
  description = "Query the tables with SQL."
  value       = "duckdb ${sparkflow_pipeline.finances.catalog_database}"
}

output "report" {
  description = "The static report, with the dbt section."
  value       = "${local.lake_dir}/curated/report/index.html"
}
