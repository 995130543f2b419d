/* handshake.h — the go-plugin handshake, as pure functions.
 *
 * Terraform starts the plugin with a magic cookie and the protocol versions
 * it speaks in the environment, then reads one line from the plugin's stdout
 * that says where to connect and with which certificate.  This module turns
 * the environment into a decision (sf_handshake) and the decision into that
 * line; it also owns the temporary directory that holds the socket.
 */
#ifndef SF_HANDSHAKE_H
#define SF_HANDSHAKE_H

#include <stdbool.h>

#define SF_HANDSHAKE_COOKIE_KEY "TF_PLUGIN_MAGIC_COOKIE"
#define SF_HANDSHAKE_COOKIE_VALUE "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
#define SF_HANDSHAKE_PROTOCOL 6     /* tfplugin6 */
#define SF_HANDSHAKE_CORE_VERSION 1 /* go-plugin's own protocol version */

/* The environment as go-plugin hands it over; NULL means unset. */
typedef struct sf_handshake_env {
    const char *magic_cookie;      /* TF_PLUGIN_MAGIC_COOKIE */
    const char *protocol_versions; /* PLUGIN_PROTOCOL_VERSIONS, e.g. "5,6" */
    const char *client_cert;       /* PLUGIN_CLIENT_CERT (PEM) */
    const char *disable_tls;       /* TF_DISABLE_PLUGIN_TLS */
} sf_handshake_env;

typedef struct sf_handshake {
    bool debug;              /* -debug: no cookie, plaintext, reattach line */
    int protocol;            /* always SF_HANDSHAKE_PROTOCOL once accepted */
    const char *client_cert; /* PEM to require of the client; NULL: plaintext.
                                Borrowed from the env it was read from. */
} sf_handshake;

/* Fill env from the process environment (pointers into environ).  Can't fail. */
void sf_handshake_env_read(sf_handshake_env *env);

/* True when argv holds -debug / --debug (also "=true").  Can't fail. */
bool sf_handshake_debug_flag(int argc, char **argv);

/* Pick the protocol from a PLUGIN_PROTOCOL_VERSIONS list.  NULL or empty (an
 * old client that does not negotiate) means 6.  Returns 6, or -1 with *err a
 * malloc'd message when 6 is not offered or the list is malformed. */
int sf_handshake_pick_protocol(const char *versions, char **err);

/* Decide how to serve.  Returns 0, or -1 with *err a malloc'd message for the
 * person at the terminal (wrong or missing cookie: the binary was run by hand,
 * and the message says it is "the <display_name> provider"; no common
 * protocol: Terraform too old). */
int sf_handshake_configure(sf_handshake *hs, const sf_handshake_env *env, bool debug, const char *display_name,
                           char **err);

/* "1|6|unix|<socket>|grpc|<cert_b64>" without a newline; cert_b64 NULL or ""
 * for plaintext.  Malloc'd; aborts on OOM, can't fail otherwise. */
char *sf_handshake_line(const char *socket_path, const char *cert_b64);

/* The -debug instructions: TF_REATTACH_PROVIDERS='{"<addr>":{...}}' with the
 * JSON escaped for a POSIX shell's single quotes.  Malloc'd; aborts on OOM. */
char *sf_handshake_reattach_line(const char *provider_addr, long pid, const char *socket_path);

/* The temporary directory holding the plugin socket. */
typedef struct sf_sockdir {
    char *dir;  /* made by mkdtemp, mode 0700 */
    char *path; /* dir + "/plugin.sock" (not created here) */
} sf_sockdir;

/* Make a fresh directory "<name>-plugin-XXXXXX" under tmpdir (NULL: $TMPDIR,
 * else /tmp; falls back to /tmp when the socket path would not fit a
 * sockaddr_un).  Returns 0, or -1 with *err malloc'd. */
int sf_sockdir_create(sf_sockdir *sd, const char *tmpdir, const char *name, char **err);

/* Unlink the socket and remove the directory, then free the paths.  Safe on
 * a zeroed or already-removed sf_sockdir.  Can't fail (errors are ignored:
 * nothing useful can be done about them at exit). */
void sf_sockdir_remove(sf_sockdir *sd);

#endif
