/* credentials.c — where AWS credentials come from, in the SDKs' order.
 *
 *   1. the provider block: access_key + secret_key (+ token);
 *   2. the environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
 *   3. web identity (OIDC): the provider's assume_role_with_web_identity {}
 *      block, else AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE
 *      (+ AWS_ROLE_SESSION_NAME): STS AssumeRoleWithWebIdentity, unsigned;
 *   4. the shared files' profile: role_arn + web_identity_token_file;
 *      role_arn + source_profile or credential_source (STS AssumeRole
 *      signed with the source's credentials; a source profile may assume a
 *      role in turn, up to ROLE_CHAIN_MAX); static keys; credential_process;
 *   5. the container endpoint (ECS, CodeBuild): AWS_CONTAINER_CREDENTIALS_*;
 *   6. the instance metadata service (IMDSv2), unless AWS_EC2_METADATA_DISABLED.
 *
 * The first source that is configured decides: when it fails, resolution
 * fails (as in the SDKs) rather than falling through to another identity.
 * The error lists every source looked at and why it gave nothing.  Secrets
 * never enter an error message.  Temporary credentials carry their
 * expiry; client.c refreshes them before it.
 */
#include "aws/aws.h"
#include "aws/answers.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/spawn.h"

#define TOKEN_MAX (64 * 1024)
#define PROCESS_TIMEOUT_MS 60000
#define METADATA_TIMEOUT_MS 2000

/* What resolution learnt along the way, for the final message. */
typedef struct trail {
    sf_buf text;
} trail;

static void tried(trail *t, const char *source, const char *why)
{
    sf_buf_printf(&t->text, "\n  - %s: %s", source, why);
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static void set(sf_aws_creds *out, const char *ak, const char *sk, const char *token, int64_t exp_ms,
                const char *source)
{
    out->access_key = sf_strdup(ak);
    out->secret_key = sf_strdup(sk);
    out->token = token && *token ? sf_strdup(token) : NULL;
    out->expires_ms = exp_ms;
    out->source = sf_strdup(source);
}

/* Result of one source: found, not configured (try the next), failed. */
typedef enum { FOUND, ABSENT, FAILED } outcome;

/* ---- 1, 2: static keys ------------------------------------------------------ */

static outcome from_keys(const char *ak, const char *sk, const char *token, const char *source, const char *ak_name,
                         const char *sk_name, sf_aws_creds *out, trail *t)
{
    if (!ak && !sk) {
        char *why = sf_fmt("%s and %s not set", ak_name, sk_name);
        tried(t, source, why);
        free(why);
        return ABSENT;
    }
    if (!ak || !sk) {
        char *why = sf_fmt("%s is set but %s is not: set both", ak ? ak_name : sk_name, ak ? sk_name : ak_name);
        tried(t, source, why);
        free(why);
        return FAILED;
    }
    set(out, ak, sk, token, 0, source);
    return FOUND;
}

/* ---- 3: web identity ---------------------------------------------------------- */

static char *read_token_file(const char *path, char **why)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *why = sf_fmt("cannot read the web identity token file %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(TOKEN_MAX + 1);
    if (!buf) abort();
    size_t n = fread(buf, 1, TOKEN_MAX, f);
    fclose(f);
    buf[n] = 0;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) buf[--n] = 0;
    if (n == 0) {
        free(buf);
        *why = sf_fmt("the web identity token file %s is empty", path);
        return NULL;
    }
    return buf;
}

static outcome assume_web_identity(sf_aws_client *c, sf_ctx *ctx, const char *source, const char *role_arn,
                                   const char *token, const char *token_file, const char *session, int64_t duration_s,
                                   sf_aws_creds *out, trail *t)
{
    char *why = NULL, *owned = NULL;
    if (!token) token = owned = read_token_file(token_file, &why);
    if (!token) {
        tried(t, source, why);
        free(why);
        return FAILED;
    }
    char default_session[64];
    snprintf(default_session, sizeof default_session, "sparkflow-%lld", (long long)time(NULL));
    sf_aws_creds got = {0};
    sf_aws_error err = {0};
    int rc = sf_aws_sts_assume_role_with_web_identity(c, ctx, role_arn, session ? session : default_session, token,
                                                      duration_s, &got, &err);
    if (owned) memset(owned, 0, strlen(owned));
    free(owned);
    if (rc != 0) {
        char *text = sf_aws_error_text(&err);
        why = sf_fmt("assuming role %s failed: %s", role_arn, text);
        tried(t, source, why);
        free(why);
        free(text);
        sf_aws_error_clear(&err);
        return FAILED;
    }
    *out = got;
    out->source = sf_fmt("%s (role %s)", source, role_arn);
    return FOUND;
}

