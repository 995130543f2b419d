/* pipeline_identity.c — the identity of a sparkflow_pipeline, and its import
 * by identity.
 *
 * What a pipeline owns outside Terraform is its published outputs: the
 * lake's record at `<lake>/<output>` says which run is published and the
 * fingerprint it was made from.  So the identity is where it publishes
 * (`lake`, `output`) and its `name` (the id, and what names its logs, DAG
 * and default catalog), which records name since one output belongs to
 * one pipeline (older records do not).  Moving the
 * outputs (`lake` or `output` changed in place) moves the identity with
 * them: the identity is declared mutable in place.
 *
 * Import reads that record: the state gets the published run and its
 * fingerprint, nothing else.  A record that names its pipeline (lakes/
 * record.c) must name this one: another pipeline's outputs are not
 * imported under a second name.  The stages, scripts and cluster cannot be
 * recovered from the outputs, so the first plan after an import is an
 * in-place update that records the configuration; it runs nothing when
 * the configuration's fingerprint is the published run's (same scripts,
 * arguments, settings and inputs).  There is no import by id: the three
 * parts would not fit one string without an escaping rule of their own.
 */
#include <stdlib.h>

#include "engines/env.h"
#include "engines/run.h"
#include "lakes/lake.h"
#include "resources/resources.h"

static const sf_identity_attr pipeline_identity_attrs[] = {
    {"name", "string", SF_IDENTITY_REQUIRED, "The pipeline's `name` (its id)."},
    {"lake", "string", SF_IDENTITY_REQUIRED,
     "The pipeline's `lake`, written as in its configuration, e.g. `file:///srv/lake` or `s3://bucket/prefix`."},
    {"output", "string", SF_IDENTITY_REQUIRED,
     "The pipeline's `output`, relative to `lake`: where its tables are published."},
    {NULL},
};

static const char *str(const sf_value *obj, const char *key)
{
    return sf_value_get_str(sf_value_get(obj, key));
}

/* A state with every attribute null but what the identity and the lake's
 * record give; read and the next plan complete it. */
static sf_value *imported_state(const sf_value *identity, const char *output_uri, const sf_published *pub)
{
    sf_type *type = sf_schema_type(sf_resource_pipeline.schema);
    sf_value *state = sf_value_object();
    for (size_t i = 0; i < type->n; i++) sf_value_put(state, type->names[i], sf_value_null());
    sf_type_free(type);
    const char *keys[] = {"name", "lake", "output"};
    for (size_t i = 0; i < 3; i++) sf_value_put(state, keys[i], sf_value_string(str(identity, keys[i])));
    sf_value_put(state, "id", sf_value_string(str(identity, "name")));
    sf_value_put(state, "output_uri", sf_value_string(output_uri));
    sf_value_put(state, "run_id", sf_value_string(pub->run_id));
    sf_value_put(state, "fingerprint", pub->fingerprint ? sf_value_string(pub->fingerprint) : sf_value_null());
    sf_value_put(state, "status", sf_value_string("succeeded"));
    /* What the run did is not in the record: known to be unknown. */
    sf_value_put(state, "stages", sf_value_list());
    sf_value_put(state, "metrics", sf_value_map());
    return state;
}

static sf_value *pipeline_import(sf_call *call, const sf_value *identity, sf_diags *diags)
{
    sf_validate_name(sf_value_get(identity, "name"), "name", diags);
    const sf_lake *lake = sf_lake_for(str(identity, "lake"), "lake", diags);
    if (!lake || sf_diags_has_error(diags)) return NULL;
    char *output_uri = sf_run_lake_uri(str(identity, "lake"), str(identity, "output"));
    sf_lake_env env = sf_engine_env_lake(sf_resources_engine_env(call));
    sf_published pub = {0};
    sf_value *state = NULL;
    if (lake->published(call->ctx, &env, output_uri, &pub, diags) != 0) {
        /* the lake said why */
    } else if (!pub.run_id) {
        sf_diag_error(diags, NULL, "Nothing to import",
                      "No run published by SparkFlow at %s: there is no pipeline \"%s\" to import there. Check "
                      "`lake` and `output` (as written in the pipeline's configuration), or apply the pipeline to "
                      "create it.",
                      output_uri, str(identity, "name"));
    } else if (sf_lake_owned_by_other(pub.pipeline, str(identity, "name"))) {
        sf_diag_error(diags, NULL, "Published by another pipeline",
                      "The run published at %s (run %s) belongs to pipeline \"%s\", not \"%s\": import it under "
                      "that name.",
                      output_uri, pub.run_id, pub.pipeline, str(identity, "name"));
    } else {
        state = imported_state(identity, output_uri, &pub);
    }
    sf_published_clear(&pub);
    free(output_uri);
    return state;
}

const sf_identity_def sf_pipeline_identity = {
    .version = 0,
    .attrs = pipeline_identity_attrs,
    .import = pipeline_import,
    .mutable_in_place = true,
};
