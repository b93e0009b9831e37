
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#ifndef _NGX_HTTP_UPLOAD_STORE_SIGV4_H_INCLUDED_
#define _NGX_HTTP_UPLOAD_STORE_SIGV4_H_INCLUDED_


#include <stddef.h>
#include <time.h>


/* what a presigned URL is made of; all null-terminated */

typedef struct {
    const char  *method;         /* "GET", "HEAD" */
    const char  *scheme;         /* "https" */
    const char  *host;           /* with ":port" if not the scheme's */
    const char  *path;           /* "/bucket/key" or "/key", encoded */
    const char  *key_id;
    const char  *secret;
    const char  *region;
    time_t       now;
    unsigned     expires;        /* seconds, 1 to 604800 */
} ngx_http_upload_store_sigv4_t;


size_t ngx_http_upload_store_sigv4_presign(char *out, size_t size,
    const ngx_http_upload_store_sigv4_t *req);


#endif /* _NGX_HTTP_UPLOAD_STORE_SIGV4_H_INCLUDED_ */
