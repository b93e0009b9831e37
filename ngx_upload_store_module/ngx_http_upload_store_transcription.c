
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"


/*
 * Once an upload is stored, a subrequest POSTs it to the location of
 * upload_store_transcribe, which proxy_passes it to a provider.  Its body
 * is made by the provider's protocol (ngx_http_upload_store_providers.c)
 * around the stored file, which goes as a file buffer, never through
 * memory; its headers are its own.  The provider's answer is captured
 * (ngx_http_upload_store_capture.c), the parent request is woken, and the
 * record updated and answered.
 */


static ngx_int_t ngx_http_upload_store_request(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_http_request_body_t *rb,
    ngx_str_t *content_type, ngx_str_t *args);
static ngx_int_t ngx_http_upload_store_provider_headers(ngx_http_request_t *sr,
    ngx_str_t *content_type, off_t length);
static ngx_int_t ngx_http_upload_store_transcription_done(
    ngx_http_request_t *sr, void *data, ngx_int_t rc);
static void ngx_http_upload_store_transcription_wake(ngx_http_request_t *r);
static ngx_int_t ngx_http_upload_store_result(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx);
static ngx_int_t ngx_http_upload_store_answer(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, json_t *answer, json_t *text);
static ngx_int_t ngx_http_upload_store_answer_text(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx);
static ngx_int_t ngx_http_upload_store_transcribed(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *text);
static ngx_int_t ngx_http_upload_store_failed(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_uint_t status, ngx_uint_t outcome,
    const char *message);
static void ngx_http_upload_store_record_result(
    ngx_http_upload_store_ctx_t *ctx, ngx_uint_t state, ngx_uint_t outcome);
static ngx_int_t ngx_http_upload_store_transcription_queue(
    ngx_http_request_t *r, ngx_http_upload_store_ctx_t *ctx,
    ngx_pool_t *pool);
static void ngx_http_upload_store_transcription_cleanup(void *data);


/*
 * NGX_OK: the subrequest runs, the client is answered when it is done;
 * else NGX_ERROR, or the status to answer with
 */

