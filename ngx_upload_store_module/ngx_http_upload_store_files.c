
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"
#include "ngx_http_upload_store_store.h"


/*
 * upload_store_files: GET, HEAD and DELETE of {location}{id}, and GET of
 * {location}{id}/transcript and {location}{id}/metadata, for the caller's
 * customer only.  The id gives the day directory; the metadata names the
 * stored file.  Whatever is not found, whoever it belongs to, is the same
 * 404.
 */


#define NGX_HTTP_UPLOAD_STORE_AUDIO       0
#define NGX_HTTP_UPLOAD_STORE_TRANSCRIPT  1
#define NGX_HTTP_UPLOAD_STORE_METADATA    2

#define NGX_HTTP_UPLOAD_STORE_META_MAX    (64 * 1024 * 1024)


typedef struct {
    ngx_str_t                       dir;         /* with the last "/" */
    ngx_str_t                       meta_path;
    ngx_str_t                       meta;        /* its bytes */
    json_t                         *json;
    u_char                         *id;
} ngx_http_upload_store_file_t;


static ngx_int_t ngx_http_upload_store_files_not_found(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, char *why);
static ngx_int_t ngx_http_upload_store_files_read(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_http_upload_store_file_t *f);
static void ngx_http_upload_store_files_json_cleanup(void *data);
static ngx_int_t ngx_http_upload_store_files_audio(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_http_upload_store_file_t *f);
static ngx_int_t ngx_http_upload_store_files_transcript(
    ngx_http_request_t *r, ngx_http_upload_store_ctx_t *ctx,
    ngx_http_upload_store_file_t *f);
static ngx_int_t ngx_http_upload_store_files_delete(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_http_upload_store_file_t *f);
static ngx_int_t ngx_http_upload_store_files_path(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_http_upload_store_file_t *f,
    ngx_str_t *path);
static ngx_int_t ngx_http_upload_store_files_name(
    ngx_http_upload_store_file_t *f, char *key, ngx_str_t *value);


