
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"


/*
 * The provider protocols, one entry each in the table below: how the
 * request's body is made around the stored audio, where the text is in
 * the answer by default, and how an answer says that it failed.  A new
 * protocol is one more entry (and its body function here); the name is
 * what "upload_store_transcribe ... protocol=NAME" takes.  And what of a
 * provider's answer reaches the client: its reason for a refusal, and
 * its members, never in place of the module's.
 */


static ngx_int_t ngx_http_upload_store_openai_body(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx,
    ngx_http_upload_store_provider_body_t *body);
static ngx_int_t ngx_http_upload_store_openai_pass(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx,
    ngx_http_upload_store_provider_body_t *body, ngx_chain_t ***ll);
static ngx_int_t ngx_http_upload_store_raw_body(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx,
    ngx_http_upload_store_provider_body_t *body);
static ngx_uint_t ngx_http_upload_store_error_member(json_t *answer);
static ngx_int_t ngx_http_upload_store_form_field(ngx_http_request_t *r,
    ngx_chain_t ***ll, ngx_str_t *boundary, ngx_str_t *name,
    ngx_str_t *value);
static ngx_chain_t *ngx_http_upload_store_memory(ngx_http_request_t *r,
    u_char *data, size_t len);
static void ngx_http_upload_store_audio_type(ngx_http_upload_store_ctx_t *ctx,
    ngx_str_t *type);


static ngx_http_upload_store_provider_t  ngx_http_upload_store_providers[] = {

    /* OpenAI, whisper.cpp's server, OpenAI-compatible servers */
    { ngx_string("openai"), ngx_string("/text"),
      ngx_http_upload_store_openai_body,
      ngx_http_upload_store_error_member },

    /* the audio as the body: Deepgram and the like */
    { ngx_string("raw"), ngx_null_string,
      ngx_http_upload_store_raw_body,
      ngx_http_upload_store_error_member },

    { ngx_null_string, ngx_null_string, NULL, NULL }
};


/* the protocol of that name; the first one, the default, for NULL */

ngx_http_upload_store_provider_t *
ngx_http_upload_store_provider(ngx_str_t *name)
{
    ngx_http_upload_store_provider_t  *p;

    if (name == NULL) {
        return &ngx_http_upload_store_providers[0];
    }

    for (p = ngx_http_upload_store_providers; p->name.len; p++) {
        if (p->name.len == name->len
            && ngx_strncmp(p->name.data, name->data, name->len) == 0)
        {
            return p;
        }
    }

    return NULL;
}


/*
 * openai: a form, "file" (the stored audio) with the configured fields
 * and the client's fields listed in upload_store_transcribe_pass
 */