ngx_int_t
ngx_http_upload_store_transcribe(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx)
{
    ngx_str_t                               uri, args, ct;
    ngx_uint_t                              flags;
    ngx_pool_cleanup_t                     *cln;
    ngx_http_request_t                     *sr;
    ngx_http_upload_store_t                *store;
    ngx_http_request_body_t                *rb;
    ngx_http_post_subrequest_t             *ps;
    ngx_http_upload_store_loc_conf_t       *uslcf;
    ngx_http_upload_store_transcription_t  *t;

    /* an OpenAI client asking for a stream of events: not one of JSON */

    ngx_str_set(&uri, "stream");

    if (ctx->multipart != NULL
        && ngx_http_upload_store_multipart_field(ctx, &uri, &args) == NGX_OK
        && args.len == 4 && ngx_strncmp(args.data, "true", 4) == 0)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "upload store: customer \"%V\" asked for a stream, "
                      "id %*s", &ctx->record.customer,
                      (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, ctx->record.id);

        return ngx_http_upload_store_set_error(r, NGX_HTTP_BAD_REQUEST,
                                               "stream_not_supported",
                                               "streamed transcriptions are "
                                               "not supported, send "
                                               "stream=false");
    }

    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);
    store = ctx->store;

    t = ngx_pcalloc(r->pool, sizeof(ngx_http_upload_store_transcription_t));
    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    rb = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (t == NULL || ps == NULL || rb == NULL || cln == NULL) {
        return NGX_ERROR;
    }

    ctx->transcription = t;
    t->max = uslcf->transcribe_buffer;
    t->file.fd = NGX_INVALID_FILE;

    ctx->record.transcription = 1;
    (void) ngx_http_upload_store_record_set_state(&ctx->record,
                                          NGX_HTTP_UPLOAD_STORE_TRANSCRIBING);

    /* a client gone before the answer leaves the upload "failed" */

    cln->handler = ngx_http_upload_store_transcription_cleanup;
    cln->data = r;

    if (store->backend->open(store, &ctx->record, &t->file,
                             r->connection->log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

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

    if (ngx_http_upload_store_request(r, ctx, rb, &ct, &args) != NGX_OK) {
        return NGX_ERROR;
    }

    ps->handler = ngx_http_upload_store_transcription_done;
    ps->data = ctx;

    if (ngx_http_subrequest(r, &uri, &args, &sr, ps,
                            NGX_HTTP_SUBREQUEST_WAITED)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    t->start = ngx_current_msec;

    sr->method = NGX_HTTP_POST;
    ngx_str_set(&sr->method_name, "POST");
    sr->request_body = rb;

    t->subrequest = sr;

    t->length = rb->rest;

    if (ngx_http_upload_store_provider_headers(sr, &ct, -1) != NGX_OK) {
        return NGX_ERROR;
    }

    r->write_event_handler = ngx_http_upload_store_transcription_wake;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upload store: transcribing \"%V\" through \"%V\", "
                   "%O bytes", &ctx->record.path, &uri, rb->rest);

    return NGX_OK;
}


/* the provider's request body, by its protocol, around the audio */

static ngx_int_t
ngx_http_upload_store_request(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_http_request_body_t *rb,
    ngx_str_t *content_type, ngx_str_t *args)
{
    ngx_buf_t                              *b;
    ngx_chain_t                            *cl;
    ngx_http_upload_store_loc_conf_t       *uslcf;
    ngx_http_upload_store_provider_body_t   body;

    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);

    ngx_memzero(&body, sizeof(ngx_http_upload_store_provider_body_t));

    body.args = *args;

    body.boundary.len = sizeof("ngx-upload-store-") - 1
                        + NGX_HTTP_UPLOAD_STORE_ID_LEN;
    body.boundary.data = ngx_pnalloc(r->pool, body.boundary.len);
    if (body.boundary.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(body.boundary.data, "ngx-upload-store-%*s",
                (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, ctx->record.id);

    /* the stored file itself */

    body.audio = ngx_alloc_chain_link(r->pool);
    b = ngx_calloc_buf(r->pool);
    if (body.audio == NULL || b == NULL) {
        return NGX_ERROR;
    }

    b->in_file = 1;
    b->file = &ctx->transcription->file;
    b->file_pos = 0;
    b->file_last = ctx->record.bytes;

    body.audio->buf = b;
    body.audio->next = NULL;

    if (uslcf->provider->body(r, ctx, &body) != NGX_OK) {
        return NGX_ERROR;
    }

    rb->bufs = body.bufs;
    rb->rest = 0;

    for (cl = rb->bufs; cl; cl = cl->next) {
        rb->rest += ngx_buf_size(cl->buf);
    }

    *content_type = body.content_type;
    *args = body.args;

    return NGX_OK;
}


/*
 * the subrequest's headers are its own: the client's Authorization,
 * cookies, Content-Type and Content-Length never reach the provider
 */

static ngx_int_t
ngx_http_upload_store_provider_headers(ngx_http_request_t *sr,
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
ngx_http_upload_store_transcription_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc)
{
    ngx_http_upload_store_ctx_t *ctx = data;

    ngx_http_upload_store_transcription_t  *t;

    t = ctx->transcription;

    if (t->done) {
        return rc;
    }

    t->done = 1;
    t->time = ngx_current_msec - t->start;

    if (t->status == 0) {
        t->status = sr->headers_out.status;
    }

    if (t->status == 0 && rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        t->status = rc;
    }

    return rc;
}


static void
ngx_http_upload_store_transcription_wake(ngx_http_request_t *r)
{
    ngx_http_upload_store_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upload_store_module);

    if (ctx == NULL || ctx->transcription == NULL
        || !ctx->transcription->done)
    {
        return;
    }

    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_http_finalize_request(r, ngx_http_upload_store_result(r, ctx));
}


/* the provider's answer: the transcript, or what went wrong */

static ngx_int_t
ngx_http_upload_store_result(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx)
{
    json_t                                 *root, *text;
    ngx_int_t                               rc;
    ngx_uint_t                              failed;
    json_error_t                            jerr;
    ngx_http_upload_store_loc_conf_t       *uslcf;
    ngx_http_upload_store_transcription_t  *t;

    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);
    t = ctx->transcription;

    if (t->too_big) {
        return ngx_http_upload_store_failed(r, ctx, NGX_HTTP_BAD_GATEWAY,
                   NGX_HTTP_UPLOAD_STORE_OUTCOME_TOO_LARGE,
                   "the provider's answer is larger than "
                   "upload_store_transcribe_buffer");
    }

    if (t->status == NGX_HTTP_UNAUTHORIZED
        || t->status == NGX_HTTP_FORBIDDEN)
    {
        return ngx_http_upload_store_failed(r, ctx, NGX_HTTP_BAD_GATEWAY,
                   NGX_HTTP_UPLOAD_STORE_OUTCOME_AUTH,
                   "the provider refused the credentials");
    }

    if (t->status == NGX_HTTP_TOO_MANY_REQUESTS) {

        if (t->retry_after.len
            && ngx_http_upload_store_add_header(r, "Retry-After",
                                                &t->retry_after)
               != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_upload_store_failed(r, ctx,
                   NGX_HTTP_SERVICE_UNAVAILABLE,
                   NGX_HTTP_UPLOAD_STORE_OUTCOME_RATE_LIMITED,
                   "the provider is rate limiting: retry later");
    }

    if (t->status == NGX_HTTP_GATEWAY_TIME_OUT) {
        return ngx_http_upload_store_failed(r, ctx, NGX_HTTP_GATEWAY_TIME_OUT,
                   NGX_HTTP_UPLOAD_STORE_OUTCOME_TIMEOUT,
                   "the provider did not answer in time");
    }

    /* what the provider finds wrong in the request is the client's */

    if (t->status == NGX_HTTP_BAD_REQUEST || t->status == NGX_HTTP_NOT_FOUND
        || t->status == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE
        || t->status == NGX_HTTP_UNSUPPORTED_MEDIA_TYPE
        || t->status == 422)
    {
        return ngx_http_upload_store_failed(r, ctx, t->status,
                   NGX_HTTP_UPLOAD_STORE_OUTCOME_REFUSED,
                   ngx_http_upload_store_provider_message(r->pool,
                       t->too_big || !t->complete ? NULL : t->body));
    }

    if (t->status < NGX_HTTP_OK || t->status >= NGX_HTTP_SPECIAL_RESPONSE) {
        return ngx_http_upload_store_failed(r, ctx, NGX_HTTP_BAD_GATEWAY,
                   NGX_HTTP_UPLOAD_STORE_OUTCOME_ERROR,
                   t->status >= 500 || t->status == 0
                   ? "the provider failed or could not be reached"
                   : "the provider refused the request");
    }

    if (!t->complete) {
        return ngx_http_upload_store_failed(r, ctx, NGX_HTTP_BAD_GATEWAY,
                   NGX_HTTP_UPLOAD_STORE_OUTCOME_ERROR,
                   "the provider's answer was cut short");
    }

    if (t->text_format) {
        return ngx_http_upload_store_answer_text(r, ctx);
    }

    root = NULL;

    if (t->body != NULL) {
        root = json_loadb((char *) t->body->pos, t->body->last - t->body->pos,
                          0, &jerr);
    }

    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        return ngx_http_upload_store_failed(r, ctx, NGX_HTTP_BAD_GATEWAY,
                   NGX_HTTP_UPLOAD_STORE_OUTCOME_BAD_RESPONSE,
                   "the provider's answer is not a JSON object");
    }

    failed = uslcf->provider->failed(root);
    text = ngx_http_upload_store_json_pointer(root, &uslcf->transcribe_text);

    if (failed || text == NULL || !json_is_string(text)) {
        json_decref(root);

        if (failed) {
            return ngx_http_upload_store_failed(r, ctx, NGX_HTTP_BAD_GATEWAY,
                       NGX_HTTP_UPLOAD_STORE_OUTCOME_ERROR,
                       "the provider answered with an error");
        }

        return ngx_http_upload_store_failed(r, ctx, NGX_HTTP_BAD_GATEWAY,
                   NGX_HTTP_UPLOAD_STORE_OUTCOME_BAD_RESPONSE,
                   "the provider's answer has no text");
    }

    rc = ngx_http_upload_store_answer(r, ctx, root, text);

    json_decref(root);

    return rc;
}