static outcome from_web_identity(sf_aws_client *c, sf_ctx *ctx, sf_aws_creds *out, trail *t)
{
    const sf_aws_config *cfg = sf_aws_client_config(c);
    if (cfg->web_identity) {
        const char *src = "provider assume_role_with_web_identity block";
        if (!cfg->wi_role_arn || (!cfg->wi_token && !cfg->wi_token_file)) {
            tried(t, src, "needs role_arn and web_identity_token or web_identity_token_file");
            return FAILED;
        }
        return assume_web_identity(c, ctx, src, cfg->wi_role_arn, cfg->wi_token, cfg->wi_token_file,
                                   cfg->wi_session_name, cfg->wi_duration_s, out, t);
    }
    const char *role = env("AWS_ROLE_ARN"), *file = env("AWS_WEB_IDENTITY_TOKEN_FILE");
    if (!role && !file) {
        tried(t, "web identity from the environment", "AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE not set");
        return ABSENT;
    }
    if (!role || !file) {
        tried(t, "web identity from the environment",
              role ? "AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not"
                   : "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
        return FAILED;
    }
    return assume_web_identity(c, ctx, "web identity from the environment (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE)",
                               role, NULL, file, env("AWS_ROLE_SESSION_NAME"), 0, out, t);
}

/* ---- 4: shared profile ------------------------------------------------------ */

/* Run `command` through /bin/sh with a deadline; its stdout (malloc'd), or
 * NULL with *why.  posix_spawn, not fork: gRPC runs threads. */
static char *run_process(sf_ctx *ctx, const char *command, char **why)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        *why = sf_fmt("cannot create a pipe: %s", strerror(errno));
        return NULL;
    }
    char *argv[] = {"/bin/sh", "-c", (char *)command, NULL};
    sf_spawn_opts opts = {.in = {SF_SPAWN_DEVNULL}, .out = {SF_SPAWN_FD, .fd = fds[1]}};
    pid_t pid;
    int rc = sf_spawn(&pid, argv, &opts);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        *why = sf_fmt("cannot run /bin/sh: %s", strerror(rc));
        return NULL;
    }
    sf_buf out = {0};
    sf_buf_append(&out, "", 0);
    int64_t deadline = sf_time_mono_ms() + PROCESS_TIMEOUT_MS;
    bool timed_out = false;
    for (;;) {
        struct pollfd p = {fds[0], POLLIN, 0};
        int r = poll(&p, 1, 200);
        if (r > 0) {
            char buf[4096];
            ssize_t n = read(fds[0], buf, sizeof buf);
            if (n <= 0) break;
            sf_buf_append(&out, buf, (size_t)n);
            continue;
        }
        if (sf_ctx_done(ctx) || sf_time_mono_ms() > deadline) {
            timed_out = true;
            kill(pid, SIGKILL);
            break;
        }
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (timed_out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        *why = timed_out
                   ? sf_strdup("credential_process did not finish in time")
                   : sf_fmt("credential_process exited with status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        memset(out.data, 0, out.len);
        sf_buf_free(&out);
        return NULL;
    }
    return out.data;
}

/* Credentials JSON as credential_process, the container endpoint and IMDS
 * give them (AccessKeyId, SecretAccessKey, SessionToken|Token, Expiration). */
int sf_aws_creds_from_json(const char *text, const char *source, sf_aws_creds *out, char **why)
{
    cJSON *j = cJSON_Parse(text);
    const char *ak = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "AccessKeyId"));
    const char *sk = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "SecretAccessKey"));
    const char *tok = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "SessionToken"));
    if (!tok) tok = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "Token"));
    const char *exp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "Expiration"));
    int rc = 0;
    if (!ak || !sk) {
        *why = sf_strdup(j ? "the answer has no AccessKeyId/SecretAccessKey" : "the answer is not JSON");
        rc = -1;
    } else {
        int64_t s = exp ? sf_aws_parse_iso8601(exp) : 0;
        set(out, ak, sk, tok, s > 0 ? s * 1000 : 0, source);
    }
    cJSON_Delete(j);
    return rc;
}

