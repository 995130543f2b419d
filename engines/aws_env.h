/* aws_env.h — the AWS side of the engine env (engines/env.h): what the emr
 * engine gets from the provider block.
 *
 * sf_engine_env is opaque to resources (engine.h); for AWS it is the
 * client built from the provider block (region, credentials chain,
 * endpoints, default tags, retries).  engines/emr/ reads it; s3:// lakes get
 * the same client through sf_engine_env_lake.
 */
#ifndef SF_AWS_ENV_H
#define SF_AWS_ENV_H

#include "aws/aws.h"
#include "engines/env.h"

struct sf_engine_env {
    sf_aws_client *aws; /* owned */
    bool aws_set;       /* AWS settings in the provider block or the environment */
};

/* The AWS client of `env`.  With no env (a caller that has none), a client
 * from the environment alone is made: *owned gets it and the caller frees
 * it with sf_aws_client_free.  Never fails. */
sf_aws_client *sf_engine_env_aws(const sf_engine_env *env, sf_aws_client **owned);
/* Whether the provider has AWS settings (its block or the environment):
 * what decides that `terraform query` looks at EMR unasked. */
bool sf_engine_env_aws_set(const sf_engine_env *env);

#endif
