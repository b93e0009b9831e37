
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_core.h"


#define NGX_HTTP_UPLOAD_STORE_JSON_GUESS  1024     /* a record's bytes */


/* JSON helpers of the core: strings, dumps into a pool, pointers */


/* an empty string is null; NULL (an error) when it is not UTF-8 */

json_t *
ngx_http_upload_store_json_str(ngx_str_t *s)
{
    if (s->len == 0) {
        return json_null();
    }

    return json_stringn((const char *) s->data, s->len);
}


ngx_int_t
ngx_http_upload_store_json_dump(ngx_pool_t *pool, json_t *json,
    ngx_str_t *out)
{
    size_t   len, size;
    u_char  *p;

    /* one pass for most records: a second only when they do not fit */

    size = NGX_HTTP_UPLOAD_STORE_JSON_GUESS;

    p = ngx_pnalloc(pool, size + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    len = json_dumpb(json, (char *) p, size, JSON_COMPACT);
    if (len == 0) {
        return NGX_ERROR;
    }

    if (len > size) {
        p = ngx_pnalloc(pool, len + 1);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (json_dumpb(json, (char *) p, len, JSON_COMPACT) != len) {
            return NGX_ERROR;
        }
    }

    p[len] = '\n';

    out->data = p;
    out->len = len + 1;

    return NGX_OK;
}


/* RFC 6901: "/results/channels/0/alternatives/0/transcript" */

json_t *
ngx_http_upload_store_json_pointer(json_t *root, ngx_str_t *pointer)
{
    u_char     *p, *last, *end;
    char        key[256];
    size_t      n;
    json_t     *v;
    ngx_int_t   index;

    v = root;
    p = pointer->data;
    last = pointer->data + pointer->len;

    while (p < last && v != NULL) {

        p++;    /* '/' */

        end = ngx_strlchr(p, last, '/');
        if (end == NULL) {
            end = last;
        }

        for (n = 0; p < end && n < sizeof(key) - 1; p++) {
            if (*p == '~' && p + 1 < end && (p[1] == '0' || p[1] == '1')) {
                key[n++] = (p[1] == '0') ? '~' : '/';
                p++;
                continue;
            }

            key[n++] = *p;
        }

        key[n] = '\0';
        p = end;

        if (json_is_array(v)) {
            index = ngx_atoi((u_char *) key, n);
            v = (index == NGX_ERROR) ? NULL : json_array_get(v, index);

        } else {
            v = json_object_get(v, key);
        }
    }

    return v;
}


/* "1970-01-01T00:00:00.000Z", as ngx_http_upload_store_iso_time() writes
 * it, to ms since the epoch; 0 if it is not that */

uint64_t
ngx_http_upload_store_parse_iso(u_char *p, size_t len)
{
    time_t     t;
    struct tm  tm;
    ngx_int_t  v[7];
    ngx_uint_t i;

    static size_t  at[] = { 0, 5, 8, 11, 14, 17, 20 };
    static size_t  n[] = { 4, 2, 2, 2, 2, 2, 3 };

    if (len != sizeof("1970-01-01T00:00:00.000Z") - 1 || p[len - 1] != 'Z') {
        return 0;
    }

    for (i = 0; i < 7; i++) {
        v[i] = ngx_atoi(p + at[i], n[i]);

        if (v[i] == NGX_ERROR) {
            return 0;
        }
    }

    ngx_memzero(&tm, sizeof(struct tm));
    tm.tm_year = v[0] - 1900;
    tm.tm_mon = v[1] - 1;
    tm.tm_mday = v[2];
    tm.tm_hour = v[3];
    tm.tm_min = v[4];
    tm.tm_sec = v[5];

    t = timegm(&tm);

    return t < 0 ? 0 : (uint64_t) t * 1000 + v[6];
}
