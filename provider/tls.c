/* tls.c — a fresh key and self-signed certificate for go-plugin AutoMTLS.
 *
 * Mirrors go-plugin's generateCert (mtls.go) except for the curve (P-256,
 * which every TLS stack accepts) and a validity of days instead of decades:
 * the certificate only has to outlive the handshake of one Terraform run.
 */
#include "provider/tls.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) abort();
    return p;
}

/* Set *err to "what: <first queued OpenSSL error>" and empty the queue.
 * Returns -1 so callers can `return tls_fail(...)`. */
static int tls_fail(char **err, const char *what)
{
    char detail[256] = "unknown error";
    unsigned long e = ERR_get_error();
    if (e) ERR_error_string_n(e, detail, sizeof detail);
    ERR_clear_error();
    if (err) {
        size_t n = strlen(what) + strlen(detail) + 3;
        *err = xmalloc(n);
        snprintf(*err, n, "%s: %s", what, detail);
    }
    return -1;
}

/* The BIO's contents as a malloc'd NUL-terminated string. */
static char *bio_to_string(BIO *bio)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    assert(n >= 0);
    char *s = xmalloc((size_t)n + 1);
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    return s;
}

char *sf_tls_base64_nopad(const unsigned char *buf, size_t len)
{
    /* EVP_EncodeBlock takes an int length; certificates are a few hundred
     * bytes, anything near INT_MAX is a caller bug. */
    assert(len < (size_t)1 << 30);
    char *out = xmalloc(4 * ((len + 2) / 3) + 1);
    int n = EVP_EncodeBlock((unsigned char *)out, buf, (int)len);
    assert(n >= 0);
    while (n > 0 && out[n - 1] == '=') n--;
    out[n] = '\0';
    return out;
}

/* A positive random serial of up to 127 bits (go-plugin: up to 2^128). */
static int set_random_serial(X509 *x)
{
    BIGNUM *bn = BN_new();
    int ok = bn && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
    if (ok && BN_is_zero(bn)) ok = BN_set_word(bn, 1);
    ASN1_INTEGER *serial = ok ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    ok = serial && X509_set_serialNumber(x, serial);
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    return ok;
}

static int set_name(X509 *x)
{
    X509_NAME *name = X509_get_subject_name(x);
    return X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"HashiCorp", -1, -1, 0) &&
           X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0) &&
           X509_set_issuer_name(x, name);
}

static int add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    int ok = ext && X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

static int add_extensions(X509 *x)
{
    /* Critical flags as Go's x509 writes them for such a template. */
    return add_ext(x, NID_basic_constraints, "critical,CA:TRUE") &&
           add_ext(x, NID_key_usage, "critical,digitalSignature,keyEncipherment,keyCertSign") &&
           add_ext(x, NID_ext_key_usage, "clientAuth,serverAuth") && add_ext(x, NID_subject_key_identifier, "hash") &&
           add_ext(x, NID_subject_alt_name, "DNS:localhost");
}

/* The certificate's SubjectPublicKeyInfo, made from the key's public point.
 * X509_set_pubkey would give the same bytes, but OpenSSL 3.0 gets them by
 * encoding the key through its encoder framework and decoding the result
 * back (~0.5 ms at start-up, most of it finding the encoders and decoders). */
static int set_public_key(X509 *x, EVP_PKEY *key)
{
    unsigned char *point = NULL;
    size_t len = EVP_PKEY_get1_encoded_public_key(key, &point);
    int ok = len > 0 && len < 1024 &&
             X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
                                    OBJ_nid2obj(NID_X9_62_prime256v1), point, (int)len);
    if (!ok) OPENSSL_free(point); /* on success the certificate owns it */
    return ok;
}

/* Fill out's PEM, DER and base64 fields from the finished key and cert. */
static int export_identity(sf_tls_identity *out, EVP_PKEY *key, X509 *x, char **err)
{
    BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
    if (!cb || !kb || !PEM_write_bio_X509(cb, x) || !PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL)) {
        BIO_free(cb);
        BIO_free(kb);
        return tls_fail(err, "cannot write the plugin certificate as PEM");
    }
    out->cert_pem = bio_to_string(cb);
    out->key_pem = bio_to_string(kb);
    BIO_free(cb);
    BIO_free(kb);

    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    if (n <= 0) return tls_fail(err, "cannot encode the plugin certificate as DER");
    out->cert_der = xmalloc((size_t)n);
    memcpy(out->cert_der, der, (size_t)n);
    out->cert_der_len = (size_t)n;
    OPENSSL_free(der);
    out->cert_b64 = sf_tls_base64_nopad(out->cert_der, out->cert_der_len);
    return 0;
}

int sf_tls_generate(sf_tls_identity *out, char **err)
{
    memset(out, 0, sizeof *out);
    EVP_PKEY *key = EVP_EC_gen("P-256");
    if (!key) return tls_fail(err, "cannot generate the plugin's EC P-256 key");
    X509 *x = X509_new();
    int rc = -1;
    if (!x || !X509_set_version(x, X509_VERSION_3) || !set_random_serial(x) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -SF_TLS_BACKDATE_SECONDS) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), SF_TLS_VALID_SECONDS) || !set_name(x) || !set_public_key(x, key) ||
        !add_extensions(x)) {
        tls_fail(err, "cannot build the plugin certificate");
    } else if (!X509_sign(x, key, EVP_sha256())) {
        tls_fail(err, "cannot sign the plugin certificate");
    } else {
        rc = export_identity(out, key, x, err);
    }
    X509_free(x);
    EVP_PKEY_free(key);
    if (rc != 0) sf_tls_identity_clear(out);
    return rc;
}

void sf_tls_identity_clear(sf_tls_identity *id)
{
    if (!id) return;
    if (id->key_pem) OPENSSL_cleanse(id->key_pem, strlen(id->key_pem));
    free(id->cert_pem);
    free(id->key_pem);
    free(id->cert_der);
    free(id->cert_b64);
    memset(id, 0, sizeof *id);
}

int sf_tls_check_cert_pem(const char *pem, char **err)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (!x) return tls_fail(err, "PLUGIN_CLIENT_CERT does not hold a PEM certificate");
    X509_free(x);
    return 0;
}
