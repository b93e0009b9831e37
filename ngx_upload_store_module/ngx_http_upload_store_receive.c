
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"
#include "ngx_http_upload_store_store.h"
#include "ngx_http_upload_store_multipart.h"
#include "ngx_http_upload_store_mp.h"


static void ngx_http_upload_store_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_upload_store_paths(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *prefix);
static ngx_int_t ngx_http_upload_store_raw(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx);
static ngx_int_t ngx_http_upload_store_checksum_init(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx);
static void ngx_http_upload_store_checksum_cleanup(void *data);
static ngx_int_t ngx_http_upload_store_checksum(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_chain_t *out);
static ngx_int_t ngx_http_upload_store_request_body_filter(
    ngx_http_request_t *r, ngx_chain_t *in);


static ngx_http_request_body_filter_pt   ngx_http_next_request_body_filter;


ngx_int_t
ngx_http_upload_store_handler(ngx_http_request_t *r)
{
    ngx_int_t                          rc;
    ngx_http_upload_store_t           *store;
    ngx_http_upload_store_ctx_t       *ctx;
    ngx_http_upload_store_loc_conf_t  *uslcf;

    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);

    if (r != r->main || uslcf->receive == NULL) {
        /* a subrequest never stores */
        return NGX_HTTP_NOT_ALLOWED;
    }

    store = uslcf->receive->data;

    if (!(r->method & (NGX_HTTP_POST|NGX_HTTP_PUT))) {
        return ngx_http_upload_store_not_allowed(r, "POST, PUT");
    }

    ctx = ngx_http_upload_store_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->store = store;

    if (ngx_http_complex_value(r, uslcf->customer, &ctx->customer)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->customer.len == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "upload store \"%V\": no customer", &store->name);

        return ngx_http_upload_store_error(r, NGX_HTTP_FORBIDDEN,
                                           "customer_missing",
                                           "no customer");
    }

    if (ngx_http_upload_store_valid_name(&ctx->customer) != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "upload store \"%V\": invalid customer \"%V\"",
                      &store->name, &ctx->customer);

        return ngx_http_upload_store_error(r, NGX_HTTP_BAD_REQUEST,
                                           "customer_invalid",
                                           "invalid customer");
    }

    if (ngx_http_complex_value(r, uslcf->category, &ctx->category)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_upload_store_valid_name(&ctx->category) != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "upload store \"%V\": invalid category \"%V\" "
                      "for customer \"%V\"",
                      &store->name, &ctx->category, &ctx->customer);

        return ngx_http_upload_store_error(r, NGX_HTTP_BAD_REQUEST,
                                           "category_invalid",
                                           "invalid category");
    }

    ctx->file_field = uslcf->field;

    /* multipart: the type and the name are the file part's, later */

    rc = ngx_http_upload_store_multipart_init(r, ctx);

    if (rc == NGX_DECLINED) {
        rc = ngx_http_upload_store_raw(r, ctx);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    if (uslcf->checksum == NGX_HTTP_UPLOAD_STORE_CHECKSUM_SHA256
        && ngx_http_upload_store_checksum_init(r, ctx) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->headers_in.content_length_n == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "upload store \"%V\": empty body from customer \"%V\"",
                      &store->name, &ctx->customer);

        return ngx_http_upload_store_error(r, NGX_HTTP_BAD_REQUEST,
                                           "empty_body",
                                           "the request body is empty");
    }

    rc = ngx_http_upload_store_check_space(r, store,
                                           r->headers_in.content_length_n);
    if (rc != NGX_OK) {
        return rc;
    }

    r->request_body_in_file_only = 1;
    r->request_body_in_persistent_file = 1;
    r->request_body_in_clean_file = 1;
    r->request_body_file_log_level = 0;

    ctx->reading = 1;

    rc = ngx_http_read_client_request_body(r,
                                        ngx_http_upload_store_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_upload_store_body_handler(ngx_http_request_t *r)
{
    ngx_int_t                          rc;
    ngx_str_t                          json;
    ngx_time_t                        *tp;
    ngx_temp_file_t                   *tf;
    ngx_http_upload_store_t           *store;
    ngx_http_upload_store_ctx_t       *ctx;
    ngx_http_upload_store_loc_conf_t  *uslcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upload_store_module);
    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);

    store = ctx->store;
    ctx->reading = 0;

    if (r->request_body == NULL || r->request_body->temp_file == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "upload store \"%V\": request body is not in a file",
                      &store->name);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    tf = r->request_body->temp_file;
    ctx->bytes = tf->file.offset;

    (void) ngx_atomic_fetch_add(&store->sh->received, ctx->bytes);

    if (ctx->bytes == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "upload store \"%V\": empty body from customer \"%V\"",
                      &store->name, &ctx->customer);

        ngx_http_finalize_request(r,
                       ngx_http_upload_store_error(r, NGX_HTTP_BAD_REQUEST,
                                                   "empty_body",
                                                   "the request body is "
                                                   "empty"));
        return;
    }

    /* a chunked body: its size is known only now */

    rc = ngx_http_upload_store_check_size(r, store, ctx->bytes);
    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    tp = ngx_timeofday();
    ctx->created_sec = tp->sec;
    ctx->created = (ngx_msec_t) tp->sec * 1000 + tp->msec;

    if (ngx_http_upload_store_make_id(ctx->id, ctx->created,
                                      r->connection->log)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_http_upload_store_paths(r, ctx, &uslcf->prefix) != NGX_OK
        || ngx_http_upload_store_metadata(r, ctx, &json) != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_http_upload_store_commit(r, ctx, &tf->file.name, &json);
    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    ctx->stored = 1;

    (void) ngx_atomic_fetch_add(&store->sh->accepted, 1);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upload store: customer \"%V\" stored \"%V\", %O bytes",
                   &ctx->customer, &ctx->path, ctx->bytes);

    if (uslcf->transcribe != NULL) {
        if (ngx_http_upload_store_transcribe(r, ctx) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        /*
         * answered when the provider has: the last finalization is the
         * subrequest's waking of this request
         */

        return;
    }

    ngx_http_finalize_request(r,
                   ngx_http_upload_store_send_json(r, NGX_HTTP_CREATED, &json));
}