static outcome from_container(sf_aws_client *c, sf_ctx *ctx, sf_aws_creds *out, trail *t);
static outcome from_imds(sf_aws_client *c, sf_ctx *ctx, sf_aws_creds *out, trail *t);
static outcome profile_creds(sf_aws_client *c, sf_ctx *ctx, const sf_aws_profile *p, const char *source, int depth,
                             sf_aws_creds *out, trail *t);

/* A profile may take its role's source credentials from another profile
 * that assumes a role in turn; longer chains (or a cycle) are refused. */
#define ROLE_CHAIN_MAX 5

/* A source that must give credentials: not configured is a failure too. */
static outcome required(outcome o)
{
    return o == ABSENT ? FAILED : o;
}

/* credential_source = Environment | Ec2InstanceMetadata | EcsContainer:
 * the credentials a role_arn profile assumes its role with. */
static outcome from_credential_source(sf_aws_client *c, sf_ctx *ctx, const char *name, const char *source,
                                      sf_aws_creds *out, trail *t)
{
    if (strcasecmp(name, "Environment") == 0)
        return required(from_keys(env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"), env("AWS_SESSION_TOKEN"),
                                  "credential_source Environment", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", out,
                                  t));
    if (strcasecmp(name, "Ec2InstanceMetadata") == 0) return required(from_imds(c, ctx, out, t));
    if (strcasecmp(name, "EcsContainer") == 0) return required(from_container(c, ctx, out, t));
    char *why = sf_fmt("credential_source \"%s\" is not one of Environment, Ec2InstanceMetadata, EcsContainer", name);
    tried(t, source, why);
    free(why);
    return FAILED;
}

/* The source_profile's credentials: the profile's own static keys when it
 * names itself, else that profile resolved in turn. */
static outcome from_source_profile(sf_aws_client *c, sf_ctx *ctx, const sf_aws_profile *p, const char *source,
                                   int depth, sf_aws_creds *out, trail *t)
{
    const char *src_name = sf_aws_profile_get(p, "source_profile");
    if (strcmp(src_name, p->name) == 0)
        return required(from_keys(sf_aws_profile_get(p, "aws_access_key_id"),
                                  sf_aws_profile_get(p, "aws_secret_access_key"),
                                  sf_aws_profile_get(p, "aws_session_token"), source, "aws_access_key_id",
                                  "aws_secret_access_key", out, t));
    if (depth + 1 >= ROLE_CHAIN_MAX) {
        char *why = sf_fmt("source_profile \"%s\": more than %d roles in a chain of profiles (a cycle?)", src_name,
                           ROLE_CHAIN_MAX);
        tried(t, source, why);
        free(why);
        return FAILED;
    }
    sf_aws_config_files files;
    sf_aws_client_files(c, &files);
    sf_aws_profile sp;
    sf_aws_profile_load((const char *const *)files.config, files.n_config, (const char *const *)files.cred,
                        files.n_cred, src_name, &sp);
    sf_aws_client_files_clear(&files);
    char *sp_source = sf_fmt("%s -> source_profile \"%s\"", source, src_name);
    outcome o = FAILED;
    if (!sp.found) tried(t, sp_source, "no such profile in the shared config/credentials files");
    else o = required(profile_creds(c, ctx, &sp, sp_source, depth + 1, out, t));
    free(sp_source);
    sf_aws_profile_clear(&sp);
    return o;
}

/* role_arn with source_profile or credential_source: STS AssumeRole signed
 * with the source's credentials. */
static outcome assume_profile_role(sf_aws_client *c, sf_ctx *ctx, const sf_aws_profile *p, const char *source,
                                   int depth, sf_aws_creds *out, trail *t)
{
    const char *role = sf_aws_profile_get(p, "role_arn");
    const char *src_profile = sf_aws_profile_get(p, "source_profile");
    const char *cred_source = sf_aws_profile_get(p, "credential_source");
    if (!src_profile == !cred_source) {
        tried(t, source,
              src_profile ? "role_arn with both source_profile and credential_source: keep one"
                          : "role_arn needs source_profile, credential_source or web_identity_token_file");
        return FAILED;
    }
    sf_aws_creds src = {0};
    outcome o = src_profile ? from_source_profile(c, ctx, p, source, depth, &src, t)
                            : from_credential_source(c, ctx, cred_source, source, &src, t);
    if (o == FOUND) {
        char session[64];
        snprintf(session, sizeof session, "sparkflow-%lld", (long long)time(NULL));
        const char *name = sf_aws_profile_get(p, "role_session_name");
        const char *dur = sf_aws_profile_get(p, "duration_seconds");
        sf_aws_error err = {0};
        if (sf_aws_sts_assume_role(c, ctx, &src, role, name ? name : session, dur ? atoll(dur) : 0, out, &err) == 0) {
            out->source = sf_fmt("%s (role %s with credentials from %s)", source, role, src.source);
        } else {
            char *text = sf_aws_error_text(&err);
            char *why = sf_fmt("assuming role %s with credentials from %s failed: %s", role, src.source, text);
            tried(t, source, why);
            free(why);
            free(text);
            o = FAILED;
        }
        sf_aws_error_clear(&err);
    }
    sf_aws_creds_clear(&src);
    return o;
}

