# The Airflow that runs the pipelines, on one EC2 instance (docker compose:
# LocalExecutor + Postgres).  Nothing is needed in the account beyond the
# lake bucket and your address:
#
#   terraform apply -var lake_bucket=my-finances-lake -var allowed_cidr=203.0.113.7/32
#   terraform output -raw airflow_password
#
# The provider uploads the DAG bundle to s3://<lake_bucket>/airflow/, creates
# a role + instance profile (the lake bucket, EMR steps on sparkflow-managed
# clusters, its logs, its own password parameter) and a security group that
# admits the UI port from allowed_cidr only, and waits until Airflow reports
# healthy.  The instance powers itself off (and so terminates) after
# max_lifetime; the next plan then proposes to create it again.
# `terraform destroy` terminates it and removes what was created for it.

variable "allowed_cidr" {
  description = "The address allowed to reach the Airflow UI and API, as a CIDR (your IP: 203.0.113.7/32)."
  type        = string
}

resource "sparkflow_airflow" "aws" {
  name = "finances"

  ec2 {
    dag_bundle    = "s3://${var.lake_bucket}/airflow/"
    allowed_cidrs = [var.allowed_cidr]
    subnet_id     = var.subnet_id # a public subnet, to reach the UI
    max_lifetime  = "12h"         # cost guard
  }
}

output "airflow_url" {
  description = "Airflow's UI and REST API (user: airflow_user)."
  value       = sparkflow_airflow.aws.url
}

output "airflow_user" {
  value = sparkflow_airflow.aws.user
}

output "airflow_password" {
  description = "terraform output -raw airflow_password"
  value       = sparkflow_airflow.aws.password
  sensitive   = true
}

output "airflow_instance" {
  description = "The EC2 instance running Airflow."
  value       = sparkflow_airflow.aws.id
}
