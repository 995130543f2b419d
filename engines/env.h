/* env.h — the provider-level settings engines and lakes get.
 *
 * ConfigureProvider hands the provider block to sf_engine_env_new, which
 * builds what the engines need from it (today: the AWS client of the emr
 * engine and of s3:// lakes, engines/aws_env.c) and checks it.  The provider
 * keeps the env for its lifetime and hands it to every engine call; a lake
 * gets its own view of it (sf_engine_env_lake).  The local engine and the
 * file:// lake ignore it.
 */
#ifndef SF_ENGINE_ENV_H
#define SF_ENGINE_ENV_H

#include <stdbool.h>

#include "engines/engine.h"
#include "lakes/lake.h"

/* The env of the provider block `config` (an object of the provider
 * schema's type).  With `aws_configured` (the block has an AWS setting),
 * credentials that do not work are an error; with AWS settings only in the
 * environment they are a warning (a laptop with AWS_PROFILE set, running
 * only local clusters, must still plan offline).  NULL with error
 * diagnostics; free with sf_engine_env_free. */
sf_engine_env *sf_engine_env_new(sf_ctx *ctx, const sf_value *config, bool aws_configured, sf_diags *diags);
void sf_engine_env_free(sf_engine_env *env);

/* What a lake gets of `env` (which may be NULL): borrowed from it. */
sf_lake_env sf_engine_env_lake(const sf_engine_env *env);

#endif
