# Quickstart: a local Spark cluster and the household-finance pipeline.
#
#   make demo            # generates lake/ with sample data, then applies this
#
# or by hand, after `make install` and generating data into ./lake:
#
#   terraform init && terraform apply
#   open lake/curated/report/index.html
#   duckdb lake/finances.duckdb -c "select * from monthly_summary"
#   terraform destroy    # stops the cluster; the data in lake/ stays

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

  # Every published table becomes a view in lake/finances.duckdb:
  #   .venv/bin/duckdb examples/quickstart/lake/finances.duckdb \
  #     -c "select month, income, spend from monthly_summary order by month"
  catalog {
    database = "finances"
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

output "query" {
  description = "Query the published tables with SQL (DuckDB)."
  value       = "duckdb ${sparkflow_pipeline.finances.catalog_database}"
}
