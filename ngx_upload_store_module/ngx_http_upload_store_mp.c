
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* memmem() */
#endif

#include <string.h>

#include "ngx_http_upload_store_mp.h"


/*
 * The delimiter is "\n--" boundary, with an optional "\r" before the
 * "\n" (clients that end lines with LF alone exist). In a part's data the
 * bytes that may begin a delimiter are held back, and given out as data
 * when they turn out not to be one: from the piece being parsed when they
 * are in it, else from a copy (the delimiter itself, or "\r").
 */


enum {
    ngx_http_upload_store_mp_preamble = 0,
    ngx_http_upload_store_mp_after_delim,
    ngx_http_upload_store_mp_after_dash,
    ngx_http_upload_store_mp_after_pad,
    ngx_http_upload_store_mp_after_cr,
    ngx_http_upload_store_mp_headers,
    ngx_http_upload_store_mp_body,
    ngx_http_upload_store_mp_epilogue,
    ngx_http_upload_store_mp_error
};


typedef unsigned char  u_char_t;


static int ngx_http_upload_store_mp_scan(ngx_http_upload_store_mp_t *mp,
    const u_char_t **pp, const u_char_t *end, int emit);
static int ngx_http_upload_store_mp_emit(ngx_http_upload_store_mp_t *mp,
    const u_char_t *p, size_t len);
static int ngx_http_upload_store_mp_part(ngx_http_upload_store_mp_t *mp);


static const u_char_t  ngx_http_upload_store_mp_cr[] = "\r";


int
ngx_http_upload_store_mp_init(ngx_http_upload_store_mp_t *mp,
    const u_char_t *boundary, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_HTTP_UPLOAD_STORE_MP_BOUNDARY_MAX
        || boundary[len - 1] == ' ')
    {
        return NGX_HTTP_UPLOAD_STORE_MP_BAD_BOUNDARY;
    }

    for (i = 0; i < len; i++) {
        if (!ngx_http_upload_store_mp_bchar(boundary[i])) {
            return NGX_HTTP_UPLOAD_STORE_MP_BAD_BOUNDARY;
        }
    }

    mp->delim[0] = '\n';
    mp->delim[1] = '-';
    mp->delim[2] = '-';
    memcpy(mp->delim + 3, boundary, len);
    mp->delim_len = len + 3;

    /* the body may start with the first delimiter: as if after a "\n" */

    mp->match = 1;
    mp->cr = 0;
    mp->hlen = 0;
    mp->in_part = 0;
    mp->error = NGX_HTTP_UPLOAD_STORE_MP_OK;
    mp->state = ngx_http_upload_store_mp_preamble;

    return NGX_HTTP_UPLOAD_STORE_MP_OK;
}


int
ngx_http_upload_store_mp_parse(ngx_http_upload_store_mp_t *mp,
    const u_char_t *p, size_t len)
{
    int              rc;
    u_char_t         c;
    const u_char_t  *end;

    end = p + len;

    while (p < end) {

        switch (mp->state) {

        case ngx_http_upload_store_mp_preamble:
        case ngx_http_upload_store_mp_body:

            rc = ngx_http_upload_store_mp_scan(mp, &p, end,
                                  mp->state == ngx_http_upload_store_mp_body);
            if (rc < 0) {
                return mp->error;
            }

            if (rc == 0) {
                break;
            }

            /* a delimiter */

            if (mp->in_part) {
                mp->in_part = 0;

                rc = mp->on_part_end(mp->data);
                if (rc != 0) {
                    goto failed;
                }
            }

            mp->state = ngx_http_upload_store_mp_after_delim;
            break;

        case ngx_http_upload_store_mp_after_delim:

            if (*p == '-') {
                p++;
                mp->state = ngx_http_upload_store_mp_after_dash;
                break;
            }

            mp->state = ngx_http_upload_store_mp_after_pad;

            /* fall through */

        case ngx_http_upload_store_mp_after_pad:

            /* blanks may follow a boundary, then the line ends */

            c = *p++;

            if (c == ' ' || c == '\t') {
                break;
            }

            if (c == '\r') {
                mp->state = ngx_http_upload_store_mp_after_cr;
                break;
            }

            if (c == '\n') {
                mp->hlen = 0;
                mp->state = ngx_http_upload_store_mp_headers;
                break;
            }

            rc = NGX_HTTP_UPLOAD_STORE_MP_MALFORMED;
            goto failed;

        case ngx_http_upload_store_mp_after_dash:

            if (*p++ != '-') {
                rc = NGX_HTTP_UPLOAD_STORE_MP_MALFORMED;
                goto failed;
            }

            /* the close delimiter: what follows is ignored */

            mp->state = ngx_http_upload_store_mp_epilogue;
            break;

        case ngx_http_upload_store_mp_after_cr:

            if (*p++ != '\n') {
                rc = NGX_HTTP_UPLOAD_STORE_MP_MALFORMED;
                goto failed;
            }

            mp->hlen = 0;
            mp->state = ngx_http_upload_store_mp_headers;
            break;

        case ngx_http_upload_store_mp_headers:

            c = *p++;

            if (c != '\n') {

                /* a "\r" may take the byte after the limit: CRLF and LF
                 * alone are held to the same limit */

                if (mp->hlen >= mp->headers_max
                    && !(c == '\r' && mp->hlen == mp->headers_max))
                {
                    rc = NGX_HTTP_UPLOAD_STORE_MP_HEADERS_LARGE;
                    goto failed;
                }

                if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
                    rc = NGX_HTTP_UPLOAD_STORE_MP_MALFORMED;
                    goto failed;
                }

                mp->headers[mp->hlen++] = c;
                break;
            }

            if (mp->hlen && mp->headers[mp->hlen - 1] == '\r') {
                mp->hlen--;
            }

            if (mp->hlen != 0 && mp->headers[mp->hlen - 1] != '\n') {

                /* a header line: lines are kept apart by "\n" */

                if (mp->hlen >= mp->headers_max) {
                    rc = NGX_HTTP_UPLOAD_STORE_MP_HEADERS_LARGE;
                    goto failed;
                }

                mp->headers[mp->hlen++] = '\n';
                break;
            }

            /* an empty line: the part's data follows */

            rc = ngx_http_upload_store_mp_part(mp);
            if (rc != 0) {
                goto failed;
            }

            mp->in_part = 1;
            mp->match = 0;
            mp->cr = 0;
            mp->state = ngx_http_upload_store_mp_body;
            break;

        case ngx_http_upload_store_mp_epilogue:
            return NGX_HTTP_UPLOAD_STORE_MP_OK;

        default: /* ngx_http_upload_store_mp_error */
            return mp->error;
        }
    }

    return NGX_HTTP_UPLOAD_STORE_MP_OK;

