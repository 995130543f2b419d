/* host.c — an EC2 Airflow host's lifecycle.
 *
 * Create: look up the AMI (the public SSM parameter unless given) and the
 * instance profile (when given), then make the password parameter, the
 * role + profile and the security group (when not given), upload the DAG
 * bundle, start the instance (RunInstances with a client token: a retried
 * call starts no second one) and wait until it runs and Airflow's health
 * endpoint reports every component healthy.  Any failure from the first
 * thing made on terminates the instance and removes what was made, and the
 * diagnostic carries what the instance's console says.
 *
 * Read: a terminated, stopped or missing instance is GONE (drift: the
 * max_lifetime guard powers the instance off, and it terminates itself).
 * Delete: terminate, wait for `terminated`, then remove what create made
 * (recorded in details), never what the user gave.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engines/emr/emr.h" /* the AWS poll schedule, sf_emr_poll */
#include "orchestrators/ec2/ec2.h"

#include "airflow/answers.h"

/* How long RunInstances may refuse a just-created instance profile (IAM
 * propagation), and how long one health probe may take. */
#define PROFILE_PROPAGATION_MS (2 * 60 * 1000)
#define PROBE_TIMEOUT_MS 5000

/* ---- small helpers ----------------------------------------------------------- */

static const char *detail(const sf_value *details, const char *key)
{
    const char *s = details ? sf_value_get_str(sf_value_get(details, key)) : NULL;
    return s && *s ? s : NULL;
}

static void put_detail(sf_value *details, const char *key, const char *value)
{
    if (value && *value) sf_value_put(details, key, sf_value_string(value));
}

static bool state_gone(const char *state)
{
    static const char *const gone[] = {"shutting-down", "terminated", "stopping", "stopped", NULL};
    for (size_t i = 0; state && gone[i]; i++)
        if (strcmp(state, gone[i]) == 0) return true;
    return false;
}

/* The tags of everything made: the provider's default_tags, the block's,
 * then sparkflow:managed and Name (always ours). */
typedef struct tag_list {
    sf_header *items;
    size_t n;
} tag_list;

static void tag_set(tag_list *t, const char *k, const char *v)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->items[i].name, k) == 0) {
            free(t->items[i].value);
            t->items[i].value = sf_strdup(v);
            return;
        }
    t->items = realloc(t->items, (t->n + 1) * sizeof *t->items);
    if (!t->items) abort();
    t->items[t->n++] = (sf_header){sf_strdup(k), sf_strdup(v)};
}

static void tags_clear(tag_list *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->items[i].name);
        free(t->items[i].value);
    }
    free(t->items);
    *t = (tag_list){0};
}

static tag_list make_tags(sf_aws_client *c, const sf_ec2_spec *s, const char *name)
{
    tag_list t = {0};
    const sf_aws_config *cfg = sf_aws_client_config(c);
    for (size_t i = 0; i < cfg->n_default_tags; i++) tag_set(&t, cfg->default_tags[i].name, cfg->default_tags[i].value);
    for (size_t i = 0; i < s->n_tags; i++) tag_set(&t, s->tags[i].name, s->tags[i].value);
    char *n = sf_fmt("sparkflow-airflow-%s", name);
    tag_set(&t, "sparkflow:managed", "true");
    tag_set(&t, "sparkflow:airflow", name);
    tag_set(&t, "Name", n);
    free(n);
    return t;
}

/* ---- what the instance's own tags keep, for import ---------------------------- */
/* The resolved block (base64 of its JSON in sparkflow:spec:<i>, 256
 * characters a tag) and the names of what was made, so that `terraform
 * import i-…` gives back the block as written, the password and what
 * destroy must remove. */

#define SPEC_TAG "sparkflow:spec:"
#define TAG_VALUE_MAX 256
#define SPEC_TAGS_MAX 8

static void add_spec_tags(tag_list *t, const sf_value *resolved)
{
    sf_type *type = sf_schema_type(&sf_airflow_ec2_block);
    char *json = sf_value_to_json(resolved, type);
    char *b64 = sf_aws_base64(json, strlen(json));
    size_t len = strlen(b64);
    for (size_t i = 0, k = 0; i < len && k < SPEC_TAGS_MAX; i += TAG_VALUE_MAX, k++) {
        char key[32];
        snprintf(key, sizeof key, SPEC_TAG "%zu", k);
        char *part = sf_strndup(b64 + i, len - i < TAG_VALUE_MAX ? len - i : TAG_VALUE_MAX);
        tag_set(t, key, part);
        free(part);
    }
    free(b64);
    free(json);
    sf_type_free(type);
}

