
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


/*
 * AWS Signature Version 4 for a presigned URL (query-string
 * authentication), where libcurl cannot sign: the URL is given to the
 * client.  From AWS's documented algorithm ("Authenticating Requests:
 * Using Query Parameters"): the canonical request of the method, the
 * path, the X-Amz-* query and the host, then the string to sign, then
 * the key derived from the secret by date, region and service.  No
 * nginx types here: util/sigv4 checks it against AWS's published
 * example apart from nginx.
 */


#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ngx_http_upload_store_sigv4.h"


static void sigv4_hex(char *out, const unsigned char *p, size_t n);
static int sigv4_hmac(unsigned char *out, const void *key, size_t key_len,
    const char *data);


/*
 * url: "{scheme}://{host}{path}?X-Amz-...&X-Amz-Signature=..." into out
 * (size bytes, null-terminated); path is the object's, encoded as it is
 * sent, starting with "/"; returns its length, 0 if it does not fit
 */

size_t
ngx_http_upload_store_sigv4_presign(char *out, size_t size,
    const ngx_http_upload_store_sigv4_t *req)
{
    int            n;
    char           date[9], stamp[17], query[512], canonical[2048],
                   to_sign[512], hash[65], signature[65], key[256];
    unsigned int   len;
    unsigned char  digest[EVP_MAX_MD_SIZE], k[32];
    struct tm      tm;

    if (gmtime_r(&req->now, &tm) == NULL
        || strftime(date, sizeof(date), "%Y%m%d", &tm) == 0
        || strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) == 0)
    {
        return 0;
    }

    /* the query, its names in order; the credential's "/" encoded */

    n = snprintf(query, sizeof(query),
                 "X-Amz-Algorithm=AWS4-HMAC-SHA256"
                 "&X-Amz-Credential=%s%%2F%s%%2F%s%%2Fs3%%2Faws4_request"
                 "&X-Amz-Date=%s&X-Amz-Expires=%u"
                 "&X-Amz-SignedHeaders=host",
                 req->key_id, date, req->region, stamp, req->expires);

    if (n < 0 || (size_t) n >= sizeof(query)) {
        return 0;
    }

    n = snprintf(canonical, sizeof(canonical),
                 "%s\n%s\n%s\nhost:%s\n\nhost\nUNSIGNED-PAYLOAD",
                 req->method, req->path, query, req->host);

    if (n < 0 || (size_t) n >= sizeof(canonical)
        || EVP_Digest(canonical, n, digest, &len, EVP_sha256(), NULL) != 1)
    {
        return 0;
    }

    sigv4_hex(hash, digest, len);

    n = snprintf(to_sign, sizeof(to_sign),
                 "AWS4-HMAC-SHA256\n%s\n%s/%s/s3/aws4_request\n%s",
                 stamp, date, req->region, hash);

    if (n < 0 || (size_t) n >= sizeof(to_sign)) {
        return 0;
    }

    /* the signing key: the secret, then date, region, service, request */

    n = snprintf(key, sizeof(key), "AWS4%s", req->secret);

    if (n < 0 || (size_t) n >= sizeof(key)
        || !sigv4_hmac(k, key, n, date)
        || !sigv4_hmac(k, k, 32, req->region)
        || !sigv4_hmac(k, k, 32, "s3")
        || !sigv4_hmac(k, k, 32, "aws4_request")
        || !sigv4_hmac(digest, k, 32, to_sign))
    {
        return 0;
    }

    sigv4_hex(signature, digest, 32);

    n = snprintf(out, size, "%s://%s%s?%s&X-Amz-Signature=%s",
                 req->scheme, req->host, req->path, query, signature);

    if (n < 0 || (size_t) n >= size) {
        return 0;
    }

    return n;
}


static void
sigv4_hex(char *out, const unsigned char *p, size_t n)
{
    size_t             i;
    static const char  hex[] = "0123456789abcdef";

    for (i = 0; i < n; i++) {
        *out++ = hex[p[i] >> 4];
        *out++ = hex[p[i] & 0xf];
    }

    *out = '\0';
}


static int
sigv4_hmac(unsigned char *out, const void *key, size_t key_len,
    const char *data)
{
    unsigned int   len;
    unsigned char  buf[EVP_MAX_MD_SIZE];

    if (HMAC(EVP_sha256(), key, (int) key_len, (const unsigned char *) data,
             strlen(data), buf, &len)
        == NULL || len != 32)
    {
        return 0;
    }

    memcpy(out, buf, 32);

    return 1;
}
