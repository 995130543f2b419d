/* handshake.c — go-plugin's handshake: the environment in, one line out.
 *
 * See go-plugin server.go (Serve, protocolVersion) and Terraform's
 * internal/plugin6 client for the other side of every string here.
 */
#include "provider/handshake.h"
#include "base/str.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define SOCKET_NAME "plugin.sock"
#define DIR_SUFFIX "-plugin-XXXXXX"

void sf_handshake_env_read(sf_handshake_env *env)
{
    env->magic_cookie = getenv("TF_PLUGIN_MAGIC_COOKIE");
    env->protocol_versions = getenv("PLUGIN_PROTOCOL_VERSIONS");
    env->client_cert = getenv("PLUGIN_CLIENT_CERT");
    env->disable_tls = getenv("TF_DISABLE_PLUGIN_TLS");
}

bool sf_handshake_debug_flag(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-' && a[1] == '-') a++;
        if (strcmp(a, "-debug") == 0 || strcmp(a, "-debug=true") == 0) return true;
    }
    return false;
}

/* Parse one list entry, surrounding blanks allowed.  Returns -1 if it is not
 * a plain non-negative decimal number. */
static long parse_version(const char *s, size_t len)
{
    while (len && (*s == ' ' || *s == '\t')) s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
    if (len == 0 || len > 9) return -1;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int sf_handshake_pick_protocol(const char *versions, char **err)
{
    if (!versions || !*versions) return SF_HANDSHAKE_PROTOCOL;
    /* Like go-plugin, entries that are not numbers are skipped. */
    for (const char *p = versions;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (parse_version(p, len) == SF_HANDSHAKE_PROTOCOL) return SF_HANDSHAKE_PROTOCOL;
        if (!comma) break;
        p = comma + 1;
    }
    if (err)
        *err = sf_fmt("Terraform offered plugin protocol version(s) \"%s\", but this provider "
                      "speaks only protocol %d. Use Terraform v1.0 or later.",
                      versions, SF_HANDSHAKE_PROTOCOL);
    return -1;
}

int sf_handshake_configure(sf_handshake *hs, const sf_handshake_env *env, bool debug, const char *display_name,
                           char **err)
{
    memset(hs, 0, sizeof *hs);
    hs->debug = debug;
    if (!debug && (!env->magic_cookie || strcmp(env->magic_cookie, SF_HANDSHAKE_COOKIE_VALUE) != 0)) {
        if (err)
            *err = sf_fmt("This binary is a Terraform plugin (the %s provider). It is "
                          "started by Terraform, not run directly: declare the provider in a "
                          "configuration and run `terraform init` and `terraform plan`.\n"
                          "To debug the provider, run it with -debug and follow its instructions.",
                          display_name);
        return -1;
    }
    int proto = debug ? SF_HANDSHAKE_PROTOCOL : sf_handshake_pick_protocol(env->protocol_versions, err);
    if (proto < 0) return -1;
    hs->protocol = proto;
    /* Debug mode is always plaintext: Terraform reattaches without TLS. */
    bool tls_disabled = env->disable_tls && *env->disable_tls;
    if (!debug && !tls_disabled && env->client_cert && *env->client_cert) hs->client_cert = env->client_cert;
    return 0;
}

char *sf_handshake_line(const char *socket_path, const char *cert_b64)
{
    return sf_fmt("%d|%d|unix|%s|grpc|%s", SF_HANDSHAKE_CORE_VERSION, SF_HANDSHAKE_PROTOCOL, socket_path,
                  cert_b64 ? cert_b64 : "");
}

/* s with every ' replaced by '\'' so it can sit inside '...' in a shell. */
static char *shell_single_quote_body(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++) n += *p == '\'' ? 4 : 1;
    char *out = malloc(n + 1), *o = out;
    if (!out) abort();
    for (const char *p = s; *p; p++) {
        if (*p == '\'') {
            memcpy(o, "'\\''", 4);
            o += 4;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

char *sf_handshake_reattach_line(const char *provider_addr, long pid, const char *socket_path)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *p = cJSON_CreateObject();
    cJSON *addr = cJSON_CreateObject();
    if (!root || !p || !addr) abort();
    cJSON_AddItemToObject(root, provider_addr, p);
    cJSON_AddStringToObject(p, "Protocol", "grpc");
    cJSON_AddNumberToObject(p, "ProtocolVersion", SF_HANDSHAKE_PROTOCOL);
    cJSON_AddNumberToObject(p, "Pid", (double)pid);
    cJSON_AddTrueToObject(p, "Test");
    cJSON_AddItemToObject(p, "Addr", addr);
    cJSON_AddStringToObject(addr, "Network", "unix");
    cJSON_AddStringToObject(addr, "String", socket_path);
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json) abort();
    char *body = shell_single_quote_body(json);
    cJSON_free(json);
    char *line = sf_fmt("TF_REATTACH_PROVIDERS='%s'", body);
    free(body);
    return line;
}

/* Try one parent directory.  Returns 0, 1 if the socket path would be too
 * long there, or -1 with *err set. */
static int sockdir_try(sf_sockdir *sd, const char *parent, const char *name, char **err)
{
    size_t plen = strlen(parent);
    while (plen > 1 && parent[plen - 1] == '/') plen--;
    /* parent/<name>DIR_SUFFIX/SOCKET_NAME plus the NUL must fit sun_path. */
    size_t need = plen + 1 + strlen(name) + strlen(DIR_SUFFIX) + 1 + strlen(SOCKET_NAME) + 1;
    if (need > sizeof(((struct sockaddr_un *)0)->sun_path)) return 1;
    char *dir = sf_fmt("%.*s/%s%s", (int)plen, parent, name, DIR_SUFFIX);
    if (!mkdtemp(dir)) {
        if (err)
            *err = sf_fmt("cannot create a directory under %.*s for the plugin socket: %s", (int)plen, parent,
                          strerror(errno));
        free(dir);
        return -1;
    }
    sd->dir = dir;
    sd->path = sf_fmt("%s/%s", dir, SOCKET_NAME);
    return 0;
}

int sf_sockdir_create(sf_sockdir *sd, const char *tmpdir, const char *name, char **err)
{
    memset(sd, 0, sizeof *sd);
    if (!tmpdir) tmpdir = getenv("TMPDIR");
    if (!tmpdir || !*tmpdir) tmpdir = "/tmp";
    int rc = sockdir_try(sd, tmpdir, name, err);
    if (rc == 1 && strcmp(tmpdir, "/tmp") != 0) rc = sockdir_try(sd, "/tmp", name, err);
    if (rc == 1) {
        if (err) *err = sf_fmt("the plugin socket path under %s would be too long", tmpdir);
        rc = -1;
    }
    return rc;
}

void sf_sockdir_remove(sf_sockdir *sd)
{
    if (sd->path) unlink(sd->path);
    if (sd->dir) rmdir(sd->dir);
    free(sd->path);
    free(sd->dir);
    sd->path = sd->dir = NULL;
}
