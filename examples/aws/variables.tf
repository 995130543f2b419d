variable "region" {
  description = "AWS region of the cluster and the lake bucket."
  type        = string
  default     = "us-east-1"
}

variable "lake_bucket" {
  description = "S3 bucket of the data lake (raw/transactions/, reference/; outputs go to curated/)."
  type        = string
}

variable "release_label" {
  description = "EMR release, e.g. emr-7.13.0 (Spark 3.5) or emr-spark-8.0.0 (Spark 4)."
  type        = string
  default     = "emr-7.13.0"
}

variable "core_instance_count" {
  description = "Core nodes; changing it resizes the running cluster."
  type        = number
  default     = 2
}

variable "subnet_id" {
  description = "Subnet to launch the cluster in (null: the default VPC)."
  type        = string
  default     = null
}

variable "service_role" {
  description = "IAM role EMR uses (e.g. EMR_DefaultRole)."
  type        = string
  default     = "EMR_DefaultRole"
}

variable "instance_profile" {
  description = "Instance profile of the cluster's EC2 instances (e.g. EMR_EC2_DefaultRole); it needs read/write on the lake bucket."
  type        = string
  default     = "EMR_EC2_DefaultRole"
}
