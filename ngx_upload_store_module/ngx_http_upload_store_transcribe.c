
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"
#include "ngx_http_upload_store_store.h"
#include "ngx_http_upload_store_multipart.h"


/*
 * Once an upload is stored, a subrequest POSTs it to the location of
 * upload_store_transcribe, which proxy_passes it to a provider. Its body
 * is built here (a form with the file, or the file alone), the stored file
 * going as a file buffer, never through memory; its headers are its own.
 * The provider's answer is captured by a header and a body filter, within
 * upload_store_transcribe_buffer, and the parent request is woken to
 * answer the client.
 */


struct ngx_http_upload_store_stt_s {
    ngx_uint_t                      status;      /* the provider's */
    ngx_str_t                       retry_after;
    ngx_buf_t                      *body;        /* its answer */
    size_t                          max;
    ngx_msec_t                      start;
    ngx_msec_t                      time;
    ngx_file_t                      file;        /* the stored audio */
    off_t                           length;      /* of the body sent */

    unsigned                        too_big:1;
    unsigned                        done:1;
    unsigned                        finished:1;  /* metadata written */
};


typedef struct {
    ngx_http_upload_store_stt_t    *stt;
} ngx_http_upload_store_sr_ctx_t;


static ngx_int_t ngx_http_upload_store_stt_body(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_http_request_body_t *rb,
    ngx_str_t *content_type, ngx_str_t *args);
static ngx_int_t ngx_http_upload_store_stt_field(ngx_http_request_t *r,
    ngx_chain_t ***ll, ngx_str_t *boundary, ngx_str_t *name,
    ngx_str_t *value);
static ngx_chain_t *ngx_http_upload_store_stt_mem(ngx_http_request_t *r,
    u_char *data, size_t len);
static ngx_int_t ngx_http_upload_store_stt_headers(ngx_http_request_t *sr,
    ngx_str_t *content_type, off_t length);
static ngx_int_t ngx_http_upload_store_stt_sr_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static void ngx_http_upload_store_stt_wake(ngx_http_request_t *r);
static ngx_int_t ngx_http_upload_store_stt_result(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx);
static ngx_int_t ngx_http_upload_store_stt_fail(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_uint_t status, char *code,
    const char *message);
static void ngx_http_upload_store_stt_cleanup(void *data);
static json_t *ngx_http_upload_store_json_pointer(json_t *root,
    ngx_str_t *pointer);
static ngx_int_t ngx_http_upload_store_lexicon_apply(ngx_http_request_t *r,
    ngx_array_t *lexicon, ngx_str_t *text, ngx_str_t *out);
static size_t ngx_http_upload_store_lexicon_run(ngx_array_t *lexicon,
    ngx_str_t *text, u_char *d);