/*
 * {root}/{customer}/{category}/{YYYY-MM-DD}/{prefix}{id}[.{suffix}]
 * {root}/{customer}/{category}/{YYYY-MM-DD}/{id}.json
 */

static ngx_int_t
ngx_http_upload_store_paths(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *prefix)
{
    u_char                   *p;
    size_t                    len;
    ngx_tm_t                  tm;
    ngx_http_upload_store_t  *store;

    store = ctx->store;

    ngx_gmtime(ctx->created_sec, &tm);

    len = store->root.len + 1 + ctx->customer.len + 1 + ctx->category.len
          + sizeof("/YYYY-MM-DD/") - 1;

    ctx->path.data = ngx_pnalloc(r->pool, len + prefix->len
                                 + NGX_HTTP_UPLOAD_STORE_ID_LEN
                                 + 1 + ctx->suffix.len + 1);
    ctx->meta_path.data = ngx_pnalloc(r->pool,
                                      len + NGX_HTTP_UPLOAD_STORE_ID_LEN
                                      + sizeof(".json"));

    if (ctx->path.data == NULL || ctx->meta_path.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(ctx->path.data, "%V/%V/%V/%4d-%02d-%02d/",
                    &store->root, &ctx->customer, &ctx->category,
                    tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday);

    p = ngx_cpymem(ctx->meta_path.data, ctx->path.data, len);
    p = ngx_cpymem(p, ctx->id, NGX_HTTP_UPLOAD_STORE_ID_LEN);
    p = ngx_cpymem(p, ".json", sizeof(".json"));
    ctx->meta_path.len = p - 1 - ctx->meta_path.data;

    ctx->file.data = ctx->path.data + len;

    p = ngx_cpymem(ctx->file.data, prefix->data, prefix->len);
    p = ngx_cpymem(p, ctx->id, NGX_HTTP_UPLOAD_STORE_ID_LEN);

    if (ctx->suffix.len) {
        *p++ = '.';
        p = ngx_cpymem(p, ctx->suffix.data, ctx->suffix.len);
    }

    *p = '\0';

    ctx->file.len = p - ctx->file.data;
    ctx->path.len = p - ctx->path.data;

    return NGX_OK;
}


ngx_int_t
ngx_http_upload_store_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *json)
{
    static ngx_str_t  type = ngx_string("application/json");

    return ngx_http_upload_store_send(r, status, &type, json);
}


/* a JSON object as the answer; the reference is taken */

