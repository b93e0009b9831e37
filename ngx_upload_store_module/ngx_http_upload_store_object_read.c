
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"
#include "ngx_http_upload_store_object_read.h"
#include "ngx_http_upload_store_sigv4.h"


/*
 * An upload's audio served from the object store, when it is no longer
 * on the local disk: a libcurl GET on the worker's multi handle whose
 * body feeds the request's output chain through a few reused buffers.
 * When the client is slower than the bucket, the transfer is paused
 * (CURL_WRITEFUNC_PAUSE) until the client has taken what it was given:
 * a request holds at most NGX_HTTP_UPLOAD_STORE_READ_BUFS buffers,
 * whatever the object's size.  The client's Range goes to the bucket,
 * the bucket's 206 and Content-Range come back.
 */


static ngx_int_t ngx_http_upload_store_read_headers(ngx_http_request_t *r,
    ngx_http_upload_store_read_t *rd, ngx_http_upload_store_object_t *os);
static size_t ngx_http_upload_store_read_header(char *buf, size_t size,
    size_t n, void *data);
static size_t ngx_http_upload_store_read_body(char *buf, size_t size,
    size_t n, void *data);
static ngx_int_t ngx_http_upload_store_read_send_header(
    ngx_http_upload_store_read_t *rd);
static ngx_int_t ngx_http_upload_store_read_flush(
    ngx_http_upload_store_read_t *rd, ngx_chain_t *in);
static void ngx_http_upload_store_read_resume(ngx_http_request_t *r);
static void ngx_http_upload_store_read_done(
    ngx_http_upload_store_transfer_t *t);
static void ngx_http_upload_store_read_cleanup(void *data);
static ngx_int_t ngx_http_upload_store_object_redirect(ngx_http_request_t *r,
    ngx_http_upload_store_t *store, ngx_str_t *key);


/*
 * NGX_DECLINED: the object store cannot serve it (none, no object, or
 * the local file is there); NGX_DONE: the request waits for the bucket
 */

ngx_int_t
ngx_http_upload_store_object_read(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *type)
{
    CURL                            *easy;
    ngx_str_t                        key;
    ngx_file_info_t                  fi;
    ngx_http_upload_store_t         *store;
    ngx_http_upload_store_read_t    *rd;
    ngx_http_upload_store_record_t  *rec;

    store = ctx->store;
    rec = &ctx->record;

    if (store->object == NULL || rec->object.key.len == 0
        || ngx_file_info(rec->path.data, &fi) != NGX_FILE_ERROR
        || ngx_errno != NGX_ENOENT)
    {
        return NGX_DECLINED;
    }

    /*
     * the key the layout gives, not the one the record says: a record
     * from the bucket names no other object
     */

    if (ngx_http_upload_store_object_key(r->pool, store, &rec->path, &key)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (store->object->expires) {
        return ngx_http_upload_store_object_redirect(r, store, &key);
    }

    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;

    if (ngx_http_upload_store_add_header(r, "X-Content-Type-Options",
                                         &(ngx_str_t) ngx_string("nosniff"))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rd = ngx_http_upload_store_read_create(r, store->object, &key);
    if (rd == NULL) {
        return NGX_ERROR;
    }

    easy = rd->transfer.easy;

    if (ngx_http_upload_store_read_headers(r, rd, store->object) != NGX_OK
        || curl_easy_setopt(easy, CURLOPT_HTTPHEADER, rd->headers)
           != CURLE_OK
        || (r->method == NGX_HTTP_HEAD
            && curl_easy_setopt(easy, CURLOPT_NOBODY, 1L) != CURLE_OK)
        || ngx_http_upload_store_curl_start(&rd->transfer) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "upload store \"%V\": customer \"%V\", id %*s, served "
                  "from key \"%V\"", &store->name, &rec->customer,
                  (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, rec->id, &key);

    ngx_http_upload_store_stats_object(store,
                                       NGX_HTTP_UPLOAD_STORE_OBJ_READS, 1);

    ctx->object_read = rd;

    r->main->count++;
    r->write_event_handler = ngx_http_upload_store_read_resume;

    return NGX_DONE;
}


/* a GET of key, its answer to the callbacks below; stopped with r */

ngx_http_upload_store_read_t *
ngx_http_upload_store_read_create(ngx_http_request_t *r,
    ngx_http_upload_store_object_t *os, ngx_str_t *key)
{
    CURL                          *easy;
    ngx_pool_cleanup_t            *cln;
    ngx_http_upload_store_read_t  *rd;

    rd = ngx_pcalloc(r->pool, sizeof(ngx_http_upload_store_read_t));
    if (rd == NULL) {
        return NULL;
    }

    rd->request = r;
    rd->length = -1;
    rd->last_modified = -1;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_upload_store_read_cleanup;
    cln->data = rd;

    easy = ngx_http_upload_store_object_easy(os, key, NULL, &rd->headers,
                                             r->pool);
    if (easy == NULL) {
        return NULL;
    }

    rd->transfer.easy = easy;
    rd->transfer.done = ngx_http_upload_store_read_done;

    if (curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION,
                         ngx_http_upload_store_read_header)
        != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_HEADERDATA, rd) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION,
                            ngx_http_upload_store_read_body)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_WRITEDATA, rd) != CURLE_OK)
    {
        return NULL;
    }

    return rd;
}


