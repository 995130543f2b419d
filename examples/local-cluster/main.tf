# A Spark standalone cluster on this machine: one master and two workers,
# started from the Spark that the pyspark package ships. No cloud account.
#
#   terraform init
#   terraform apply     # prints master_url and web_ui_url
#   terraform destroy   # stops every process and removes the work dir

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
    worker_memory = "2g"

    # Logs and scratch space (default: ~/.sparkflow/local/<id>). A relative
    # path is relative to the directory Terraform runs in, e.g.:
    # work_dir = "${path.module}/work"
  }
}

output "master_url" {
  description = "Give this to spark-submit --master."
  value       = sparkflow_cluster.dev.master_url
}

output "web_ui_url" {
  description = "The Spark master's web UI."
  value       = sparkflow_cluster.dev.web_ui_url
}
