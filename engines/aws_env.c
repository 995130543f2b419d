/* aws_env.c — the AWS client behind an engine env (see aws_env.h). */
#include "aws_env.h"

sf_aws_client *sf_engine_env_aws(const sf_engine_env *env, sf_aws_client **owned)
{
    *owned = NULL;
    if (env && env->aws) return env->aws;
    sf_aws_config cfg = {.max_retries = -1};
    *owned = sf_aws_client_new(&cfg);
    return *owned;
}
