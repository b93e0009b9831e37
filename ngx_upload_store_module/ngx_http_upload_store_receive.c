
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"

#include <sys/file.h>


/*
 * upload_store_receive: the body is read by nginx into a temp file inside
 * the store (request_body_in_file_only), a multipart body parsed as it
 * streams by the request body filter below, and the upload committed by
 * the store's backend once it is whole: 201 with its record, or on to its
 * transcription.
 */


static ngx_int_t ngx_http_upload_store_options(ngx_http_request_t *r);
static ngx_int_t ngx_http_upload_store_reserve(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx);
static void ngx_http_upload_store_release(void *data);
static ngx_int_t ngx_http_upload_store_check_length(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx);
static void ngx_http_upload_store_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_upload_store_commit(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *json);
static ngx_int_t ngx_http_upload_store_queued(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *json);
static ngx_int_t ngx_http_upload_store_refuse(ngx_http_request_t *r,
    ngx_http_upload_store_t *store, ngx_int_t reason);
static ngx_int_t ngx_http_upload_store_checksum_init(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx);
static void ngx_http_upload_store_checksum_cleanup(void *data);
static ngx_int_t ngx_http_upload_store_checksum(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_chain_t *out);
static ngx_int_t ngx_http_upload_store_streamed(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_chain_t *out);
static ngx_uint_t ngx_http_upload_store_last_buf(ngx_chain_t *in);
static ngx_int_t ngx_http_upload_store_sniff_raw(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_chain_t *in);
static ngx_int_t ngx_http_upload_store_request_body_filter(
    ngx_http_request_t *r, ngx_chain_t *in);


static ngx_http_request_body_filter_pt   ngx_http_next_request_body_filter;