/* One profile's credentials, in the SDKs' order: a role (by web identity,
 * or from a source), static keys, credential_process. */
static outcome profile_creds(sf_aws_client *c, sf_ctx *ctx, const sf_aws_profile *p, const char *source, int depth,
                             sf_aws_creds *out, trail *t)
{
    const char *ak = sf_aws_profile_get(p, "aws_access_key_id"), *sk = sf_aws_profile_get(p, "aws_secret_access_key");
    const char *role = sf_aws_profile_get(p, "role_arn"), *wif = sf_aws_profile_get(p, "web_identity_token_file");
    const char *proc = sf_aws_profile_get(p, "credential_process");
    if (role && wif)
        return assume_web_identity(c, ctx, source, role, NULL, wif, sf_aws_profile_get(p, "role_session_name"), 0, out,
                                   t);
    if (role) return assume_profile_role(c, ctx, p, source, depth, out, t);
    if (ak || sk)
        return from_keys(ak, sk, sf_aws_profile_get(p, "aws_session_token"), source, "aws_access_key_id",
                         "aws_secret_access_key", out, t);
    if (proc) {
        char *why = NULL, *text = run_process(ctx, proc, &why);
        outcome o = FAILED;
        if (text) {
            o = sf_aws_creds_from_json(text, source, out, &why) == 0 ? FOUND : FAILED;
            memset(text, 0, strlen(text));
            free(text);
        }
        if (why) tried(t, source, why);
        free(why);
        return o;
    }
    tried(t, source,
          "the profile holds no credentials (aws_access_key_id, role_arn with source_profile, "
          "credential_source or web_identity_token_file, or credential_process)");
    return ABSENT;
}

static outcome from_profile(sf_aws_client *c, sf_ctx *ctx, sf_aws_creds *out, trail *t)
{
    sf_aws_profile p;
    bool explicit_name = false;
    sf_aws_client_profile(c, &p, &explicit_name);
    char *source = sf_fmt("shared profile \"%s\"", p.name);
    outcome o;
    if (!p.found) {
        tried(t, source,
              explicit_name ? "no such profile in the shared config/credentials files"
                            : "no [default] profile in the shared config/credentials files");
        o = explicit_name ? FAILED : ABSENT;
    } else {
        o = profile_creds(c, ctx, &p, source, 0, out, t);
        /* A profile the user named must give credentials. */
        if (o == ABSENT && explicit_name) o = FAILED;
    }
    free(source);
    sf_aws_profile_clear(&p);
    return o;
}

/* ---- 5, 6: container and instance metadata ---------------------------------- */

static int metadata_get(sf_aws_client *c, sf_ctx *ctx, const char *method, const char *url, const sf_header *h,
                        size_t nh, sf_buf *body, char **why)
{
    sf_http_req req = {
        .method = method,
        .url = url,
        .headers = h,
        .n_headers = nh,
        .timeout_ms = METADATA_TIMEOUT_MS,
        .connect_timeout_ms = 1000,
    };
    sf_http_resp resp;
    int rc = sf_http_do(sf_aws_client_http(c), ctx, &req, &resp);
    if (rc != 0 || resp.status != 200) {
        *why = rc != 0 ? sf_fmt("%s: %s", url, resp.error) : sf_fmt("%s answered HTTP %ld", url, resp.status);
        sf_http_resp_clear(&resp);
        return -1;
    }
    *body = resp.body;
    resp.body = (sf_buf){0};
    sf_http_resp_clear(&resp);
    return 0;
}