/* the payload's hash (none), and the client's Range, passed on */

static ngx_int_t
ngx_http_upload_store_read_headers(ngx_http_request_t *r,
    ngx_http_upload_store_read_t *rd, ngx_http_upload_store_object_t *os)
{
    u_char             *p;
    ngx_table_elt_t    *range;

    if (ngx_http_upload_store_object_no_body(&rd->headers) != NGX_OK) {
        return NGX_ERROR;
    }

    range = r->headers_in.range;

    if (range == NULL || range->value.len > 256
        || ngx_strlchr(range->value.data,
                       range->value.data + range->value.len, CR)
        || ngx_strlchr(range->value.data,
                       range->value.data + range->value.len, LF))
    {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, sizeof("Range: ") + range->value.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_sprintf(p, "Range: %V%Z", &range->value);

    if (ngx_http_upload_store_curl_header(&rd->headers, (char *) p) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the bucket's status and the headers passed on; at their end, ours */

static size_t
ngx_http_upload_store_read_header(char *buf, size_t size, size_t n,
    void *data)
{
    ngx_http_upload_store_read_t *rd = data;

    u_char     *p, *last;
    size_t      len;
    ngx_str_t  *value, v;

    len = size * n;
    p = (u_char *) buf;
    last = p + len;

    if (len > 12 && ngx_strncmp(p, "HTTP/", 5) == 0) {
        p = ngx_strlchr(p, last, ' ');
        rd->status = p ? (ngx_uint_t) ngx_atoi(p + 1, 3) : 0;
        return len;
    }

    if (len <= 2) {
        /* their end: a 2xx is answered now, body or not */

        if (rd->status >= 200 && rd->status < 300 && !rd->record) {

            if (ngx_http_upload_store_read_send_header(rd) != NGX_OK) {
                rd->failed = 1;
                return 0;
            }

            /* a 304 of the not modified filter: the body is not wanted */

            if (rd->request->header_only) {
                rd->enough = 1;
                return 0;
            }
        }

        return len;
    }

    if (ngx_http_upload_store_curl_value(p, len, "Content-Length:", &v)) {
        rd->length = ngx_atoof(v.data, v.len);
        return len;
    }

    if (ngx_http_upload_store_curl_value(p, len, "Last-Modified:", &v)) {
        rd->last_modified = ngx_parse_http_time(v.data, v.len);
        return len;
    }

    if (ngx_http_upload_store_curl_value(p, len, "Content-Range:", &v)) {
        value = &rd->content_range;

    } else if (ngx_http_upload_store_curl_value(p, len, "ETag:", &v)) {
        value = &rd->etag;

    } else {
        return len;
    }

    if (v.len > 200) {
        return len;
    }

    value->data = ngx_pstrdup(rd->request->pool, &v);
    value->len = value->data ? v.len : 0;

    return len;
}


static ngx_int_t
ngx_http_upload_store_read_send_header(ngx_http_upload_store_read_t *rd)
{
    ngx_int_t            rc;
    ngx_table_elt_t     *h;
    ngx_http_request_t  *r;

    r = rd->request;

    if (rd->header_sent) {
        return NGX_OK;
    }

    rd->header_sent = 1;

    r->headers_out.status = rd->status;
    r->headers_out.content_length_n = rd->length;
    r->headers_out.last_modified_time = rd->last_modified;

    /* the bucket did the range, if any: not again */

    r->allow_ranges = 0;

    if (rd->content_range.len) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Content-Range");
        h->value = rd->content_range;
        r->headers_out.content_range = h;

    } else if (rd->status == NGX_HTTP_OK
               && ngx_http_upload_store_add_header(r, "Accept-Ranges",
                                                   &(ngx_str_t)
                                                   ngx_string("bytes"))
                  != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (rd->etag.len) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "ETag");
        h->value = rd->etag;
        r->headers_out.etag = h;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * the body, into a free buffer and out; paused (the bytes not taken)
 * while the client has not taken the buffers it was given
 */

static size_t
ngx_http_upload_store_read_body(char *buf, size_t size, size_t n,
    void *data)
{
    ngx_http_upload_store_read_t *rd = data;

    size_t               len;
    ngx_int_t            rc;
    ngx_buf_t           *b;
    ngx_chain_t         *cl;
    ngx_http_request_t  *r;

    r = rd->request;
    len = size * n;

    if (!rd->header_sent) {
        /* a record, whole (larger: not one of this module's); or an
         * error's body, for its code */

        rc = ngx_http_upload_store_curl_keep(r->pool, &rd->error,
                                         &rd->error_len, &rd->error_cap,
                                         rd->record
                                         ? NGX_HTTP_UPLOAD_STORE_READ_REC
                                         : NGX_HTTP_UPLOAD_STORE_READ_ERR,
                                         buf, len);

        return (rc == NGX_ERROR || (rc == NGX_DECLINED && rd->record))
               ? 0 : len;
    }

    if (rd->failed || r->header_only) {
        return rd->failed ? 0 : len;
    }

    if (rd->free == NULL && rd->nbufs == NGX_HTTP_UPLOAD_STORE_READ_BUFS) {
        rd->paused = 1;
        return CURL_WRITEFUNC_PAUSE;
    }

    cl = ngx_chain_get_free_buf(r->pool, &rd->free);
    if (cl == NULL) {
        return 0;
    }

    b = cl->buf;

    if (b->start == NULL) {
        b->start = ngx_palloc(r->pool, NGX_HTTP_UPLOAD_STORE_READ_BUF);
        if (b->start == NULL) {
            return 0;
        }

        b->end = b->start + NGX_HTTP_UPLOAD_STORE_READ_BUF;
        b->tag = (ngx_buf_tag_t) &ngx_http_upload_store_module;
        rd->nbufs++;
    }

    /* curl gives at most CURL_MAX_WRITE_SIZE at once */

    len = ngx_min(len, (size_t) (b->end - b->start));

    b->pos = b->start;
    b->last = ngx_cpymem(b->start, buf, len);
    b->memory = 1;
    b->flush = 1;

    if (ngx_http_upload_store_read_flush(rd, cl) != NGX_OK) {
        rd->failed = 1;
        return 0;
    }

    return len;
}


/* out to the client; the buffers it took are free again */

static ngx_int_t
ngx_http_upload_store_read_flush(ngx_http_upload_store_read_t *rd,
    ngx_chain_t *in)
{
    ngx_int_t                  rc;
    ngx_event_t               *wev;
    ngx_http_request_t        *r;
    ngx_http_core_loc_conf_t  *clcf;

    r = rd->request;
    wev = r->connection->write;

    rc = ngx_http_output_filter(r, in);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    ngx_chain_update_chains(r->pool, &rd->free, &rd->busy, &in,
                            (ngx_buf_tag_t) &ngx_http_upload_store_module);

    if (rd->busy == NULL && !r->connection->buffered) {
        if (wev->timer_set) {
            ngx_del_timer(wev);
        }

        return NGX_OK;
    }

    /* the client is slower: its write event says when it took more */

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (!wev->delayed) {
        ngx_add_timer(wev, clcf->send_timeout);
    }

    return ngx_handle_write_event(wev, clcf->send_lowat) == NGX_OK
           ? NGX_OK : NGX_ERROR;
}


/* the client can take more: what is buffered out, the transfer resumed */

static void
ngx_http_upload_store_read_resume(ngx_http_request_t *r)
{
    ngx_event_t                   *wev;
    ngx_http_upload_store_ctx_t   *ctx;
    ngx_http_upload_store_read_t  *rd;

    wev = r->connection->write;
    ctx = ngx_http_upload_store_get_ctx(r);
    rd = ctx ? ctx->object_read : NULL;

    if (rd == NULL) {
        return;
    }

    if (wev->timedout) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, NGX_ETIMEDOUT,
                      "client timed out");
        r->connection->timedout = 1;
        ngx_http_finalize_request(r, NGX_HTTP_REQUEST_TIME_OUT);
        return;
    }

    if (ngx_http_upload_store_read_flush(rd, NULL) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_ERROR);
        return;
    }

    if (rd->paused && rd->free != NULL && rd->transfer.running) {
        rd->paused = 0;
        (void) curl_easy_pause(rd->transfer.easy, CURLPAUSE_CONT);
        ngx_http_upload_store_curl_clear();
    }

    if (!rd->transfer.running && rd->busy == NULL
        && !r->connection->buffered)
    {
        /* ended while the client took the rest */
        ngx_http_finalize_request(r, NGX_OK);
    }
}


