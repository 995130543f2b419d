terraform {
  required_providers {
    sparkflow = {
      source = "sparkflow/sparkflow"
    }
  }
}

# The local engine needs no provider settings: Spark runs on this machine.
provider "sparkflow" {}