static outcome from_container(sf_aws_client *c, sf_ctx *ctx, sf_aws_creds *out, trail *t)
{
    const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"), *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    const char *src = "container credentials endpoint";
    if (!rel && !full) {
        tried(t, src, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI not set");
        return ABSENT;
    }
    char *url = rel ? sf_fmt("http://169.254.170.2%s", rel) : sf_strdup(full);
    char *auth = NULL, *why = NULL;
    if (env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"))
        auth = read_token_file(env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"), &why);
    else if (env("AWS_CONTAINER_AUTHORIZATION_TOKEN")) auth = sf_strdup(env("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
    sf_header h[] = {{"Authorization", auth}};
    sf_buf body = {0};
    outcome o = FAILED;
    if (!why && metadata_get(c, ctx, "GET", url, h, auth ? 1 : 0, &body, &why) == 0)
        o = sf_aws_creds_from_json(body.data, src, out, &why) == 0 ? FOUND : FAILED;
    if (why) tried(t, src, why);
    if (body.data) memset(body.data, 0, body.len);
    sf_buf_free(&body);
    if (auth) memset(auth, 0, strlen(auth));
    free(auth);
    free(why);
    free(url);
    return o;
}

static outcome from_imds(sf_aws_client *c, sf_ctx *ctx, sf_aws_creds *out, trail *t)
{
    const char *src = "EC2 instance metadata (IMDSv2)";
    const char *off = env("AWS_EC2_METADATA_DISABLED");
    if (off && strcasecmp(off, "true") == 0) {
        tried(t, src, "disabled by AWS_EC2_METADATA_DISABLED");
        return ABSENT;
    }
    const char *base =
        env("AWS_EC2_METADATA_SERVICE_ENDPOINT") ? env("AWS_EC2_METADATA_SERVICE_ENDPOINT") : "http://169.254.169.254";
    char *why = NULL;
    sf_buf token = {0}, role = {0}, body = {0};
    char *url = sf_fmt("%s/latest/api/token", base);
    sf_header ttl[] = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}};
    outcome o = ABSENT;
    if (metadata_get(c, ctx, "PUT", url, ttl, 1, &token, &why) == 0) {
        sf_header th[] = {{"X-aws-ec2-metadata-token", token.data}};
        free(url);
        url = sf_fmt("%s/latest/meta-data/iam/security-credentials/", base);
        o = FAILED;
        if (metadata_get(c, ctx, "GET", url, th, 1, &role, &why) == 0) {
            role.data[strcspn(role.data, "\r\n")] = 0;
            free(url);
            url = sf_fmt("%s/latest/meta-data/iam/security-credentials/%s", base, role.data);
            if (metadata_get(c, ctx, "GET", url, th, 1, &body, &why) == 0)
                o = sf_aws_creds_from_json(body.data, src, out, &why) == 0 ? FOUND : FAILED;
        }
    }
    if (why) tried(t, src, why);
    free(why);
    free(url);
    if (body.data) memset(body.data, 0, body.len);
    sf_buf_free(&token);
    sf_buf_free(&role);
    sf_buf_free(&body);
    return o;
}

/* ---- the chain -------------------------------------------------------------- */

int sf_aws_credentials_resolve(sf_aws_client *c, sf_ctx *ctx, sf_aws_creds *out, char **err)
{
    *out = (sf_aws_creds){0};
    const sf_aws_config *cfg = sf_aws_client_config(c);
    trail t = {0};
    sf_buf_append(&t.text, "", 0);
    outcome o = from_keys(cfg->access_key, cfg->secret_key, cfg->token, "provider configuration", "access_key",
                          "secret_key", out, &t);
    if (o == ABSENT)
        o = from_keys(env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"), env("AWS_SESSION_TOKEN"), "environment",
                      "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", out, &t);
    if (o == ABSENT) o = from_web_identity(c, ctx, out, &t);
    if (o == ABSENT) o = from_profile(c, ctx, out, &t);
    if (o == ABSENT) o = from_container(c, ctx, out, &t);
    if (o == ABSENT) o = from_imds(c, ctx, out, &t);
    if (o == FOUND) {
        sf_log(ctx, SF_LOG_INFO, "aws: credentials from %s", out->source);
        sf_buf_free(&t.text);
        return 0;
    }
    sf_aws_creds_clear(out);
    *err = sf_fmt("no usable AWS credentials. Sources tried, in order:%s", t.text.data);
    sf_buf_free(&t.text);
    return -1;
}
