
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#ifndef _NGX_HTTP_UPLOAD_STORE_MULTIPART_H_INCLUDED_
#define _NGX_HTTP_UPLOAD_STORE_MULTIPART_H_INCLUDED_


#include "ngx_http_upload_store_module.h"


ngx_int_t ngx_http_upload_store_multipart_init(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx);
ngx_int_t ngx_http_upload_store_multipart_filter(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_chain_t *in, ngx_chain_t **out);
void ngx_http_upload_store_multipart_sent(ngx_http_upload_store_ctx_t *ctx,
    ngx_chain_t *out);
ngx_int_t ngx_http_upload_store_multipart_field(
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *name, ngx_str_t *value);
ngx_int_t ngx_http_upload_store_multipart_fields(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, json_t *meta);


#endif /* _NGX_HTTP_UPLOAD_STORE_MULTIPART_H_INCLUDED_ */
