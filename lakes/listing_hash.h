/* listing_hash.h — the hash every lake's fingerprint is (lake.h): sha256
 * over one line "relpath\tsize\ttag\n" per object (tag: an mtime, an ETag),
 * with '\\', '\t' and '\n' escaped in relpath and tag so that no two
 * listings hash the same text.  The caller adds the lines in byte order of
 * relpath (as S3 lists keys). */
#ifndef SF_LAKE_LISTING_HASH_H
#define SF_LAKE_LISTING_HASH_H

typedef struct sf_lake_hash sf_lake_hash;

/* A fresh hash.  Aborts when OpenSSL cannot make one; can't fail otherwise. */
sf_lake_hash *sf_lake_hash_new(void);
/* One object of the listing. */
void sf_lake_hash_add(sf_lake_hash *h, const char *rel, long long size, const char *tag);
/* "sha256:<hex>" (malloc'd); frees h. */
char *sf_lake_hash_end(sf_lake_hash *h);

#endif
