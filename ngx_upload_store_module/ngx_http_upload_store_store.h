
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#ifndef _NGX_HTTP_UPLOAD_STORE_STORE_H_INCLUDED_
#define _NGX_HTTP_UPLOAD_STORE_STORE_H_INCLUDED_


#include "ngx_http_upload_store_module.h"


ngx_int_t ngx_http_upload_store_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);

ngx_int_t ngx_http_upload_store_valid_name(ngx_str_t *name);
ngx_int_t ngx_http_upload_store_make_id(u_char *id, ngx_msec_t ms,
    ngx_log_t *log);
ngx_int_t ngx_http_upload_store_parse_id(u_char *id, size_t len,
    time_t *sec);
ngx_int_t ngx_http_upload_store_suffix(ngx_pool_t *pool,
    ngx_str_t *filename, ngx_str_t *content_type, ngx_str_t *suffix);

void ngx_http_upload_store_type_of(ngx_str_t *filename, ngx_str_t *type);
ngx_int_t ngx_http_upload_store_check_size(ngx_http_request_t *r,
    ngx_http_upload_store_t *store, off_t need);
ngx_int_t ngx_http_upload_store_check_space(ngx_http_request_t *r,
    ngx_http_upload_store_t *store, off_t need);
ngx_int_t ngx_http_upload_store_commit(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *temp, ngx_str_t *json);
ngx_int_t ngx_http_upload_store_metadata(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *json);
ngx_int_t ngx_http_upload_store_metadata_save(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, json_t **meta);
void ngx_http_upload_store_delete_audio(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx);


#endif /* _NGX_HTTP_UPLOAD_STORE_STORE_H_INCLUDED_ */
