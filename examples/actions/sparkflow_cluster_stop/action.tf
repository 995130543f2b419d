# Stop the cluster as soon as the pipeline's run is done, so that a
# persistent cluster costs nothing between applies; the next
# `terraform apply` starts it again. Also by hand:
#   terraform apply -invoke=action.sparkflow_cluster_stop.after_run
action "sparkflow_cluster_stop" "after_run" {
  config {
    cluster_id = sparkflow_cluster.dev.id
  }
}

resource "terraform_data" "ran" {
  # Replaced whenever the pipeline publishes a new run.
  triggers_replace = sparkflow_pipeline.finances.run_id

  lifecycle {
    action_trigger {
      events  = [after_create]
      actions = [action.sparkflow_cluster_stop.after_run]
    }
  }
}