ngx_int_t
ngx_http_upload_store_receive_handler(ngx_http_request_t *r)
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

    if (r->method & NGX_HTTP_OPTIONS) {
        return ngx_http_upload_store_options(r);
    }

    if (!(r->method & (NGX_HTTP_POST|NGX_HTTP_PUT))) {
        return ngx_http_upload_store_not_allowed(r, "POST, PUT");
    }

    ctx = ngx_http_upload_store_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->store = store;

    /* a part of a file, as "curl -C" resumes one: not a whole upload */

    if (r->headers_in.content_range != NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "upload store \"%V\": %V with Content-Range is "
                      "unsupported", &store->name, &r->method_name);

        return ngx_http_upload_store_set_error(r, NGX_HTTP_NOT_IMPLEMENTED,
                                               "range_not_supported",
                                               "a Content-Range (a part of "
                                               "a file) cannot be stored");
    }

    rc = ngx_http_upload_store_set_customer(r, ctx);

    if (rc == NGX_OK) {
        rc = ngx_http_upload_store_check_customer(r, ctx);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    ctx->file_field = uslcf->field;

    /* multipart: the type and the name are the file part's, later */

    rc = ngx_http_upload_store_multipart_init(r, ctx);

    if (rc == NGX_DECLINED) {
        rc = ngx_http_upload_store_set_raw(r, ctx);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    if (uslcf->checksum == NGX_HTTP_UPLOAD_STORE_CHECKSUM_SHA256
        && ngx_http_upload_store_checksum_init(r, ctx) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_upload_store_check_length(r, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_upload_store_space(store, r->headers_in.content_length_n,
                                     r->connection->log);
    if (rc != NGX_OK) {
        return ngx_http_upload_store_refuse(r, store, rc);
    }

    if (ngx_http_upload_store_reserve(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* chunked, or HTTP/2 with no length: the guards follow the body */

    ctx->unbounded = (r->headers_in.content_length_n < 0);

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


/*
 * OPTIONS: 204 and what is allowed, so that a browser's CORS preflight
 * gets the headers the location adds (add_header ... always)
 */

static ngx_int_t
ngx_http_upload_store_options(ngx_http_request_t *r)
{
    ngx_int_t  rc;
    ngx_str_t  allow;

    static ngx_str_t  empty = ngx_null_string;

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    ngx_str_set(&allow, "POST, PUT, OPTIONS");

    if (ngx_http_upload_store_add_header(r, "Allow", &allow) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->header_only = 1;

    return ngx_http_upload_store_send(r, NGX_HTTP_NO_CONTENT, &empty,
                                      &empty);
}


/*
 * the body's length is reserved in the zone while it is read, so that
 * uploads arriving together cannot all take the same free space
 */

static ngx_int_t
ngx_http_upload_store_reserve(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx)
{
    ngx_pool_cleanup_t  *cln;

    if (r->headers_in.content_length_n <= 0) {
        return NGX_OK;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    ctx->reserved = r->headers_in.content_length_n;
    ngx_http_upload_store_stats_reserve(ctx->store, ctx->reserved);

    cln->handler = ngx_http_upload_store_release;
    cln->data = ctx;

    return NGX_OK;
}


static void
ngx_http_upload_store_release(void *data)
{
    ngx_http_upload_store_ctx_t *ctx = data;

    if (ctx->reserved) {
        ngx_http_upload_store_stats_reserve(ctx->store, -ctx->reserved);
        ctx->reserved = 0;
    }
}


/* a body to read: NGX_OK, or 400 (empty) or 411 (no length, HTTP/1) */

static ngx_int_t
ngx_http_upload_store_check_length(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx)
{
    ngx_http_upload_store_t  *store;

    store = ctx->store;

    if (r->headers_in.content_length_n == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "upload store \"%V\": empty body from customer \"%V\"",
                      &store->name, &ctx->record.customer);

        return ngx_http_upload_store_set_error(r, NGX_HTTP_BAD_REQUEST,
                                               "empty_body",
                                               "the request body is empty");
    }

    /* HTTP/1: with neither a length nor chunks, there is no body */

    if (r->headers_in.content_length_n < 0 && !r->headers_in.chunked
        && r->http_version < NGX_HTTP_VERSION_20)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "upload store \"%V\": no Content-Length from "
                      "customer \"%V\"", &store->name,
                      &ctx->record.customer);

        return ngx_http_upload_store_set_error(r, NGX_HTTP_LENGTH_REQUIRED,
                                               "length_required",
                                               "the body needs a "
                                               "Content-Length or chunked "
                                               "transfer encoding");
    }

    return NGX_OK;
}


static void
ngx_http_upload_store_body_handler(ngx_http_request_t *r)
{
    ngx_int_t                          rc;
    ngx_str_t                          json, url;
    ngx_http_upload_store_t           *store;
    ngx_http_upload_store_ctx_t       *ctx;
    ngx_http_upload_store_record_t    *rec;
    ngx_http_upload_store_loc_conf_t  *uslcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upload_store_module);
    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);

    store = ctx->store;
    rec = &ctx->record;
    ctx->reading = 0;

    /* read: what it takes is on the disk now, or counted once stored */

    ngx_http_upload_store_release(ctx);

    /* no body at all (HTTP/2 and 3: no DATA) has no temp file */

    rec->bytes = 0;

    if (r->request_body != NULL && r->request_body->temp_file != NULL) {
        rec->bytes = r->request_body->temp_file->file.offset;
    }

    ngx_http_upload_store_stats_received(store, rec->bytes);

    if (rec->bytes == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "upload store \"%V\": empty body from customer \"%V\"",
                      &store->name, &rec->customer);

        ngx_http_finalize_request(r,
                   ngx_http_upload_store_set_error(r, NGX_HTTP_BAD_REQUEST,
                                                   "empty_body",
                                                   "the request body is "
                                                   "empty"));
        return;
    }

    /* no byte came to tell the type: checked as it is */

    if (ctx->sniff) {
        rc = ngx_http_upload_store_sniff(r, ctx, NULL, 0);
        if (rc != NGX_OK) {
            ngx_http_finalize_request(r, rc);
            return;
        }
    }

    /* a webhook of the client's own: to a host the operator lists */

    if (uslcf->job != NULL
        && ngx_http_upload_store_webhook_url(uslcf, rec, r->pool, &url)
           == NGX_ERROR)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "upload store \"%V\": customer \"%V\" asked for a "
                      "webhook to a host not allowed", &store->name,
                      &rec->customer);

        ngx_http_finalize_request(r,
                   ngx_http_upload_store_set_error(r, NGX_HTTP_BAD_REQUEST,
                                   "webhook_not_allowed",
                                   "the form field \"%V\" must be an http or "
                                   "https URL to a host this server allows",
                                   &uslcf->webhook_field));
        return;
    }

    rec->created = ngx_http_upload_store_now();

    /* a job, unless it is only what a client gone leaves */

    if (uslcf->job != NULL && uslcf->transcribe == NULL) {
        rec->state = NGX_HTTP_UPLOAD_STORE_QUEUED;
        rec->job = 1;
    }

    if (ngx_http_upload_store_make_id(rec->id, rec->created,
                                      r->connection->log)
        != NGX_OK
        || ngx_http_upload_store_file_name(r->pool, rec, &uslcf->prefix)
           != NGX_OK
        || ngx_http_upload_store_record_paths(r->pool, store, rec) != NGX_OK
        || ngx_http_upload_store_record_dump(r->pool, rec, &json,
                                             r->connection->log)
           != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /*
     * what the upload really takes, its record included; a chunked
     * body's size is known only now
     */

    rc = ngx_http_upload_store_size_check(store, rec->bytes + json.len,
                                          r->connection->log);
    if (rc != NGX_OK) {
        ngx_http_finalize_request(r,
                              ngx_http_upload_store_refuse(r, store, rc));
        return;
    }

    rc = ngx_http_upload_store_commit(r, ctx, &json);
    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    ctx->stored = 1;

    ngx_http_upload_store_stats_accepted(store);

    /* its copy in the object store, whatever comes next (logged) */

    (void) ngx_http_upload_store_offload_queue(store, rec, 0, r->pool,
                                               r->connection->log);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upload store: customer \"%V\" stored \"%V\", %O bytes",
                   &rec->customer, &rec->path, rec->bytes);

    if (uslcf->job != NULL && uslcf->transcribe == NULL) {
        ngx_http_finalize_request(r, ngx_http_upload_store_queued(r, ctx,
                                                                  &json));
        return;
    }

    if (uslcf->transcribe != NULL) {
        rc = ngx_http_upload_store_transcribe(r, ctx);

        if (rc != NGX_OK) {
            ngx_http_finalize_request(r, rc == NGX_ERROR
                                         ? NGX_HTTP_INTERNAL_SERVER_ERROR
                                         : rc);
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
 * a background job: its entry written, 202 and the record at once, with
 * the upload's URI in the files API when there is one on this store
 */

static ngx_int_t
ngx_http_upload_store_queued(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *json)
{
    ngx_str_t                          location;
    ngx_http_upload_store_t           *store;
    ngx_http_upload_store_record_t    *rec;
    ngx_http_upload_store_loc_conf_t  *uslcf;

    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);
    store = ctx->store;
    rec = &ctx->record;

    if (ngx_http_upload_store_job_queue(store, rec, uslcf, r->pool,
                                        r->connection->log)
        != NGX_OK)
    {
        /* stored, but no job will run: the record says so */

        (void) ngx_http_upload_store_record_set_state(rec,
                                            NGX_HTTP_UPLOAD_STORE_FAILED);
        rec->transcription = 1;
        rec->outcome = NGX_HTTP_UPLOAD_STORE_OUTCOME_OTHER;
        (void) store->backend->save(store, rec, r->pool, r->connection->log);

        return ngx_http_upload_store_set_error(r,
                                           NGX_HTTP_INTERNAL_SERVER_ERROR,
                                           "queue_failed",
                                           "the upload is stored, its "
                                           "transcription could not be "
                                           "queued");
    }

    if (uslcf->files_uri.len) {
        location.len = uslcf->files_uri.len + NGX_HTTP_UPLOAD_STORE_ID_LEN;
        location.data = ngx_pnalloc(r->pool, location.len);
        if (location.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(ngx_cpymem(location.data, uslcf->files_uri.data,
                              uslcf->files_uri.len),
                   rec->id, NGX_HTTP_UPLOAD_STORE_ID_LEN);

        if (ngx_http_upload_store_add_header(r, "Location", &location)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_upload_store_send_json(r, NGX_HTTP_ACCEPTED, json);
}


/* the backend's commit, its errno as the answer: 507 when the disk is full */

static ngx_int_t
ngx_http_upload_store_commit(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *json)
{
    ngx_err_t                 err;
    ngx_http_upload_store_t  *store;

    store = ctx->store;

    if (store->backend->commit(store, &ctx->record,
                               r->request_body->temp_file, json,
                               r->connection->log)
        == NGX_OK)
    {
        return NGX_OK;
    }

    err = ngx_errno;

    if (err == NGX_ENOSPC
#ifdef EDQUOT
        || err == EDQUOT
#endif
       )
    {
        return ngx_http_upload_store_set_error(r,
                                               NGX_HTTP_INSUFFICIENT_STORAGE,
                                               "insufficient_storage",
                                               "no space left in the store");
    }

    return ngx_http_upload_store_set_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                           "store_failed",
                                           "the upload could not be stored");
}


/* 507, for the reason ngx_http_upload_store_space() gave */

static ngx_int_t
ngx_http_upload_store_refuse(ngx_http_request_t *r,
    ngx_http_upload_store_t *store, ngx_int_t reason)
{
    if (reason == NGX_HTTP_UPLOAD_STORE_FULL) {
        return ngx_http_upload_store_set_error(r,
                                               NGX_HTTP_INSUFFICIENT_STORAGE,
                                               "store_full",
                                               "the store is full");
    }

    return ngx_http_upload_store_set_error(r, NGX_HTTP_INSUFFICIENT_STORAGE,
                                           "insufficient_storage",
                                           "not enough free disk space");
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
    u_char         md[EVP_MAX_MD_SIZE];
    unsigned int   len;
    ngx_chain_t   *cl;

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

            ngx_hex_dump(ctx->record.sha256, md, len);
            ctx->record.hashed = 1;
        }
    }

    return NGX_OK;

failed:

    ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                  "upload store: SHA-256 failed");

    return NGX_ERROR;
}


/*
 * a body without a length (chunked, HTTP/2 with no Content-Length) passed
 * the checks as 0 bytes: max_size and min_free are checked again as it
 * streams, every 256k, on the disk's free space as it is now
 */

static ngx_int_t
ngx_http_upload_store_streamed(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_chain_t *out)
{
    ngx_int_t                 rc;
    ngx_chain_t              *cl;
    ngx_http_upload_store_t  *store;

    for (cl = out; cl; cl = cl->next) {
        ctx->streamed += ngx_buf_size(cl->buf);
    }

    if (ctx->streamed < ctx->next_check) {
        return NGX_OK;
    }

    ctx->next_check = ctx->streamed + 256 * 1024;
    store = ctx->store;

    rc = ngx_http_upload_store_size_check(store, ctx->streamed,
                                          r->connection->log);

    if (rc == NGX_OK) {
        store->avail_time = 0;
        rc = ngx_http_upload_store_space(store, 0, r->connection->log);
    }

    if (rc != NGX_OK) {
        return ngx_http_upload_store_refuse(r, store, rc);
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_http_upload_store_last_buf(ngx_chain_t *in)
{
    for ( /* void */ ; in; in = in->next) {
        if (in->buf->last_buf) {
            return 1;
        }
    }

    return 0;
}


/* a raw body's type, from its first bytes */

static ngx_int_t
ngx_http_upload_store_sniff_raw(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_chain_t *in)
{
    ngx_chain_t  *cl;

    for (cl = in; cl; cl = cl->next) {
        if (cl->buf->last > cl->buf->pos) {
            return ngx_http_upload_store_sniff(r, ctx, cl->buf->pos,
                                             cl->buf->last - cl->buf->pos);
        }
    }

    return NGX_OK;
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

    } else if (ctx->sniff) {
        rc = ngx_http_upload_store_sniff_raw(r, ctx, in);
        if (rc != NGX_OK) {
            goto refused;
        }
    }

    if (ctx->sha && ngx_http_upload_store_checksum(r, ctx, out) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->unbounded) {
        rc = ngx_http_upload_store_streamed(r, ctx, out);
        if (rc != NGX_OK) {
            goto refused;
        }
    }

    rc = ngx_http_next_request_body_filter(r, out);
    err = ngx_errno;

    if (!ctx->body_locked && r->request_body != NULL
        && r->request_body->temp_file != NULL
        && r->request_body->temp_file->file.fd != NGX_INVALID_FILE)
    {
        /*
         * the cleanup leaves alone a body its worker is still writing; one
         * written whole just now is committed by the body handler that
         * follows, long before the hour after which the cleanup looks
         */

        ctx->body_locked = 1;

        if (!ngx_http_upload_store_last_buf(in)
            && flock(r->request_body->temp_file->file.fd, LOCK_SH|LOCK_NB)
               == -1)
        {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, ngx_errno,
                          "flock(\"%V\") failed",
                          &r->request_body->temp_file->file.name);
        }
    }

    if (ctx->multipart) {
        ngx_http_upload_store_multipart_sent(ctx, out);
    }

    if (rc != NGX_HTTP_INTERNAL_SERVER_ERROR) {
        return rc;
    }

    /* a short write() leaves no errno: ask the filesystem */

    if (err == NGX_ENOSPC
#ifdef EDQUOT
        || err == EDQUOT
#endif
        || ngx_http_upload_store_available(store) <= store->min_free)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "upload store \"%V\": no space left for the upload "
                      "of customer \"%V\" in \"%s\"",
                      &store->name, &ctx->record.customer,
                      store->temp_path->name.data);

        rc = ngx_http_upload_store_set_error(r,
                                             NGX_HTTP_INSUFFICIENT_STORAGE,
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