failed:

    mp->error = rc;
    mp->state = ngx_http_upload_store_mp_error;

    return rc;
}


int
ngx_http_upload_store_mp_finish(ngx_http_upload_store_mp_t *mp)
{
    if (mp->state == ngx_http_upload_store_mp_epilogue) {
        return NGX_HTTP_UPLOAD_STORE_MP_OK;
    }

    if (mp->state == ngx_http_upload_store_mp_error) {
        return mp->error;
    }

    mp->error = NGX_HTTP_UPLOAD_STORE_MP_INCOMPLETE;
    mp->state = ngx_http_upload_store_mp_error;

    return mp->error;
}


/*
 * 1: a delimiter ends at *pp; 0: the piece is used up; -1: an error.
 * Data is given out only with "emit" (a part's data, not the preamble).
 */

static int
ngx_http_upload_store_mp_scan(ngx_http_upload_store_mp_t *mp,
    const u_char_t **pp, const u_char_t *end, int emit)
{
    int              carry;
    size_t           prev;
    const u_char_t  *p, *q, *run, *held;

    p = *pp;
    run = p;        /* the first byte not given out yet */
    held = NULL;    /* the first held byte, when all of them are in here */

    /* bytes held from an earlier piece: "\r", then delim[0 .. match) */
    carry = (mp->match > 0 || mp->cr);

    while (p < end) {

        if (mp->match == 0) {

            if (mp->cr && *p != '\n') {
                /* a "\r" held at the end of the last piece was data */

                mp->cr = 0;
                carry = 0;

                if (emit
                    && ngx_http_upload_store_mp_emit(mp,
                                              ngx_http_upload_store_mp_cr, 1)
                       != 0)
                {
                    return -1;
                }
            }

            if (carry) {
                /* a "\r" held from the last piece: its "\n" decides */
                q = memchr(p, '\n', end - p);

            } else {

                /*
                 * a whole delimiter is found by memmem(), which skips
                 * ahead instead of stopping at every "\n" of the data;
                 * only the piece's last delim_len - 1 bytes can begin one
                 * that the next piece ends, and memchr() looks there
                 */

                q = memmem(p, end - p, mp->delim, mp->delim_len);

                if (q == NULL) {
                    q = (size_t) (end - p) >= mp->delim_len
                        ? end - (mp->delim_len - 1) : p;
                    q = memchr(q, '\n', end - q);
                }
            }

            if (q == NULL) {
                p = end;
                break;
            }

            if (q > run && q[-1] == '\r') {
                held = q - 1;
                mp->cr = 1;
                carry = 0;

            } else if (q == run && carry) {
                held = NULL;

            } else {
                held = q;
                mp->cr = 0;
                carry = 0;
            }

            mp->match = 1;
            p = q + 1;
            continue;
        }

        while (p < end && mp->match < mp->delim_len
               && *p == mp->delim[mp->match])
        {
            p++;
            mp->match++;
        }

        if (mp->match == mp->delim_len) {

            if (held != NULL && held > run && emit
                && ngx_http_upload_store_mp_emit(mp, run, held - run) != 0)
            {
                return -1;
            }

            mp->match = 0;
            mp->cr = 0;
            *pp = p;

            return 1;
        }

        if (p == end) {
            break;
        }

        /* not a delimiter: the bytes held are data */

        if (held == NULL && carry) {

            /* those of the earlier pieces first, from a copy */

            prev = mp->match - (p - run);

            if (emit
                && ((mp->cr
                     && ngx_http_upload_store_mp_emit(mp,
                                              ngx_http_upload_store_mp_cr, 1)
                        != 0)
                    || ngx_http_upload_store_mp_emit(mp, mp->delim, prev)
                       != 0))
            {
                return -1;
            }

            carry = 0;
        }

        held = NULL;
        mp->match = 0;
        mp->cr = 0;
    }

    /* the end of the piece: give out the run, hold what may be a delimiter */

    if (mp->match > 0) {
        if (held != NULL) {
            q = held;

        } else {
            q = carry ? run : end;
        }

    } else if (end > run && end[-1] == '\r') {
        q = end - 1;
        mp->cr = 1;

    } else {
        q = end;
    }

    if (q > run && emit && ngx_http_upload_store_mp_emit(mp, run, q - run)
                           != 0)
    {
        return -1;
    }

    *pp = end;

    return 0;
}