static sf_value *spec_from_tags(const sf_aws_ec2_instance *inst)
{
    sf_buf b64 = {0};
    sf_buf_append(&b64, "", 0);
    for (size_t k = 0; k < SPEC_TAGS_MAX; k++) {
        char key[32];
        snprintf(key, sizeof key, SPEC_TAG "%zu", k);
        const char *part = sf_aws_ec2_instance_tag(inst, key);
        if (!part) break;
        sf_buf_append(&b64, part, strlen(part));
    }
    size_t len = 0;
    unsigned char *json = b64.len ? sf_aws_unbase64(b64.data, &len) : NULL;
    sf_buf_free(&b64);
    sf_value *v = NULL;
    if (json) {
        sf_type *type = sf_schema_type(&sf_airflow_ec2_block);
        char *err = NULL;
        if (sf_value_from_json((const char *)json, len, type, true, &v, &err) != 0) v = NULL;
        free(err);
        sf_type_free(type);
        free(json);
    }
    return v;
}

static const char *const MADE_TAGS[][2] = {
    {"sparkflow:password-parameter", "password_parameter"},
    {"sparkflow:created-role", "created_role"},
    {"sparkflow:created-instance-profile", "created_instance_profile"},
    {"sparkflow:created-security-group", "created_security_group"},
};

/* ---- looking things up before anything is made --------------------------------- */

static int resolve_ami(sf_aws_client *c, sf_ctx *ctx, const char *region, const sf_ec2_spec *s, char **ami,
                       char **root_device, sf_diags *diags)
{
    sf_aws_error err = {0};
    int rc = 0;
    *ami = s->ami ? sf_strdup(s->ami) : NULL;
    if (!*ami) {
        rc = sf_aws_ssm_get_parameter(c, ctx, SF_EC2_AMI_PARAMETER, ami, &err);
        if (rc == 1)
            sf_diag_error(diags, "ec2.ami", "No Amazon Linux 2023 AMI in this region",
                          "The public SSM parameter %s does not exist in %s, so the provider cannot pick the AMI. "
                          "Set ec2.ami to an Amazon Linux 2023 AMI id of that region.",
                          SF_EC2_AMI_PARAMETER, region);
        else if (rc != 0)
            sf_aws_diag_error(diags, "ec2.ami", "Cannot look up the Amazon Linux 2023 AMI", &err,
                              "The provider reads the public SSM parameter " SF_EC2_AMI_PARAMETER
                              " (ssm:GetParameter); or set ec2.ami.");
    }
    if (rc == 0) {
        sf_aws_error_clear(&err);
        rc = sf_aws_ec2_image_root_device(c, ctx, *ami, root_device, &err);
        if (rc == 1) sf_diag_error(diags, "ec2.ami", "Unknown AMI", "EC2 knows no image \"%s\" in %s.", *ami, region);
        else if (rc != 0) sf_aws_diag_error(diags, "ec2.ami", "Cannot look at the AMI", &err, NULL);
    }
    sf_aws_error_clear(&err);
    return rc == 0 ? 0 : -1;
}

static int check_profile(sf_aws_client *c, sf_ctx *ctx, const char *profile, sf_diags *diags)
{
    sf_aws_error err = {0};
    int rc = sf_aws_iam_get_instance_profile(c, ctx, profile, NULL, &err);
    if (rc == 1)
        sf_diag_error(diags, "ec2.instance_profile", "Unknown instance profile",
                      "IAM knows no instance profile \"%s\" in this account. Give the name of an existing instance "
                      "profile (not a role's), or leave instance_profile out and the provider creates one.",
                      profile);
    else if (rc != 0)
        sf_aws_diag_error(diags, "ec2.instance_profile", "Cannot look up the instance profile", &err,
                          "The provider checks it with iam:GetInstanceProfile.");
    sf_aws_error_clear(&err);
    return rc == 0 ? 0 : -1;
}

/* ---- the instance ------------------------------------------------------------ */

static bool profile_not_ready(const sf_aws_error *e)
{
    return sf_aws_error_is(e, "InvalidParameterValue") && e->message &&
           (strstr(e->message, "iamInstanceProfile") || strstr(e->message, "Instance Profile") ||
            strstr(e->message, "instance profile"));
}

static int run_instance(sf_aws_client *c, sf_ctx *ctx, const sf_aws_ec2_run *r, bool new_profile, char **id,
                        sf_diags *diags)
{
    sf_aws_error err = {0};
    int64_t until = sf_time_mono_ms() + PROFILE_PROPAGATION_MS;
    int rc;
    for (int attempt = 0;; attempt++) {
        sf_aws_error_clear(&err);
        rc = sf_aws_ec2_run_instance(c, ctx, r, id, &err);
        if (rc == 0 || !new_profile || !profile_not_ready(&err) || sf_time_mono_ms() > until) break;
        sf_log(ctx, SF_LOG_INFO, "ec2: the new instance profile is not usable yet; trying again");
        if (sf_ctx_sleep_ms(ctx, sf_backoff_ms(attempt < 4 ? attempt : 4, 2000, 10000) + 1000) != 0) break;
    }
    if (rc != 0)
        sf_aws_diag_error(diags, NULL, "Cannot start the Airflow instance", &err,
                          "RunInstances failed: check the instance type, the AMI and the subnet of the ec2 block.");
    sf_aws_error_clear(&err);
    return rc;
}

