# Run the household-finance pipeline now, whatever its fingerprint says:
#   terraform apply -invoke=action.sparkflow_pipeline_run.now
# (e.g. from a nightly CI schedule). The action and the pipeline are written
# from the same locals, so they run exactly the same thing.
locals {
  finances = {
    name      = "household-finances"
    lake      = "file://${abspath(path.module)}/lake"
    input     = "raw/transactions"
    reference = "reference"
    output    = "curated"
  }
}

resource "sparkflow_pipeline" "finances" {
  cluster_id = sparkflow_cluster.dev.id
  name       = local.finances.name
  lake       = local.finances.lake
  input      = local.finances.input
  reference  = local.finances.reference
  output     = local.finances.output

  stage {
    name   = "validate"
    script = "${path.module}/jobs/validate_transactions.py"
  }

  stage {
    name   = "process"
    script = "${path.module}/jobs/process_transactions.py"
  }
}

action "sparkflow_pipeline_run" "now" {
  config {
    cluster_id = sparkflow_cluster.dev.id
    name       = local.finances.name
    lake       = local.finances.lake
    input      = local.finances.input
    reference  = local.finances.reference
    output     = local.finances.output

    stage {
      name   = "validate"
      script = "${path.module}/jobs/validate_transactions.py"
    }

    stage {
      name   = "process"
      script = "${path.module}/jobs/process_transactions.py"
    }
  }
}
