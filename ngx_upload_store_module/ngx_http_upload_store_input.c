
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"
#include "ngx_http_upload_store_mp.h"


/*
 * What the client says of its upload, checked before it becomes part of
 * the record: the customer and the category (from variables), the file
 * name and the content type (from the request's headers, or from the
 * form's file part).  Each refusal is set as the request's JSON error,
 * and its status returned.
 */


static ngx_uint_t ngx_http_upload_store_generic(ngx_str_t *type);
static ngx_int_t ngx_http_upload_store_check_type(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx);


/*
 * customer and category, from upload_store_customer and
 * upload_store_category: NGX_OK, or 403 when there is no customer
 */

ngx_int_t
ngx_http_upload_store_set_customer(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx)
{
    ngx_http_upload_store_record_t    *rec;
    ngx_http_upload_store_loc_conf_t  *uslcf;

    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);
    rec = &ctx->record;

    if (ngx_http_complex_value(r, uslcf->customer, &rec->customer) != NGX_OK
        || ngx_http_complex_value(r, uslcf->category, &rec->category)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rec->customer.len == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "upload store \"%V\": no customer", &ctx->store->name);

        return ngx_http_upload_store_set_error(r, NGX_HTTP_FORBIDDEN,
                                               "customer_missing",
                                               "no customer");
    }

    return NGX_OK;
}


/* names for an upload to be stored: NGX_OK, or 400 */

ngx_int_t
ngx_http_upload_store_check_customer(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx)
{
    ngx_http_upload_store_t         *store;
    ngx_http_upload_store_record_t  *rec;

    store = ctx->store;
    rec = &ctx->record;

    if (ngx_http_upload_store_valid_name(&rec->customer) != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "upload store \"%V\": invalid customer \"%V\"",
                      &store->name,
                      ngx_http_upload_store_log_safe(r->pool,
                                                     &rec->customer));

        return ngx_http_upload_store_set_error(r, NGX_HTTP_BAD_REQUEST,
                                               "customer_invalid",
                                               "invalid customer");
    }

    if (ngx_http_upload_store_valid_name(&rec->category) != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "upload store \"%V\": invalid category \"%V\" "
                      "for customer \"%V\"", &store->name,
                      ngx_http_upload_store_log_safe(r->pool,
                                                     &rec->category),
                      &rec->customer);

        return ngx_http_upload_store_set_error(r, NGX_HTTP_BAD_REQUEST,
                                               "category_invalid",
                                               "invalid category");
    }

    return NGX_OK;
}


/* a raw body: its type and name are the request's */

ngx_int_t
ngx_http_upload_store_set_raw(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx)
{
    u_char                                  *v;
    ngx_int_t                                rc;
    ngx_str_t                                ct;
    ngx_table_elt_t                         *h;
    ngx_http_upload_store_record_t          *rec;
    ngx_http_upload_store_mp_disposition_t   d;

    rec = &ctx->record;
    h = ngx_http_upload_store_header(&r->headers_in.headers,
                                     "Content-Disposition");

    if (h != NULL) {

        /* parsed in place: a copy */

        v = ngx_pnalloc(r->pool, h->value.len);
        if (v == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(v, h->value.data, h->value.len);

        if (ngx_http_upload_store_mp_disposition(v, h->value.len, &d)
            != NGX_HTTP_UPLOAD_STORE_MP_OK)
        {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "upload store \"%V\": invalid Content-Disposition "
                          "from customer \"%V\"", &ctx->store->name,
                          &rec->customer);

            return ngx_http_upload_store_set_error(r, NGX_HTTP_BAD_REQUEST,
                                                   "filename_invalid",
                                                   "invalid file name in "
                                                   "Content-Disposition");
        }

        if (d.has_filename) {
            rc = ngx_http_upload_store_set_filename(r, ctx, d.filename,
                                                    d.filename_len);
            if (rc != NGX_OK) {
                return rc;
            }
        }
    }

    ngx_str_null(&ct);

    if (r->headers_in.content_type != NULL) {
        ct = r->headers_in.content_type->value;
    }

    return ngx_http_upload_store_set_type(r, ctx, &ct);
}


/*
 * the upload's type: the media type of a Content-Type value, lower-cased,
 * without parameters, checked against upload_store_types; and the stored
 * name's suffix, which the type gives
 */