/* The console's last lines, for a diagnostic ("" when there are none). */
static char *console_tail(sf_aws_client *c, sf_ctx *ctx, const char *id)
{
    sf_aws_error err = {0};
    char *text = NULL;
    if (sf_aws_ec2_console_output(c, ctx, id, &text, &err) != 0 || !text || !*text) {
        free(text);
        sf_aws_error_clear(&err);
        return sf_strdup("(the instance's console output is empty so far: EC2 publishes it a few minutes after "
                         "boot)");
    }
    sf_aws_error_clear(&err);
    size_t n = strlen(text), lines = 0;
    const char *p = text + n;
    while (p > text && lines < 40)
        if (*--p == '\n') lines++;
    char *tail = sf_strdup(p == text ? p : p + 1);
    free(text);
    return tail;
}

/* Wait until the instance is `running`.  0 with *inst, or -1 with *why. */
static int wait_running(sf_aws_client *c, sf_ctx *ctx, const char *id, sf_aws_ec2_instance *inst, char **why)
{
    sf_emr_poll poll;
    sf_emr_poll_init(&poll, 10000);
    for (;;) {
        sf_aws_error err = {0};
        sf_aws_ec2_instance_clear(inst);
        int rc = sf_aws_ec2_describe_instance(c, ctx, id, inst, &err);
        if (rc == 0 && inst->state && strcmp(inst->state, "running") == 0) return 0;
        if (rc == 0 && state_gone(inst->state)) {
            *why = sf_fmt("instance %s went to %s while starting%s%s", id, inst->state, inst->state_reason ? ": " : "",
                          inst->state_reason ? inst->state_reason : "");
            return -1;
        }
        if (rc < 0 && !sf_ctx_done(ctx)) sf_log(ctx, SF_LOG_INFO, "ec2: DescribeInstances failed; trying again");
        sf_aws_error_clear(&err);
        if (sf_emr_poll_wait(&poll, ctx) != 0) {
            *why = sf_fmt("instance %s did not reach `running` (%s)", id,
                          sf_ctx_reason(ctx) ? sf_ctx_reason(ctx) : "stopped");
            return -1;
        }
    }
}

/* Whether a /api/v2/monitor/health answer says every component is healthy
 * (read by airflow/'s parser); *why says which are not. */
static bool all_healthy(const sf_buf *body, char **why)
{
    sf_af_error err = {0};
    cJSON *doc = NULL;
    bool ok = sf_af_answer_json(200, body->data ? body->data : "", body->len, "GET /api/v2/monitor/health", &doc,
                                &err) == 0 &&
              sf_af_answer_health(doc, &err) == 0;
    if (!ok) *why = sf_strdup(err.message ? err.message : "the health answer is not Airflow's");
    sf_af_error_clear(&err);
    return ok;
}

static int http_get(sf_aws_client *c, sf_ctx *ctx, const char *url, sf_http_resp *resp)
{
    sf_header accept[] = {{"Accept", "application/json"}};
    sf_http_req req = {.method = "GET",
                       .url = url,
                       .headers = accept,
                       .n_headers = 1,
                       .timeout_ms = PROBE_TIMEOUT_MS,
                       .connect_timeout_ms = PROBE_TIMEOUT_MS};
    return sf_http_do(sf_aws_client_http(c), ctx, &req, resp);
}

/* Wait until Airflow at `base` reports every component healthy, watching
 * that the instance still runs.  0 with *version (may be NULL), or -1 with
 * *why (the last thing seen). */
static int wait_healthy(sf_aws_client *c, sf_ctx *ctx, const char *id, const char *base, char **version, char **why)
{
    sf_emr_poll poll;
    sf_emr_poll_init(&poll, 15000);
    char *health = sf_fmt("%s/api/v2/monitor/health", base), *last = sf_strdup("no answer yet");
    int rc = -1;
    for (int round = 0;; round++) {
        sf_http_resp resp = {0};
        char *reason = NULL;
        if (http_get(c, ctx, health, &resp) != 0)
            reason = sf_fmt("%s: %s", health, resp.error ? resp.error : "no answer");
        else if (resp.status != 200) reason = sf_fmt("%s answered HTTP %ld", health, resp.status);
        else if (all_healthy(&resp.body, &reason)) rc = 0;
        sf_http_resp_clear(&resp);
        if (rc == 0) break;
        free(last);
        last = reason;
        if (round % 5 == 4) { /* is the instance still there? */
            sf_aws_ec2_instance inst = {0};
            sf_aws_error err = {0};
            if (sf_aws_ec2_describe_instance(c, ctx, id, &inst, &err) == 0 && state_gone(inst.state)) {
                char *gone =
                    sf_fmt("instance %s went to %s while Airflow was starting (last seen: %s)", id, inst.state, last);
                free(last);
                last = gone;
                sf_aws_ec2_instance_clear(&inst);
                sf_aws_error_clear(&err);
                break;
            }
            sf_aws_ec2_instance_clear(&inst);
            sf_aws_error_clear(&err);
        }
        if (sf_emr_poll_wait(&poll, ctx) != 0) {
            char *timeout = sf_fmt("Airflow did not report healthy (%s); last seen: %s",
                                   sf_ctx_reason(ctx) ? sf_ctx_reason(ctx) : "stopped", last);
            free(last);
            last = timeout;
            break;
        }
    }
    if (rc == 0) {
        char *vurl = sf_fmt("%s/api/v2/version", base);
        sf_http_resp resp = {0};
        if (http_get(c, ctx, vurl, &resp) == 0 && resp.status == 200) {
            cJSON *j = cJSON_ParseWithLength(resp.body.data ? resp.body.data : "", resp.body.len);
            const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "version"));
            *version = v ? sf_strdup(v) : NULL;
            cJSON_Delete(j);
        }
        sf_http_resp_clear(&resp);
        free(vurl);
        free(last);
    } else {
        *why = last;
    }
    free(health);
    return rc;
}