ngx_int_t
ngx_http_upload_store_files_handler(ngx_http_request_t *r)
{
    u_char                            *p, *last;
    size_t                             len;
    time_t                             sec;
    ngx_tm_t                           tm;
    ngx_int_t                          rc;
    ngx_uint_t                         what;
    ngx_http_upload_store_t           *store;
    ngx_http_upload_store_ctx_t       *ctx;
    ngx_http_upload_store_file_t       f;
    ngx_http_upload_store_loc_conf_t  *uslcf;

    static ngx_str_t  json_type = ngx_string("application/json");

    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);
    store = uslcf->files->data;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_DELETE))) {
        return ngx_http_upload_store_not_allowed(r, "GET, HEAD, DELETE");
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

    if (ngx_http_complex_value(r, uslcf->customer, &ctx->customer) != NGX_OK
        || ngx_http_complex_value(r, uslcf->category, &ctx->category)
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

    if (ngx_http_upload_store_valid_name(&ctx->customer) != NGX_OK
        || ngx_http_upload_store_valid_name(&ctx->category) != NGX_OK)
    {
        return ngx_http_upload_store_files_not_found(r, ctx,
                                                     "invalid customer "
                                                     "or category");
    }

    /* {id}, {id}/transcript, {id}/metadata: the last components */

    p = r->uri.data;
    last = r->uri.data + r->uri.len;
    what = NGX_HTTP_UPLOAD_STORE_AUDIO;

    len = sizeof("/transcript") - 1;

    if ((size_t) (last - p) > len
        && ngx_strncmp(last - len, "/transcript", len) == 0)
    {
        what = NGX_HTTP_UPLOAD_STORE_TRANSCRIPT;
        last -= len;

    } else {
        len = sizeof("/metadata") - 1;

        if ((size_t) (last - p) > len
            && ngx_strncmp(last - len, "/metadata", len) == 0)
        {
            what = NGX_HTTP_UPLOAD_STORE_METADATA;
            last -= len;
        }
    }

    f.id = last - NGX_HTTP_UPLOAD_STORE_ID_LEN;

    if (last - p <= NGX_HTTP_UPLOAD_STORE_ID_LEN
        || f.id[-1] != '/'
        || ngx_http_upload_store_parse_id(f.id, NGX_HTTP_UPLOAD_STORE_ID_LEN,
                                          &sec)
           != NGX_OK)
    {
        return ngx_http_upload_store_files_not_found(r, ctx, "invalid id");
    }

    ngx_memcpy(ctx->id, f.id, NGX_HTTP_UPLOAD_STORE_ID_LEN);

    if (what != NGX_HTTP_UPLOAD_STORE_AUDIO
        && (r->method & NGX_HTTP_DELETE))
    {
        return ngx_http_upload_store_not_allowed(r, "GET, HEAD");
    }

    /* {root}/{customer}/{category}/{YYYY-MM-DD}/{id}.json */

    ngx_gmtime(sec, &tm);

    f.dir.len = store->root.len + 1 + ctx->customer.len + 1
                + ctx->category.len + sizeof("/YYYY-MM-DD/") - 1;

    f.dir.data = ngx_pnalloc(r->pool, f.dir.len + NGX_HTTP_UPLOAD_STORE_ID_LEN
                                      + sizeof(".json"));
    if (f.dir.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(f.dir.data, "%V/%V/%V/%4d-%02d-%02d/",
                    &store->root, &ctx->customer, &ctx->category,
                    tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday);

    f.meta_path.data = f.dir.data;
    p = ngx_cpymem(p, f.id, NGX_HTTP_UPLOAD_STORE_ID_LEN);
    p = ngx_cpymem(p, ".json", sizeof(".json"));
    f.meta_path.len = p - 1 - f.meta_path.data;

    rc = ngx_http_upload_store_files_read(r, ctx, &f);
    if (rc != NGX_OK) {
        return rc;
    }

    if (r->method & NGX_HTTP_DELETE) {
        return ngx_http_upload_store_files_delete(r, ctx, &f);
    }

    switch (what) {

    case NGX_HTTP_UPLOAD_STORE_TRANSCRIPT:
        return ngx_http_upload_store_files_transcript(r, ctx, &f);

    case NGX_HTTP_UPLOAD_STORE_METADATA:
        return ngx_http_upload_store_send(r, NGX_HTTP_OK, &json_type,
                                          &f.meta);

    default: /* NGX_HTTP_UPLOAD_STORE_AUDIO */
        return ngx_http_upload_store_files_audio(r, ctx, &f);
    }
}


static ngx_int_t
ngx_http_upload_store_files_not_found(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, char *why)
{
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "upload store \"%V\": \"%V\" not found for customer "
                  "\"%V\": %s", &ctx->store->name, &r->uri, &ctx->customer,
                  why);

    return ngx_http_upload_store_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                       "no such upload");
}


/* the metadata, read whole and checked against the request */

static ngx_int_t
ngx_http_upload_store_files_read(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_http_upload_store_file_t *f)
{
    ssize_t              n;
    ngx_fd_t             fd;
    ngx_err_t            err;
    ngx_str_t            s;
    json_error_t         error;
    ngx_file_info_t      fi;
    ngx_pool_cleanup_t  *cln;

    fd = ngx_open_file(f->meta_path.data,
                       NGX_FILE_RDONLY|NGX_FILE_NONBLOCK|O_NOFOLLOW,
                       NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        err = ngx_errno;

        if (err == NGX_ENOENT || err == NGX_ENOTDIR || err == NGX_ELOOP) {
            return ngx_http_upload_store_files_not_found(r, ctx,
                                                         "no metadata");
        }

        ngx_log_error(NGX_LOG_CRIT, r->connection->log, err,
                      ngx_open_file_n " \"%V\" failed (customer \"%V\")",
                      &f->meta_path, &ctx->customer);

        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = NGX_ERROR;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, ngx_errno,
                      ngx_fd_info_n " \"%V\" failed", &f->meta_path);
        goto close;
    }

    if (!ngx_is_file(&fi) || ngx_file_size(&fi) == 0
        || ngx_file_size(&fi) > NGX_HTTP_UPLOAD_STORE_META_MAX)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "upload store: metadata \"%V\" of customer \"%V\" "
                      "is not a file of a sane size", &f->meta_path,
                      &ctx->customer);
        goto close;
    }

    f->meta.len = ngx_file_size(&fi);
    f->meta.data = ngx_pnalloc(r->pool, f->meta.len);
    if (f->meta.data == NULL) {
        goto close;
    }

    n = ngx_read_fd(fd, f->meta.data, f->meta.len);

    if (n == -1) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, ngx_errno,
                      ngx_read_fd_n " \"%V\" failed", &f->meta_path);
        n = NGX_ERROR;

    } else if ((size_t) n != f->meta.len) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                      ngx_read_fd_n " \"%V\" read only %z of %uz bytes",
                      &f->meta_path, n, f->meta.len);
        n = NGX_ERROR;
    }

close:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &f->meta_path);
    }

    if (n == NGX_ERROR) {
        return ngx_http_upload_store_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                           "metadata_invalid",
                                           "the upload's metadata cannot "
                                           "be read");
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    f->json = json_loadb((char *) f->meta.data, f->meta.len, 0, &error);

    cln->handler = ngx_http_upload_store_files_json_cleanup;
    cln->data = f->json;

    /* the metadata must say what its path says: a copy is not served */

    if (f->json == NULL
        || !json_is_object(f->json)
        || ngx_http_upload_store_files_name(f, "id", &s) != NGX_OK
        || s.len != NGX_HTTP_UPLOAD_STORE_ID_LEN
        || ngx_strncmp(s.data, f->id, s.len) != 0
        || ngx_http_upload_store_files_name(f, "customer", &s) != NGX_OK
        || s.len != ctx->customer.len
        || ngx_strncmp(s.data, ctx->customer.data, s.len) != 0
        || ngx_http_upload_store_files_name(f, "category", &s) != NGX_OK
        || s.len != ctx->category.len
        || ngx_strncmp(s.data, ctx->category.data, s.len) != 0
        || ngx_http_upload_store_files_name(f, "file", &ctx->file) != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "upload store: metadata \"%V\" of customer \"%V\" "
                      "is invalid%s%s", &f->meta_path, &ctx->customer,
                      f->json ? "" : ": ", f->json ? "" : error.text);

        return ngx_http_upload_store_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                           "metadata_invalid",
                                           "the upload's metadata is "
                                           "invalid");
    }

    return NGX_OK;
}


static void
ngx_http_upload_store_files_json_cleanup(void *data)
{
    json_t  *json = data;

    json_decref(json);
}


/*
 * a string member that can be a file name: no "/", no NUL, not "." or "..",
 * not hidden
 */

