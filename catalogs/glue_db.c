/* glue_db.c — a pipeline's Glue database (glue.h): the JSON 1.1 calls
 * (target AWSGlue), the database made with SparkFlow's marker and refused
 * without it, the tables it holds, and its removal — our tables, then the
 * database itself only when it is this pipeline's and nothing of anyone
 * else's is left in it (dropping a Glue database drops its tables).
 */
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "catalogs/glue.h"

int sf_glue_call(sf_aws_client *c, sf_ctx *ctx, const char *op, cJSON *body, bool idempotent, cJSON **out,
                 sf_aws_error *err)
{
    int rc = sf_aws_json_call(c, ctx, "glue", "AWSGlue", op, body, idempotent, out, err);
    cJSON_Delete(body);
    return rc;
}

/* A call whose answer is not needed. */
int sf_glue_do(sf_aws_client *c, sf_ctx *ctx, const char *op, cJSON *body, bool idempotent, sf_aws_error *err)
{
    cJSON *out = NULL;
    int rc = sf_glue_call(c, ctx, op, body, idempotent, &out, err);
    cJSON_Delete(out);
    return rc;
}

static const char *param_of(const cJSON *o, const char *key)
{
    return cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "Parameters"), key));
}

/* Made by SparkFlow (for any pipeline). */
static bool managed(const cJSON *o)
{
    const char *m = param_of(o, SF_GLUE_MANAGED);
    return m && strcmp(m, "true") == 0;
}

/* ---- the database --------------------------------------------------------------------- */

/* GetDatabase: 0 with *db, 1 none, -1. */
static int db_get(sf_aws_client *c, sf_ctx *ctx, const char *name, cJSON **db, sf_aws_error *err)
{
    *db = NULL;
    cJSON *body = cJSON_CreateObject(), *out = NULL;
    cJSON_AddStringToObject(body, "Name", name);
    if (sf_glue_call(c, ctx, "GetDatabase", body, true, &out, err) != 0)
        return sf_aws_error_is(err, "EntityNotFoundException") ? 1 : -1;
    *db = cJSON_DetachItemFromObjectCaseSensitive(out, "Database");
    cJSON_Delete(out);
    return 0;
}

static cJSON *db_tags(sf_aws_client *c, const sf_catalog_spec *spec)
{
    const sf_aws_config *cfg = sf_aws_client_config(c);
    cJSON *tags = cJSON_CreateObject();
    for (size_t i = 0; i < cfg->n_default_tags; i++)
        if (strcmp(cfg->default_tags[i].name, SF_GLUE_MANAGED) != 0 &&
            strcmp(cfg->default_tags[i].name, SF_GLUE_PIPELINE) != 0)
            cJSON_AddStringToObject(tags, cfg->default_tags[i].name, cfg->default_tags[i].value);
    cJSON_AddStringToObject(tags, SF_GLUE_MANAGED, "true");
    cJSON_AddStringToObject(tags, SF_GLUE_PIPELINE, spec->pipeline);
    return tags;
}

static int db_create(sf_aws_client *c, sf_ctx *ctx, const sf_catalog_spec *spec, sf_aws_error *err)
{
    cJSON *body = cJSON_CreateObject();
    cJSON *in = cJSON_AddObjectToObject(body, "DatabaseInput");
    cJSON_AddStringToObject(in, "Name", spec->database);
    char *desc = sf_fmt("SparkFlow: the published tables of pipeline %s (%s). Managed by Terraform.", spec->pipeline,
                        spec->output_uri);
    cJSON_AddStringToObject(in, "Description", desc);
    free(desc);
    cJSON *params = cJSON_AddObjectToObject(in, "Parameters");
    cJSON_AddStringToObject(params, SF_GLUE_MANAGED, "true");
    cJSON_AddStringToObject(params, SF_GLUE_PIPELINE, spec->pipeline);
    cJSON_AddItemToObject(body, "Tags", db_tags(c, spec));
    /* Retried like a read: a name makes a second CreateDatabase fail with
     * AlreadyExistsException, which sf_glue_db_ensure takes as "look". */
    return sf_glue_do(c, ctx, "CreateDatabase", body, true, err);
}

/* Whose the database is: NULL when SparkFlow did not make it. */
static const char *db_owner(const cJSON *db)
{
    return managed(db) ? param_of(db, SF_GLUE_PIPELINE) : NULL;
}

/* The database, made when missing; 0 when it is this pipeline's. */
int sf_glue_db_ensure(sf_aws_client *c, sf_ctx *ctx, const sf_catalog_spec *spec, sf_diags *d)
{
    sf_aws_error err = {0};
    cJSON *db = NULL;
    int got = db_get(c, ctx, spec->database, &db, &err);
    if (got == 1) {
        sf_aws_error_clear(&err);
        if (db_create(c, ctx, spec, &err) == 0) {
            sf_log(ctx, SF_LOG_INFO, "catalog: created the Glue database %s", spec->database);
            return 0;
        }
        if (!sf_aws_error_is(&err, "AlreadyExistsException")) {
            sf_glue_diag(d, "catalog.database", &err, "Cannot create the Glue database %s", spec->database);
            return -1;
        }
        sf_aws_error_clear(&err); /* made meanwhile, or by our own call retried: look at it */
        got = db_get(c, ctx, spec->database, &db, &err);
    }
    if (got != 0) {
        sf_glue_diag(d, "catalog.database", &err, "Cannot read the Glue database %s", spec->database);
        return -1;
    }
    const char *owner = db_owner(db);
    int rc = owner && strcmp(owner, spec->pipeline) == 0 ? 0 : -1;
    if (rc != 0)
        sf_diag_error(d, "catalog.database", "Glue database belongs to someone else",
                      "The Glue database \"%s\" exists and was not made by SparkFlow for pipeline \"%s\" (%s%s%s), so "
                      "SparkFlow does not add tables to it. Set catalog.database to a name of its own for this "
                      "pipeline.",
                      spec->database, spec->pipeline, owner ? "it belongs to pipeline \"" : "it has no ",
                      owner ? owner : SF_GLUE_MANAGED " parameter", owner ? "\"" : "");
    cJSON_Delete(db);
    return rc;
}