/* Terminate and wait until EC2 says `terminated` (or forgets the id). */
static int terminate_and_wait(sf_aws_client *c, sf_ctx *ctx, const char *id, sf_diags *diags)
{
    sf_aws_error err = {0};
    if (sf_aws_ec2_terminate_instance(c, ctx, id, &err) != 0) {
        sf_aws_diag_error(diags, NULL, "Cannot terminate the Airflow instance", &err, NULL);
        sf_aws_error_clear(&err);
        return -1;
    }
    sf_emr_poll poll;
    sf_emr_poll_init(&poll, 10000);
    for (;;) {
        sf_aws_ec2_instance inst = {0};
        sf_aws_error_clear(&err);
        int rc = sf_aws_ec2_describe_instance(c, ctx, id, &inst, &err);
        bool done = rc == 1 || (rc == 0 && inst.state && strcmp(inst.state, "terminated") == 0);
        sf_aws_ec2_instance_clear(&inst);
        if (done) {
            sf_aws_error_clear(&err);
            return 0;
        }
        if (sf_emr_poll_wait(&poll, ctx) != 0) {
            sf_diag_error(diags, NULL, "Airflow instance not terminated yet",
                          "Instance %s was asked to terminate but is not `terminated` yet (%s). Run the command "
                          "again to finish removing what was created for it.",
                          id, sf_ctx_reason(ctx) ? sf_ctx_reason(ctx) : "stopped");
            sf_aws_error_clear(&err);
            return -1;
        }
    }
}

/* ---- create ------------------------------------------------------------------ */

static void made_from_details(const sf_value *details, sf_ec2_made *m)
{
    *m = (sf_ec2_made){0};
    m->role = sf_strdup(detail(details, "created_role"));
    m->instance_profile = sf_strdup(detail(details, "created_instance_profile"));
    m->security_group = sf_strdup(detail(details, "created_security_group"));
    m->password_parameter = sf_strdup(detail(details, "password_parameter"));
}

static sf_value *details_of(const char *region, const char *ami, const sf_ec2_spec *s, const sf_ec2_made *m,
                            const char *profile, const char *groups, const sf_aws_ec2_instance *inst)
{
    sf_value *d = sf_value_map();
    put_detail(d, "instance_id", inst->id);
    put_detail(d, "region", region);
    put_detail(d, "ami", ami);
    put_detail(d, "public_ip", inst->public_ip);
    put_detail(d, "private_ip", inst->private_ip);
    put_detail(d, "dag_bundle", s->dag_bundle);
    put_detail(d, "instance_profile", profile);
    put_detail(d, "security_group_ids", groups);
    put_detail(d, "password_parameter", m->password_parameter);
    put_detail(d, "created_role", m->role);
    put_detail(d, "created_instance_profile", m->instance_profile);
    put_detail(d, "created_security_group", m->security_group);
    return d;
}

/* Everything a create needs and makes, for one cleanup path. */
typedef struct creation {
    sf_aws_client *c;
    const sf_value *spec_v; /* the block as configured */
    const char *region;
    sf_ec2_spec s;
    sf_ec2_made made;
    tag_list tags;
    char *base, *ami, *root_device, *password, *instance_id, *url, *version;
    sf_aws_ec2_instance inst;
} creation;

static void creation_clear(creation *k)
{
    sf_ec2_spec_clear(&k->s);
    sf_ec2_made_clear(&k->made);
    tags_clear(&k->tags);
    if (k->password) memset(k->password, 0, strlen(k->password));
    char *strs[] = {k->base, k->ami, k->root_device, k->password, k->instance_id, k->url, k->version};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) free(strs[i]);
    sf_aws_ec2_instance_clear(&k->inst);
}

