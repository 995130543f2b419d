/* listing_hash.c — the listing hash of the lakes' fingerprints (listing_hash.h). */
#include "lakes/listing_hash.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"

struct sf_lake_hash {
    EVP_MD_CTX *md;
};

static void update(sf_lake_hash *h, const void *data, size_t len)
{
    if (len && !EVP_DigestUpdate(h->md, data, len)) abort();
}

/* Feeds s with '\\', '\t' and '\n' escaped. */
static void update_escaped(sf_lake_hash *h, const char *s)
{
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, "\\\t\n");
        update(h, p, n);
        p += n;
        if (!*p) break;
        update(h, *p == '\\' ? "\\\\" : *p == '\t' ? "\\t" : "\\n", 2);
        p++;
    }
}

sf_lake_hash *sf_lake_hash_new(void)
{
    sf_lake_hash *h = malloc(sizeof *h);
    if (!h || !(h->md = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(h->md, EVP_sha256(), NULL)) abort();
    return h;
}

void sf_lake_hash_add(sf_lake_hash *h, const char *rel, long long size, const char *tag)
{
    char num[32];
    int n = snprintf(num, sizeof num, "\t%lld\t", size);
    update_escaped(h, rel);
    update(h, num, (size_t)n);
    update_escaped(h, tag ? tag : "");
    update(h, "\n", 1);
}

char *sf_lake_hash_end(sf_lake_hash *h)
{
    unsigned char sum[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!EVP_DigestFinal_ex(h->md, sum, &len)) abort();
    EVP_MD_CTX_free(h->md);
    free(h);
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    for (unsigned int i = 0; i < len; i++) snprintf(hex + 2 * i, 3, "%02x", sum[i]);
    hex[2 * len] = 0;
    return sf_fmt("sha256:%s", hex);
}
