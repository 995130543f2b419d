"""Shared code of the SparkFlow household-finance jobs.

The three job scripts next to this package (validate_transactions.py,
process_transactions.py, build_marts.py) are thin: they parse the provider's
command line through `contract`, and call the pure DataFrame functions in
`validate`, `process` and `marts`.  Keeping the rules here as plain
functions of DataFrames lets the tests exercise every rule on small in-memory
data without running a whole job.

On a cluster where the script's directory is not on local disk (EMR steps
pull the script from S3), ship this package with
`--py-files sparkflow_jobs.zip` (zip the folder from dags/jobs/).
"""

__all__ = ["contract", "formats", "reference", "validate", "process", "marts", "report"]