/* After a failure: the instance terminated, what was made removed (what
 * could not be is said in its own diagnostic). */
static void undo(creation *k, sf_ctx *ctx, sf_diags *diags)
{
    sf_ctx *cl = sf_ctx_new_cleanup(ctx, SF_EC2_CLEANUP_MS);
    int rc = k->instance_id ? terminate_and_wait(k->c, cl, k->instance_id, diags) : 0;
    if (rc == 0) sf_ec2_unmake(k->c, cl, &k->made, diags);
    else
        sf_diag_error(diags, NULL, "Cleanup after the failed create is incomplete",
                      "Role %s, instance profile %s, security group %s and parameter %s are left in the account "
                      "until instance %s has terminated; remove them by hand then.",
                      k->made.role ? k->made.role : "(none)",
                      k->made.instance_profile ? k->made.instance_profile : "(none)",
                      k->made.security_group ? k->made.security_group : "(none)",
                      k->made.password_parameter ? k->made.password_parameter : "(none)", k->instance_id);
    sf_ctx_free(cl);
}

/* The password parameter, the profile and the group, as needed. */
static int make_access(creation *k, sf_ctx *ctx, sf_diags *diags)
{
    char hex[33];
    if (sf_aws_random_hex(hex) != 0) {
        sf_diag_error(diags, NULL, "No randomness", "Cannot read /dev/urandom to make the Airflow password.");
        return -1;
    }
    k->password = sf_strdup(hex);
    char *param = sf_fmt("/sparkflow/airflow/%s/password", k->base);
    sf_aws_error err = {0};
    int rc = sf_aws_ssm_put_secure_parameter(k->c, ctx, param, k->password,
                                             "SparkFlow Airflow host password (created by Terraform)", &err);
    if (rc == 0) k->made.password_parameter = param;
    else {
        sf_aws_diag_error(diags, NULL, "Cannot store the Airflow password", &err,
                          "The password goes into an SSM SecureString parameter (ssm:PutParameter) that only the "
                          "instance's role may read.");
        free(param);
    }
    sf_aws_error_clear(&err);
    if (rc == 0 && !k->s.instance_profile)
        rc = sf_ec2_make_profile(k->c, ctx, k->base, k->region, &k->s, k->tags.items, k->tags.n, &k->made, diags);
    if (rc == 0 && !k->s.n_security_group_ids)
        rc = sf_ec2_make_security_group(k->c, ctx, k->base, &k->s, k->tags.items, k->tags.n, &k->made, diags);
    return rc;
}

static int start(creation *k, sf_ctx *ctx, sf_diags *diags)
{
    sf_ec2_user_data u = {.region = k->region,
                          .dag_bundle = k->s.dag_bundle,
                          .password_parameter = k->made.password_parameter,
                          .api_port = k->s.api_port,
                          .lifetime_s = k->s.max_lifetime_s};
    char *user_data = sf_ec2_render_user_data(&u), token[33];
    if (sf_aws_random_hex(token) != 0) token[0] = 0;
    const char *group = k->made.security_group;
    tag_list own = {0};
    const char *made[] = {k->made.password_parameter, k->made.role, k->made.instance_profile, k->made.security_group};
    for (size_t i = 0; i < sizeof made / sizeof *made; i++)
        if (made[i]) tag_set(&own, MADE_TAGS[i][0], made[i]);
    sf_value *resolved = sf_ec2_spec_resolved(k->spec_v, k->ami);
    add_spec_tags(&own, resolved);
    sf_value_free(resolved);
    sf_aws_ec2_run r = {
        .image_id = k->ami,
        .instance_type = k->s.instance_type,
        .subnet_id = k->s.subnet_id,
        .instance_profile = k->s.instance_profile ? k->s.instance_profile : k->made.instance_profile,
        .security_group_ids = group ? &group : (const char *const *)k->s.security_group_ids,
        .n_security_groups = group ? 1 : k->s.n_security_group_ids,
        .root_device_name = k->root_device,
        .root_volume_gb = k->s.root_volume_size,
        .user_data = user_data,
        .client_token = token[0] ? token : NULL,
        .tags = k->tags.items,
        .n_tags = k->tags.n,
        .instance_tags = own.items,
        .n_instance_tags = own.n,
    };
    int rc = run_instance(k->c, ctx, &r, k->made.instance_profile != NULL, &k->instance_id, diags);
    free(user_data);
    tags_clear(&own);
    if (rc != 0) return -1;
    sf_log(ctx, SF_LOG_INFO, "ec2: started Airflow instance %s", k->instance_id);
    char *why = NULL;
    if (wait_running(k->c, ctx, k->instance_id, &k->inst, &why) == 0) {
        const char *test_url = getenv(SF_EC2_TEST_URL_ENV);
        const char *addr = k->inst.public_ip ? k->inst.public_ip : k->inst.private_ip;
        k->url = test_url && *test_url ? sf_strdup(test_url)
                                       : sf_fmt("http://%s:%lld", addr ? addr : "?", (long long)k->s.api_port);
        size_t n = strlen(k->url);
        while (n && k->url[n - 1] == '/') k->url[--n] = 0;
        if (wait_healthy(k->c, ctx, k->instance_id, k->url, &k->version, &why) == 0) return 0;
    }
    sf_ctx *cl = sf_ctx_new_cleanup(ctx, 30000); /* ctx may have ended: the console still matters */
    char *console = console_tail(k->c, cl, k->instance_id);
    sf_ctx_free(cl);
    sf_diag_error(diags, NULL, "Airflow did not start on EC2",
                  "%s.\n\nThe instance is being terminated and what was created for it removed. Its console "
                  "says:\n%s",
                  why, console);
    free(console);
    free(why);
    return -1;
}

