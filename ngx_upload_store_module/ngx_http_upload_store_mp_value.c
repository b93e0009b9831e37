/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include <string.h>

#include "ngx_http_upload_store_mp.h"


/*
 * The values of the headers a multipart parser reads: a part's
 * Content-Disposition, and the boundary of the request's Content-Type.
 * Plain C, no nginx types, as ngx_http_upload_store_mp.c.
 */


typedef unsigned char  u_char_t;


static size_t ngx_http_upload_store_mp_quotes(u_char_t *start, u_char_t *end);
static int ngx_http_upload_store_mp_hex(u_char_t c);


/* "%22" as '"', in place: the new length */

static size_t
ngx_http_upload_store_mp_quotes(u_char_t *start, u_char_t *end)
{
    u_char_t  *p, *dst;

    for (p = start, dst = start; p < end; p++) {
        if (*p == '%' && end - p >= 3 && p[1] == '2' && p[2] == '2') {
            *dst++ = '"';
            p += 2;
            continue;
        }

        *dst++ = *p;
    }

    return dst - start;
}


/*
 * Content-Disposition (RFC 6266, RFC 7578): a type, then parameters;
 * "filename*" (RFC 8187, UTF-8 only) wins over "filename". Quoted
 * strings and percent-encoding are decoded in place; in "filename", the
 * %22 of browsers (HTML's form encoding of a quote) is a quote.
 */

int
ngx_http_upload_store_mp_disposition(u_char_t *value, size_t len,
    ngx_http_upload_store_mp_disposition_t *d)
{
    int        quoted, hi, lo, ext;
    size_t     nlen;
    u_char_t  *p, *last, *name, *v, *dst, *s;

    memset(d, 0, sizeof(*d));

    p = value;
    last = value + len;

    d->type = p;

    while (p < last && *p != ';' && *p != ' ' && *p != '\t') {
        p++;
    }

    d->type_len = p - d->type;

    if (d->type_len == 0) {
        return NGX_HTTP_UPLOAD_STORE_MP_MALFORMED;
    }

    ext = 0;

    for ( ;; ) {

        while (p < last && (*p == ' ' || *p == '\t')) {
            p++;
        }

        if (p == last) {
            break;
        }

        if (*p++ != ';') {
            return NGX_HTTP_UPLOAD_STORE_MP_MALFORMED;
        }

        while (p < last && (*p == ' ' || *p == '\t')) {
            p++;
        }

        if (p == last) {
            break;
        }

        name = p;

        while (p < last && *p != '=' && *p != ';' && *p != ' '
               && *p != '\t' && *p != '"')
        {
            p++;
        }

        nlen = p - name;

        while (p < last && (*p == ' ' || *p == '\t')) {
            p++;
        }

        if (nlen == 0 || p == last || *p != '=') {
            return NGX_HTTP_UPLOAD_STORE_MP_MALFORMED;
        }

        p++;

        while (p < last && (*p == ' ' || *p == '\t')) {
            p++;
        }

        v = p;
        dst = p;
        quoted = 0;

        if (p < last && *p == '"') {
            quoted = 1;
            p++;
            v = p;
            dst = p;

            /*
             * a backslash escapes only a quote or a backslash (curl);
             * browsers send Windows paths with theirs as they are
             */

            while (p < last && *p != '"') {
                if (*p == '\\' && p + 1 < last
                    && (p[1] == '"' || p[1] == '\\'))
                {
                    p++;
                }

                *dst++ = *p++;
            }

            if (p == last) {
                return NGX_HTTP_UPLOAD_STORE_MP_MALFORMED;
            }

            p++;

        } else {
            while (p < last && *p != ';' && *p != ' ' && *p != '\t') {
                p++;
            }

            dst = p;
        }

        if (ngx_http_upload_store_mp_lower_eq(name, nlen, "name")) {
            d->name = v;
            d->name_len = dst - v;
            d->has_name = 1;
            continue;
        }

        if (ngx_http_upload_store_mp_lower_eq(name, nlen, "filename")) {
            if (!ext) {
                d->filename = v;
                d->filename_len = ngx_http_upload_store_mp_quotes(v, dst);
            }

            d->has_filename = 1;
            continue;
        }

        if (quoted
            || !ngx_http_upload_store_mp_lower_eq(name, nlen, "filename*"))
        {
            continue;
        }

        /* UTF-8'language'percent-encoded; other charsets are ignored */

        if (dst - v < 6
            || !ngx_http_upload_store_mp_lower_eq(v, 6, "utf-8'"))
        {
            continue;
        }

        s = memchr(v + 6, '\'', dst - v - 6);
        if (s == NULL) {
            return NGX_HTTP_UPLOAD_STORE_MP_MALFORMED;
        }

        d->filename = ++s;
        last = dst;

        for (dst = s; s < last; s++) {
            if (*s != '%') {
                *dst++ = *s;
                continue;
            }

            if (last - s < 3) {
                return NGX_HTTP_UPLOAD_STORE_MP_MALFORMED;
            }

            hi = ngx_http_upload_store_mp_hex(s[1]);
            lo = ngx_http_upload_store_mp_hex(s[2]);

            if (hi < 0 || lo < 0) {
                return NGX_HTTP_UPLOAD_STORE_MP_MALFORMED;
            }

            *dst++ = (u_char_t) (hi << 4 | lo);
            s += 2;
        }

        d->filename_len = dst - d->filename;
        d->has_filename = 1;
        ext = 1;

        /* what follows the value was not moved */

        last = value + len;
    }

    return NGX_HTTP_UPLOAD_STORE_MP_OK;
}


