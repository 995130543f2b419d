# A pipeline that pays for compute only while it runs: each run launches
# an EMR cluster with the stages as its steps, and EMR terminates it after
# the last step (or a failed one). No sparkflow_cluster is needed, and
# nothing runs or is billed between runs. `run_cluster { local {} }` does
# the same on this machine: a Spark cluster started for the run, stopped after.
resource "sparkflow_pipeline" "nightly" {
  name      = "household-finances-nightly"
  lake      = "s3://my-finances-lake"
  input     = "raw/transactions"
  reference = "reference"
  output    = "curated"

  run_cluster {
    emr {
      core_instance_type  = "m5.xlarge"
      core_instance_count = 2
      log_uri             = "s3://my-finances-lake/logs/"
    }
  }

  stage {
    name   = "validate"
    script = "${path.module}/jobs/validate_transactions.py"
  }

  stage {
    name   = "process"
    script = "${path.module}/jobs/process_transactions.py"
  }

  stage {
    name   = "marts"
    script = "${path.module}/jobs/build_marts.py"
  }
}