sf_engine_status sf_ec2_host_create(sf_ctx *ctx, const sf_engine_env *env, const char *name, const sf_value *spec,
                                    sf_airflow_host *out, sf_diags *diags)
{
    creation k = {.spec_v = spec};
    sf_aws_client *owned = NULL;
    k.c = sf_engine_env_aws(env, &owned);
    char *why = NULL;
    k.region = sf_aws_client_region(k.c, &why);
    if (sf_ec2_spec_from_value(spec, &k.s, diags) != 0 || !k.region) {
        if (!k.region) sf_diag_error(diags, NULL, "No AWS region", "%s", why ? why : "Set the provider's region.");
        free(why);
        creation_clear(&k);
        sf_aws_client_free(owned);
        return SF_ENGINE_ERROR;
    }
    char hex[33] = "00000000";
    sf_aws_random_hex(hex);
    k.base = sf_fmt("sparkflow-airflow-%.32s-%.8s", name, hex);
    k.tags = make_tags(k.c, &k.s, name);
    int rc = resolve_ami(k.c, ctx, k.region, &k.s, &k.ami, &k.root_device, diags);
    if (rc == 0 && k.s.instance_profile) rc = check_profile(k.c, ctx, k.s.instance_profile, diags);
    if (rc == 0) { /* from here on, a failure undoes what was made */
        rc = make_access(&k, ctx, diags);
        if (rc == 0) rc = sf_ec2_upload_bundle(k.c, ctx, &k.s, diags);
        if (rc == 0) rc = start(&k, ctx, diags);
        if (rc != 0) undo(&k, ctx, diags);
    }
    if (rc == 0) {
        sf_buf groups = {0};
        if (k.made.security_group) sf_buf_printf(&groups, "%s", k.made.security_group);
        for (size_t i = 0; !k.made.security_group && i < k.s.n_security_group_ids; i++)
            sf_buf_printf(&groups, "%s%s", i ? "," : "", k.s.security_group_ids[i]);
        out->id = sf_strdup(k.instance_id);
        out->name = sf_strdup(name);
        out->state = sf_strdup("running");
        out->url = sf_strdup(k.url);
        out->user = sf_strdup(SF_EC2_AIRFLOW_USER);
        out->password = sf_strdup(k.password);
        out->version = k.version ? sf_strdup(k.version) : NULL;
        char now[SF_TIME_RFC3339_LEN];
        sf_time_rfc3339(now, sf_time_wall_ms());
        out->created_at = sf_strdup(now);
        out->spec = sf_ec2_spec_resolved(spec, k.ami);
        out->details =
            details_of(k.region, k.ami, &k.s, &k.made,
                       k.s.instance_profile ? k.s.instance_profile : k.made.instance_profile, groups.data, &k.inst);
        sf_buf_free(&groups);
    }
    creation_clear(&k);
    sf_aws_client_free(owned);
    return rc == 0 ? SF_ENGINE_OK : SF_ENGINE_ERROR;
}

/* ---- read, update, delete -------------------------------------------------------- */

/* A host found gone: its instance will never come back (the state forgets
 * it and the plan makes a new one), so what was made for it is removed now
 * — no delete will ever be called for it.  An instance stopped but not
 * terminated (stopped by hand) is terminated first: it is a managed
 * instance the state no longer knows.  Problems are warnings: the refresh
 * itself succeeded. */
static void reap(sf_aws_client *c, sf_ctx *ctx, const char *id, const char *state, const sf_value *details,
                 sf_diags *diags)
{
    sf_ctx *cl = sf_ctx_new_cleanup(ctx, 90000);
    sf_diags tmp;
    sf_diags_init(&tmp);
    int rc = state && strcmp(state, "terminated") != 0 ? terminate_and_wait(c, cl, id, &tmp) : 0;
    sf_ec2_made made;
    made_from_details(details, &made);
    if (rc == 0) rc = sf_ec2_unmake(c, cl, &made, &tmp);
    if (rc != 0)
        for (size_t i = 0; i < tmp.n; i++)
            sf_diag_warning(diags, NULL, tmp.items[i].summary, "Airflow instance %s is gone (%s). %s", id,
                            state ? state : "no longer known to EC2", tmp.items[i].detail ? tmp.items[i].detail : "");
    else if (made.role || made.security_group || made.password_parameter)
        sf_log(ctx, SF_LOG_INFO, "ec2: instance %s is gone; removed what was created for it", id);
    sf_ec2_made_clear(&made);
    sf_diags_clear(&tmp);
    sf_ctx_free(cl);
}

