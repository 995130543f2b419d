/* test_tls.c — the AutoMTLS identity, checked by parsing it back with OpenSSL
 * and verifying it the way a TLS peer does (as its own root, for both the
 * server and the client purpose, for host "localhost"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "provider/tls.h"

static X509 *parse_pem(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    return x;
}

static EVP_PKEY *parse_key(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    return k;
}

/* Decode standard base64 after restoring the '=' padding. */
static unsigned char *b64_decode_repadded(const char *s, size_t *len)
{
    size_t n = strlen(s), padded = (n + 3) / 4 * 4;
    char *in = calloc(padded + 1, 1);
    memcpy(in, s, n);
    memset(in + n, '=', padded - n);
    unsigned char *out = malloc(padded / 4 * 3 + 1);
    int m = EVP_DecodeBlock(out, (unsigned char *)in, (int)padded);
    assert_true(m >= 0);
    /* EVP_DecodeBlock counts padding bytes as output zeros. */
    *len = (size_t)m - (padded - n);
    free(in);
    return out;
}

static void test_identity_is_parsable_and_consistent(void **state)
{
    (void)state;
    sf_tls_identity id;
    char *err = NULL;
    assert_int_equal(sf_tls_generate(&id, &err), 0);
    assert_null(err);
    assert_non_null(strstr(id.cert_pem, "-----BEGIN CERTIFICATE-----"));
    assert_non_null(strstr(id.key_pem, "-----BEGIN PRIVATE KEY-----"));

    X509 *x = parse_pem(id.cert_pem);
    assert_non_null(x);
    EVP_PKEY *key = parse_key(id.key_pem);
    assert_non_null(key);
    assert_int_equal(X509_check_private_key(x, key), 1);

    /* The DER field is the PEM's certificate. */
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    assert_true(n > 0);
    assert_int_equal((size_t)n, id.cert_der_len);
    assert_memory_equal(der, id.cert_der, id.cert_der_len);
    OPENSSL_free(der);

    /* The handshake field: base64 of the DER, no padding, decodes back. */
    assert_null(strchr(id.cert_b64, '='));
    assert_true(strlen(id.cert_b64) > 50); /* Terraform ignores <= 50 chars */
    size_t dlen = 0;
    unsigned char *decoded = b64_decode_repadded(id.cert_b64, &dlen);
    assert_int_equal(dlen, id.cert_der_len);
    assert_memory_equal(decoded, id.cert_der, dlen);
    free(decoded);

    X509_free(x);
    EVP_PKEY_free(key);
    sf_tls_identity_clear(&id);
    assert_null(id.cert_pem);
    assert_null(id.key_pem);
    assert_null(id.cert_der);
    assert_null(id.cert_b64);
}

static void test_key_is_ec_p256(void **state)
{
    (void)state;
    sf_tls_identity id;
    assert_int_equal(sf_tls_generate(&id, NULL), 0);
    EVP_PKEY *key = parse_key(id.key_pem);
    assert_true(EVP_PKEY_is_a(key, "EC"));
    char group[64];
    size_t glen = 0;
    assert_int_equal(EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen), 1);
    assert_string_equal(group, "prime256v1");
    /* The certificate's SubjectPublicKeyInfo (built from the raw point, not
     * through X509_set_pubkey) is byte for byte OpenSSL's encoding of the key. */
    X509 *x = parse_pem(id.cert_pem);
    unsigned char *want = NULL, *got = NULL;
    int want_len = i2d_PUBKEY(key, &want);
    int got_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &got);
    assert_true(want_len > 0);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, (size_t)want_len);
    OPENSSL_free(want);
    OPENSSL_free(got);
    X509_free(x);
    EVP_PKEY_free(key);
    sf_tls_identity_clear(&id);
}

static void test_certificate_properties(void **state)
{
    (void)state;
    sf_tls_identity id;
    assert_int_equal(sf_tls_generate(&id, NULL), 0);
    X509 *x = parse_pem(id.cert_pem);

    assert_int_equal(X509_get_version(x), X509_VERSION_3);

    /* Self-signed: issuer == subject and the signature verifies. */
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);
    assert_int_equal(X509_verify(x, X509_get0_pubkey(x)), 1);
    assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);

    char buf[128];
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, sizeof buf) > 0);
    assert_string_equal(buf, "localhost");
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_organizationName, buf, sizeof buf) > 0);
    assert_string_equal(buf, "HashiCorp");

    /* CA:TRUE, in a critical basicConstraints. */
    uint32_t flags = X509_get_extension_flags(x);
    assert_true(flags & EXFLAG_CA);
    int crit = -1;
    BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
    assert_non_null(bc);
    assert_true(bc->ca);
    assert_int_equal(crit, 1);
    BASIC_CONSTRAINTS_free(bc);

    /* keyUsage: exactly digitalSignature, keyEncipherment, keyCertSign. */
    assert_true(flags & EXFLAG_KUSAGE);
    assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT | KU_KEY_CERT_SIGN);

    /* extKeyUsage: exactly serverAuth and clientAuth. */
    assert_true(flags & EXFLAG_XKUSAGE);
    assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER | XKU_SSL_CLIENT);

    /* SAN: exactly one entry, DNS:localhost. */
    GENERAL_NAMES *san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    assert_non_null(san);
    assert_int_equal(sk_GENERAL_NAME_num(san), 1);
    GENERAL_NAME *gn = sk_GENERAL_NAME_value(san, 0);
    assert_int_equal(gn->type, GEN_DNS);
    assert_string_equal((const char *)ASN1_STRING_get0_data(gn->d.dNSName), "localhost");
    GENERAL_NAMES_free(san);
    assert_int_equal(X509_check_host(x, "localhost", 0, 0, NULL), 1);
    assert_int_not_equal(X509_check_host(x, "example.com", 0, 0, NULL), 1);

    /* NotBefore a little in the past; NotAfter hours to days ahead. */
    time_t now = time(NULL);
    int day = 0, sec = 0;
    assert_int_equal(ASN1_TIME_diff(&day, &sec, X509_get0_notBefore(x), NULL), 1);
    long ago = (long)day * 86400 + sec; /* notBefore -> now */
    assert_true(ago >= SF_TLS_BACKDATE_SECONDS - 2);
    assert_true(ago <= 600);
    assert_int_equal(ASN1_TIME_diff(&day, &sec, NULL, X509_get0_notAfter(x)), 1);
    long ahead = (long)day * 86400 + sec; /* now -> notAfter */
    assert_true(ahead >= 3600);
    assert_true(ahead <= 30L * 86400);
    assert_true(X509_cmp_time(X509_get0_notBefore(x), &now) < 0);
    assert_true(X509_cmp_time(X509_get0_notAfter(x), &now) > 0);

    /* Serial: positive and non-zero. */
    BIGNUM *serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    assert_false(BN_is_negative(serial));
    assert_false(BN_is_zero(serial));
    assert_true(BN_num_bits(serial) <= 127);
    BN_free(serial);

    X509_free(x);
    sf_tls_identity_clear(&id);
}

