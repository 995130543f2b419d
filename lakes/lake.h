/* lake.h — the data lake a pipeline reads and publishes to: storage only.
 *
 * One output belongs to one pipeline: each run record names the pipeline
 * that published it (its `name`), and publish refuses, with a diagnostic
 * at the attribute "output", to replace a run another pipeline published
 * (sf_lake_refuse_other).  Records written before that field existed (or
 * by a writer that does not set it) name nobody and are replaced as before.
 *
 * A lake is a root URI: file:///abs/path (a directory on this machine, or
 * a mount) or s3://bucket/prefix.  The run transaction (engines/run.h)
 * uses it to fingerprint inputs, to give each run a private staging area,
 * and to publish a run's outputs atomically: readers see either the last
 * good outputs or the new ones, never a mix, and a failed or interrupted
 * run leaves the published outputs as they were.  A lake knows nothing of
 * the compute that writes into it: all it gets from the provider is an
 * sf_lake_env.
 */
#ifndef SF_LAKE_H
#define SF_LAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/ctx.h"
#include "provider/diag.h"

/* What a lake gets from the provider's configuration.  Borrowed from the
 * provider; a NULL env, or a NULL member, means "no provider settings":
 * s3:// then makes an AWS client from the environment alone. */
typedef struct sf_lake_env {
    struct sf_aws_client *aws; /* s3://: the client built from the provider block */
} sf_lake_env;

/* The AWS client of `env`; with none (a lake used outside a configured
 * provider), one from the environment alone, which *owned gets and the
 * caller frees (sf_aws_client_free).  Never fails.  (lakes/s3.c; the
 * catalogs of s3:// lakes use it too.) */
struct sf_aws_client *sf_lake_env_aws(const sf_lake_env *env, struct sf_aws_client **owned);

/* What the lake says about the published outputs of a pipeline. */
typedef struct sf_published {
    char *run_id;      /* NULL when nothing is published */
    char *fingerprint; /* the fingerprint the run was made from */
    char *location;    /* the URI of the directory (prefix) holding the
                          published run's files, without a trailing '/':
                          s3://bucket/<output>/_sparkflow/runs/<run>, or
                          file:///<realpath of the run directory>; NULL
                          when nothing is published */
    char *pipeline;    /* the `name` of the pipeline that published it;
                          NULL when the record names none (written before
                          records did, or by another writer) */
} sf_published;

void sf_published_clear(sf_published *p);

/* The fields of a run record as both lakes write it: file://'s
 * _sparkflow_run.json and s3://'s published.json (which adds "prefix"),
 * {"run_id", "fingerprint", "pipeline", "prefix", "published_at"}. */
typedef struct sf_lake_record {
    char *run_id;      /* never NULL in a parsed record */
    char *fingerprint; /* NULL when absent or null */
    char *pipeline;    /* NULL in records written before the field existed */
    char *prefix;      /* s3:// only; NULL when absent */
} sf_lake_record;

void sf_lake_record_clear(sf_lake_record *r);
/* Parses a record: 0, or -1 when `text` is not JSON holding a string
 * "run_id" (*out then empty).  Absent or non-string optional fields are
 * NULL.  Whether run_id is a valid run id is the caller's (lake's) rule. */
int sf_lake_record_parse(const char *text, size_t len, sf_lake_record *out);
/* The JSON of a record, with "published_at" now (malloc'd; NULL members
 * are left out, but a NULL fingerprint is written as null in a record
 * without prefix, as file:// always did).  Never fails. */
char *sf_lake_record_json(const sf_lake_record *r);

/* True when a record naming `owner` belongs to another pipeline than
 * `pipeline`: both known and different. */
bool sf_lake_owned_by_other(const char *owner, const char *pipeline);
/* The error for a pipeline that would replace the run `run_id` that
 * pipeline `owner` published at `output_uri` (path "output"). */
void sf_lake_refuse_other(sf_diags *d, const char *output_uri, const char *pipeline, const char *owner,
                          const char *run_id);

/* Every operation returns 0, or -1 with error diagnostics (warnings may
 * come with 0).  URIs are full ones, of this lake's scheme. */
typedef struct sf_lake sf_lake;
struct sf_lake {
    const char *scheme; /* "file", "s3" */
    /* sha256 over the input objects under `input_uri` (relative names,
     * sizes, mtimes or ETags), as "sha256:<hex>"; *count gets how many. */
    int (*fingerprint)(sf_ctx *ctx, const sf_lake_env *env, const char *input_uri, char **out, int64_t *count,
                       sf_diags *diags);
    /* A fresh staging URI for a run's outputs (*work_uri, malloc'd). */
    int (*stage)(sf_ctx *ctx, const sf_lake_env *env, const char *output_uri, const char *run_id, char **work_uri,
                 sf_diags *diags);
    /* Make the staged outputs the published ones, atomically, recording
     * run_id, fingerprint and `pipeline` (the publishing pipeline's name;
     * NULL: none recorded, nothing checked); the previous outputs are
     * removed after.  Refuses (sf_lake_refuse_other) when the published
     * run belongs to another pipeline, also when that one published while
     * this run was going: nothing of this run is then published, and the
     * run leaves nothing behind but its staging area (for discard). */
    int (*publish)(sf_ctx *ctx, const sf_lake_env *env, const char *output_uri, const char *work_uri,
                   const char *run_id, const char *fingerprint, const char *pipeline, sf_diags *diags);
    /* Drop a staging area (failed/cancelled run).  Missing is success. */
    int (*discard)(sf_ctx *ctx, const sf_lake_env *env, const char *work_uri, sf_diags *diags);
    /* What is published at output_uri (run_id NULL when nothing). */
    int (*published)(sf_ctx *ctx, const sf_lake_env *env, const char *output_uri, sf_published *out, sf_diags *diags);
    /* Remove the published outputs and everything SparkFlow kept for them. */
    int (*remove)(sf_ctx *ctx, const sf_lake_env *env, const char *output_uri, sf_diags *diags);
    /* The bytes free (for an unprivileged writer) and in all of the
     * filesystem holding `uri` (its nearest existing ancestor): what a
     * message says after a run ran out of space.  0, or -1 when it cannot
     * tell.  NULL: the lake has no such limit (S3). */
    int (*disk_space)(const char *uri, uint64_t *avail, uint64_t *total);
};

/* The lakes compiled in (lakes/file.c, lakes/s3.c). */
extern const sf_lake sf_lake_file;
extern const sf_lake sf_lake_s3;

/* The lake for a URI by its scheme, or NULL (with a diagnostic at `path`). */
const sf_lake *sf_lake_for(const char *uri, const char *path, sf_diags *diags);

#endif