static int
ngx_http_upload_store_mp_emit(ngx_http_upload_store_mp_t *mp,
    const u_char_t *p, size_t len)
{
    int  rc;

    if (len == 0) {
        return 0;
    }

    rc = mp->on_data(mp->data, p, len);

    if (rc != 0) {
        mp->error = rc;
        mp->state = ngx_http_upload_store_mp_error;
    }

    return rc;
}


/* the headers of a part are complete: "Name: value" lines, "\n" apart */

static int
ngx_http_upload_store_mp_part(ngx_http_upload_store_mp_t *mp)
{
    int                               rc, seen_cd, seen_ct;
    size_t                            nlen;
    u_char_t                         *p, *last, *line, *eol, *colon, *v;
    ngx_http_upload_store_mp_part_t   part;

    memset(&part, 0, sizeof(part));

    seen_cd = 0;
    seen_ct = 0;

    p = mp->headers;
    last = mp->headers + mp->hlen;

    if (mp->hlen && last[-1] == '\n') {
        last--;
    }

    /* obsolete line folding: a line starting with a blank continues */

    for (line = p; line < last; line++) {
        if (*line == '\n' && line + 1 < last
            && (line[1] == ' ' || line[1] == '\t'))
        {
            *line = ' ';
        }
    }

    while (p < last) {

        line = p;
        eol = memchr(p, '\n', last - p);

        if (eol == NULL) {
            eol = last;
        }

        p = eol + 1;

        colon = memchr(line, ':', eol - line);
        if (colon == NULL || colon == line) {
            return NGX_HTTP_UPLOAD_STORE_MP_MALFORMED;
        }

        nlen = colon - line;

        while (nlen && (line[nlen - 1] == ' ' || line[nlen - 1] == '\t')) {
            nlen--;
        }

        v = colon + 1;

        while (v < eol && (*v == ' ' || *v == '\t')) {
            v++;
        }

        while (eol > v && (eol[-1] == ' ' || eol[-1] == '\t')) {
            eol--;
        }

        if (ngx_http_upload_store_mp_lower_eq(line, nlen,
                                              "content-disposition"))
        {
            if (seen_cd++) {
                return NGX_HTTP_UPLOAD_STORE_MP_MALFORMED;
            }

            rc = ngx_http_upload_store_mp_disposition(v, eol - v,
                                                      &part.disposition);
            if (rc != 0) {
                return rc;
            }

            if (!ngx_http_upload_store_mp_lower_eq(part.disposition.type,
                                                   part.disposition.type_len,
                                                   "form-data"))
            {
                return NGX_HTTP_UPLOAD_STORE_MP_MALFORMED;
            }

            continue;
        }

        if (ngx_http_upload_store_mp_lower_eq(line, nlen, "content-type")) {
            if (seen_ct++) {
                return NGX_HTTP_UPLOAD_STORE_MP_MALFORMED;
            }

            part.content_type = v;
            part.content_type_len = eol - v;
        }
    }

    if (!part.disposition.has_name) {
        return NGX_HTTP_UPLOAD_STORE_MP_NO_NAME;
    }

    return mp->on_part(mp->data, &part);
}