/* the transfer ended: the answer's end, or an error if none was sent */

static void
ngx_http_upload_store_read_done(ngx_http_upload_store_transfer_t *t)
{
    ngx_http_upload_store_read_t *rd = (ngx_http_upload_store_read_t *) t;

    ngx_int_t            rc;
    ngx_str_t            code;
    ngx_buf_t           *b;
    ngx_chain_t         *out;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = rd->request;
    c = r->connection;

    if (!rd->header_sent) {
        ngx_http_upload_store_object_code(rd->error, rd->error_len, &code);

        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "upload store: object for \"%V\" cannot be read: %s, "
                      "status %ui%s%V", &r->uri,
                      curl_easy_strerror(t->result), rd->status,
                      code.len ? ", " : "", &code);

        if (rd->status == NGX_HTTP_RANGE_NOT_SATISFIABLE) {
            rc = ngx_http_upload_store_set_error(r,
                                          NGX_HTTP_RANGE_NOT_SATISFIABLE,
                                          "range_not_satisfiable",
                                          "the range is outside the upload");
            goto finalize;
        }

        rc = (rd->status == NGX_HTTP_NOT_FOUND)
             ? ngx_http_upload_store_set_error(r, NGX_HTTP_NOT_FOUND,
                                               "not_found", "no such upload")
             : ngx_http_upload_store_set_error(r, NGX_HTTP_BAD_GATEWAY,
                                               "object_store_failed",
                                               "the object store did not "
                                               "answer as expected");
        goto finalize;
    }

    if (rd->enough) {
        rc = NGX_OK;
        goto finalize;
    }

    if (t->result != CURLE_OK || rd->failed) {
        /* cut short: the client sees a short answer, as from an upstream */

        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "upload store: object for \"%V\" cut short: %s",
                      &r->uri, curl_easy_strerror(t->result));
        rc = NGX_ERROR;
        goto finalize;
    }

    if (r->header_only) {
        rc = NGX_OK;
        goto finalize;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        rc = NGX_ERROR;
        goto finalize;
    }

    b->last_buf = 1;
    b->last_in_chain = 1;

    /* from the pool: the link may stay busy after this returns */

    out = ngx_alloc_chain_link(r->pool);
    if (out == NULL) {
        rc = NGX_ERROR;
        goto finalize;
    }

    out->buf = b;
    out->next = NULL;

    if (ngx_http_upload_store_read_flush(rd, out) != NGX_OK) {
        rc = NGX_ERROR;
        goto finalize;
    }

    if (rd->busy != NULL || c->buffered) {
        /* the client takes the rest: the write handler ends it */
        return;
    }

    rc = NGX_OK;

