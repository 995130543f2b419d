/* tls.h — the plugin's side of go-plugin AutoMTLS.
 *
 * Terraform and the plugin each make a throw-away self-signed certificate at
 * start and pin the other's: Terraform passes its own in PLUGIN_CLIENT_CERT,
 * the plugin sends its own, base64 DER without padding, in the handshake
 * line.  This module makes the plugin's identity; server.c gives it to gRPC.
 */
#ifndef SF_TLS_H
#define SF_TLS_H

#include <stddef.h>

/* How long the generated certificate is valid for, and how far back its
 * NotBefore is set (tolerates clock skew between Terraform and the plugin). */
#define SF_TLS_VALID_SECONDS (3L * 24 * 3600)
#define SF_TLS_BACKDATE_SECONDS 30L

typedef struct sf_tls_identity {
    char *cert_pem;          /* "-----BEGIN CERTIFICATE-----..." NUL-terminated */
    char *key_pem;           /* PKCS#8 "-----BEGIN PRIVATE KEY-----..." */
    unsigned char *cert_der; /* the same certificate, DER */
    size_t cert_der_len;
    char *cert_b64; /* standard base64 of cert_der, '=' padding stripped */
} sf_tls_identity;

/* Generate an EC P-256 key and a self-signed certificate the way go-plugin's
 * AutoMTLS does (CA:TRUE; keyUsage digitalSignature, keyEncipherment,
 * keyCertSign; extKeyUsage serverAuth, clientAuth; SAN DNS:localhost;
 * O=HashiCorp, CN=localhost; random 127-bit serial).  Returns 0 and fills
 * *out, or -1 with *err a malloc'd message and *out left empty. */
int sf_tls_generate(sf_tls_identity *out, char **err);

/* Free everything in *id and zero it.  NULL or an empty identity is fine. */
void sf_tls_identity_clear(sf_tls_identity *id);

/* Standard base64 of buf without '=' padding, malloc'd.  Aborts on OOM;
 * can't fail otherwise. */
char *sf_tls_base64_nopad(const unsigned char *buf, size_t len);

/* Check that pem holds at least one parsable X.509 certificate (what
 * PLUGIN_CLIENT_CERT must carry).  Returns 0, or -1 with *err malloc'd. */
int sf_tls_check_cert_pem(const char *pem, char **err);

#endif
