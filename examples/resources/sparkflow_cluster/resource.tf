# A Spark standalone cluster on this machine: one master, two workers.
resource "sparkflow_cluster" "dev" {
  name = "finances-dev"

  local {
    workers       = 2 # the only setting that changes in place
    worker_cores  = 1
    worker_memory = "2g"
  }

  timeouts {
    create = "10m"
  }
}

output "spark_master_url" {
  description = "What spark-submit --master takes."
  value       = sparkflow_cluster.dev.master_url
}

output "spark_web_ui" {
  value = sparkflow_cluster.dev.web_ui_url
}
