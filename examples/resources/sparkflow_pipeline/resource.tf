# The household-finance pipeline: raw bank exports in lake/raw/transactions
# are validated, processed and turned into marts published at lake/curated.
resource "sparkflow_pipeline" "finances" {
  cluster_id = sparkflow_cluster.dev.id
  name       = "household-finances"
  lake       = "file://${abspath(path.module)}/lake"
  input      = "raw/transactions"
  reference  = "reference"
  output     = "curated"

  stage {
    name   = "validate"
    script = "${path.module}/jobs/validate_transactions.py"
    args   = ["--max-reject-rate", "0.2"]
  }

  stage {
    name   = "process"
    script = "${path.module}/jobs/process_transactions.py"
    spark_conf = {
      "spark.sql.shuffle.partitions" = "8"
    }
  }

  stage {
    name   = "marts"
    script = "${path.module}/jobs/build_marts.py"
  }

  # Re-run once a month even when no new export arrived.
  triggers = {
    month = formatdate("YYYY-MM", plantimestamp())
  }

  timeouts {
    create = "2h"
    update = "2h"
  }
}

output "rows" {
  description = "What the stages counted: rows read, valid, rejected, written..."
  value       = sparkflow_pipeline.finances.metrics
}

output "tables" {
  value = sparkflow_pipeline.finances.output_uri
}
