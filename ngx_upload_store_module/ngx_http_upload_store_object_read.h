
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#ifndef _NGX_HTTP_UPLOAD_STORE_OBJECT_READ_H_INCLUDED_
#define _NGX_HTTP_UPLOAD_STORE_OBJECT_READ_H_INCLUDED_


#include "ngx_http_upload_store_module.h"


/* a GET from the object store for a client's request */

#define NGX_HTTP_UPLOAD_STORE_READ_BUF   16384    /* CURL_MAX_WRITE_SIZE */
#define NGX_HTTP_UPLOAD_STORE_READ_BUFS  4
#define NGX_HTTP_UPLOAD_STORE_READ_ERR   1024     /* an error's body */
#define NGX_HTTP_UPLOAD_STORE_READ_REC   (8 * 1024 * 1024)  /* a record's */


typedef struct {
    ngx_http_upload_store_transfer_t   transfer;    /* first */

    ngx_http_request_t                *request;
    struct curl_slist                 *headers;
    ngx_chain_t                       *free;
    ngx_chain_t                       *busy;
    ngx_uint_t                         nbufs;
    ngx_uint_t                         status;      /* the bucket's */
    ngx_str_t                          content_range;
    ngx_str_t                          etag;
    time_t                             last_modified;
    off_t                              length;
    u_char                            *error;       /* its body */
    size_t                             error_len;
    size_t                             error_cap;

    ngx_http_upload_store_ctx_t       *ctx;         /* a record fetched */
    ngx_uint_t                         what;
    ngx_http_upload_store_found_pt     found;

    unsigned                           header_sent:1;
    unsigned                           paused:1;
    unsigned                           failed:1;    /* the client's side */
    unsigned                           record:1;    /* kept, not sent */
    unsigned                           enough:1;    /* a 304: no body */
} ngx_http_upload_store_read_t;


ngx_http_upload_store_read_t *ngx_http_upload_store_read_create(
    ngx_http_request_t *r, ngx_http_upload_store_object_t *os,
    ngx_str_t *key);


#endif /* _NGX_HTTP_UPLOAD_STORE_OBJECT_READ_H_INCLUDED_ */