int sf_ec2_host_from_tags(sf_aws_client *c, const sf_aws_ec2_instance *inst, sf_airflow_host *out, sf_diags *diags)
{
    const char *param = sf_aws_ec2_instance_tag(inst, MADE_TAGS[0][0]);
    const char *name = sf_aws_ec2_instance_tag(inst, "sparkflow:airflow");
    sf_value *spec = spec_from_tags(inst);
    if (!param || !name || !spec) {
        sf_diag_error(diags, NULL, "Not a SparkFlow Airflow instance",
                      "Instance %s carries no sparkflow:airflow, sparkflow:password-parameter and sparkflow:spec:* "
                      "tags: only instances this provider started can be imported.",
                      inst->id);
        sf_value_free(spec);
        return -1;
    }
    char *why = NULL;
    const char *region = sf_aws_client_region(c, &why);
    free(why);
    int64_t port = 8080;
    sf_value_get_int(sf_value_get(spec, "api_port"), &port);
    const char *test_url = getenv(SF_EC2_TEST_URL_ENV);
    const char *addr = inst->public_ip ? inst->public_ip : inst->private_ip;
    sf_value *details = sf_value_map();
    put_detail(details, "instance_id", inst->id);
    put_detail(details, "region", region);
    put_detail(details, "ami", sf_value_get_str(sf_value_get(spec, "ami")));
    put_detail(details, "public_ip", inst->public_ip);
    put_detail(details, "private_ip", inst->private_ip);
    put_detail(details, "dag_bundle", sf_value_get_str(sf_value_get(spec, "dag_bundle")));
    for (size_t i = 0; i < sizeof MADE_TAGS / sizeof *MADE_TAGS; i++)
        put_detail(details, MADE_TAGS[i][1], sf_aws_ec2_instance_tag(inst, MADE_TAGS[i][0]));
    const char *profile = sf_aws_ec2_instance_tag(inst, MADE_TAGS[2][0]);
    if (!profile) profile = sf_value_get_str(sf_value_get(spec, "instance_profile"));
    put_detail(details, "instance_profile", profile);
    out->id = sf_strdup(inst->id);
    out->name = sf_strdup(name);
    out->state = sf_strdup(inst->state);
    out->url =
        test_url && *test_url ? sf_strdup(test_url) : sf_fmt("http://%s:%lld", addr ? addr : "?", (long long)port);
    out->user = sf_strdup(SF_EC2_AIRFLOW_USER);
    out->created_at = sf_strdup(inst->launch_time);
    out->spec = spec;
    out->details = details;
    return 0;
}

/* A host known only by its id (`terraform import`): the rest from the
 * instance's tags, the password from its parameter. */
static sf_engine_status read_imported(sf_aws_client *c, sf_ctx *ctx, const sf_aws_ec2_instance *inst,
                                      sf_airflow_host *out, sf_diags *diags)
{
    if (sf_ec2_host_from_tags(c, inst, out, diags) != 0) return SF_ENGINE_ERROR;
    const char *param = detail(out->details, "password_parameter");
    sf_aws_error err = {0};
    if (sf_aws_ssm_get_parameter(c, ctx, param, &out->password, &err) != 0) {
        sf_aws_diag_error(diags, NULL, "Cannot read the Airflow password", &err,
                          "Importing reads the password from its SSM parameter (ssm:GetParameter, decrypted).");
        sf_aws_error_clear(&err);
        sf_airflow_host_clear(out);
        return SF_ENGINE_ERROR;
    }
    return SF_ENGINE_OK;
}

sf_engine_status sf_ec2_host_read(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                  const sf_airflow_host *recorded, sf_airflow_host *out, sf_diags *diags)
{
    sf_aws_client *owned = NULL, *c = sf_engine_env_aws(env, &owned);
    sf_aws_ec2_instance inst = {0};
    sf_aws_error err = {0};
    int rc = sf_aws_ec2_describe_instance(c, ctx, id, &inst, &err);
    sf_engine_status st = SF_ENGINE_OK;
    if (rc == 1 || (rc == 0 && state_gone(inst.state))) {
        reap(c, ctx, id, rc == 1 ? NULL : inst.state, recorded->details, diags);
        st = SF_ENGINE_GONE;
    } else if (rc != 0) {
        sf_aws_diag_error(diags, NULL, "Cannot look at the Airflow instance", &err, NULL);
        st = SF_ENGINE_ERROR;
    } else if (!detail(recorded->details, "password_parameter")) {
        st = read_imported(c, ctx, &inst, out, diags);
    } else {
        sf_value *details = recorded->details ? sf_value_copy(recorded->details) : sf_value_map();
        put_detail(details, "instance_id", inst.id);
        put_detail(details, "public_ip", inst.public_ip);
        put_detail(details, "private_ip", inst.private_ip);
        out->id = sf_strdup(id);
        out->name = sf_strdup(recorded->name);
        out->state = sf_strdup(inst.state);
        out->url = sf_strdup(recorded->url);
        out->user = sf_strdup(SF_EC2_AIRFLOW_USER);
        out->password = sf_strdup(recorded->password);
        out->version = sf_strdup(recorded->version);
        out->created_at = sf_strdup(recorded->created_at ? recorded->created_at : inst.launch_time);
        out->spec = recorded->spec ? sf_value_copy(recorded->spec) : NULL;
        out->details = details;
    }
    sf_aws_error_clear(&err);
    sf_aws_ec2_instance_clear(&inst);
    sf_aws_client_free(owned);
    return st;
}