ngx_int_t
ngx_http_upload_store_set_type(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *value)
{
    u_char                          *p, *last, *slash;
    ngx_str_t                        ct;
    ngx_http_upload_store_record_t  *rec;

    rec = &ctx->record;
    ngx_str_null(&rec->content_type);

    ct = *value;

    last = ngx_strlchr(ct.data, ct.data + ct.len, ';');
    if (last == NULL) {
        last = ct.data + ct.len;
    }

    while (last > ct.data && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    ct.len = last - ct.data;
    slash = NULL;

    for (p = ct.data; p < last; p++) {
        if (*p == '/' && slash == NULL) {
            slash = p;
            continue;
        }

        if (*p <= ' ' || *p >= 0x7f || *p == '/' || *p == ','
            || *p == '"' || *p == '\\' || *p == '*')
        {
            break;
        }
    }

    if (ct.len && p == last && slash != NULL && slash != ct.data
        && slash != last - 1 && ct.len <= 127)
    {
        rec->content_type.data = ngx_pnalloc(r->pool, ct.len);
        if (rec->content_type.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rec->content_type.len = ct.len;
        ngx_strlow(rec->content_type.data, ct.data, ct.len);
    }

    /*
     * no type, or the generic one (curl -F sends .wav files so): the file
     * name's extension tells, when it is a known audio or video one
     */

    if (ngx_http_upload_store_generic(&rec->content_type)) {
        ngx_http_upload_store_type_of(&rec->filename, &rec->content_type);
    }

    /* still none: the first bytes of the audio will tell */

    if (ngx_http_upload_store_generic(&rec->content_type)) {
        ctx->sniff = 1;
        return NGX_OK;
    }

    return ngx_http_upload_store_check_type(r, ctx);
}


/*
 * a type that says nothing of the audio: none, application/octet-stream
 * (curl -F, curl -T), application/x-www-form-urlencoded (curl
 * --data-binary)
 */

static ngx_uint_t
ngx_http_upload_store_generic(ngx_str_t *type)
{
    return type->len == 0
           || (type->len == sizeof("application/octet-stream") - 1
               && ngx_strncmp(type->data, "application/octet-stream",
                              type->len)
                  == 0)
           || (type->len == sizeof("application/x-www-form-urlencoded") - 1
               && ngx_strncmp(type->data, "application/x-www-form-urlencoded",
                              type->len)
                  == 0);
}


/*
 * the type from the audio's first bytes, when the client gave none that
 * says anything; then checked as a declared one
 */

ngx_int_t
ngx_http_upload_store_sniff(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, u_char *p, size_t len)
{
    ctx->sniff = 0;

    ngx_http_upload_store_type_of_bytes(p, len, &ctx->record.content_type);

    return ngx_http_upload_store_check_type(r, ctx);
}


/* the suffix the type gives, and the type against upload_store_types */

static ngx_int_t
ngx_http_upload_store_check_type(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx)
{
    ngx_str_t                         *type, ct;
    ngx_uint_t                         i;
    ngx_array_t                       *types;
    ngx_http_upload_store_record_t    *rec;
    ngx_http_upload_store_loc_conf_t  *uslcf;

    rec = &ctx->record;

    ngx_http_upload_store_suffix(&rec->filename, &rec->content_type,
                                 &rec->suffix);

    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);
    types = uslcf->types;

    if (types == NULL) {
        return NGX_OK;
    }

    ct = rec->content_type;
    type = types->elts;

    for (i = 0; ct.len && i < types->nelts; i++) {

        if (type[i].len == 1 || ngx_strcmp(type[i].data, "*/*") == 0) {
            return NGX_OK;
        }

        if (type[i].data[type[i].len - 1] == '*') {
            if (ct.len >= type[i].len
                && ngx_strncmp(ct.data, type[i].data, type[i].len - 1) == 0)
            {
                return NGX_OK;
            }

            continue;
        }

        if (ct.len == type[i].len
            && ngx_strncmp(ct.data, type[i].data, ct.len) == 0)
        {
            return NGX_OK;
        }
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "upload store \"%V\": content type \"%V\" from customer "
                  "\"%V\" is not allowed", &ctx->store->name, &ct,
                  &rec->customer);

    if (ct.len == 0) {
        return ngx_http_upload_store_set_error(r,
                                       NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                       "type_not_allowed",
                                       "a valid Content-Type is required");
    }

    return ngx_http_upload_store_set_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                           "type_not_allowed",
                                           "content type \"%V\" is not allowed",
                                           &ct);
}


ngx_int_t
ngx_http_upload_store_set_filename(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, u_char *name, size_t len)
{
    u_char                          *p, *last, *start;
    ngx_http_upload_store_record_t  *rec;

    rec = &ctx->record;
    start = name;
    last = name + len;

    for (p = name; p < last; p++) {
        if (*p == '/' || *p == '\\') {
            start = p + 1;
        }
    }

    len = last - start;

    if ((len == 1 && start[0] == '.')
        || (len == 2 && start[0] == '.' && start[1] == '.'))
    {
        len = 0;
    }

    if (len > NGX_HTTP_UPLOAD_STORE_FNAME_MAX
        || ngx_http_upload_store_utf8(start, len, 1) != NGX_OK)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "upload store \"%V\": invalid file name from "
                      "customer \"%V\"", &ctx->store->name, &rec->customer);

        return ngx_http_upload_store_set_error(r, NGX_HTTP_BAD_REQUEST,
                                               "filename_invalid",
                                               "invalid file name");
    }

    rec->filename.len = len;
    rec->filename.data = ngx_pnalloc(r->pool, len);
    if (rec->filename.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(rec->filename.data, start, len);

    return NGX_OK;
}