ngx_int_t
ngx_http_upload_store_send_object(ngx_http_request_t *r, ngx_uint_t status,
    json_t *json)
{
    ngx_int_t  rc;
    ngx_str_t  out;

    rc = ngx_http_upload_store_json_dump(r->pool, json, &out);

    json_decref(json);

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_upload_store_send_json(r, status, &out);
}


/* an answer from memory */

ngx_int_t
ngx_http_upload_store_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_str_t *body)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = body->len;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    if (body->len == 0) {
        return ngx_http_send_special(r, NGX_HTTP_LAST);
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body->data;
    b->last = body->data + body->len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* a raw body: its type and name are the request's */

static ngx_int_t
ngx_http_upload_store_raw(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx)
{
    u_char                                  *v;
    ngx_int_t                                rc;
    ngx_str_t                                ct;
    ngx_table_elt_t                         *h;
    ngx_http_upload_store_mp_disposition_t   d;

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
                          &ctx->customer);

            return ngx_http_upload_store_error(r, NGX_HTTP_BAD_REQUEST,
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

    rc = ngx_http_upload_store_set_type(r, ctx, &ct);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_upload_store_suffix(r->pool, &ctx->filename,
                                     &ctx->content_type, &ctx->suffix)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


/*
 * the upload's type: the media type of a Content-Type value, lower-cased,
 * without parameters, checked against upload_store_types
 */

ngx_int_t
ngx_http_upload_store_set_type(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *value)
{
    u_char                            *p, *last, *slash;
    ngx_str_t                         *type, ct;
    ngx_uint_t                         i;
    ngx_array_t                       *types;
    ngx_http_upload_store_loc_conf_t  *uslcf;

    ngx_str_null(&ctx->content_type);

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
        ctx->content_type.data = ngx_pnalloc(r->pool, ct.len);
        if (ctx->content_type.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->content_type.len = ct.len;
        ngx_strlow(ctx->content_type.data, ct.data, ct.len);
    }

    /*
     * no type, or the generic one (curl -F sends .wav files so): the file
     * name's extension tells, when it is a known audio or video one
     */

    if (ctx->content_type.len == 0
        || (ctx->content_type.len == sizeof("application/octet-stream") - 1
            && ngx_strncmp(ctx->content_type.data, "application/octet-stream",
                           ctx->content_type.len)
               == 0))
    {
        ngx_http_upload_store_type_of(&ctx->filename, &ctx->content_type);
    }

    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);
    types = uslcf->types;

    if (types == NULL) {
        return NGX_OK;
    }

    ct = ctx->content_type;
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
                  &ctx->customer);

    if (ct.len == 0) {
        return ngx_http_upload_store_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                           "type_not_allowed",
                                           "a valid Content-Type is required");
    }

    return ngx_http_upload_store_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                       "type_not_allowed",
                                       "content type \"%V\" is not allowed",
                                       &ct);
}


/*
 * the original file name, path components stripped ("/" and "\"); it is
 * only recorded, never used as a path: refused when it has control
 * characters, is not UTF-8 or is too long
 */

ngx_int_t
ngx_http_upload_store_set_filename(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, u_char *name, size_t len)
{
    u_char  *p, *last, *start;

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
                      "customer \"%V\"", &ctx->store->name, &ctx->customer);

        return ngx_http_upload_store_error(r, NGX_HTTP_BAD_REQUEST,
                                           "filename_invalid",
                                           "invalid file name");
    }

    ctx->filename.len = len;
    ctx->filename.data = ngx_pnalloc(r->pool, len);
    if (ctx->filename.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ctx->filename.data, start, len);

    return NGX_OK;
}


/* the first header of that name in a list, or NULL */

ngx_table_elt_t *
ngx_http_upload_store_header(ngx_list_t *headers, char *name)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);
    part = &headers->part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
}


/*
 * NGX_OK when the bytes are UTF-8 with no NUL, and no control character
 * at all with "controls" set
 */

