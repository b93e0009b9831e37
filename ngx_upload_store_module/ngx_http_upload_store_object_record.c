
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"
#include "ngx_http_upload_store_object_read.h"


/*
 * A record that is not on this node (another node of the fleet stored
 * the upload) is fetched from the object store by the key the layout
 * gives it, whole, checked as a local one is (its id, customer and
 * category must be the ones asked for), and the request goes on with it.
 */


static void ngx_http_upload_store_read_record(
    ngx_http_upload_store_transfer_t *t);


/*
 * a record not on this node, from the bucket: NGX_DONE, found() called
 * with it when it came and was checked
 */

ngx_int_t
ngx_http_upload_store_object_record(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_uint_t what,
    ngx_http_upload_store_found_pt found)
{
    ngx_str_t                        key;
    ngx_http_upload_store_t         *store;
    ngx_http_upload_store_read_t    *rd;
    ngx_http_upload_store_record_t  *rec;

    store = ctx->store;
    rec = &ctx->record;

    if (ngx_http_upload_store_record_paths(r->pool, store, rec) != NGX_OK
        || ngx_http_upload_store_object_key(r->pool, store,
                                            &rec->record_path, &key)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    rd = ngx_http_upload_store_read_create(r, store->object, &key);
    if (rd == NULL) {
        return NGX_ERROR;
    }

    rd->record = 1;
    rd->transfer.done = ngx_http_upload_store_read_record;
    rd->ctx = ctx;
    rd->what = what;
    rd->found = found;

    if (ngx_http_upload_store_object_no_body(&rd->headers) != NGX_OK
        || curl_easy_setopt(rd->transfer.easy, CURLOPT_HTTPHEADER,
                            rd->headers)
           != CURLE_OK
        || ngx_http_upload_store_curl_start(&rd->transfer) != NGX_OK)
    {
        return NGX_ERROR;
    }

    r->main->count++;
    r->write_event_handler = ngx_http_request_empty_handler;

    return NGX_DONE;
}


/* a record came from the bucket: checked as a local one, then used */

static void
ngx_http_upload_store_read_record(ngx_http_upload_store_transfer_t *t)
{
    ngx_http_upload_store_read_t *rd = (ngx_http_upload_store_read_t *) t;

    ngx_int_t                        rc;
    ngx_str_t                        raw, code;
    ngx_connection_t                *c;
    ngx_http_request_t              *r;
    ngx_http_upload_store_record_t  *rec;

    r = rd->request;
    c = r->connection;
    rec = &rd->ctx->record;

    raw.data = rd->error;
    raw.len = rd->error_len;

    if (rd->transfer.result != CURLE_OK || rd->status != NGX_HTTP_OK) {

        if (rd->status == NGX_HTTP_NOT_FOUND) {
            rc = ngx_http_upload_store_set_error(r, NGX_HTTP_NOT_FOUND,
                                                 "not_found",
                                                 "no such upload");
            goto finalize;
        }

        ngx_http_upload_store_object_code(raw.data, raw.len, &code);

        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "upload store: record of customer \"%V\", id %*s, "
                      "cannot be read from the object store: %s, status "
                      "%ui%s%V", &rec->customer,
                      (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, rec->id,
                      curl_easy_strerror(rd->transfer.result), rd->status,
                      code.len ? ", " : "", &code);

        rc = ngx_http_upload_store_set_error(r, NGX_HTTP_BAD_GATEWAY,
                                             "object_store_failed",
                                             "the object store did not "
                                             "answer as expected");
        goto finalize;
    }

    /* its id, customer and category must be the ones asked for */

    if (ngx_http_upload_store_record_parse(r->pool, &raw, rec, c->log)
        != NGX_OK
        || ngx_http_upload_store_audio_path(r->pool, rec) != NGX_OK)
    {
        rc = ngx_http_upload_store_set_error(r,
                                             NGX_HTTP_INTERNAL_SERVER_ERROR,
                                             "metadata_invalid",
                                             "the upload's metadata is "
                                             "invalid");
        goto finalize;
    }

    ngx_log_error(NGX_LOG_INFO, c->log, 0,
                  "upload store: record of customer \"%V\", id %*s, read "
                  "from the object store", &rec->customer,
                  (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, rec->id);

    rc = rd->found(r, rd->ctx, rd->what, &raw);

finalize:

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}
