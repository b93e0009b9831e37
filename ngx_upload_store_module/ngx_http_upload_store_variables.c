
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"


/*
 * $upload_store_*: the upload of the request, once it is stored; in a
 * subrequest (the provider's location) too: the main request's, never the
 * subrequest's own context, which is not an upload's
 */


static ngx_int_t ngx_http_upload_store_str_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_upload_store_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_upload_store_bytes_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_upload_store_sha256_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_upload_store_transcription_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_upload_store_vars[] = {

    { ngx_string("upload_store_id"), NULL,
      ngx_http_upload_store_id_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upload_store_path"), NULL,
      ngx_http_upload_store_str_variable,
      offsetof(ngx_http_upload_store_ctx_t, record.path),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upload_store_customer"), NULL,
      ngx_http_upload_store_str_variable,
      offsetof(ngx_http_upload_store_ctx_t, record.customer),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upload_store_category"), NULL,
      ngx_http_upload_store_str_variable,
      offsetof(ngx_http_upload_store_ctx_t, record.category),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upload_store_bytes"), NULL,
      ngx_http_upload_store_bytes_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upload_store_filename"), NULL,
      ngx_http_upload_store_str_variable,
      offsetof(ngx_http_upload_store_ctx_t, record.filename),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upload_store_content_type"), NULL,
      ngx_http_upload_store_str_variable,
      offsetof(ngx_http_upload_store_ctx_t, record.content_type),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upload_store_sha256"), NULL,
      ngx_http_upload_store_sha256_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upload_store_transcribe_status"), NULL,
      ngx_http_upload_store_transcription_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upload_store_transcribe_time"), NULL,
      ngx_http_upload_store_transcription_variable, 1,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_int_t
ngx_http_upload_store_str_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                    *s;
    ngx_http_upload_store_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_upload_store_module);

    if (ctx == NULL || !ctx->stored) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ngx_str_t *) ((char *) ctx + data);

    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = s->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_store_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_upload_store_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_upload_store_module);

    if (ctx == NULL || !ctx->stored) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = NGX_HTTP_UPLOAD_STORE_ID_LEN;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = ctx->record.id;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_store_bytes_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                       *p;
    ngx_http_upload_store_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_upload_store_module);

    if (ctx == NULL || !ctx->stored) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_OFF_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%O", ctx->record.bytes) - p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_store_sha256_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_upload_store_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_upload_store_module);

    if (ctx == NULL || !ctx->stored || !ctx->record.hashed) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = sizeof(ctx->record.sha256);
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = ctx->record.sha256;

    return NGX_OK;
}


/* the provider's HTTP status (data 0), or the time it took in ms (1) */

static ngx_int_t
ngx_http_upload_store_transcription_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                       *p;
    ngx_http_upload_store_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_upload_store_module);

    if (ctx == NULL || ctx->transcription == NULL
        || (data == 0 && ngx_http_upload_store_transcription_status(ctx) == 0))
    {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (data == 0) {
        v->len = ngx_sprintf(p, "%ui",
                           ngx_http_upload_store_transcription_status(ctx))
                 - p;

    } else {
        v->len = ngx_sprintf(p, "%M",
                             ngx_http_upload_store_transcription_time(ctx))
                 - p;
    }

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


ngx_int_t
ngx_http_upload_store_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_upload_store_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}
