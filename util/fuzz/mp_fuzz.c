
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


/*
 * libFuzzer target for the multipart parser. Input: one byte N, then a
 * boundary of N bytes, then 4 bytes seeding where the body is cut, then
 * the body. The body is parsed whole, then again in pieces cut where the
 * seed says; both must give the same events and the same data, and no
 * data may point outside the piece given or the parser's own copy.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_upload_store_mp.h"


typedef struct {
    unsigned char                *buf;
    size_t                        len;
    size_t                        size;
    const unsigned char          *piece;
    size_t                        piece_len;
    ngx_http_upload_store_mp_t   *mp;
} fuzz_log_t;


static void
fuzz_put(fuzz_log_t *log, const void *p, size_t len)
{
    if (len == 0) {
        return;
    }

    if (log->len + len > log->size) {
        log->size = (log->len + len) * 2;
        log->buf = realloc(log->buf, log->size);
        if (log->buf == NULL) {
            abort();
        }
    }

    memcpy(log->buf + log->len, p, len);
    log->len += len;
}


static int
fuzz_part(void *data, ngx_http_upload_store_mp_part_t *part)
{
    fuzz_log_t  *log = data;

    fuzz_put(log, "P", 1);
    fuzz_put(log, part->disposition.name, part->disposition.name_len);
    fuzz_put(log, "|", 1);

    if (part->disposition.has_filename) {
        fuzz_put(log, part->disposition.filename,
                 part->disposition.filename_len);
    }

    fuzz_put(log, "|", 1);
    fuzz_put(log, part->content_type, part->content_type_len);
    fuzz_put(log, "\n", 1);

    /* a name of "stop" makes the callback refuse: errors must stick */
    if (part->disposition.name_len == 4
        && memcmp(part->disposition.name, "stop", 4) == 0)
    {
        return 100;
    }

    return 0;
}


static int
fuzz_data(void *data, const unsigned char *p, size_t len)
{
    fuzz_log_t  *log = data;

    if (len == 0) {
        abort();
    }

    /* a slice of the piece, or a copy the parser holds */

    if (!(p >= log->piece && p + len <= log->piece + log->piece_len)
        && !(p >= log->mp->delim
             && p + len <= log->mp->delim + log->mp->delim_len)
        && !(len == 1 && *p == '\r'))
    {
        abort();
    }

    fuzz_put(log, p, len);

    return 0;
}


static int
fuzz_end(void *data)
{
    fuzz_log_t  *log = data;

    fuzz_put(log, "E\n", 2);

    return 0;
}


static int
fuzz_run(const unsigned char *boundary, size_t blen,
    const unsigned char *body, size_t len, uint32_t seed, fuzz_log_t *log)
{
    int                          rc;
    size_t                       n;
    unsigned char                headers[256];
    ngx_http_upload_store_mp_t   mp;

    memset(&mp, 0, sizeof(mp));

    mp.on_part = fuzz_part;
    mp.on_data = fuzz_data;
    mp.on_part_end = fuzz_end;
    mp.data = log;
    mp.headers = headers;
    mp.headers_max = sizeof(headers) - 1;

    log->mp = &mp;

    rc = ngx_http_upload_store_mp_init(&mp, boundary, blen);
    if (rc != 0) {
        return -rc;
    }

    while (len) {
        if (seed == 0) {
            n = len;

        } else {
            seed = seed * 1103515245 + 12345;
            n = 1 + (seed >> 8) % (seed & 0x100 ? 3 : 97);

            if (n > len) {
                n = len;
            }
        }

        log->piece = body;
        log->piece_len = n;

        rc = ngx_http_upload_store_mp_parse(&mp, body, n);

        if (rc != 0) {
            /* an error sticks */
            if (ngx_http_upload_store_mp_parse(&mp, body, n) != rc
                || ngx_http_upload_store_mp_finish(&mp) != rc)
            {
                abort();
            }

            return rc;
        }

        body += n;
        len -= n;
    }

    return ngx_http_upload_store_mp_finish(&mp);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             rc1, rc2;
    size_t          blen;
    uint32_t        seed;
    unsigned char  *copy;
    fuzz_log_t      one, cut;

    if (size < 6) {
        return 0;
    }

    blen = data[0] % 80;

    if (size < 1 + blen + 4) {
        return 0;
    }

    seed = (uint32_t) data[1 + blen] << 24 | data[2 + blen] << 16
           | data[3 + blen] << 8 | data[4 + blen];
    seed |= 1;

    data += 5 + blen;
    size -= 5 + blen;

    /* the parser decodes headers in its own buffer, never in the body */

    copy = malloc(size + 1);
    if (copy == NULL) {
        abort();
    }

    memcpy(copy, data, size);

    memset(&one, 0, sizeof(one));
    memset(&cut, 0, sizeof(cut));

    rc1 = fuzz_run(data - 4 - blen, blen, copy, size, 0, &one);
    rc2 = fuzz_run(data - 4 - blen, blen, copy, size, seed, &cut);

    if (rc1 != rc2 || one.len != cut.len
        || (one.len && memcmp(one.buf, cut.buf, one.len) != 0)
        || memcmp(copy, data, size) != 0)
    {
        fprintf(stderr, "whole: %d, %zu bytes; in pieces: %d, %zu bytes\n",
                rc1, one.len, rc2, cut.len);
        abort();
    }

    free(one.buf);
    free(cut.buf);
    free(copy);

    return 0;
}
