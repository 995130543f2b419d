/* bundle.c — the files an EC2 host is made from, compiled in (CMakeLists.txt
 * generates sf_ec2_files[] from dags/airflow and orchestrators/ec2): the DAG
 * bundle uploaded to the lake, and the user data rendered from its
 * template. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrators/ec2/ec2.h"

#define TEMPLATE "user_data.sh.tmpl"

const char *sf_ec2_file_text(const char *path)
{
    for (size_t i = 0; sf_ec2_files[i].path; i++)
        if (strcmp(sf_ec2_files[i].path, path) == 0) return sf_ec2_files[i].text;
    return NULL;
}

/* 'text' for the shell, with every ' written as '\''. */
static void shell_quote(sf_buf *b, const char *text)
{
    sf_buf_append(b, "'", 1);
    for (const char *p = text; *p; p++) {
        if (*p == '\'') sf_buf_append(b, "'\\''", 4);
        else sf_buf_append(b, p, 1);
    }
    sf_buf_append(b, "'", 1);
}

char *sf_ec2_render_user_data(const sf_ec2_user_data *u)
{
    char port[24], lifetime[24];
    snprintf(port, sizeof port, "%lld", (long long)u->api_port);
    snprintf(lifetime, sizeof lifetime, "%lld", (long long)u->lifetime_s);
    const char *names[] = {"REGION",       "DAG_BUNDLE",         "API_PORT",
                           "AIRFLOW_USER", "PASSWORD_PARAMETER", "LIFETIME_SECONDS"};
    const char *values[] = {u->region, u->dag_bundle, port, SF_EC2_AIRFLOW_USER, u->password_parameter, lifetime};
    const char *t = sf_ec2_file_text(TEMPLATE);
    sf_buf b = {0};
    while (*t) {
        const char *at = strstr(t, "@@");
        if (!at) {
            sf_buf_append(&b, t, strlen(t));
            break;
        }
        sf_buf_append(&b, t, (size_t)(at - t));
        const char *end = strstr(at + 2, "@@");
        size_t i = 0, n = end ? (size_t)(end - at - 2) : 0;
        for (; end && i < sizeof names / sizeof *names; i++)
            if (strlen(names[i]) == n && strncmp(at + 2, names[i], n) == 0) break;
        if (!end || i == sizeof names / sizeof *names) { /* not a placeholder: as is */
            sf_buf_append(&b, "@@", 2);
            t = at + 2;
            continue;
        }
        shell_quote(&b, values[i] ? values[i] : "");
        t = end + 2;
    }
    sf_buf_append(&b, "", 0);
    return b.data ? b.data : sf_strdup("");
}

int sf_ec2_upload_bundle(sf_aws_client *c, sf_ctx *ctx, const sf_ec2_spec *s, sf_diags *diags)
{
    for (size_t i = 0; sf_ec2_files[i].path; i++) {
        if (strcmp(sf_ec2_files[i].path, TEMPLATE) == 0) continue;
        char *key = sf_fmt("%s%s", s->bundle_prefix, sf_ec2_files[i].path);
        const char *type = strstr(key, ".py")     ? "text/x-python"
                           : strstr(key, ".yaml") ? "application/yaml"
                                                  : "text/plain";
        sf_aws_error err = {0};
        int rc = sf_aws_s3_put(c, ctx, s->bundle_bucket, key, sf_ec2_files[i].text, strlen(sf_ec2_files[i].text), type,
                               &err);
        if (rc != 0) {
            char *hint = sf_fmt("The provider uploads the DAG bundle to %s before starting the instance: check "
                                "that the bucket exists and that your credentials may write s3://%s/%s.",
                                s->dag_bundle, s->bundle_bucket, key);
            sf_aws_diag_error(diags, "ec2.dag_bundle", "Cannot upload the DAG bundle", &err, hint);
            free(hint);
        }
        sf_aws_error_clear(&err);
        free(key);
        if (rc != 0) return -1;
    }
    return 0;
}