/* A peer that pins the certificate as its only root accepts it, both as a
 * TLS server (Terraform's view) and as a TLS client. */
static void verify_as(X509 *x, const char *purpose_name)
{
    X509_STORE *store = X509_STORE_new();
    assert_int_equal(X509_STORE_add_cert(store, x), 1);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    assert_int_equal(X509_STORE_CTX_init(ctx, store, x, NULL), 1);
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
    assert_int_equal(X509_VERIFY_PARAM_set1_host(param, "localhost", 0), 1);
    assert_int_equal(X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_get_by_sname(purpose_name) + 1), 1);
    int ok = X509_verify_cert(ctx);
    if (ok != 1)
        fail_msg("verify as %s: %s", purpose_name, X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
}

static void test_verifies_as_pinned_root(void **state)
{
    (void)state;
    sf_tls_identity id;
    assert_int_equal(sf_tls_generate(&id, NULL), 0);
    X509 *x = parse_pem(id.cert_pem);
    verify_as(x, "sslserver");
    verify_as(x, "sslclient");

    /* And a different identity does not verify against this one. */
    sf_tls_identity other;
    assert_int_equal(sf_tls_generate(&other, NULL), 0);
    X509 *y = parse_pem(other.cert_pem);
    X509_STORE *store = X509_STORE_new();
    X509_STORE_add_cert(store, x);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, y, NULL);
    assert_int_not_equal(X509_verify_cert(ctx), 1);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);

    X509_free(y);
    X509_free(x);
    sf_tls_identity_clear(&other);
    sf_tls_identity_clear(&id);
}

static void test_each_identity_is_fresh(void **state)
{
    (void)state;
    sf_tls_identity a, b;
    assert_int_equal(sf_tls_generate(&a, NULL), 0);
    assert_int_equal(sf_tls_generate(&b, NULL), 0);
    assert_string_not_equal(a.key_pem, b.key_pem);
    X509 *xa = parse_pem(a.cert_pem), *xb = parse_pem(b.cert_pem);
    assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(xa), X509_get0_serialNumber(xb)), 0);
    X509_free(xa);
    X509_free(xb);
    sf_tls_identity_clear(&a);
    sf_tls_identity_clear(&b);
}

static void test_base64_nopad(void **state)
{
    (void)state;
    /* RFC 4648 test vectors with the padding removed. */
    static const struct {
        const char *in, *out;
    } v[] = {
        {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
        {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char *s = sf_tls_base64_nopad((const unsigned char *)v[i].in, strlen(v[i].in));
        assert_string_equal(s, v[i].out);
        free(s);
    }
    /* Bytes that use '+' and '/' (standard, not URL-safe, alphabet). */
    const unsigned char bin[] = {0xfb, 0xff, 0xbf};
    char *s = sf_tls_base64_nopad(bin, sizeof bin);
    assert_string_equal(s, "+/+/");
    free(s);
}

static void test_check_cert_pem(void **state)
{
    (void)state;
    sf_tls_identity id;
    assert_int_equal(sf_tls_generate(&id, NULL), 0);
    char *err = NULL;
    assert_int_equal(sf_tls_check_cert_pem(id.cert_pem, &err), 0);
    assert_null(err);
    assert_int_equal(sf_tls_check_cert_pem("not a certificate", &err), -1);
    assert_non_null(err);
    assert_non_null(strstr(err, "PLUGIN_CLIENT_CERT"));
    free(err);
    err = NULL;
    /* A private key is not a certificate. */
    assert_int_equal(sf_tls_check_cert_pem(id.key_pem, &err), -1);
    free(err);
    sf_tls_identity_clear(&id);
    sf_tls_identity_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_is_parsable_and_consistent),
        cmocka_unit_test(test_key_is_ec_p256),
        cmocka_unit_test(test_certificate_properties),
        cmocka_unit_test(test_verifies_as_pinned_root),
        cmocka_unit_test(test_each_identity_is_fresh),
        cmocka_unit_test(test_base64_nopad),
        cmocka_unit_test(test_check_cert_pem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
