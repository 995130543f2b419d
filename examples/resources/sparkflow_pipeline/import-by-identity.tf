# Terraform 1.12 and later: adopt a pipeline whose outputs SparkFlow
# published (after `terraform state rm`, or a lost state) by its identity:
# its name, and its lake and output as written in its configuration.
import {
  to = sparkflow_pipeline.finances
  identity = {
    name   = "household-finances"
    lake   = "file:///srv/household/lake"
    output = "curated"
  }
}