static ngx_int_t
ngx_http_upload_store_openai_body(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx,
    ngx_http_upload_store_provider_body_t *body)
{
    u_char                            *p;
    size_t                             len;
    ngx_str_t                          value, type, *boundary;
    ngx_uint_t                         i;
    ngx_chain_t                       *cl, **ll;
    ngx_http_upload_store_field_t     *f;
    ngx_http_upload_store_loc_conf_t  *uslcf;

    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);
    boundary = &body->boundary;

    ngx_http_upload_store_audio_type(ctx, &type);

    ll = &body->bufs;

    f = uslcf->transcribe_fields ? uslcf->transcribe_fields->elts : NULL;

    for (i = 0; f && i < uslcf->transcribe_fields->nelts; i++) {
        if (ngx_http_complex_value(r, &f[i].value, &value) != NGX_OK
            || ngx_http_upload_store_form_field(r, &ll, boundary,
                                                &f[i].name, &value)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_upload_store_openai_pass(r, ctx, body, &ll) != NGX_OK) {
        return NGX_ERROR;
    }

    len = sizeof("--\r\nContent-Disposition: form-data; name=\"file\"; "
                 "filename=\"\"\r\nContent-Type: \r\n\r\n") - 1
          + boundary->len + ctx->record.file.len + type.len;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    cl = ngx_http_upload_store_memory(r, p,
             ngx_sprintf(p, "--%V\r\nContent-Disposition: form-data; "
                         "name=\"file\"; filename=\"%V\"\r\n"
                         "Content-Type: %V\r\n\r\n",
                         boundary, &ctx->record.file, &type)
             - p);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    *ll = cl;
    cl->next = body->audio;
    ll = &body->audio->next;

    p = ngx_pnalloc(r->pool, boundary->len + sizeof("\r\n----\r\n") - 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    cl = ngx_http_upload_store_memory(r, p,
                          ngx_sprintf(p, "\r\n--%V--\r\n", boundary) - p);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    *ll = cl;

    body->content_type.len = sizeof("multipart/form-data; boundary=") - 1
                             + boundary->len;
    body->content_type.data = ngx_pnalloc(r->pool, body->content_type.len);
    if (body->content_type.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(body->content_type.data, "multipart/form-data; boundary=%V",
                boundary);

    return NGX_OK;
}


/* the client's fields named in upload_store_transcribe_pass */

static ngx_int_t
ngx_http_upload_store_openai_pass(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx,
    ngx_http_upload_store_provider_body_t *body, ngx_chain_t ***ll)
{
    ngx_str_t                          value, *pass;
    ngx_uint_t                         i, j;
    ngx_http_upload_store_field_t     *f;
    ngx_http_upload_store_loc_conf_t  *uslcf;

    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);

    f = uslcf->transcribe_fields ? uslcf->transcribe_fields->elts : NULL;
    pass = uslcf->transcribe_pass ? uslcf->transcribe_pass->elts : NULL;

    for (i = 0; pass && i < uslcf->transcribe_pass->nelts; i++) {

        /* configured fields win */

        for (j = 0; f && j < uslcf->transcribe_fields->nelts; j++) {
            if (f[j].name.len == pass[i].len
                && ngx_strncmp(f[j].name.data, pass[i].data, pass[i].len)
                   == 0)
            {
                break;
            }
        }

        if (f && j < uslcf->transcribe_fields->nelts) {
            continue;
        }

        if (ctx->multipart == NULL
            || ngx_http_upload_store_multipart_field(ctx, &pass[i], &value)
               != NGX_OK)
        {
            continue;
        }

        if (ngx_http_upload_store_form_field(r, ll, &body->boundary,
                                             &pass[i], &value)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* raw: the audio alone, with its type, the fields as arguments */

static ngx_int_t
ngx_http_upload_store_raw_body(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx,
    ngx_http_upload_store_provider_body_t *body)
{
    u_char                            *p;
    size_t                             len;
    ngx_str_t                          value, *args;
    ngx_uint_t                         i, escape;
    ngx_http_upload_store_field_t     *f;
    ngx_http_upload_store_loc_conf_t  *uslcf;

    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);

    body->bufs = body->audio;
    ngx_http_upload_store_audio_type(ctx, &body->content_type);

    /* the fields as arguments, after those of the URI */

    args = &body->args;
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

    return NGX_OK;
}


/*
 * whisper.cpp's server says what went wrong with a 200 and "error";
 * "error": null is no error
 */

static ngx_uint_t
ngx_http_upload_store_error_member(json_t *answer)
{
    json_t  *error;

    error = json_object_get(answer, "error");

    return error != NULL && !json_is_null(error);
}


static ngx_int_t
ngx_http_upload_store_form_field(ngx_http_request_t *r, ngx_chain_t ***ll,
    ngx_str_t *boundary, ngx_str_t *name, ngx_str_t *value)
{
    u_char                       *p;
    size_t                        len;
    ngx_chain_t                  *cl;
    ngx_http_upload_store_ctx_t  *ctx;

    /*
     * response_format text, srt or vtt: the answer is the transcript as
     * text, not JSON
     */

    if (name->len == sizeof("response_format") - 1
        && ngx_strncmp(name->data, "response_format", name->len) == 0)
    {
        ctx = ngx_http_get_module_ctx(r, ngx_http_upload_store_module);

        ctx->transcription->text_format =
            (value->len == 4 && ngx_strncmp(value->data, "text", 4) == 0)
            || (value->len == 3
                && (ngx_strncmp(value->data, "srt", 3) == 0
                    || ngx_strncmp(value->data, "vtt", 3) == 0));
    }

    len = sizeof("--\r\nContent-Disposition: form-data; name=\"\"\r\n\r\n"
                 "\r\n") - 1
          + boundary->len + name->len + value->len;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    cl = ngx_http_upload_store_memory(r, p,
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
ngx_http_upload_store_memory(ngx_http_request_t *r, u_char *data,
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


static void
ngx_http_upload_store_audio_type(ngx_http_upload_store_ctx_t *ctx,
    ngx_str_t *type)
{
    *type = ctx->record.content_type;

    if (type->len == 0) {
        ngx_str_set(type, "application/octet-stream");
    }
}


/*
 * the provider's members that go under the upload's: never one that the
 * module's answer has or may have, so that a provider cannot forge an id,
 * a checksum or an original text
 */

ngx_int_t
ngx_http_upload_store_provider_members(json_t *answer)
{
    char  **key;

    static char  *reserved[] = {
        "id", "customer", "category", "filename", "content_type", "bytes",
        "created_at", "file", "status", "sha256", "fields", "text",
        "processed_text", "original_text", "provider_status",
        "transcribe_ms", "error", NULL
    };

    for (key = reserved; *key; key++) {
        (void) json_object_del(answer, *key);
    }

    return NGX_OK;
}


/*
 * the provider's reason for refusing a request, for the client: OpenAI's
 * {"error": {"message": ...}}, or "error" or "message" as a string;
 * bounded, printable UTF-8 only
 */

char *
ngx_http_upload_store_provider_message(ngx_pool_t *pool, ngx_buf_t *body)
{
    u_char        *p;
    json_t        *root, *v;
    size_t         len;
    json_error_t   jerr;

    static char  *refused = "the provider refused the request";

    if (body == NULL) {
        return refused;
    }

    root = json_loadb((char *) body->pos, body->last - body->pos, 0, &jerr);

    v = json_object_get(root, "error");

    if (json_is_object(v)) {
        v = json_object_get(v, "message");

    } else if (!json_is_string(v)) {
        v = json_object_get(root, "message");
    }

    p = NULL;

    if (json_is_string(v)) {
        len = ngx_min(json_string_length(v), 256);

        /* jansson's strings are UTF-8: a cut one is checked again */

        if (len
            && ngx_http_upload_store_utf8((u_char *) json_string_value(v),
                                          len, 1)
               == NGX_OK)
        {
            p = ngx_pnalloc(pool, len + 1);
            if (p != NULL) {
                ngx_memcpy(p, json_string_value(v), len);
                p[len] = '\0';
            }
        }
    }

    json_decref(root);

    return p ? (char *) p : refused;
}