/*
 * multipart/form-data; boundary=...: the boundary, quoted or not;
 * NGX_HTTP_UPLOAD_STORE_MP_BAD_BOUNDARY when there is none
 */

int
ngx_http_upload_store_mp_boundary(const u_char_t *ct, size_t len,
    const u_char_t **boundary, size_t *boundary_len)
{
    const u_char_t  *p, *last, *name, *v;

    p = ct;
    last = ct + len;

    while (p < last) {

        p = memchr(p, ';', last - p);
        if (p == NULL) {
            break;
        }

        p++;

        while (p < last && (*p == ' ' || *p == '\t')) {
            p++;
        }

        name = p;

        while (p < last && *p != '=' && *p != ';') {
            p++;
        }

        if (p == last || *p != '=') {
            continue;
        }

        if (!ngx_http_upload_store_mp_lower_eq(name, p - name, "boundary")) {
            continue;
        }

        p++;

        if (p < last && *p == '"') {
            v = ++p;

            while (p < last && *p != '"') {
                p++;
            }

            if (p == last) {
                return NGX_HTTP_UPLOAD_STORE_MP_BAD_BOUNDARY;
            }

        } else {
            v = p;

            while (p < last && *p != ';' && *p != ' ' && *p != '\t') {
                p++;
            }
        }

        *boundary = v;
        *boundary_len = p - v;

        return NGX_HTTP_UPLOAD_STORE_MP_OK;
    }

    return NGX_HTTP_UPLOAD_STORE_MP_BAD_BOUNDARY;
}


/* p[0 .. len) is s, letters in any case */

int
ngx_http_upload_store_mp_lower_eq(const u_char_t *p, size_t len,
    const char *s)
{
    size_t    i;
    u_char_t  c;

    for (i = 0; i < len; i++) {
        c = p[i];

        if (c >= 'A' && c <= 'Z') {
            c |= 0x20;
        }

        if (s[i] == '\0' || c != (u_char_t) s[i]) {
            return 0;
        }
    }

    return s[len] == '\0';
}


/* RFC 2046 bchars */

int
ngx_http_upload_store_mp_bchar(u_char_t c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
        || (c >= 'A' && c <= 'Z'))
    {
        return 1;
    }

    return c != '\0' && strchr("'()+_,-./:=? ", c) != NULL;
}


static int
ngx_http_upload_store_mp_hex(u_char_t c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}
