
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"


/*
 * upload_store_files: GET, HEAD and DELETE of {location}{id}, and GET of
 * {location}{id}/transcript and {location}{id}/metadata, for the caller's
 * customer only.  The id gives the record; the record names the stored
 * file.  Whatever is not found, whoever it belongs to, is the same 404.
 */


#define NGX_HTTP_UPLOAD_STORE_AUDIO_FILE  0
#define NGX_HTTP_UPLOAD_STORE_TRANSCRIPT  1
#define NGX_HTTP_UPLOAD_STORE_METADATA    2


static ngx_int_t ngx_http_upload_store_files_target(ngx_http_request_t *r,
    ngx_http_upload_store_record_t *rec, ngx_uint_t *what);
static ngx_int_t ngx_http_upload_store_files_not_found(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, char *why);
static ngx_int_t ngx_http_upload_store_files_open(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *path,
    ngx_open_file_info_t *of);
static ngx_int_t ngx_http_upload_store_files_audio(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx);
static ngx_int_t ngx_http_upload_store_files_file(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *path, ngx_str_t *type);
static ngx_uint_t ngx_http_upload_store_files_inline(ngx_str_t *type);
static ngx_int_t ngx_http_upload_store_files_transcript(
    ngx_http_request_t *r, ngx_http_upload_store_ctx_t *ctx);
static ngx_int_t ngx_http_upload_store_files_found(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_uint_t what, ngx_str_t *remote);
static ngx_int_t ngx_http_upload_store_files_delete(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_uint_t remote);
static ngx_int_t ngx_http_upload_store_files_requeue(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx);


ngx_int_t
ngx_http_upload_store_files_handler(ngx_http_request_t *r)
{
    ngx_int_t                          rc;
    ngx_str_t                          raw;
    ngx_uint_t                         what;
    ngx_http_upload_store_t           *store;
    ngx_http_upload_store_ctx_t       *ctx;
    ngx_http_upload_store_record_t    *rec;
    ngx_http_upload_store_loc_conf_t  *uslcf;

    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);
    store = uslcf->files->data;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_DELETE))
        && !(r->method == NGX_HTTP_POST && uslcf->job != NULL))
    {
        return ngx_http_upload_store_not_allowed(r, uslcf->job
                                                 ? "GET, HEAD, DELETE, POST"
                                                 : "GET, HEAD, DELETE");
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    ctx = ngx_http_upload_store_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->store = store;
    rec = &ctx->record;

    rc = ngx_http_upload_store_set_customer(r, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_upload_store_valid_name(&rec->customer) != NGX_OK
        || ngx_http_upload_store_valid_name(&rec->category) != NGX_OK)
    {
        return ngx_http_upload_store_files_not_found(r, ctx,
                                                     "invalid customer "
                                                     "or category");
    }

    if (ngx_http_upload_store_files_target(r, rec, &what) != NGX_OK) {
        return ngx_http_upload_store_files_not_found(r, ctx, "invalid id");
    }

    if (what != NGX_HTTP_UPLOAD_STORE_AUDIO_FILE
        && (r->method & NGX_HTTP_DELETE))
    {
        return ngx_http_upload_store_not_allowed(r,
                         what == NGX_HTTP_UPLOAD_STORE_TRANSCRIPT && uslcf->job
                         ? "GET, HEAD, POST" : "GET, HEAD");
    }

    if (r->method == NGX_HTTP_POST
        && what != NGX_HTTP_UPLOAD_STORE_TRANSCRIPT)
    {
        return ngx_http_upload_store_not_allowed(r,
                         what == NGX_HTTP_UPLOAD_STORE_AUDIO_FILE
                         ? "GET, HEAD, DELETE" : "GET, HEAD");
    }

    rc = store->backend->load(store, rec, &raw, r->pool, r->connection->log);

    if (rc == NGX_DECLINED && store->object != NULL
        && !ngx_http_upload_store_offload_deleted(store, rec->id, r->pool))
    {
        /* not on this node: in the bucket, if another node stored it */

        rc = ngx_http_upload_store_object_record(r, ctx, what,
                                         ngx_http_upload_store_files_found);
        return rc == NGX_ERROR ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_upload_store_files_not_found(r, ctx, "no metadata");
    }

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK) {
        return ngx_http_upload_store_set_error(r,
                                               NGX_HTTP_INTERNAL_SERVER_ERROR,
                                               "metadata_invalid",
                                               ngx_errno
                                               ? "the upload's metadata cannot "
                                                 "be read"
                                               : "the upload's metadata is "
                                                 "invalid");
    }

    /* the copy read to check it is not kept for the answer */

    if (what == NGX_HTTP_UPLOAD_STORE_METADATA) {
        ngx_pfree(r->pool, raw.data);
    }

    return ngx_http_upload_store_files_found(r, ctx, what, NULL);
}