static ngx_int_t
ngx_http_upload_store_files_name(ngx_http_upload_store_file_t *f,
    char *key, ngx_str_t *value)
{
    json_t  *v;

    v = json_object_get(f->json, key);

    if (!json_is_string(v)) {
        return NGX_ERROR;
    }

    value->data = (u_char *) json_string_value(v);
    value->len = json_string_length(v);

    if (value->len == 0 || value->len > NGX_HTTP_UPLOAD_STORE_FNAME_MAX
        || value->data[0] == '.'
        || ngx_strlchr(value->data, value->data + value->len, '/') != NULL
        || ngx_strlen(value->data) != value->len)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the audio's path: the day directory and the name in the metadata */

static ngx_int_t
ngx_http_upload_store_files_path(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_http_upload_store_file_t *f,
    ngx_str_t *path)
{
    u_char  *p;

    path->len = f->dir.len + ctx->file.len;
    path->data = ngx_pnalloc(r->pool, path->len + 1);
    if (path->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(path->data, f->dir.data, f->dir.len);
    p = ngx_cpymem(p, ctx->file.data, ctx->file.len);
    *p = '\0';

    return NGX_OK;
}


/* the stored audio, by nginx's own file machinery: ranges, sendfile */

static ngx_int_t
ngx_http_upload_store_files_audio(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_http_upload_store_file_t *f)
{
    json_t                    *v;
    ngx_int_t                  rc;
    ngx_buf_t                 *b;
    ngx_str_t                  path, type;
    ngx_chain_t                out;
    ngx_table_elt_t           *h;
    ngx_open_file_info_t       of;
    ngx_http_core_loc_conf_t  *clcf;

    if (ngx_http_upload_store_files_path(r, ctx, f, &path) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    ngx_memzero(&of, sizeof(ngx_open_file_info_t));

    of.read_ahead = clcf->read_ahead;
    of.directio = clcf->directio;
    of.valid = clcf->open_file_cache_valid;
    of.min_uses = clcf->open_file_cache_min_uses;
    of.errors = clcf->open_file_cache_errors;
    of.events = clcf->open_file_cache_events;

    if (ngx_http_set_disable_symlinks(r, clcf, &path, &of) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_open_cached_file(clcf->open_file_cache, &path, &of, r->pool)
        != NGX_OK)
    {
        if (of.err == NGX_ENOENT || of.err == NGX_ENOTDIR) {
            /* "upload_store_keep off", or deleted meanwhile */
            return ngx_http_upload_store_files_not_found(r, ctx,
                                                         "no audio");
        }

        ngx_log_error(NGX_LOG_CRIT, r->connection->log, of.err,
                      "%s \"%V\" failed (customer \"%V\")", of.failed,
                      &path, &ctx->customer);

        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!of.is_file) {
        return ngx_http_upload_store_files_not_found(r, ctx,
                                                     "not a file");
    }

    v = json_object_get(f->json, "content_type");

    if (json_is_string(v) && json_string_length(v) > 0) {
        type.len = json_string_length(v);
        type.data = ngx_pnalloc(r->pool, type.len);
        if (type.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(type.data, json_string_value(v), type.len);

    } else {
        ngx_str_set(&type, "application/octet-stream");
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = of.size;
    r->headers_out.last_modified_time = of.mtime;
    r->headers_out.content_type = type;
    r->headers_out.content_type_len = type.len;

    if (ngx_http_set_etag(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->allow_ranges = 1;

    /* whatever the stored type, a browser does not render it as a page */

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "X-Content-Type-Options");
    ngx_str_set(&h->value, "nosniff");

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
    b->file->name = path;
    b->file->log = r->connection->log;
    b->file->directio = of.is_directio;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* the text after the lexicon, else the provider's */

static ngx_int_t
ngx_http_upload_store_files_transcript(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_http_upload_store_file_t *f)
{
    json_t     *v;
    ngx_str_t   text;

    static ngx_str_t  type = ngx_string("text/plain; charset=utf-8");

    v = json_object_get(f->json, "processed_text");

    if (!json_is_string(v)) {
        v = json_object_get(f->json, "text");
    }

    if (!json_is_string(v)) {
        return ngx_http_upload_store_files_not_found(r, ctx,
                                                     "not transcribed");
    }

    text.len = json_string_length(v);
    text.data = ngx_pnalloc(r->pool, text.len);
    if (text.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(text.data, json_string_value(v), text.len);

    return ngx_http_upload_store_send(r, NGX_HTTP_OK, &type, &text);
}


/* the audio first: a failure leaves the metadata to try again with */

static ngx_int_t
ngx_http_upload_store_files_delete(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_http_upload_store_file_t *f)
{
    ngx_err_t                 err;
    ngx_str_t                 path;
    ngx_file_info_t           fi;
    ngx_http_upload_store_t  *store;

    static ngx_str_t  empty = ngx_null_string;

    store = ctx->store;

    if (ngx_http_upload_store_files_path(r, ctx, f, &path) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_link_info(path.data, &fi) != NGX_FILE_ERROR) {

        if (ngx_delete_file(path.data) == NGX_FILE_ERROR) {
            err = ngx_errno;

            if (err != NGX_ENOENT) {
                ngx_log_error(NGX_LOG_CRIT, r->connection->log, err,
                              ngx_delete_file_n " \"%V\" failed "
                              "(customer \"%V\")", &path, &ctx->customer);

                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

        } else if (ngx_is_file(&fi)) {
            (void) ngx_atomic_fetch_add(&store->sh->bytes,
                                        -ngx_file_size(&fi));
            (void) ngx_atomic_fetch_add(&store->sh->files, -1);
        }
    }

    if (ngx_delete_file(f->meta_path.data) == NGX_FILE_ERROR) {
        err = ngx_errno;

        if (err == NGX_ENOENT) {
            /* another DELETE, or the cleanup, was first */
            return ngx_http_upload_store_files_not_found(r, ctx,
                                                         "deleted "
                                                         "meanwhile");
        }

        ngx_log_error(NGX_LOG_CRIT, r->connection->log, err,
                      ngx_delete_file_n " \"%V\" failed (customer \"%V\")",
                      &f->meta_path, &ctx->customer);

        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) ngx_atomic_fetch_add(&store->sh->bytes, -(off_t) f->meta.len);
    (void) ngx_atomic_fetch_add(&store->sh->deletes, 1);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "upload store \"%V\": customer \"%V\" deleted id %*s",
                  &store->name, &ctx->customer,
                  (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, f->id);

    r->header_only = 1;

    return ngx_http_upload_store_send(r, NGX_HTTP_NO_CONTENT, &empty, &empty);
}
