# A cluster is imported by its id: `local-` and 12 hex digits for a local
# cluster (see `terraform state show sparkflow_cluster.<name>` where it was
# created, or the file names under ~/.sparkflow/local/), or the EMR cluster id
# (`j-…`) for an emr cluster.
terraform import sparkflow_cluster.dev local-3f9a1c2b7d4e
