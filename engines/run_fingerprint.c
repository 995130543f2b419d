/* run_fingerprint.c — the fingerprint of a pipeline (run.h): one sha256 over
 * everything that determines its outputs, so that a pipeline runs again
 * exactly when one of them changed.
 *
 * Fed in this order, each string followed by a NUL (a missing one by 0xff):
 * the locations ("lake", "input", "output", "reference" and their values);
 * per stage "stage" + its name, the script's bytes, "args" + each argument,
 * "spark_conf" + each key and value; then "input" and "reference" with the
 * lake's fingerprint of that data.  Changing this order or these labels
 * changes every recorded fingerprint, and so re-runs every pipeline.
 */
#include "engines/run.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"

static void hash_str(EVP_MD_CTX *md, const char *label, const char *s)
{
    EVP_DigestUpdate(md, label, strlen(label) + 1);
    if (s) EVP_DigestUpdate(md, s, strlen(s) + 1);
    else EVP_DigestUpdate(md, "\xff", 1);
}

static int hash_file(EVP_MD_CTX *md, const char *path, const char *attr_path, sf_diags *diags)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        sf_diag_error(diags, attr_path, "Script not found",
                      "Cannot read the stage script \"%s\": %m. Paths are relative to the directory "
                      "Terraform runs in; `${path.module}/...` avoids surprises.",
                      path);
        return -1;
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) EVP_DigestUpdate(md, buf, n);
    fclose(f);
    return 0;
}

static void hash_stage(EVP_MD_CTX *md, const sf_run_stage *st)
{
    hash_str(md, "args", NULL);
    for (size_t k = 0; k < st->n_args; k++) hash_str(md, "", st->args[k]);
    hash_str(md, "spark_conf", NULL);
    for (size_t k = 0; k < st->n_conf; k++) hash_str(md, st->conf[k].key, st->conf[k].value);
}

/* Feeds the lake's fingerprint of the data at `rel` (the pipeline's
 * `input` or `reference`); diagnostics go to that attribute.  0 or -1. */
static int hash_data(EVP_MD_CTX *md, sf_ctx *ctx, const sf_lake *lake, const sf_lake_env *env, const sf_run_pipeline *p,
                     const char *attr, const char *rel, sf_diags *diags)
{
    bool reference = strcmp(attr, "reference") == 0;
    char *uri = sf_run_lake_uri(p->lake, rel);
    char *fp = NULL;
    int64_t count = 0;
    sf_diags local;
    sf_diags_init(&local);
    int rc = lake->fingerprint(ctx, env, uri, &fp, &count, &local);
    if (rc != 0 && reference) {
        /* The lake speaks of inputs; say which setting points here. */
        sf_diags_clear(&local);
        sf_diag_error(&local, NULL, "Reference data not found",
                      "%s cannot be read. Set `reference` (relative to `lake`) to the folder that holds "
                      "accounts.csv, rules.csv and budgets.csv.",
                      uri);
    }
    if (rc == 0 && count == 0 && !reference)
        sf_diag_warning(&local, NULL, "No input files", "%s holds no files: the pipeline will run on empty input.",
                        uri);
    sf_diags_move(diags, &local, attr);
    hash_str(md, attr, fp);
    free(fp);
    free(uri);
    return rc;
}

char *sf_run_fingerprint(sf_ctx *ctx, const sf_lake_env *env, const sf_run_pipeline *p, sf_diags *diags)
{
    const sf_lake *lake = sf_lake_for(p->lake, "lake", diags);
    if (!lake) return NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    hash_str(md, "lake", p->lake);
    hash_str(md, "input", p->input);
    hash_str(md, "output", p->output);
    hash_str(md, "reference", p->reference);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < p->n_stages; i++) {
        char *path = sf_fmt("stage[%zu].script", i);
        hash_str(md, "stage", p->stages[i].name);
        rc = hash_file(md, p->stages[i].script, path, diags);
        hash_stage(md, &p->stages[i]);
        free(path);
    }
    if (rc == 0) rc = hash_data(md, ctx, lake, env, p, "input", p->input, diags);
    if (rc == 0) rc = hash_data(md, ctx, lake, env, p, "reference", p->reference, diags);
    unsigned char digest[32];
    EVP_DigestFinal_ex(md, digest, NULL);
    EVP_MD_CTX_free(md);
    if (rc != 0) return NULL;
    char hex[65];
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return sf_fmt("sha256:%s", hex);
}
