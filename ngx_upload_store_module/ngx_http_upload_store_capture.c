
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"


/*
 * The provider's answer to a transcription's subrequest stops here: its
 * status and Retry-After are noted, its body kept in memory within
 * upload_store_transcribe_buffer, and nothing of it is sent.
 */


static ngx_http_upload_store_transcription_t *ngx_http_upload_store_captured(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_upload_store_transcription_length(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_upload_store_capture_header_filter(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_upload_store_capture_body_filter(
    ngx_http_request_t *r, ngx_chain_t *in);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/*
 * The subrequest's Content-Length is set only once its location is
 * found: nginx checks it against client_max_body_size then, and the
 * provider's location has no reason to know how large uploads are. The
 * proxy module reads it later, when it makes its request.
 */

static ngx_int_t
ngx_http_upload_store_transcription_length(ngx_http_request_t *r)
{
    ngx_http_upload_store_transcription_t  *t;

    t = ngx_http_upload_store_captured(r);

    if (t != NULL) {
        r->headers_in.content_length_n = t->length;
    }

    return NGX_DECLINED;
}


/*
 * the transcription whose subrequest r is (internal redirects keep the
 * request, not its contexts), or NULL
 */

static ngx_http_upload_store_transcription_t *
ngx_http_upload_store_captured(ngx_http_request_t *r)
{
    ngx_http_upload_store_ctx_t  *ctx;

    if (r == r->main) {
        return NULL;
    }

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_upload_store_module);

    if (ctx == NULL || ctx->transcription == NULL
        || ctx->transcription->subrequest != r)
    {
        return NULL;
    }

    return ctx->transcription;
}


ngx_int_t
ngx_http_upload_store_init_capture(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_upload_store_transcription_length;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_upload_store_capture_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_upload_store_capture_body_filter;

    return NGX_OK;
}


/* the provider's answer stops here: it is captured, not sent */

static ngx_int_t
ngx_http_upload_store_capture_header_filter(ngx_http_request_t *r)
{
    ngx_table_elt_t                        *h;
    ngx_http_upload_store_transcription_t  *t;

    t = ngx_http_upload_store_captured(r);

    if (t == NULL) {
        return ngx_http_next_header_filter(r);
    }

    t->status = r->headers_out.status;

    if (r->upstream != NULL) {
        h = ngx_http_upload_store_header(&r->upstream->headers_in.headers,
                                         "Retry-After");

        if (h != NULL && h->value.len <= 64) {
            t->retry_after = h->value;
        }
    }

    t->content_type = r->headers_out.content_type;

    r->filter_need_in_memory = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_store_capture_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in)
{
    size_t                                  size, len;
    ngx_buf_t                              *b;
    ngx_chain_t                            *cl;
    ngx_http_upload_store_transcription_t  *t;

    t = ngx_http_upload_store_captured(r);

    if (t == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    for (cl = in; cl; cl = cl->next) {

        b = cl->buf;
        len = b->last - b->pos;

        /* the answer's end: an upstream that fails midway only flushes */

        if (b->last_in_chain || b->last_buf) {
            t->complete = 1;
        }

        if (len == 0 || t->too_big) {
            b->pos = b->last;
            continue;
        }

        if (t->body == NULL
            || (size_t) (t->body->end - t->body->last) < len)
        {
            size = t->body ? 2 * (t->body->end - t->body->start) : 0;
            size = ngx_max(size, 4096);
            size = ngx_max(size, (size_t) (t->body ? t->body->last
                                                       - t->body->pos
                                                     : 0) + len);

            if (size > t->max) {
                size = t->max;
            }

            if ((t->body ? (size_t) (t->body->last - t->body->pos)
                           : 0) + len > size)
            {
                t->too_big = 1;
                b->pos = b->last;
                continue;
            }

            b = ngx_create_temp_buf(r->pool, size);
            if (b == NULL) {
                return NGX_ERROR;
            }

            if (t->body) {
                b->last = ngx_cpymem(b->last, t->body->pos,
                                     t->body->last - t->body->pos);
            }

            t->body = b;
            b = cl->buf;
        }

        t->body->last = ngx_cpymem(t->body->last, b->pos, len);
        b->pos = b->last;
    }

    return NGX_OK;
}