/*
 * the record found, here or (remote: its JSON) in the object store: what
 * was asked of it
 */

static ngx_int_t
ngx_http_upload_store_files_found(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_uint_t what, ngx_str_t *remote)
{
    ngx_http_upload_store_record_t  *rec;

    static ngx_str_t  json_type = ngx_string("application/json");

    rec = &ctx->record;

    if (r->method & NGX_HTTP_DELETE) {
        return ngx_http_upload_store_files_delete(r, ctx, remote != NULL);
    }

    if (r->method == NGX_HTTP_POST && remote != NULL) {
        return ngx_http_upload_store_set_error(r, NGX_HTTP_CONFLICT,
                                  "not_local",
                                  "upload %*s was stored by another node: "
                                  "ask that one",
                                  (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN,
                                  rec->id);
    }

    if (r->method == NGX_HTTP_POST) {
        return ngx_http_upload_store_files_requeue(r, ctx);
    }

    switch (what) {

    case NGX_HTTP_UPLOAD_STORE_TRANSCRIPT:
        return ngx_http_upload_store_files_transcript(r, ctx);

    case NGX_HTTP_UPLOAD_STORE_METADATA:

        if (remote != NULL) {
            return ngx_http_upload_store_send(r, NGX_HTTP_OK, &json_type,
                                              remote);
        }

        /*
         * checked, the record is served as the file it is: from the
         * page cache, with ranges and conditional requests
         */

        return ngx_http_upload_store_files_file(r, ctx, &rec->record_path,
                                                &json_type);

    default: /* NGX_HTTP_UPLOAD_STORE_AUDIO_FILE */
        return ngx_http_upload_store_files_audio(r, ctx);
    }
}


/* {id}, {id}/transcript, {id}/metadata: the last components of the URI */

static ngx_int_t
ngx_http_upload_store_files_target(ngx_http_request_t *r,
    ngx_http_upload_store_record_t *rec, ngx_uint_t *what)
{
    u_char  *p, *last, *id;
    size_t   len;

    p = r->uri.data;
    last = r->uri.data + r->uri.len;
    *what = NGX_HTTP_UPLOAD_STORE_AUDIO_FILE;

    len = sizeof("/transcript") - 1;

    if ((size_t) (last - p) > len
        && ngx_strncmp(last - len, "/transcript", len) == 0)
    {
        *what = NGX_HTTP_UPLOAD_STORE_TRANSCRIPT;
        last -= len;

    } else {
        len = sizeof("/metadata") - 1;

        if ((size_t) (last - p) > len
            && ngx_strncmp(last - len, "/metadata", len) == 0)
        {
            *what = NGX_HTTP_UPLOAD_STORE_METADATA;
            last -= len;
        }
    }

    id = last - NGX_HTTP_UPLOAD_STORE_ID_LEN;

    if (last - p <= NGX_HTTP_UPLOAD_STORE_ID_LEN
        || id[-1] != '/'
        || ngx_http_upload_store_parse_id(id, NGX_HTTP_UPLOAD_STORE_ID_LEN,
                                          &rec->created)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    ngx_memcpy(rec->id, id, NGX_HTTP_UPLOAD_STORE_ID_LEN);

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_store_files_not_found(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, char *why)
{
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "upload store \"%V\": \"%V\" not found for customer "
                  "\"%V\": %s", &ctx->store->name,
                  ngx_http_upload_store_log_safe(r->pool, &r->uri),
                  ngx_http_upload_store_log_safe(r->pool,
                                                 &ctx->record.customer),
                  why);

    return ngx_http_upload_store_set_error(r, NGX_HTTP_NOT_FOUND,
                                           "not_found", "no such upload");
}


/* the stored audio or record, by nginx's own open file cache */

static ngx_int_t
ngx_http_upload_store_files_open(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *path,
    ngx_open_file_info_t *of)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    ngx_memzero(of, sizeof(ngx_open_file_info_t));

    of->read_ahead = clcf->read_ahead;
    of->directio = clcf->directio;
    of->valid = clcf->open_file_cache_valid;
    of->min_uses = clcf->open_file_cache_min_uses;
    of->errors = clcf->open_file_cache_errors;
    of->events = clcf->open_file_cache_events;

    if (ngx_http_set_disable_symlinks(r, clcf, path, of) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

#if (NGX_HAVE_OPENAT)

    /* no link below the store's root is followed, whatever the location */

    of->disable_symlinks = NGX_DISABLE_SYMLINKS_ON;
    of->disable_symlinks_from = ctx->store->root.len;

#endif

    if (ngx_open_cached_file(clcf->open_file_cache, path, of, r->pool)
        != NGX_OK)
    {
        if (of->err == NGX_ENOENT || of->err == NGX_ENOTDIR) {
            /* "upload_store_keep off", or deleted meanwhile */
            return ngx_http_upload_store_files_not_found(r, ctx,
                                                         "no file");
        }

        ngx_log_error(NGX_LOG_CRIT, r->connection->log, of->err,
                      "%s \"%V\" failed (customer \"%V\")", of->failed,
                      path, &ctx->record.customer);

        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!of->is_file) {
        return ngx_http_upload_store_files_not_found(r, ctx,
                                                     "not a file");
    }

    return NGX_OK;
}


/* the stored audio: inline only when it cannot be taken for a page */

static ngx_int_t
ngx_http_upload_store_files_audio(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx)
{
    ngx_int_t  rc;
    ngx_str_t  type, attachment;

    /*
     * audio and video are served as what they are; anything else (an
     * HTML page, an SVG image stored where types are not restricted) as
     * bytes to download, never as a page of the API's origin
     */

    type = ctx->record.content_type;

    if (type.len == 0) {
        ngx_str_set(&type, "application/octet-stream");
    }

    if (!ngx_http_upload_store_files_inline(&type)) {
        ngx_str_set(&type, "application/octet-stream");
        ngx_str_set(&attachment, "attachment");

        if (ngx_http_upload_store_add_header(r, "Content-Disposition",
                                             &attachment)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    /* no longer on the local disk: from the object store, if there */

    rc = ngx_http_upload_store_object_read(r, ctx, &type);

    if (rc != NGX_DECLINED) {
        return rc == NGX_ERROR ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc;
    }

    return ngx_http_upload_store_files_file(r, ctx, &ctx->record.path,
                                            &type);
}


/* a stored file, by nginx's own file machinery: ranges, sendfile */

static ngx_int_t
ngx_http_upload_store_files_file(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *path, ngx_str_t *type)
{
    ngx_int_t              rc;
    ngx_buf_t             *b;
    ngx_str_t              nosniff;
    ngx_chain_t            out;
    ngx_open_file_info_t   of;

    rc = ngx_http_upload_store_files_open(r, ctx, path, &of);
    if (rc != NGX_OK) {
        return rc;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = of.size;
    r->headers_out.last_modified_time = of.mtime;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;

    if (ngx_http_set_etag(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->allow_ranges = 1;

    /* whatever the stored type, a browser does not render it as a page */

    ngx_str_set(&nosniff, "nosniff");

    if (ngx_http_upload_store_add_header(r, "X-Content-Type-Options",
                                         &nosniff)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->file = ngx_pcalloc(r->pool, sizeof(ngx_file_t));
    if (b->file == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b->file_pos = 0;
    b->file_last = of.size;

    b->in_file = b->file_last ? 1 : 0;
    b->last_buf = 1;
    b->last_in_chain = 1;

    b->file->fd = of.fd;
    b->file->name = *path;
    b->file->log = r->connection->log;
    b->file->directio = of.is_directio;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* audio/..., video/..., application/octet-stream */

static ngx_uint_t
ngx_http_upload_store_files_inline(ngx_str_t *type)
{
    if (type->len > sizeof("audio/") - 1
        && (ngx_strncmp(type->data, "audio/", sizeof("audio/") - 1) == 0
            || ngx_strncmp(type->data, "video/", sizeof("video/") - 1) == 0))
    {
        return 1;
    }

    return type->len == sizeof("application/octet-stream") - 1
           && ngx_strncmp(type->data, "application/octet-stream",
                          type->len)
              == 0;
}


/*
 * the text after the lexicon, else the provider's; an upload that is not
 * transcribed (yet, or at all) is there: 409 and why, not 404
 */

static ngx_int_t
ngx_http_upload_store_files_transcript(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx)
{
    ngx_http_upload_store_record_t  *rec;

    static ngx_str_t  type = ngx_string("text/plain; charset=utf-8");

    rec = &ctx->record;

    if (rec->state == NGX_HTTP_UPLOAD_STORE_FAILED) {
        return ngx_http_upload_store_set_error(r, NGX_HTTP_CONFLICT,
                                  "transcription_failed",
                                  "the transcription of upload %*s failed: %s",
                                  (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN,
                                  rec->id,
                                  ngx_http_upload_store_outcome_name(
                                                               rec->outcome));
    }

    if (rec->state != NGX_HTTP_UPLOAD_STORE_TRANSCRIBED
        || !rec->transcription)
    {
        return ngx_http_upload_store_set_error(r, NGX_HTTP_CONFLICT,
                                  "not_transcribed",
                                  "upload %*s is %s, not transcribed",
                                  (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN,
                                  rec->id,
                                  ngx_http_upload_store_state_name(
                                                               rec->state));
    }

    return ngx_http_upload_store_send(r, NGX_HTTP_OK, &type,
                                      rec->processed.data != NULL
                                      ? &rec->processed : &rec->text);
}


static ngx_int_t
ngx_http_upload_store_files_delete(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_uint_t remote)
{
    ngx_int_t                 rc;
    ngx_http_upload_store_t  *store;

    static ngx_str_t  empty = ngx_null_string;

    store = ctx->store;

    /* another node's: only its objects, which are all there is */

    rc = remote ? NGX_OK
                : store->backend->remove(store, &ctx->record,
                                         NGX_HTTP_UPLOAD_STORE_UPLOAD,
                                         r->connection->log);

    if (rc == NGX_DECLINED) {
        /* another DELETE, or the cleanup, was first */
        return ngx_http_upload_store_files_not_found(r, ctx,
                                                     "deleted meanwhile");
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_upload_store_stats_deleted(store);

    /* a job waiting for it goes too; one running ends when it sees */

    (void) ngx_http_upload_store_job_cancel(store, &ctx->record, r->pool,
                                            r->connection->log);

    /* and its objects, by a job of the object store's queue (logged) */

    (void) ngx_http_upload_store_offload_queue(store, &ctx->record, 1,
                                               r->pool, r->connection->log);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "upload store \"%V\": customer \"%V\" deleted id %*s",
                  &store->name, &ctx->record.customer,
                  (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, ctx->record.id);

    r->header_only = 1;

    return ngx_http_upload_store_send(r, NGX_HTTP_NO_CONTENT, &empty, &empty);
}


/*
 * POST .../{id}/transcript: a new job for an upload that is stored only
 * or whose transcription failed; its attempts count again from 0
 */

static ngx_int_t
ngx_http_upload_store_files_requeue(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx)
{
    ngx_int_t                          rc;
    ngx_str_t                          json, location;
    ngx_http_upload_store_t           *store;
    ngx_http_upload_store_record_t    *rec;
    ngx_http_upload_store_loc_conf_t  *uslcf;

    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);
    store = ctx->store;
    rec = &ctx->record;

    /* a job whose webhook is still to be sent is not over */

    if ((rec->state != NGX_HTTP_UPLOAD_STORE_STORED
         && rec->state != NGX_HTTP_UPLOAD_STORE_FAILED)
        || rec->webhook == NGX_HTTP_UPLOAD_STORE_WEBHOOK_PENDING)
    {
        return ngx_http_upload_store_set_error(r, NGX_HTTP_CONFLICT,
                                  "job_exists",
                                  "upload %*s is %s",
                                  (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN,
                                  rec->id,
                                  ngx_http_upload_store_state_name(
                                                               rec->state));
    }

    (void) ngx_http_upload_store_record_set_state(rec,
                                            NGX_HTTP_UPLOAD_STORE_QUEUED);
    rec->job = 1;
    rec->attempts = 0;
    rec->webhook = NGX_HTTP_UPLOAD_STORE_WEBHOOK_NONE;
    rec->webhook_attempts = 0;

    rc = store->backend->save(store, rec, r->pool, r->connection->log);

    if (rc == NGX_DECLINED) {
        return ngx_http_upload_store_files_not_found(r, ctx,
                                                     "deleted meanwhile");
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_upload_store_job_queue(store, rec, uslcf, r->pool,
                                        r->connection->log)
        != NGX_OK)
    {
        return ngx_http_upload_store_set_error(r,
                                           NGX_HTTP_INTERNAL_SERVER_ERROR,
                                           "queue_failed",
                                           "the transcription could not "
                                           "be queued");
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "upload store \"%V\": customer \"%V\" queued a new "
                  "transcription of id %*s", &store->name, &rec->customer,
                  (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, rec->id);

    /* the upload's own URI: this one without "/transcript" */

    location.data = r->uri.data;
    location.len = r->uri.len - (sizeof("/transcript") - 1);

    if (ngx_http_upload_store_add_header(r, "Location", &location) != NGX_OK
        || ngx_http_upload_store_record_dump(r->pool, rec, &json,
                                             r->connection->log)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_upload_store_send_json(r, NGX_HTTP_ACCEPTED, &json);
}
