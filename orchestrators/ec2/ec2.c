/* ec2.c — the EC2 Airflow host in the orchestrators table (ec2.h). */
#include "orchestrators/ec2/ec2.h"

static const char *const updatable[] = {"allowed_cidrs", NULL}; /* any other change replaces the instance */

const sf_orchestrator sf_orchestrator_ec2 = {
    .name = "ec2",
    .id_prefix = "i-",
    .spec = &sf_airflow_ec2_block,
    .updatable = updatable,
    .watches_s3 = true,
    .user = SF_EC2_AIRFLOW_USER,
    .host_create = sf_ec2_host_create,
    .host_read = sf_ec2_host_read,
    .host_update = sf_ec2_host_update,
    .host_delete = sf_ec2_host_delete,
    .spec_put = sf_ec2_spec_put,
    .host_list = sf_ec2_host_list,
};
