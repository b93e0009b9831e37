
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#ifndef _NGX_HTTP_UPLOAD_STORE_MP_H_INCLUDED_
#define _NGX_HTTP_UPLOAD_STORE_MP_H_INCLUDED_


/*
 * A streaming multipart/form-data parser (RFC 7578, RFC 2046): plain C,
 * no nginx types, so that it can be tested and fuzzed alone. The body is
 * given in pieces of any size; part data comes out through callbacks,
 * as pointers into the piece given whenever possible.
 */


#include <stddef.h>


#define NGX_HTTP_UPLOAD_STORE_MP_BOUNDARY_MAX   70
#define NGX_HTTP_UPLOAD_STORE_MP_DELIM_MAX      (3 + 70)  /* "\n--" ... */

#define NGX_HTTP_UPLOAD_STORE_MP_OK             0
#define NGX_HTTP_UPLOAD_STORE_MP_BAD_BOUNDARY   1
#define NGX_HTTP_UPLOAD_STORE_MP_MALFORMED      2
#define NGX_HTTP_UPLOAD_STORE_MP_HEADERS_LARGE  3
#define NGX_HTTP_UPLOAD_STORE_MP_NO_NAME        4
#define NGX_HTTP_UPLOAD_STORE_MP_INCOMPLETE     5

/* callbacks return 0, or a code of their own (from 100), which stops it */


typedef struct {
    unsigned char                      *type;
    size_t                              type_len;
    unsigned char                      *name;
    size_t                              name_len;
    unsigned char                      *filename;    /* filename* wins */
    size_t                              filename_len;
    unsigned                            has_name:1;
    unsigned                            has_filename:1;
} ngx_http_upload_store_mp_disposition_t;


typedef struct {
    ngx_http_upload_store_mp_disposition_t  disposition;
    unsigned char                      *content_type;
    size_t                              content_type_len;
} ngx_http_upload_store_mp_part_t;


typedef int (*ngx_http_upload_store_mp_part_pt)(void *data,
    ngx_http_upload_store_mp_part_t *part);
typedef int (*ngx_http_upload_store_mp_data_pt)(void *data,
    const unsigned char *p, size_t len);
typedef int (*ngx_http_upload_store_mp_end_pt)(void *data);


typedef struct {
    /* set by the caller before ngx_http_upload_store_mp_init() */
    ngx_http_upload_store_mp_part_pt    on_part;
    ngx_http_upload_store_mp_data_pt    on_data;
    ngx_http_upload_store_mp_end_pt     on_part_end;
    void                               *data;
    unsigned char                      *headers;     /* headers_max + 1 */
    size_t                              headers_max;

    /* private */
    unsigned char                       delim[
                                        NGX_HTTP_UPLOAD_STORE_MP_DELIM_MAX];
    size_t                              delim_len;
    size_t                              match;
    size_t                              hlen;
    int                                 state;
    int                                 error;
    unsigned                            cr:1;
    unsigned                            in_part:1;
} ngx_http_upload_store_mp_t;


int ngx_http_upload_store_mp_boundary(const unsigned char *content_type,
    size_t len, const unsigned char **boundary, size_t *boundary_len);
int ngx_http_upload_store_mp_init(ngx_http_upload_store_mp_t *mp,
    const unsigned char *boundary, size_t len);
int ngx_http_upload_store_mp_parse(ngx_http_upload_store_mp_t *mp,
    const unsigned char *p, size_t len);
int ngx_http_upload_store_mp_finish(ngx_http_upload_store_mp_t *mp);

int ngx_http_upload_store_mp_disposition(unsigned char *value, size_t len,
    ngx_http_upload_store_mp_disposition_t *d);

/* shared by the parser and its header values (..._mp_value.c) */

int ngx_http_upload_store_mp_lower_eq(const unsigned char *p, size_t len,
    const char *s);
int ngx_http_upload_store_mp_bchar(unsigned char c);


#endif /* _NGX_HTTP_UPLOAD_STORE_MP_H_INCLUDED_ */
