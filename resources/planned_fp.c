/* planned_fp.c — what the last refreshing plan saw of a pipeline's inputs.
 *
 * Terraform's apply phase plans every resource again and requires the new
 * plan to agree with the saved one.  A pipeline's plan hashes files, so
 * when the inputs change between `terraform plan` and `terraform apply`,
 * the second plan would differ and Terraform would blame the provider
 * ("inconsistent final plan").  The plan phase therefore records the
 * fingerprint it planned; the apply phase's plan compares the inputs with
 * that record and refuses with a message that says what happened.
 *
 * Records live in Terraform's data directory (TF_DATA_DIR, default
 * .terraform, relative to the working directory Terraform runs the plugin
 * in): <dir>/sparkflow/plans/<sha256 of pipeline id and output>.json.
 * They are a convenience, never a source of truth: a missing or unreadable
 * record only means the apply phase has nothing to compare with.
 */
#include "resources/planned_fp.h"

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/files.h"
#include "base/str.h"

static char *records_dir(void)
{
    const char *data = getenv("TF_DATA_DIR");
    if (!data || !*data) data = ".terraform";
    return sf_fmt("%s/sparkflow/plans", data);
}

static char *record_path(const char *id, const char *output_uri)
{
    unsigned char digest[32];
    unsigned int len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    EVP_DigestUpdate(md, id, strlen(id) + 1);
    EVP_DigestUpdate(md, output_uri, strlen(output_uri) + 1);
    EVP_DigestFinal_ex(md, digest, &len);
    EVP_MD_CTX_free(md);
    char hex[65];
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    char *dir = records_dir(), *path = sf_fmt("%s/%s.json", dir, hex);
    free(dir);
    return path;
}

int sf_planned_fp_write(const char *id, const char *output_uri, const char *prior_run_id, const char *fingerprint)
{
    char *dir = records_dir(), *path = record_path(id, output_uri);
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "pipeline", id);
    cJSON_AddStringToObject(rec, "output_uri", output_uri);
    if (prior_run_id) cJSON_AddStringToObject(rec, "prior_run_id", prior_run_id);
    else cJSON_AddNullToObject(rec, "prior_run_id");
    cJSON_AddStringToObject(rec, "fingerprint", fingerprint);
    char *text = cJSON_Print(rec);
    cJSON_Delete(rec);
    if (!text) abort();
    int rc = sf_file_mkdirs(dir) == 0 ? sf_file_write_atomic(path, text, strlen(text), 0644) : -1;
    free(text);
    free(path);
    free(dir);
    return rc;
}

char *sf_planned_fp_read(const char *id, const char *output_uri, const char *prior_run_id)
{
    char *path = record_path(id, output_uri);
    char *text = sf_file_read(path);
    free(path);
    if (!text) return NULL;
    cJSON *rec = cJSON_Parse(text);
    free(text);
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(rec, "prior_run_id");
    const cJSON *fp = cJSON_GetObjectItemCaseSensitive(rec, "fingerprint");
    bool same_prior =
        prior_run_id ? cJSON_IsString(run) && strcmp(run->valuestring, prior_run_id) == 0 : cJSON_IsNull(run);
    char *out = same_prior && cJSON_IsString(fp) ? sf_strdup(fp->valuestring) : NULL;
    cJSON_Delete(rec);
    return out;
}
