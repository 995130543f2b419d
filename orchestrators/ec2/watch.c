/* watch.c — a pipeline's spec on an EC2 host (spec_put).
 *
 * The spec goes to <dag_bundle>/specs/<pipeline>.json; the instance syncs
 * the bundle every minute and the DAG factory builds the pipeline's DAG
 * from it.  A spec that watches "sqs" (EMR pipelines: dags/airflow/README.md)
 * gets its queue, sparkflow-<pipeline>, which only the lake's bucket may
 * send to, and an entry (Id sparkflow-<pipeline>) in the bucket's
 * notification configuration for objects created under the pipeline's
 * input; the spec is uploaded with watch.queue_url and watch.region filled
 * in.  S3 has no call for one notification entry: the configuration is read,
 * our entry replaced, everything else kept as S3 sent it, and written back.
 * Removing the spec removes the entry and the queue.
 */
#include <stdlib.h>
#include <string.h>

#include "orchestrators/ec2/ec2.h"

#define CLOSE_ROOT "</NotificationConfiguration>"
#define OPEN_ENTRY "<QueueConfiguration"
#define CLOSE_ENTRY "</QueueConfiguration>"

char *sf_ec2_notification_merge(const char *xml, size_t len, const char *id, const char *entry)
{
    char *text = sf_strndup(xml ? xml : "", len);
    char *close = strstr(text, CLOSE_ROOT);
    sf_buf b = {0};
    if (!close) { /* none yet (or "<NotificationConfiguration/>"): nothing to keep */
        sf_buf_printf(&b, "<NotificationConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">%s%s",
                      entry ? entry : "", CLOSE_ROOT);
        free(text);
        return b.data;
    }
    char *want = sf_fmt("<Id>%s</Id>", id);
    const char *p = text;
    for (;;) {
        const char *open = strstr(p, OPEN_ENTRY);
        const char *end = open ? strstr(open, CLOSE_ENTRY) : NULL;
        if (!open || !end || open > close) break;
        end += strlen(CLOSE_ENTRY);
        sf_buf_append(&b, p, (size_t)(open - p));
        char *block = sf_strndup(open, (size_t)(end - open));
        if (!strstr(block, want)) sf_buf_append(&b, open, (size_t)(end - open));
        free(block);
        p = end;
    }
    sf_buf_append(&b, p, (size_t)(close - p));
    if (entry) sf_buf_printf(&b, "%s", entry);
    sf_buf_printf(&b, "%s", close);
    free(want);
    free(text);
    return b.data;
}

/* ---- helpers ---------------------------------------------------------------- */

static void xml_escape(sf_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '&') sf_buf_printf(b, "&amp;");
        else if (*s == '<') sf_buf_printf(b, "&lt;");
        else if (*s == '>') sf_buf_printf(b, "&gt;");
        else sf_buf_append(b, s, 1);
    }
}

static char *queue_name(const char *pipeline)
{
    char *n = sf_fmt("sparkflow-%s", pipeline);
    for (char *p = n; *p; p++)
        if (*p == '.') *p = '-'; /* SQS names: letters, digits, - and _ */
    return n;
}

/* bucket and prefix ("" or ending in '/') of an s3:// URI; -1 when not one. */
static int s3_dir(const char *uri, char **bucket, char **prefix)
{
    if (!uri || sf_aws_s3_parse_uri(uri, bucket, prefix) != 0) return -1;
    size_t n = strlen(*prefix);
    if (n && (*prefix)[n - 1] != '/') {
        char *p = sf_fmt("%s/", *prefix);
        free(*prefix);
        *prefix = p;
    }
    return 0;
}

static const char *jstr(const cJSON *j, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, key));
}

/* ---- the queue and the notification ------------------------------------------- */

typedef struct watch_target {
    char *lake_bucket, *events_prefix, *queue;
} watch_target;

static void target_clear(watch_target *t)
{
    free(t->lake_bucket);
    free(t->events_prefix);
    free(t->queue);
}

static int target_of(const cJSON *spec, const char *pipeline, watch_target *t, sf_diags *diags)
{
    *t = (watch_target){0};
    char *prefix = NULL;
    const char *lake = jstr(spec, "lake"), *input = jstr(spec, "input");
    if (s3_dir(lake, &t->lake_bucket, &prefix) != 0 || !input) {
        sf_diag_error(diags, NULL, "Cannot watch the pipeline's input",
                      "Pipeline %s watches SQS, which needs an s3:// lake and an input in its spec (lake: %s).",
                      pipeline, lake ? lake : "none");
        free(prefix);
        return -1;
    }
    size_t n = strlen(input);
    t->events_prefix = sf_fmt("%s%s%s", prefix, input, n && input[n - 1] == '/' ? "" : "/");
    t->queue = queue_name(pipeline);
    free(prefix);
    return 0;
}

