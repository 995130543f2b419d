# Terraform 1.12 and later: import a running cluster by its identity, its id
# (`local-` and 12 hex digits, or the EMR cluster id `j-…`), next to the
# resource block that will manage it.
import {
  to = sparkflow_cluster.dev
  identity = {
    id = "local-3f9a1c2b7d4e"
  }
}
