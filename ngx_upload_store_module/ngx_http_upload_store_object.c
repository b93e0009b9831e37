
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_core.h"


/*
 * The object store's requests: an object's key, from the path the layout
 * gives on disk, and a libcurl handle for it, signed by libcurl (SigV4);
 * the error code of an S3 answer.  Nothing here knows of a job or of a
 * client's request.
 */


/* {prefix}{customer}/{category}/{day}/{name}: the path below the root */

ngx_int_t
ngx_http_upload_store_object_key(ngx_pool_t *pool,
    ngx_http_upload_store_t *store, ngx_str_t *path, ngx_str_t *key)
{
    u_char     *p;
    ngx_str_t  *prefix;

    if (store->object == NULL
        || path->len <= store->root.len + 1
        || ngx_strncmp(path->data, store->root.data, store->root.len) != 0
        || path->data[store->root.len] != '/')
    {
        return NGX_ERROR;
    }

    prefix = &store->object->prefix;

    key->len = prefix->len + path->len - store->root.len - 1;
    key->data = ngx_pnalloc(pool, key->len + 1);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(key->data, prefix->data, prefix->len);
    p = ngx_cpymem(p, path->data + store->root.len + 1,
                   path->len - store->root.len - 1);
    *p = '\0';

    return NGX_OK;
}


/*
 * a request for an object (or the bucket, key NULL), with a query:
 * signed by libcurl's SigV4, its payload's hash in x-amz-content-sha256
 * (a header libcurl 7.88 uses but does not send); the caller adds its
 * headers to *headers, sets the method and the body, and frees both;
 * libcurl 7.88 signs a header removed ("Expect:"): none is
 */

CURL *
ngx_http_upload_store_object_easy(ngx_http_upload_store_object_t *os,
    ngx_str_t *key, char *query, struct curl_slist **headers,
    ngx_pool_t *pool)
{
    u_char             *url, *p;
    size_t              len;
    CURL               *easy;

    len = os->url.len + 1 + (key ? 3 * key->len : 0)
          + (query ? 1 + ngx_strlen(query) : 0) + 1;

    url = ngx_pnalloc(pool, len);
    if (url == NULL) {
        return NULL;
    }

    p = ngx_cpymem(url, os->url.data, os->url.len);
    *p++ = '/';

    if (key) {
        p = ngx_http_upload_store_object_escape(p, key);
    }

    if (query) {
        *p++ = '?';
        p = ngx_cpymem(p, query, ngx_strlen(query));
    }

    *p = '\0';

    easy = curl_easy_init();
    if (easy == NULL) {
        return NULL;
    }

    if (curl_easy_setopt(easy, CURLOPT_URL, url) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_AWS_SIGV4, os->sigv4.data)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_USERPWD, os->userpwd.data)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https")
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                            (long) os->connect_timeout)
           != CURLE_OK
        /* no total time for a large object: a stalled one is cut */
        || curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME,
                            (long) (os->timeout / 1000))
           != CURLE_OK
        || (os->ca.len
            && curl_easy_setopt(easy, CURLOPT_CAINFO, os->ca.data)
               != CURLE_OK))
    {
        curl_easy_cleanup(easy);
        return NULL;
    }

    return easy;
}


/*
 * a key in a URL: all but unreserved characters and "/" escaped, as
 * SigV4's canonical path has it (S3 does not escape twice); dst has
 * room for 3 * key->len
 */

u_char *
ngx_http_upload_store_object_escape(u_char *dst, ngx_str_t *key)
{
    u_char      c;
    size_t      i;

    static u_char  hex[] = "0123456789ABCDEF";

    for (i = 0; i < key->len; i++) {
        c = key->data[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9')
            || c == '-' || c == '.' || c == '_' || c == '~' || c == '/')
        {
            *dst++ = c;
            continue;
        }

        *dst++ = '%';
        *dst++ = hex[c >> 4];
        *dst++ = hex[c & 0xf];
    }

    return dst;
}


/* the payload's hash of a request without a body */

ngx_int_t
ngx_http_upload_store_object_no_body(struct curl_slist **headers)
{
    return ngx_http_upload_store_curl_header(headers,
                                          "x-amz-content-sha256: "
                                          NGX_HTTP_UPLOAD_STORE_EMPTY_SHA256);
}


/* S3's <Code>SignatureDoesNotMatch</Code> in an error's body */

void
ngx_http_upload_store_object_code(u_char *body, size_t len, ngx_str_t *code)
{
    u_char  *p, *last, *end;

    ngx_str_null(code);

    if (body == NULL) {
        return;
    }

    last = body + len;

    p = ngx_strlcasestrn(body, last, (u_char *) "<Code>", 6 - 1);
    if (p == NULL) {
        return;
    }

    p += 6;

    end = ngx_strlchr(p, last, '<');
    if (end == NULL || end - p > 64) {
        return;
    }

    for (code->data = p; p < end; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')
              || (*p >= '0' && *p <= '9')))
        {
            return;
        }
    }

    code->len = end - code->data;
}
