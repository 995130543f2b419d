# Every SparkFlow Airflow host that still runs, whether or not a state holds it:
#   terraform query
#   terraform query -generate-config-out=generated.tf   # then: terraform plan
list "sparkflow_airflow" "all" {
  provider = sparkflow
}

# Only the EC2 hosts of one team, stopped ones included, with their full
# resource objects (`terraform query -json` prints them; never the password).
list "sparkflow_airflow" "team_data" {
  provider         = sparkflow
  include_resource = true

  config {
    host   = "ec2"
    states = ["pending", "running", "stopping", "stopped"]
    tags   = { team = "data" }
  }
}