finalize:

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/*
 * redirect=presigned: a 302 to the object, signed for the request's
 * method, valid for "expires" seconds; the client's Range goes there
 */

static ngx_int_t
ngx_http_upload_store_object_redirect(ngx_http_request_t *r,
    ngx_http_upload_store_t *store, ngx_str_t *key)
{
    ngx_http_upload_store_object_t  *os = store->object;

    u_char                         *path, *p, *url;
    size_t                          len;
    ngx_table_elt_t                *h;
    ngx_http_upload_store_sigv4_t   req;

    static ngx_str_t  empty = ngx_null_string;

    /* the key encoded as SigV4 wants it: all but unreserved and "/" */

    path = ngx_pnalloc(r->pool, os->path.len + 1 + 3 * key->len + 1);
    if (path == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(path, os->path.data, os->path.len);
    *p++ = '/';
    p = ngx_http_upload_store_object_escape(p, key);
    *p = '\0';

    req.method = (r->method == NGX_HTTP_HEAD) ? "HEAD" : "GET";
    req.scheme = (char *) os->scheme.data;
    req.host = (char *) os->host.data;
    req.path = (char *) path;
    req.key_id = (char *) os->key_id.data;
    req.secret = (char *) os->secret.data;
    req.region = (char *) os->region.data;
    req.now = ngx_time();
    req.expires = (unsigned) os->expires;

    len = os->scheme.len + os->host.len + (p - path) + 512;

    url = ngx_pnalloc(r->pool, len);
    if (url == NULL) {
        return NGX_ERROR;
    }

    len = ngx_http_upload_store_sigv4_presign((char *) url, len, &req);
    if (len == 0) {
        return NGX_ERROR;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Location");
    h->value.data = url;
    h->value.len = len;
    r->headers_out.location = h;

    /* no cache keeps a URL past its signature */

    if (ngx_http_upload_store_add_header(r, "Cache-Control",
                                         &(ngx_str_t)
                                         ngx_string("no-store"))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_upload_store_stats_object(store,
                                       NGX_HTTP_UPLOAD_STORE_OBJ_READS, 1);

    return ngx_http_upload_store_send(r, NGX_HTTP_MOVED_TEMPORARILY, &empty,
                                      &empty);
}


/* the request ends first (the client left): the transfer goes with it */

static void
ngx_http_upload_store_read_cleanup(void *data)
{
    ngx_http_upload_store_read_t *rd = data;

    ngx_http_upload_store_curl_free(&rd->transfer, &rd->headers);
}