/* The CIDRs of `a` that `b` lacks. */
static size_t missing_from(char **a, size_t na, char **b, size_t nb, const char **out)
{
    size_t n = 0;
    for (size_t i = 0; i < na; i++) {
        bool found = false;
        for (size_t k = 0; k < nb && !found; k++) found = strcmp(a[i], b[k]) == 0;
        if (!found) out[n++] = a[i];
    }
    return n;
}

/* allowed_cidrs is the one in-place change: the created group's rules
 * follow it (a group the user gave is the user's); the block kept in the
 * instance's tags (for import) follows too. */
sf_engine_status sf_ec2_host_update(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                    const sf_airflow_host *recorded, const sf_value *old_spec, const sf_value *new_spec,
                                    sf_airflow_host *out, sf_diags *diags)
{
    sf_aws_client *owned = NULL, *c = sf_engine_env_aws(env, &owned);
    sf_ec2_spec was = {0}, now = {0};
    int rc = sf_ec2_spec_from_value(old_spec, &was, diags);
    if (rc == 0) rc = sf_ec2_spec_from_value(new_spec, &now, diags);
    const char *group = detail(recorded->details, "created_security_group");
    sf_aws_error err = {0};
    if (rc == 0 && group) {
        const char **diff = calloc(was.n_allowed_cidrs + now.n_allowed_cidrs + 1, sizeof *diff);
        if (!diff) abort();
        size_t n = missing_from(now.allowed_cidrs, now.n_allowed_cidrs, was.allowed_cidrs, was.n_allowed_cidrs, diff);
        if (n) rc = sf_aws_ec2_authorize_ingress(c, ctx, group, (int)now.api_port, diff, n, &err);
        n = missing_from(was.allowed_cidrs, was.n_allowed_cidrs, now.allowed_cidrs, now.n_allowed_cidrs, diff);
        if (rc == 0 && n) rc = sf_aws_ec2_revoke_ingress(c, ctx, group, (int)was.api_port, diff, n, &err);
        if (rc != 0) sf_aws_diag_error(diags, "ec2.allowed_cidrs", "Cannot change who may reach Airflow", &err, NULL);
        free(diff);
    }
    sf_value *resolved = NULL;
    if (rc == 0) {
        resolved = sf_ec2_spec_resolved(new_spec, detail(recorded->details, "ami"));
        tag_list t = {0};
        add_spec_tags(&t, resolved);
        sf_aws_error_clear(&err);
        if (sf_aws_ec2_create_tags(c, ctx, id, t.items, t.n, &err) != 0)
            sf_diag_warning(diags, NULL, "Instance tags not updated",
                            "The copy of the ec2 block in instance %s's tags (used by import) is stale: %s", id,
                            err.message ? err.message : "?");
        tags_clear(&t);
    }
    sf_aws_error_clear(&err);
    sf_ec2_spec_clear(&was);
    sf_ec2_spec_clear(&now);
    sf_aws_client_free(owned);
    sf_engine_status st = rc == 0 ? sf_ec2_host_read(ctx, env, id, recorded, out, diags) : SF_ENGINE_ERROR;
    if (st == SF_ENGINE_OK) {
        sf_value_free(out->spec);
        out->spec = resolved;
        resolved = NULL;
    }
    sf_value_free(resolved);
    return st;
}

sf_engine_status sf_ec2_host_delete(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                    const sf_airflow_host *recorded, sf_diags *diags)
{
    sf_aws_client *owned = NULL, *c = sf_engine_env_aws(env, &owned);
    int rc = terminate_and_wait(c, ctx, id, diags);
    if (rc == 0) {
        sf_ec2_made made;
        made_from_details(recorded->details, &made);
        rc = sf_ec2_unmake(c, ctx, &made, diags);
        sf_ec2_made_clear(&made);
    }
    sf_aws_client_free(owned);
    return rc == 0 ? SF_ENGINE_OK : SF_ENGINE_ERROR;
}
