# Every SparkFlow cluster that still runs, whether or not a state holds it:
#   terraform query
#   terraform query -generate-config-out=generated.tf   # then: terraform plan
list "sparkflow_cluster" "all" {
  provider = sparkflow
}

# Only the local clusters of one project, at most 10 of them, with their
# full resource objects (`terraform query -json` prints them).
list "sparkflow_cluster" "finances" {
  provider         = sparkflow
  include_resource = true
  limit            = 10

  config {
    engine      = "local"
    name_prefix = "finances"
  }
}