/* ---- the tables there are -------------------------------------------------------------- */

void sf_glue_tables_clear(sf_glue_tables *h)
{
    for (size_t i = 0; i < h->n; i++) free(h->items[i].name);
    free(h->items);
    *h = (sf_glue_tables){0};
}

sf_glue_had *sf_glue_tables_find(sf_glue_tables *h, const char *name)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->items[i].name, name) == 0) return &h->items[i];
    return NULL;
}

/* Every table of the database (GetTables, all pages). */
int sf_glue_tables_get(sf_aws_client *c, sf_ctx *ctx, const char *db, sf_glue_tables *out, sf_aws_error *err)
{
    *out = (sf_glue_tables){0};
    char *token = NULL;
    do {
        cJSON *body = cJSON_CreateObject(), *answer = NULL;
        cJSON_AddStringToObject(body, "DatabaseName", db);
        if (token) cJSON_AddStringToObject(body, "NextToken", token);
        free(token);
        token = NULL;
        if (sf_glue_call(c, ctx, "GetTables", body, true, &answer, err) != 0) {
            sf_glue_tables_clear(out);
            return -1;
        }
        const cJSON *t, *list = cJSON_GetObjectItemCaseSensitive(answer, "TableList");
        out->items = realloc(out->items, (out->n + (size_t)cJSON_GetArraySize(list) + 1) * sizeof *out->items);
        if (!out->items) abort();
        cJSON_ArrayForEach(t, list) {
            const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "Name"));
            if (name) out->items[out->n++] = (sf_glue_had){.name = sf_strdup(name), .ours = managed(t)};
        }
        token = sf_strdup(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(answer, "NextToken")));
        cJSON_Delete(answer);
    } while (token && *token);
    free(token);
    return 0;
}

int sf_glue_table_delete(sf_aws_client *c, sf_ctx *ctx, const char *db, const char *name, sf_aws_error *err)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "DatabaseName", db);
    cJSON_AddStringToObject(body, "Name", name);
    int rc = sf_glue_do(c, ctx, "DeleteTable", body, true, err);
    if (rc != 0 && sf_aws_error_is(err, "EntityNotFoundException")) {
        sf_aws_error_clear(err);
        rc = 0;
    }
    return rc;
}

/* Our tables dropped, then the database when it is ours and empty. */
int sf_glue_db_remove(sf_aws_client *c, sf_ctx *ctx, const sf_catalog_spec *spec, sf_diags *d)
{
    sf_aws_error err = {0};
    cJSON *db = NULL;
    int got = db_get(c, ctx, spec->database, &db, &err);
    const char *owner = got == 0 ? db_owner(db) : NULL;
    int rc = 0;
    if (got == 1) sf_aws_error_clear(&err);
    else if (got < 0) {
        sf_glue_diag(d, NULL, &err, "Cannot read the Glue database %s", spec->database);
        rc = -1;
    } else if (!owner || strcmp(owner, spec->pipeline) != 0) {
        sf_diag_warning(d, NULL, "Glue database left in place",
                        "The Glue database \"%s\" was not made by SparkFlow for pipeline \"%s\", so SparkFlow did "
                        "not drop it.",
                        spec->database, spec->pipeline);
    } else {
        sf_glue_tables had;
        if (sf_glue_tables_get(c, ctx, spec->database, &had, &err) != 0) {
            sf_glue_diag(d, NULL, &err, "Cannot list the tables of the Glue database %s", spec->database);
            rc = -1;
        } else {
            sf_buf others = {0};
            for (size_t i = 0; i < had.n; i++) {
                if (!had.items[i].ours) {
                    sf_buf_printf(&others, "%s%s", others.len ? ", " : "", had.items[i].name);
                } else if (sf_glue_table_delete(c, ctx, spec->database, had.items[i].name, &err) != 0) {
                    sf_glue_diag(d, NULL, &err, "Cannot drop the Glue table %s.%s", spec->database, had.items[i].name);
                    rc = -1;
                }
            }
            if (others.len) {
                sf_diag_warning(d, NULL, "Glue database left in place",
                                "SparkFlow dropped its tables from the Glue database %s but not the database: it "
                                "holds tables SparkFlow did not make (%s).",
                                spec->database, others.data);
            } else if (rc == 0) {
                cJSON *body = cJSON_CreateObject();
                cJSON_AddStringToObject(body, "Name", spec->database);
                if (sf_glue_do(c, ctx, "DeleteDatabase", body, true, &err) != 0 &&
                    !sf_aws_error_is(&err, "EntityNotFoundException")) {
                    sf_glue_diag(d, NULL, &err, "Cannot drop the Glue database %s", spec->database);
                    rc = -1;
                } else {
                    sf_log(ctx, SF_LOG_INFO, "catalog: dropped the Glue database %s", spec->database);
                }
                sf_aws_error_clear(&err);
            }
            sf_buf_free(&others);
            sf_glue_tables_clear(&had);
        }
    }
    cJSON_Delete(db);
    return rc;
}