ngx_int_t
ngx_http_upload_store_utf8(u_char *p, size_t len, ngx_uint_t controls)
{
    u_char    *last;
    uint32_t   cp, min;
    ngx_uint_t n, i;

    /*
     * strict, as jansson is: no overlong forms, no surrogates, nothing
     * over U+10FFFF (ngx_utf8_decode() lets some of these through)
     */

    last = p + len;

    while (p < last) {

        if (*p < 0x80) {
            if (*p == '\0' || (controls && (*p < 0x20 || *p == 0x7f))) {
                return NGX_DECLINED;
            }

            p++;
            continue;
        }

        if (*p >= 0xc2 && *p <= 0xdf) {
            n = 1; cp = *p & 0x1f; min = 0x80;

        } else if (*p >= 0xe0 && *p <= 0xef) {
            n = 2; cp = *p & 0x0f; min = 0x800;

        } else if (*p >= 0xf0 && *p <= 0xf4) {
            n = 3; cp = *p & 0x07; min = 0x10000;

        } else {
            return NGX_DECLINED;
        }

        if ((size_t) (last - p) <= n) {
            return NGX_DECLINED;
        }

        for (i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return NGX_DECLINED;
            }

            cp = cp << 6 | (p[i] & 0x3f);
        }

        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return NGX_DECLINED;
        }

        p += n + 1;
    }

    return NGX_OK;
}


/* upload_store_checksum sha256: the digest of the bytes stored */

static ngx_int_t
ngx_http_upload_store_checksum_init(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx)
{
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    ctx->sha = EVP_MD_CTX_new();
    if (ctx->sha == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_upload_store_checksum_cleanup;
    cln->data = ctx->sha;

    if (EVP_DigestInit_ex(ctx->sha, EVP_sha256(), NULL) != 1) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "EVP_DigestInit_ex() failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_upload_store_checksum_cleanup(void *data)
{
    EVP_MD_CTX_free(data);
}


static ngx_int_t
ngx_http_upload_store_checksum(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_chain_t *out)
{
    u_char        md[EVP_MAX_MD_SIZE];
    unsigned int  len;
    ngx_chain_t  *cl;

    for (cl = out; cl; cl = cl->next) {

        if (cl->buf->last > cl->buf->pos
            && EVP_DigestUpdate(ctx->sha, cl->buf->pos,
                                cl->buf->last - cl->buf->pos)
               != 1)
        {
            goto failed;
        }

        if (cl->buf->last_buf) {
            if (EVP_DigestFinal_ex(ctx->sha, md, &len) != 1 || len != 32) {
                goto failed;
            }

            ngx_hex_dump(ctx->sha256, md, len);
            ctx->hashed = 1;
        }
    }

    return NGX_OK;

failed:

    ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                  "upload store: SHA-256 failed");

    return NGX_ERROR;
}


/*
 * sits before nginx's save filter: a failed write of the body turns
 * into 507 when the store's disk is full
 */

ngx_int_t
ngx_http_upload_store_init_body_filter(ngx_conf_t *cf)
{
    ngx_http_next_request_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter =
                                   ngx_http_upload_store_request_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_store_request_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in)
{
    ngx_int_t                     rc;
    ngx_err_t                     err;
    ngx_chain_t                  *out;
    ngx_http_upload_store_t      *store;
    ngx_http_upload_store_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upload_store_module);

    if (ctx == NULL || !ctx->reading) {
        return ngx_http_next_request_body_filter(r, in);
    }

    store = ctx->store;
    out = in;

    if (ctx->multipart) {
        rc = ngx_http_upload_store_multipart_filter(r, ctx, in, &out);
        if (rc != NGX_OK) {
            goto refused;
        }
    }

    if (ctx->sha && ngx_http_upload_store_checksum(r, ctx, out) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_next_request_body_filter(r, out);

    if (ctx->multipart) {
        ngx_http_upload_store_multipart_sent(ctx, out);
    }

    if (rc != NGX_HTTP_INTERNAL_SERVER_ERROR) {
        return rc;
    }

    err = ngx_errno;

    /* a short write() leaves no errno: ask the filesystem */

    if (err == NGX_ENOSPC
#ifdef EDQUOT
        || err == EDQUOT
#endif
        || ngx_fs_available(store->root.data) <= store->min_free)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "upload store \"%V\": no space left for the upload "
                      "of customer \"%V\" in \"%s\"",
                      &store->name, &ctx->customer,
                      store->temp_path->name.data);

        rc = ngx_http_upload_store_error(r, NGX_HTTP_INSUFFICIENT_STORAGE,
                                         "insufficient_storage",
                                         "no space left in the store");
        goto refused;
    }

    return rc;

refused:

    /* the rest of the body is not read: the connection cannot be kept */

    ctx->reading = 0;
    ctx->linger = 1;
    r->keepalive = 0;
    r->lingering_close = 1;

    return rc;
}