static ngx_int_t ngx_http_upload_store_stt_header_filter(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_upload_store_stt_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_int_t ngx_http_upload_store_stt_length(ngx_http_request_t *r);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/* NGX_OK: the subrequest runs, the client is answered when it is done */

ngx_int_t
ngx_http_upload_store_transcribe(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx)
{
    ngx_str_t                          uri, args, ct;
    ngx_uint_t                         flags;
    ngx_pool_cleanup_t                *cln;
    ngx_http_request_t                *sr;
    ngx_http_request_body_t           *rb;
    ngx_http_post_subrequest_t        *ps;
    ngx_http_upload_store_stt_t       *stt;
    ngx_http_upload_store_sr_ctx_t    *sctx;
    ngx_http_upload_store_loc_conf_t  *uslcf;

    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);

    stt = ngx_pcalloc(r->pool, sizeof(ngx_http_upload_store_stt_t));
    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    rb = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    sctx = ngx_pcalloc(r->pool, sizeof(ngx_http_upload_store_sr_ctx_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (stt == NULL || ps == NULL || rb == NULL || sctx == NULL
        || cln == NULL)
    {
        return NGX_ERROR;
    }

    ctx->stt = stt;
    stt->max = uslcf->transcribe_buffer;
    stt->file.fd = NGX_INVALID_FILE;

    /* a client gone before the answer leaves the upload "failed" */

    cln->handler = ngx_http_upload_store_stt_cleanup;
    cln->data = r;

    stt->file.fd = ngx_open_file(ctx->path.data, NGX_FILE_RDONLY,
                                 NGX_FILE_OPEN, 0);

    if (stt->file.fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, ngx_errno,
                      ngx_open_file_n " \"%V\" failed", &ctx->path);
        return NGX_ERROR;
    }

    stt->file.name = ctx->path;
    stt->file.log = r->connection->log;

    if (ngx_http_complex_value(r, uslcf->transcribe, &uri) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_str_null(&args);
    flags = NGX_HTTP_LOG_UNSAFE;

    if (ngx_http_parse_unsafe_uri(r, &uri, &args, &flags) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "upload store: unsafe transcribe URI \"%V\"", &uri);
        return NGX_ERROR;
    }

    if (ngx_http_upload_store_stt_body(r, ctx, rb, &ct, &args) != NGX_OK) {
        return NGX_ERROR;
    }

    ps->handler = ngx_http_upload_store_stt_sr_done;
    ps->data = ctx;

    if (ngx_http_subrequest(r, &uri, &args, &sr, ps,
                            NGX_HTTP_SUBREQUEST_WAITED)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    stt->start = ngx_current_msec;

    sr->method = NGX_HTTP_POST;
    ngx_str_set(&sr->method_name, "POST");
    sr->request_body = rb;

    sctx->stt = stt;
    ngx_http_set_ctx(sr, sctx, ngx_http_upload_store_module);

    stt->length = rb->rest;

    if (ngx_http_upload_store_stt_headers(sr, &ct, -1) != NGX_OK) {
        return NGX_ERROR;
    }

    r->write_event_handler = ngx_http_upload_store_stt_wake;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upload store: transcribing \"%V\" through \"%V\", "
                   "%O bytes", &ctx->path, &uri, rb->rest);

    return NGX_OK;
}


/*
 * openai: a form, "file" (the stored audio) with the configured fields
 * and the client's fields listed in upload_store_transcribe_pass;
 * raw: the audio alone, with its type, the fields as arguments
 */

static ngx_int_t
ngx_http_upload_store_stt_body(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_http_request_body_t *rb,
    ngx_str_t *content_type, ngx_str_t *args)
{
    u_char                             *p;
    size_t                              len;
    ngx_buf_t                          *b;
    ngx_str_t                           boundary, value, *pass, type;
    ngx_uint_t                          i, j, escape;
    ngx_chain_t                        *cl, **ll;
    ngx_http_upload_store_stt_t        *stt;
    ngx_http_upload_store_stt_field_t  *f;
    ngx_http_upload_store_loc_conf_t   *uslcf;

    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);
    stt = ctx->stt;

    type = ctx->content_type;
    if (type.len == 0) {
        ngx_str_set(&type, "application/octet-stream");
    }

    rb->bufs = NULL;
    ll = &rb->bufs;

    boundary.len = sizeof("ngx-upload-store-") - 1
                   + NGX_HTTP_UPLOAD_STORE_ID_LEN;
    boundary.data = ngx_pnalloc(r->pool, boundary.len);
    if (boundary.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(boundary.data, "ngx-upload-store-%*s",
                (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, ctx->id);

    if (uslcf->transcribe_protocol == NGX_HTTP_UPLOAD_STORE_STT_OPENAI) {

        f = uslcf->transcribe_fields ? uslcf->transcribe_fields->elts : NULL;

        for (i = 0; f && i < uslcf->transcribe_fields->nelts; i++) {
            if (ngx_http_complex_value(r, &f[i].value, &value) != NGX_OK
                || ngx_http_upload_store_stt_field(r, &ll, &boundary,
                                                   &f[i].name, &value)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        pass = uslcf->transcribe_pass ? uslcf->transcribe_pass->elts : NULL;

        for (i = 0; pass && i < uslcf->transcribe_pass->nelts; i++) {

            /* configured fields win */

            for (j = 0; f && j < uslcf->transcribe_fields->nelts; j++) {
                if (f[j].name.len == pass[i].len
                    && ngx_strncmp(f[j].name.data, pass[i].data,
                                   pass[i].len)
                       == 0)
                {
                    break;
                }
            }

            if (f && j < uslcf->transcribe_fields->nelts) {
                continue;
            }

            if (ctx->multipart == NULL
                || ngx_http_upload_store_multipart_field(ctx, &pass[i],
                                                         &value)
                   != NGX_OK)
            {
                continue;
            }

            if (ngx_http_upload_store_stt_field(r, &ll, &boundary, &pass[i],
                                                &value)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        len = sizeof("--\r\nContent-Disposition: form-data; name=\"file\"; "
                     "filename=\"\"\r\nContent-Type: \r\n\r\n") - 1
              + boundary.len + ctx->file.len + type.len;

        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        cl = ngx_http_upload_store_stt_mem(r, p,
                 ngx_sprintf(p, "--%V\r\nContent-Disposition: form-data; "
                             "name=\"file\"; filename=\"%V\"\r\n"
                             "Content-Type: %V\r\n\r\n",
                             &boundary, &ctx->file, &type)
                 - p);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        *ll = cl;
        ll = &cl->next;
    }

    /* the stored file itself */

    cl = ngx_alloc_chain_link(r->pool);
    b = ngx_calloc_buf(r->pool);
    if (cl == NULL || b == NULL) {
        return NGX_ERROR;
    }

    b->in_file = 1;
    b->file = &stt->file;
    b->file_pos = 0;
    b->file_last = ctx->bytes;

    cl->buf = b;
    cl->next = NULL;
    *ll = cl;
    ll = &cl->next;

    if (uslcf->transcribe_protocol == NGX_HTTP_UPLOAD_STORE_STT_OPENAI) {

        p = ngx_pnalloc(r->pool, boundary.len + sizeof("\r\n----\r\n") - 1);
        if (p == NULL) {
            return NGX_ERROR;
        }

        cl = ngx_http_upload_store_stt_mem(r, p,
                            ngx_sprintf(p, "\r\n--%V--\r\n", &boundary) - p);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        *ll = cl;

        content_type->len = sizeof("multipart/form-data; boundary=") - 1
                            + boundary.len;
        content_type->data = ngx_pnalloc(r->pool, content_type->len);
        if (content_type->data == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(content_type->data, "multipart/form-data; boundary=%V",
                    &boundary);

    } else {
        *content_type = type;

        /* the fields as arguments, after those of the URI */

        f = uslcf->transcribe_fields ? uslcf->transcribe_fields->elts : NULL;

        for (i = 0; f && i < uslcf->transcribe_fields->nelts; i++) {

            if (ngx_http_complex_value(r, &f[i].value, &value) != NGX_OK) {
                return NGX_ERROR;
            }

            escape = 2 * ngx_escape_uri(NULL, value.data, value.len,
                                        NGX_ESCAPE_ARGS);

            len = args->len + 1 + f[i].name.len + 1 + value.len + escape;

            p = ngx_pnalloc(r->pool, len);
            if (p == NULL) {
                return NGX_ERROR;
            }

            value.data = (u_char *) ngx_escape_uri(
                             ngx_sprintf(p, "%V%s%V=", args,
                                         args->len ? "&" : "", &f[i].name),
                             value.data, value.len, NGX_ESCAPE_ARGS);

            args->len = value.data - p;
            args->data = p;
        }
    }

    rb->rest = 0;

    for (cl = rb->bufs; cl; cl = cl->next) {
        rb->rest += ngx_buf_size(cl->buf);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_store_stt_field(ngx_http_request_t *r, ngx_chain_t ***ll,
    ngx_str_t *boundary, ngx_str_t *name, ngx_str_t *value)
{
    u_char       *p;
    size_t        len;
    ngx_chain_t  *cl;

    len = sizeof("--\r\nContent-Disposition: form-data; name=\"\"\r\n\r\n"
                 "\r\n") - 1
          + boundary->len + name->len + value->len;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    cl = ngx_http_upload_store_stt_mem(r, p,
             ngx_sprintf(p, "--%V\r\nContent-Disposition: form-data; "
                         "name=\"%V\"\r\n\r\n%V\r\n",
                         boundary, name, value)
             - p);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    **ll = cl;
    *ll = &cl->next;

    return NGX_OK;
}


static ngx_chain_t *
ngx_http_upload_store_stt_mem(ngx_http_request_t *r, u_char *data,
    size_t len)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    cl = ngx_alloc_chain_link(r->pool);
    b = ngx_calloc_buf(r->pool);
    if (cl == NULL || b == NULL) {
        return NULL;
    }

    b->pos = data;
    b->last = data + len;
    b->memory = 1;

    cl->buf = b;
    cl->next = NULL;

    return cl;
}


/*
 * the subrequest's headers are its own: the client's Authorization,
 * cookies, Content-Type and Content-Length never reach the provider
 */

static ngx_int_t
ngx_http_upload_store_stt_headers(ngx_http_request_t *sr,
    ngx_str_t *content_type, off_t length)
{
    ngx_table_elt_t  *h;

    ngx_memzero(&sr->headers_in, sizeof(ngx_http_headers_in_t));

    if (ngx_list_init(&sr->headers_in.headers, sr->pool, 4,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    h = ngx_list_push(&sr->headers_in.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&h->key, "Content-Type");
    h->lowcase_key = (u_char *) "content-type";
    h->hash = ngx_hash_key(h->lowcase_key, h->key.len);
    h->value = *content_type;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    sr->headers_in.content_type = h;
    sr->headers_in.content_length_n = length;
    sr->headers_in.keep_alive_n = -1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_store_stt_sr_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc)
{
    ngx_http_upload_store_ctx_t *ctx = data;

    ngx_http_upload_store_stt_t  *stt;

    stt = ctx->stt;

    if (stt->done) {
        return rc;
    }

    stt->done = 1;
    stt->time = ngx_current_msec - stt->start;

    if (stt->status == 0) {
        stt->status = sr->headers_out.status;
    }

    if (stt->status == 0 && rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        stt->status = rc;
    }

    return rc;
}


static void
ngx_http_upload_store_stt_wake(ngx_http_request_t *r)
{
    ngx_http_upload_store_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upload_store_module);

    if (ctx == NULL || ctx->stt == NULL || !ctx->stt->done) {
        return;
    }

    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_http_finalize_request(r, ngx_http_upload_store_stt_result(r, ctx));
}


/* the provider's answer: the transcript, or what went wrong */

static ngx_int_t
ngx_http_upload_store_stt_result(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx)
{
    char                              *msg;
    json_t                            *root, *text, *meta, *err;
    ngx_int_t                          rc;
    ngx_str_t                          json;
    json_error_t                       jerr;
    ngx_table_elt_t                   *h;
    ngx_http_upload_store_stt_t       *stt;
    ngx_http_upload_store_loc_conf_t  *uslcf;

    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);
    stt = ctx->stt;

    if (stt->too_big) {
        return ngx_http_upload_store_stt_fail(r, ctx,
                   NGX_HTTP_BAD_GATEWAY, "provider_response_too_large",
                   "the provider's answer is larger than "
                   "upload_store_transcribe_buffer");
    }

    if (stt->status == NGX_HTTP_UNAUTHORIZED
        || stt->status == NGX_HTTP_FORBIDDEN)
    {
        return ngx_http_upload_store_stt_fail(r, ctx, NGX_HTTP_BAD_GATEWAY,
                   "provider_auth", "the provider refused the credentials");
    }

    if (stt->status == NGX_HTTP_TOO_MANY_REQUESTS) {

        if (stt->retry_after.len) {
            h = ngx_list_push(&r->headers_out.headers);
            if (h == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            h->hash = 1;
#if (nginx_version >= 1023000)
            h->next = NULL;
#endif
            ngx_str_set(&h->key, "Retry-After");
            h->value = stt->retry_after;
        }

        return ngx_http_upload_store_stt_fail(r, ctx,
                   NGX_HTTP_SERVICE_UNAVAILABLE, "provider_rate_limited",
                   "the provider is rate limiting: retry later");
    }

    if (stt->status == NGX_HTTP_GATEWAY_TIME_OUT) {
        return ngx_http_upload_store_stt_fail(r, ctx,
                   NGX_HTTP_GATEWAY_TIME_OUT, "provider_timeout",
                   "the provider did not answer in time");
    }

    if (stt->status < NGX_HTTP_OK || stt->status >= NGX_HTTP_SPECIAL_RESPONSE)
    {
        return ngx_http_upload_store_stt_fail(r, ctx, NGX_HTTP_BAD_GATEWAY,
                   "provider_error",
                   stt->status >= 500 || stt->status == 0
                   ? "the provider failed or could not be reached"
                   : "the provider refused the request");
    }

    root = NULL;

    if (stt->body != NULL) {
        root = json_loadb((char *) stt->body->pos,
                          stt->body->last - stt->body->pos, 0, &jerr);
    }

    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        return ngx_http_upload_store_stt_fail(r, ctx, NGX_HTTP_BAD_GATEWAY,
                   "provider_bad_response",
                   "the provider's answer is not a JSON object");
    }

    /* whisper.cpp's server says what went wrong with a 200 */

    err = json_object_get(root, "error");
    text = ngx_http_upload_store_json_pointer(root,
                                              &uslcf->transcribe_text);

    if (err != NULL || text == NULL || !json_is_string(text)) {
        json_decref(root);

        msg = err != NULL ? "the provider answered with an error"
                          : "the provider's answer has no text";

        return ngx_http_upload_store_stt_fail(r, ctx, NGX_HTTP_BAD_GATEWAY,
                   err != NULL ? "provider_error" : "provider_bad_response",
                   msg);
    }

    /* the metadata: status, text, provider status and time */

    ctx->stt_text.len = json_string_length(text);
    ctx->stt_text.data = ngx_pnalloc(r->pool, ctx->stt_text.len);
    if (ctx->stt_text.data == NULL) {
        json_decref(root);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ctx->stt_text.data, json_string_value(text),
               ctx->stt_text.len);

    /* the lexicon: if it fails, the original text is the answer */

    if (uslcf->lexicon != NULL
        && ngx_http_upload_store_lexicon_apply(r, uslcf->lexicon,
                                               &ctx->stt_text,
                                               &ctx->stt_processed)
           != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "upload store: lexicon failed for customer \"%V\", "
                      "id %*s", &ctx->customer,
                      (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, ctx->id);
        ngx_str_null(&ctx->stt_processed);
    }

    ngx_str_set(&ctx->status, "transcribed");

    rc = ngx_http_upload_store_metadata_save(r, ctx, &meta);

    if (rc != NGX_OK) {
        json_decref(root);
        return rc;
    }

    stt->finished = 1;
    ngx_http_upload_store_count_stt(ctx);

    if (!uslcf->keep) {
        ngx_http_upload_store_delete_audio(r, ctx);
    }

    /* the answer: "text" is the processed text, the provider's fields
     * come under the upload's */

    if (ctx->stt_processed.data != NULL
        && (json_object_set_new(meta, "original_text",
                    ngx_http_upload_store_json_str(&ctx->stt_text)) != 0
            || json_object_set_new(meta, "text",
                    ngx_http_upload_store_json_str(&ctx->stt_processed))
               != 0
            || json_object_del(meta, "processed_text") != 0))
    {
        json_decref(root);
        json_decref(meta);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (json_object_update_missing(meta, root) != 0
        || ngx_http_upload_store_json_dump(r->pool, meta, &json) != NGX_OK)
    {
        json_decref(root);
        json_decref(meta);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    json_decref(root);
    json_decref(meta);

    return ngx_http_upload_store_send_json(r, NGX_HTTP_OK, &json);
}


static ngx_int_t
ngx_http_upload_store_stt_fail(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_uint_t status, char *code,
    const char *message)
{
    json_t  *meta;

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "upload store: transcription of \"%V\" for customer "
                  "\"%V\", id %*s, failed: %s (provider status %ui)",
                  &ctx->path, &ctx->customer,
                  (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, ctx->id, code,
                  ctx->stt->status);

    ngx_str_set(&ctx->status, "failed");
    ctx->stt_error.data = (u_char *) code;
    ctx->stt_error.len = ngx_strlen(code);

    /* the audio stays, for a retry */

    if (ngx_http_upload_store_metadata_save(r, ctx, &meta) == NGX_OK) {
        json_decref(meta);
    }

    ctx->stt->finished = 1;
    ngx_http_upload_store_count_stt(ctx);

    return ngx_http_upload_store_error(r, status, code, "%s", message);
}


/* the request ends before the provider answered: "failed" on disk */

static void
ngx_http_upload_store_stt_cleanup(void *data)
{
    ngx_http_request_t *r = data;

    json_t                       *meta;
    ngx_pool_t                   *pool;
    ngx_http_upload_store_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upload_store_module);

    if (ctx->stt->file.fd != NGX_INVALID_FILE) {
        if (ngx_close_file(ctx->stt->file.fd) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, ngx_errno,
                          ngx_close_file_n " \"%V\" failed", &ctx->path);
        }

        ctx->stt->file.fd = NGX_INVALID_FILE;
    }

    if (ctx->stt->finished) {
        return;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "upload store: client of customer \"%V\" gone before "
                  "the transcription of id %*s", &ctx->customer,
                  (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, ctx->id);

    ngx_str_set(&ctx->status, "failed");
    ngx_str_set(&ctx->stt_error, "client_closed");

    ngx_http_upload_store_count_stt(ctx);

    /*
     * the request's pool is being destroyed (r->pool is already NULL):
     * the metadata is made in a pool of its own
     */

    pool = ngx_create_pool(4096, r->connection->log);
    if (pool == NULL) {
        return;
    }

    r->pool = pool;

    if (ngx_http_upload_store_metadata_save(r, ctx, &meta) == NGX_OK) {
        json_decref(meta);
    }

    r->pool = NULL;
    ngx_destroy_pool(pool);
}


/*
 * whole words, case-insensitively: a word is a run of letters, digits,
 * "'", "-" and "_" (and of any byte of a UTF-8 sequence); *out is empty
 * when nothing was replaced
 */

static ngx_int_t
ngx_http_upload_store_lexicon_apply(ngx_http_request_t *r,
    ngx_array_t *lexicon, ngx_str_t *text, ngx_str_t *out)
{
    size_t  size;

    /* once to measure, once to write */

    size = ngx_http_upload_store_lexicon_run(lexicon, text, NULL);

    if (size == 0) {
        ngx_str_null(out);
        return NGX_OK;
    }

    out->data = ngx_pnalloc(r->pool, size);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    out->len = ngx_http_upload_store_lexicon_run(lexicon, text, out->data)
               - 1;

    return NGX_OK;
}


/* 1 + the length of the result, or 0 when no word is replaced */

static size_t
ngx_http_upload_store_lexicon_run(ngx_array_t *lexicon, ngx_str_t *text,
    u_char *d)
{
    u_char                           *p, *last, *w;
    size_t                            n, len;
    ngx_uint_t                        i, changed;
    ngx_http_upload_store_lexicon_t  *lx;

    lx = lexicon->elts;
    changed = 0;
    len = 0;

    p = text->data;
    last = text->data + text->len;

    while (p < last) {

        w = p;

        while (p < last
               && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                   || (*p >= '0' && *p <= '9') || *p >= 0x80
                   || *p == '\'' || *p == '-' || *p == '_'))
        {
            p++;
        }

        if (p == w) {
            p++;
            n = 1;

        } else {
            n = p - w;

            for (i = 0; i < lexicon->nelts; i++) {
                if (lx[i].word.len == n
                    && ngx_strncasecmp(lx[i].word.data, w, n) == 0)
                {
                    break;
                }
            }

            if (i < lexicon->nelts) {
                w = lx[i].replacement.data;
                n = lx[i].replacement.len;
                changed = 1;
            }
        }

        if (d != NULL) {
            d = ngx_cpymem(d, w, n);
        }

        len += n;
    }

    return changed ? len + 1 : 0;
}


/* RFC 6901: "/results/channels/0/alternatives/0/transcript" */

static json_t *
ngx_http_upload_store_json_pointer(json_t *root, ngx_str_t *pointer)
{
    u_char    *p, *last, *end;
    char       key[256];
    size_t     n;
    json_t    *v;
    ngx_int_t  index;

    v = root;
    p = pointer->data;
    last = pointer->data + pointer->len;

    while (p < last && v != NULL) {

        p++;    /* '/' */

        end = ngx_strlchr(p, last, '/');
        if (end == NULL) {
            end = last;
        }

        for (n = 0; p < end && n < sizeof(key) - 1; p++) {
            if (*p == '~' && p + 1 < end && (p[1] == '0' || p[1] == '1')) {
                key[n++] = (p[1] == '0') ? '~' : '/';
                p++;
                continue;
            }

            key[n++] = *p;
        }

        key[n] = '\0';
        p = end;

        if (json_is_array(v)) {
            index = ngx_atoi((u_char *) key, n);
            v = (index == NGX_ERROR) ? NULL : json_array_get(v, index);

        } else {
            v = json_object_get(v, key);
        }
    }

    return v;
}


ngx_uint_t
ngx_http_upload_store_stt_status(ngx_http_upload_store_ctx_t *ctx)
{
    return ctx->stt->status;
}


ngx_msec_t
ngx_http_upload_store_stt_time(ngx_http_upload_store_ctx_t *ctx)
{
    return ctx->stt->done ? ctx->stt->time
                          : ngx_current_msec - ctx->stt->start;
}


/*
 * The subrequest's Content-Length is set only once its location is
 * found: nginx checks it against client_max_body_size then, and the
 * provider's location has no reason to know how large uploads are. The
 * proxy module reads it later, when it makes its request.
 */

static ngx_int_t
ngx_http_upload_store_stt_length(ngx_http_request_t *r)
{
    ngx_http_upload_store_sr_ctx_t  *sctx;

    if (r == r->main) {
        return NGX_DECLINED;
    }

    sctx = ngx_http_get_module_ctx(r, ngx_http_upload_store_module);

    if (sctx != NULL) {
        r->headers_in.content_length_n = sctx->stt->length;
    }

    return NGX_DECLINED;
}


ngx_int_t
ngx_http_upload_store_init_stt_filters(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_upload_store_stt_length;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_upload_store_stt_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_upload_store_stt_body_filter;

    return NGX_OK;
}


/* the provider's answer stops here: it is captured, not sent */

static ngx_int_t
ngx_http_upload_store_stt_header_filter(ngx_http_request_t *r)
{
    ngx_table_elt_t                 *h;
    ngx_http_upload_store_stt_t     *stt;
    ngx_http_upload_store_sr_ctx_t  *sctx;

    if (r == r->main) {
        return ngx_http_next_header_filter(r);
    }

    sctx = ngx_http_get_module_ctx(r, ngx_http_upload_store_module);

    if (sctx == NULL) {
        return ngx_http_next_header_filter(r);
    }

    stt = sctx->stt;
    stt->status = r->headers_out.status;

    if (r->upstream != NULL) {
        h = ngx_http_upload_store_header(&r->upstream->headers_in.headers,
                                         "Retry-After");

        if (h != NULL && h->value.len <= 64) {
            stt->retry_after = h->value;
        }
    }

    r->filter_need_in_memory = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_store_stt_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    size_t                           size, len;
    ngx_buf_t                       *b;
    ngx_chain_t                     *cl;
    ngx_http_upload_store_stt_t     *stt;
    ngx_http_upload_store_sr_ctx_t  *sctx;

    if (r == r->main) {
        return ngx_http_next_body_filter(r, in);
    }

    sctx = ngx_http_get_module_ctx(r, ngx_http_upload_store_module);

    if (sctx == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    stt = sctx->stt;

    for (cl = in; cl; cl = cl->next) {

        b = cl->buf;
        len = b->last - b->pos;

        if (len == 0 || stt->too_big) {
            b->pos = b->last;
            continue;
        }

        if (stt->body == NULL
            || (size_t) (stt->body->end - stt->body->last) < len)
        {
            size = stt->body ? 2 * (stt->body->end - stt->body->start) : 0;
            size = ngx_max(size, 4096);
            size = ngx_max(size, (size_t) (stt->body ? stt->body->last
                                                       - stt->body->pos
                                                     : 0) + len);

            if (size > stt->max) {
                size = stt->max;
            }

            if ((stt->body ? (size_t) (stt->body->last - stt->body->pos)
                           : 0) + len > size)
            {
                stt->too_big = 1;
                b->pos = b->last;
                continue;
            }

            b = ngx_create_temp_buf(r->pool, size);
            if (b == NULL) {
                return NGX_ERROR;
            }

            if (stt->body) {
                b->last = ngx_cpymem(b->last, stt->body->pos,
                                     stt->body->last - stt->body->pos);
            }

            stt->body = b;
            b = cl->buf;
        }

        stt->body->last = ngx_cpymem(stt->body->last, b->pos, len);
        b->pos = b->last;
    }

    return NGX_OK;
}
