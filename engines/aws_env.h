/* aws_env.h — what the provider hands the AWS engine and the S3 lake.
 *
 * sf_engine_env is opaque to resources (engine.h); for AWS it is the
 * client built from the provider block (region, credentials chain,
 * endpoints, default tags, retries).  Shared by engines/emr/ and
 * engines/lake_s3.c.
 */
#ifndef SF_AWS_ENV_H
#define SF_AWS_ENV_H

#include "aws/aws.h"
#include "engines/aws_diag.h" /* TRANSITIONAL: for engines/lake_s3.c until it includes it */
#include "engines/engine.h"

struct sf_engine_env {
    sf_aws_client *aws; /* owned */
};

/* The AWS client of `env`.  With no env (a caller that has none, e.g. a
 * lake read outside a run), a client from the environment alone is made:
 * *owned gets it and the caller frees it with sf_aws_client_free.  Never
 * fails. */
sf_aws_client *sf_engine_env_aws(const sf_engine_env *env, sf_aws_client **owned);

#endif