static int put_notification(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *id, const char *entry,
                            sf_aws_error *err)
{
    sf_buf current = {0};
    int rc = sf_aws_s3_get_notification(c, ctx, bucket, &current, err);
    if (rc == 0) {
        char *merged = sf_ec2_notification_merge(current.data, current.len, id, entry);
        rc = sf_aws_s3_put_notification(c, ctx, bucket, merged, err);
        free(merged);
    }
    sf_buf_free(&current);
    return rc;
}

/* The queue (idempotent), its policy and the notification entry. */
static int ensure_watch(sf_aws_client *c, sf_ctx *ctx, const watch_target *t, char **queue_url, sf_diags *diags)
{
    sf_aws_error err = {0};
    char *arn = NULL;
    const char *what = "create the pipeline's SQS queue";
    int rc = sf_aws_sqs_create_queue(c, ctx, t->queue, NULL, 0, queue_url, &err);
    if (rc == 0) rc = sf_aws_sqs_get_queue_attribute(c, ctx, *queue_url, "QueueArn", &arn, &err);
    if (rc == 0) {
        what = "let the lake's bucket send to the queue";
        char *policy = sf_fmt("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"LakeNotifications\","
                              "\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"s3.amazonaws.com\"},"
                              "\"Action\":\"sqs:SendMessage\",\"Resource\":\"%s\",\"Condition\":{\"ArnLike\":"
                              "{\"aws:SourceArn\":\"arn:aws:s3:::%s\"}}}]}",
                              arn, t->lake_bucket);
        sf_header attrs[] = {{"Policy", policy}};
        rc = sf_aws_sqs_set_queue_attributes(c, ctx, *queue_url, attrs, 1, &err);
        free(policy);
    }
    if (rc == 0) {
        what = "add the bucket notification";
        sf_buf entry = {0};
        sf_buf_printf(&entry,
                      "<QueueConfiguration><Id>%s</Id><Queue>%s</Queue><Event>s3:ObjectCreated:*</Event>"
                      "<Filter><S3Key><FilterRule><Name>prefix</Name><Value>",
                      t->queue, arn);
        xml_escape(&entry, t->events_prefix);
        sf_buf_printf(&entry, "</Value></FilterRule></S3Key></Filter></QueueConfiguration>");
        rc = put_notification(c, ctx, t->lake_bucket, t->queue, entry.data, &err);
        sf_buf_free(&entry);
    }
    if (rc != 0) {
        char *summary = sf_fmt("Cannot %s", what);
        sf_aws_diag_error(diags, NULL, summary, &err,
                          "A new file in the pipeline's input starts a run through S3 event notifications to "
                          "SQS: the provider needs sqs:CreateQueue, sqs:GetQueueAttributes, sqs:SetQueueAttributes "
                          "and s3:GetBucketNotification/s3:PutBucketNotification on the lake's bucket.");
        free(summary);
    }
    sf_aws_error_clear(&err);
    free(arn);
    return rc == 0 ? 0 : -1;
}

static int remove_watch(sf_aws_client *c, sf_ctx *ctx, const watch_target *t, sf_diags *diags)
{
    sf_aws_error err = {0};
    char *url = NULL;
    int rc = put_notification(c, ctx, t->lake_bucket, t->queue, NULL, &err);
    if (rc == 0) {
        rc = sf_aws_sqs_get_queue_url(c, ctx, t->queue, &url, &err);
        if (rc == 0) rc = sf_aws_sqs_delete_queue(c, ctx, url, &err) < 0 ? -1 : 0;
        else if (rc == 1) rc = 0;
    }
    if (rc != 0) sf_aws_diag_error(diags, NULL, "Cannot remove the pipeline's input watch", &err, NULL);
    sf_aws_error_clear(&err);
    free(url);
    return rc;
}

/* ---- spec_put ------------------------------------------------------------------- */

static bool watches_sqs(const cJSON *spec)
{
    const char *kind = jstr(cJSON_GetObjectItemCaseSensitive(spec, "watch"), "kind");
    return kind && strcmp(kind, "sqs") == 0;
}