/*
 * the record, transcribed, saved and answered: "text" is the processed
 * text, the provider's fields come under the upload's
 */

static ngx_int_t
ngx_http_upload_store_answer(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, json_t *answer, json_t *text)
{
    json_t                          *json;
    ngx_int_t                        rc;
    ngx_str_t                        out, s;
    ngx_http_upload_store_record_t  *rec;

    rec = &ctx->record;

    s.data = (u_char *) json_string_value(text);
    s.len = json_string_length(text);

    rc = ngx_http_upload_store_transcribed(r, ctx, &s);
    if (rc != NGX_OK) {
        return rc;
    }

    json = ngx_http_upload_store_record_json(r->pool, rec,
                                             r->connection->log);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if ((rec->processed.data != NULL
         && (json_object_set_new(json, "original_text",
                        ngx_http_upload_store_json_str(&rec->text)) != 0
             || json_object_set_new(json, "text",
                        ngx_http_upload_store_json_str(&rec->processed))
                != 0
             || json_object_del(json, "processed_text") != 0))
        || ngx_http_upload_store_provider_members(answer) != NGX_OK
        || json_object_update_missing(json, answer) != 0
        || ngx_http_upload_store_json_dump(r->pool, json, &out) != NGX_OK)
    {
        json_decref(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    json_decref(json);

    return ngx_http_upload_store_send_json(r, NGX_HTTP_OK, &out);
}


/*
 * response_format text, srt or vtt: the provider's answer is the
 * transcript, answered as it came, with its type (after the lexicon)
 */

static ngx_int_t
ngx_http_upload_store_answer_text(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx)
{
    ngx_int_t                               rc;
    ngx_str_t                               text, type;
    ngx_http_upload_store_record_t         *rec;
    ngx_http_upload_store_transcription_t  *t;

    rec = &ctx->record;
    t = ctx->transcription;

    ngx_str_null(&text);

    if (t->body != NULL) {
        text.data = t->body->pos;
        text.len = t->body->last - t->body->pos;
    }

    if (ngx_http_upload_store_utf8(text.data, text.len, 0) != NGX_OK) {
        return ngx_http_upload_store_failed(r, ctx, NGX_HTTP_BAD_GATEWAY,
                   NGX_HTTP_UPLOAD_STORE_OUTCOME_BAD_RESPONSE,
                   "the provider's answer is not UTF-8 text");
    }

    rc = ngx_http_upload_store_transcribed(r, ctx, &text);
    if (rc != NGX_OK) {
        return rc;
    }

    type = t->content_type;

    if (type.len == 0) {
        ngx_str_set(&type, "text/plain; charset=utf-8");
    }

    return ngx_http_upload_store_send(r, NGX_HTTP_OK, &type,
                                      rec->processed.data != NULL
                                      ? &rec->processed : &rec->text);
}


/*
 * the text into the record (and through the lexicon), the record saved
 * as transcribed, counted; the audio goes with upload_store_keep off
 */

static ngx_int_t
ngx_http_upload_store_transcribed(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *text)
{
    ngx_http_upload_store_t           *store;
    ngx_http_upload_store_record_t    *rec;
    ngx_http_upload_store_loc_conf_t  *uslcf;

    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);
    store = ctx->store;
    rec = &ctx->record;

    rec->text.len = text->len;
    rec->text.data = ngx_pnalloc(r->pool, text->len);
    if (rec->text.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(rec->text.data, text->data, text->len);

    /* the lexicon: if it fails, the original text is the answer */

    if (uslcf->lexicon != NULL
        && ngx_http_upload_store_lexicon_apply(r->pool, uslcf->lexicon,
                                               &rec->text, &rec->processed)
           != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "upload store: lexicon failed for customer \"%V\", "
                      "id %*s", &rec->customer,
                      (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, rec->id);
        ngx_str_null(&rec->processed);
    }

    ngx_http_upload_store_record_result(ctx,
                                    NGX_HTTP_UPLOAD_STORE_TRANSCRIBED,
                                    NGX_HTTP_UPLOAD_STORE_OUTCOME_TRANSCRIBED);

    if (store->backend->save(store, rec, r->pool, r->connection->log)
        == NGX_ERROR)
    {
        /*
         * not transcribed until that is saved: the end of the request
         * saves it as failed
         */

        rec->state = NGX_HTTP_UPLOAD_STORE_TRANSCRIBING;

        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->transcription->finished = 1;

    /* the object store's copy of the record brought up to date */

    (void) ngx_http_upload_store_offload_queue(store, rec, 0, r->pool,
                                               r->connection->log);

    ngx_http_upload_store_stats_transcription(store, rec->outcome,
                                              rec->transcribe_ms);

    if (!uslcf->keep) {
        (void) store->backend->remove(store, rec, NGX_HTTP_UPLOAD_STORE_AUDIO,
                                      r->connection->log);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_store_failed(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_uint_t status, ngx_uint_t outcome,
    const char *message)
{
    char                            *code;
    ngx_http_upload_store_t         *store;
    ngx_http_upload_store_record_t  *rec;

    store = ctx->store;
    rec = &ctx->record;
    code = ngx_http_upload_store_outcome_name(outcome);

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "upload store: transcription of \"%V\" for customer "
                  "\"%V\", id %*s, failed: %s (provider status %ui)",
                  &rec->path, &rec->customer,
                  (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, rec->id, code,
                  ctx->transcription->status);

    ngx_http_upload_store_record_result(ctx, NGX_HTTP_UPLOAD_STORE_FAILED,
                                        outcome);

    /* the audio stays, for a retry */

    if (store->backend->save(store, rec, r->pool, r->connection->log)
        == NGX_OK)
    {
        (void) ngx_http_upload_store_offload_queue(store, rec, 0, r->pool,
                                                   r->connection->log);
    }

    ctx->transcription->finished = 1;

    ngx_http_upload_store_stats_transcription(store, outcome,
                                              rec->transcribe_ms);

    return ngx_http_upload_store_set_error(r, status, code, "%s", message);
}


/* the transcription's end, into the record */

static void
ngx_http_upload_store_record_result(ngx_http_upload_store_ctx_t *ctx,
    ngx_uint_t state, ngx_uint_t outcome)
{
    ngx_http_upload_store_record_t  *rec;

    rec = &ctx->record;

    if (ngx_http_upload_store_record_set_state(rec, state) != NGX_OK) {
        return;
    }

    rec->outcome = outcome;
    rec->provider_status = ngx_http_upload_store_transcription_status(ctx);
    rec->transcribe_ms = ngx_http_upload_store_transcription_time(ctx);
}


/*
 * with upload_store_transcribe_job too, a client gone mid-transcription
 * leaves a job: the call made counts as its first attempt
 */

static ngx_int_t
ngx_http_upload_store_transcription_queue(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_pool_t *pool)
{
    ngx_http_upload_store_record_t    *rec;
    ngx_http_upload_store_loc_conf_t  *uslcf;

    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);
    rec = &ctx->record;

    if (ngx_http_upload_store_record_set_state(rec,
                                         NGX_HTTP_UPLOAD_STORE_QUEUED)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    rec->job = 1;
    rec->attempts = 1;
    ngx_str_set(&rec->last_error, "client_closed");

    if (ctx->store->backend->save(ctx->store, rec, pool, r->connection->log)
        != NGX_OK
        || ngx_http_upload_store_job_queue(ctx->store, rec, uslcf, pool,
                                           r->connection->log)
           != NGX_OK)
    {
        rec->state = NGX_HTTP_UPLOAD_STORE_TRANSCRIBING;
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* the request ends before the provider answered: "failed" on disk */

static void
ngx_http_upload_store_transcription_cleanup(void *data)
{
    ngx_http_request_t *r = data;

    ngx_log_t                              *log;
    ngx_pool_t                             *pool;
    ngx_http_upload_store_t                *store;
    ngx_http_upload_store_ctx_t            *ctx;
    ngx_http_upload_store_loc_conf_t       *uslcf;
    ngx_http_upload_store_transcription_t  *t;

    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_upload_store_module);
    t = ctx->transcription;
    store = ctx->store;
    log = r->connection->log;

    if (t->file.fd != NGX_INVALID_FILE) {
        if (ngx_close_file(t->file.fd) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                          ngx_close_file_n " \"%V\" failed",
                          &ctx->record.path);
        }

        t->file.fd = NGX_INVALID_FILE;
    }

    if (t->finished) {
        return;
    }

    ngx_log_error(NGX_LOG_INFO, log, 0,
                  "upload store: client of customer \"%V\" gone before "
                  "the transcription of id %*s%s", &ctx->record.customer,
                  (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, ctx->record.id,
                  uslcf->job ? ", queued as a job" : "");

    /* the request's pool is being destroyed: the record has its own */

    pool = ngx_create_pool(4096, log);
    if (pool == NULL) {
        return;
    }

    if (uslcf->job != NULL
        && ngx_http_upload_store_transcription_queue(r, ctx, pool) == NGX_OK)
    {
        ngx_destroy_pool(pool);
        return;
    }

    ngx_http_upload_store_record_result(ctx, NGX_HTTP_UPLOAD_STORE_FAILED,
                                  NGX_HTTP_UPLOAD_STORE_OUTCOME_CLIENT_CLOSED);

    ngx_http_upload_store_stats_transcription(store,
                                  NGX_HTTP_UPLOAD_STORE_OUTCOME_CLIENT_CLOSED,
                                  ctx->record.transcribe_ms);

    if (store->backend->save(store, &ctx->record, pool, log) == NGX_OK) {
        (void) ngx_http_upload_store_offload_queue(store, &ctx->record, 0,
                                                   pool, log);
    }

    ngx_destroy_pool(pool);
}


ngx_uint_t
ngx_http_upload_store_transcription_status(ngx_http_upload_store_ctx_t *ctx)
{
    return ctx->transcription->status;
}


ngx_msec_t
ngx_http_upload_store_transcription_time(ngx_http_upload_store_ctx_t *ctx)
{
    return ctx->transcription->done
           ? ctx->transcription->time
           : ngx_current_msec - ctx->transcription->start;
}
