# AWS: an EMR cluster and the household-finance pipeline on an S3 lake, and
# (airflow.tf) Airflow on one EC2 instance.
#
#   terraform init
#   terraform apply -var lake_bucket=my-finances-lake \
#                   -var subnet_id=subnet-0123 -var service_role=EMR_DefaultRole \
#                   -var instance_profile=EMR_EC2_DefaultRole \
#                   -var allowed_cidr=203.0.113.7/32   # your address, for the Airflow UI
#   terraform destroy    # terminates the cluster and the Airflow instance; the lake stays
#
# The raw bank exports must be in s3://<lake_bucket>/raw/transactions/ and the
# reference data in s3://<lake_bucket>/reference/ (README.md says how to put
# the generated sample there).  Credentials come from the usual AWS chain:
# AWS_PROFILE / ~/.aws, AWS_ACCESS_KEY_ID..., or in GitHub Actions OIDC
# (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE).

terraform {
  required_providers {
    sparkflow = {
      source = "sparkflow/sparkflow"
    }
  }
}

provider "sparkflow" {
  region       = var.region
  default_tags = { project = "finances" }

  # Against moto on this machine (tests/aws, or `moto_server -p 5000`):
  # endpoints {
  #   emr = "http://127.0.0.1:5000"
  #   ec2 = "http://127.0.0.1:5000"
  #   s3  = "http://127.0.0.1:5000"
  #   sts = "http://127.0.0.1:5000"
  #   iam = "http://127.0.0.1:5000"
  #   ssm = "http://127.0.0.1:5000"
  #   sqs = "http://127.0.0.1:5000"
  # }
  # s3_use_path_style = true
}

locals {
  jobs = "${abspath(path.module)}/../../dags/jobs"
}

resource "sparkflow_cluster" "emr" {
  name = "finances"

  emr {
    release_label        = var.release_label
    master_instance_type = "m5.xlarge"
    core_instance_type   = "m5.xlarge"
    core_instance_count  = var.core_instance_count # scales in place
    subnet_id            = var.subnet_id
    service_role         = var.service_role
    instance_profile     = var.instance_profile
    log_uri              = "s3://${var.lake_bucket}/logs/"
    idle_timeout         = "30m" # a forgotten cluster stops costing money
  }

  timeouts {
    create = "40m"
  }
}

resource "sparkflow_pipeline" "finances" {
  cluster_id = sparkflow_cluster.emr.id
  name       = "household-finances"
  lake       = "s3://${var.lake_bucket}"
  input      = "raw/transactions"
  reference  = "reference"
  output     = "curated"

  # To run it as an Airflow DAG on the EC2 Airflow of airflow.tf (a new
  # export in raw/transactions then starts a run by itself, through S3
  # notifications to an SQS queue), uncomment:
  # airflow = sparkflow_airflow.aws

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

  # The published tables land in the Glue database "finances", queried from
  # the Athena workgroup "sparkflow-finances" (10 GiB per-query cutoff).
  catalog {
    database = "finances"
  }

  timeouts {
    create = "2h"
    update = "2h"
  }
}

output "cluster_id" {
  description = "The EMR cluster id (j-...): `terraform import` takes it."
  value       = sparkflow_cluster.emr.id
}

output "spark_web_ui" {
  description = "The cluster's web UI (through an SSH tunnel or the EMR console)."
  value       = sparkflow_cluster.emr.web_ui_url
}

output "rows" {
  description = "What the stages counted: rows read, valid, rejected, written..."
  value       = sparkflow_pipeline.finances.metrics
}

output "report" {
  description = "The static report."
  value       = "${sparkflow_pipeline.finances.output_uri}/report/index.html"
}

output "tables" {
  description = "Where the published tables are."
  value       = sparkflow_pipeline.finances.output_uri
}

output "athena" {
  description = "Query the published tables: Glue database, Athena workgroup, and a first query."
  value = {
    database  = sparkflow_pipeline.finances.catalog_database
    workgroup = sparkflow_pipeline.finances.catalog_workgroup
    example   = "aws athena start-query-execution --work-group ${sparkflow_pipeline.finances.catalog_workgroup} --query-execution-context Database=${sparkflow_pipeline.finances.catalog_database} --query-string 'select month, income, spend from monthly_summary order by month'"
  }
}