static int put_spec(sf_aws_client *c, sf_ctx *ctx, const char *region, const char *bucket, const char *key,
                    const char *pipeline, const char *json, sf_diags *diags)
{
    cJSON *spec = cJSON_Parse(json);
    if (!cJSON_IsObject(spec)) {
        sf_diag_error(diags, NULL, "Invalid pipeline spec", "The spec of pipeline %s is not a JSON object.", pipeline);
        cJSON_Delete(spec);
        return -1;
    }
    int rc = 0;
    if (watches_sqs(spec)) {
        watch_target t;
        char *url = NULL;
        rc = target_of(spec, pipeline, &t, diags);
        if (rc == 0) rc = ensure_watch(c, ctx, &t, &url, diags);
        if (rc == 0) {
            cJSON *w = cJSON_GetObjectItemCaseSensitive(spec, "watch");
            cJSON_DeleteItemFromObjectCaseSensitive(w, "queue_url");
            cJSON_DeleteItemFromObjectCaseSensitive(w, "region");
            cJSON_AddStringToObject(w, "queue_url", url);
            cJSON_AddStringToObject(w, "region", region);
        }
        free(url);
        target_clear(&t);
    }
    if (rc == 0) {
        char *text = cJSON_Print(spec);
        sf_aws_error err = {0};
        rc = sf_aws_s3_put(c, ctx, bucket, key, text, strlen(text), "application/json", &err);
        if (rc != 0) sf_aws_diag_error(diags, NULL, "Cannot upload the pipeline's spec to the DAG bundle", &err, NULL);
        sf_aws_error_clear(&err);
        free(text);
    }
    cJSON_Delete(spec);
    return rc;
}

static int remove_spec(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *key, const char *pipeline,
                       sf_diags *diags)
{
    sf_buf old = {0};
    sf_aws_error err = {0};
    int rc = sf_aws_s3_get(c, ctx, bucket, key, &old, &err);
    if (rc == 0) { /* the spec tells which bucket notifies which queue */
        cJSON *spec = cJSON_ParseWithLength(old.data ? old.data : "", old.len);
        watch_target t = {0};
        if (watches_sqs(spec) && target_of(spec, pipeline, &t, diags) == 0) rc = remove_watch(c, ctx, &t, diags);
        target_clear(&t);
        cJSON_Delete(spec);
        if (rc == 0) rc = sf_aws_s3_delete(c, ctx, bucket, &key, 1, &err);
    } else if (rc == 1) {
        rc = 0; /* already gone */
    }
    if (rc != 0 && !sf_diags_has_error(diags))
        sf_aws_diag_error(diags, NULL, "Cannot remove the pipeline's spec from the DAG bundle", &err, NULL);
    sf_aws_error_clear(&err);
    sf_buf_free(&old);
    return rc;
}

sf_engine_status sf_ec2_spec_put(sf_ctx *ctx, const sf_engine_env *env, const sf_airflow_host *host,
                                 const char *pipeline, const char *json, sf_diags *diags)
{
    sf_aws_client *owned = NULL, *c = sf_engine_env_aws(env, &owned);
    const char *bundle = sf_value_get_str(sf_value_get(host->details, "dag_bundle"));
    if (!bundle) bundle = sf_value_get_str(sf_value_get(host->spec, "dag_bundle"));
    const char *region = sf_value_get_str(sf_value_get(host->details, "region"));
    char *why = NULL;
    if (!region) region = sf_aws_client_region(c, &why);
    free(why);
    char *bucket = NULL, *prefix = NULL;
    int rc = -1;
    if (s3_dir(bundle, &bucket, &prefix) != 0 || !region) {
        sf_diag_error(diags, NULL, "Airflow host without a DAG bundle",
                      "Airflow %s records no dag_bundle (or region): refresh it, or recreate it.",
                      host->id ? host->id : "?");
    } else {
        char *key = sf_fmt("%sspecs/%s.json", prefix, pipeline);
        rc = json ? put_spec(c, ctx, region, bucket, key, pipeline, json, diags)
                  : remove_spec(c, ctx, bucket, key, pipeline, diags);
        free(key);
    }
    free(bucket);
    free(prefix);
    sf_aws_client_free(owned);
    return rc == 0 ? SF_ENGINE_OK : SF_ENGINE_ERROR;
}
