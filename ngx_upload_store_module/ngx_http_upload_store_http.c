
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"


/*
 * HTTP helpers shared by the module's locations: the request's context,
 * answers from memory, headers, UTF-8, and the error contract.  Every
 * error a store location answers, its own or nginx's (413 from
 * client_max_body_size, 400 for a bad chunked body, 500...), leaves as
 * {"error": {"status": N, "code": "...", "message": "..."}}: the header
 * filter replaces the special response's HTML with the JSON body.
 */


typedef struct {
    ngx_uint_t                      status;
    char                           *code;
    char                           *message;
} ngx_http_upload_store_status_t;


static ngx_int_t ngx_http_upload_store_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_upload_store_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_upload_store_error_body(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx);
static char *ngx_http_upload_store_error_type(ngx_uint_t status,
    ngx_str_t *code);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_http_upload_store_status_t  ngx_http_upload_store_statuses[] = {
    { NGX_HTTP_BAD_REQUEST, "bad_request", "bad request" },
    { NGX_HTTP_FORBIDDEN, "forbidden", "forbidden" },
    { NGX_HTTP_NOT_FOUND, "not_found", "not found" },
    { NGX_HTTP_NOT_ALLOWED, "method_not_allowed", "method not allowed" },
    { NGX_HTTP_REQUEST_TIME_OUT, "request_timeout", "request timed out" },
    { NGX_HTTP_LENGTH_REQUIRED, "length_required", "length required" },
    { NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "payload_too_large",
      "upload exceeds client_max_body_size" },
    { NGX_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
      "unsupported media type" },
    { NGX_HTTP_RANGE_NOT_SATISFIABLE, "range_not_satisfiable",
      "range not satisfiable" },
    { NGX_HTTP_INTERNAL_SERVER_ERROR, "internal_error",
      "internal server error" },
    { NGX_HTTP_NOT_IMPLEMENTED, "not_implemented", "not implemented" },
    { NGX_HTTP_SERVICE_UNAVAILABLE, "service_unavailable",
      "service unavailable" },
    { NGX_HTTP_INSUFFICIENT_STORAGE, "insufficient_storage",
      "insufficient storage" },
    { 0, NULL, NULL }
};


ngx_http_upload_store_ctx_t *
ngx_http_upload_store_get_ctx(ngx_http_request_t *r)
{
    ngx_http_upload_store_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upload_store_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_upload_store_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_upload_store_module);
    }

    return ctx;
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


/* a header of the answer; the value is not copied */

ngx_int_t
ngx_http_upload_store_add_header(ngx_http_request_t *r, char *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;

    return NGX_OK;
}


/*
 * a client's bytes, for the error log: what is not printable ASCII, and
 * the quote and the backslash, as \xHH; the log never gets an escape
 * sequence or a forged line from a client
 */

ngx_str_t *
ngx_http_upload_store_log_safe(ngx_pool_t *pool, ngx_str_t *in)
{
    u_char     *p;
    ngx_str_t  *out;
    ngx_uint_t  i;

    static u_char  hex[] = "0123456789ABCDEF";
    static ngx_str_t  failed = ngx_string("(?)");

    out = ngx_palloc(pool, sizeof(ngx_str_t));
    if (out == NULL) {
        return &failed;
    }

    out->data = ngx_pnalloc(pool, 4 * in->len);
    if (out->data == NULL) {
        return &failed;
    }

    p = out->data;

    for (i = 0; i < in->len; i++) {
        if (in->data[i] < 0x20 || in->data[i] > 0x7e
            || in->data[i] == '"' || in->data[i] == '\\')
        {
            *p++ = '\\';
            *p++ = 'x';
            *p++ = hex[in->data[i] >> 4];
            *p++ = hex[in->data[i] & 0xf];
            continue;
        }

        *p++ = in->data[i];
    }

    out->len = p - out->data;

    return out;
}


/*
 * NGX_OK when the bytes are UTF-8 with no NUL, and no control character
 * at all with "controls" set
 */

ngx_int_t
ngx_http_upload_store_utf8(u_char *p, size_t len, ngx_uint_t controls)
{
    u_char      *last;
    uint32_t     cp, min;
    ngx_uint_t   n, i;

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


/*
 * records the code and the message of the error, and returns the status
 * for the caller to finalize the request with
 */

ngx_int_t
ngx_http_upload_store_set_error(ngx_http_request_t *r, ngx_uint_t status,
    char *code, const char *fmt, ...)
{
    u_char                       *p, buf[NGX_MAX_ERROR_STR];
    va_list                       args;
    ngx_str_t                     message;
    ngx_http_upload_store_ctx_t  *ctx;

    ctx = ngx_http_upload_store_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    message.len = p - buf;
    message.data = buf;

    ctx->error_message.data = ngx_pstrdup(r->pool, &message);
    if (ctx->error_message.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->error_message.len = message.len;

    ctx->error_code.data = (u_char *) code;
    ctx->error_code.len = ngx_strlen(code);

    return status;
}


/* 405, with the methods that are allowed, "GET, HEAD" */

ngx_int_t
ngx_http_upload_store_not_allowed(ngx_http_request_t *r, char *methods)
{
    ngx_str_t  allow;

    allow.data = (u_char *) methods;
    allow.len = ngx_strlen(methods);

    if (ngx_http_upload_store_add_header(r, "Allow", &allow) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_upload_store_set_error(r, NGX_HTTP_NOT_ALLOWED,
                                           "method_not_allowed",
                                           "method %V is not allowed, use %s",
                                           &r->method_name, methods);
}


ngx_int_t
ngx_http_upload_store_init_error_filter(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_upload_store_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_upload_store_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_store_header_filter(ngx_http_request_t *r)
{
    ngx_http_upload_store_t           *store;
    ngx_http_upload_store_ctx_t       *ctx;
    ngx_http_upload_store_loc_conf_t  *uslcf;

    if (r != r->main || r->headers_out.status < NGX_HTTP_BAD_REQUEST) {
        return ngx_http_next_header_filter(r);
    }

    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);

    if (uslcf->receive == NULL && uslcf->files == NULL
        && uslcf->admin == NULL)
    {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_upload_store_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_upload_store_error_body(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    if (uslcf->receive != NULL) {
        store = uslcf->receive->data;
        ngx_http_upload_store_stats_refused(store, r->headers_out.status);
    }

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;

    r->headers_out.content_length_n = ctx->error_body->last
                                      - ctx->error_body->pos;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    /*
     * refused in the middle of the body: the special response handler
     * turned lingering close off for a 400, but the client is still
     * sending and would get a reset instead of this answer
     */

    if (ctx->linger) {
        r->lingering_close = 1;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_upload_store_error_body(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx)
{
    char                            *type;
    json_t                          *json;
    ngx_int_t                        rc;
    ngx_str_t                        out, message;
    ngx_uint_t                       status, i;
    ngx_http_core_loc_conf_t        *clcf;
    ngx_http_upload_store_status_t  *st;

    status = r->headers_out.status;

    st = ngx_http_upload_store_statuses;

    for (i = 0; st[i].status; i++) {
        if (st[i].status == status) {
            break;
        }
    }

    if (ctx->error_code.len == 0 || status != (ngx_uint_t) r->err_status) {

        /* an error of nginx's own, not from the handler */

        ngx_str_null(&ctx->error_code);

        if (st[i].status) {
            ctx->error_code.data = (u_char *) st[i].code;
            ctx->error_code.len = ngx_strlen(st[i].code);
            ctx->error_message.data = (u_char *) st[i].message;
            ctx->error_message.len = ngx_strlen(st[i].message);

        } else {
            ngx_str_set(&ctx->error_code, "error");
            ngx_str_set(&ctx->error_message, "error");
        }

        if (status == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
            clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

            message.data = ngx_pnalloc(r->pool,
                                       sizeof("upload exceeds "
                                              "client_max_body_size of "
                                              " bytes") + NGX_OFF_T_LEN);
            if (message.data == NULL) {
                return NGX_ERROR;
            }

            message.len = ngx_sprintf(message.data,
                                      "upload exceeds client_max_body_size "
                                      "of %O bytes",
                                      clcf->client_max_body_size)
                          - message.data;

            ctx->error_message = message;
        }
    }

    type = ngx_http_upload_store_error_type(status, &ctx->error_code);

    json = json_pack("{s:{s:i,s:s%,s:s%,s:s}}",
                     "error",
                     "status", (int) status,
                     "code", ctx->error_code.data, ctx->error_code.len,
                     "message", ctx->error_message.data,
                     ctx->error_message.len,
                     "type", type);

    if (json == NULL) {

        /* a message that jansson refused (it is only ever ASCII here) */

        json = json_pack("{s:{s:i,s:s%,s:s,s:s}}",
                         "error",
                         "status", (int) status,
                         "code", ctx->error_code.data, ctx->error_code.len,
                         "message", "error",
                         "type", type);
        if (json == NULL) {
            return NGX_ERROR;
        }
    }

    /* after a stored upload, the client can still fetch it or retry */

    if (ctx->stored
        && json_object_set_new(json_object_get(json, "error"), "id",
                               json_stringn((char *) ctx->record.id,
                                            NGX_HTTP_UPLOAD_STORE_ID_LEN))
           != 0)
    {
        json_decref(json);
        return NGX_ERROR;
    }

    rc = ngx_http_upload_store_json_dump(r->pool, json, &out);

    json_decref(json);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->error_body = ngx_calloc_buf(r->pool);
    if (ctx->error_body == NULL) {
        return NGX_ERROR;
    }

    ctx->error_body->pos = out.data;
    ctx->error_body->last = out.data + out.len;
    ctx->error_body->memory = 1;
    ctx->error_body->last_buf = 1;
    ctx->error_body->last_in_chain = 1;

    return NGX_OK;
}


/*
 * the error's "type", as OpenAI's API and SDKs name the kinds of errors:
 * a client's mistake, its missing credentials, a rate limit, or ours
 */

static char *
ngx_http_upload_store_error_type(ngx_uint_t status, ngx_str_t *code)
{
    if (status == NGX_HTTP_TOO_MANY_REQUESTS
        || (code->len == sizeof("provider_rate_limited") - 1
            && ngx_strncmp(code->data, "provider_rate_limited", code->len)
               == 0))
    {
        return "rate_limit_error";
    }

    if (status >= NGX_HTTP_INTERNAL_SERVER_ERROR) {
        return "server_error";
    }

    if (status == NGX_HTTP_UNAUTHORIZED || status == NGX_HTTP_FORBIDDEN) {
        return "authentication_error";
    }

    return "invalid_request_error";
}


static ngx_int_t
ngx_http_upload_store_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t                   out, *cl;
    ngx_http_upload_store_ctx_t  *ctx;

    if (r != r->main) {
        return ngx_http_next_body_filter(r, in);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_upload_store_module);

    if (ctx == NULL || ctx->error_body == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    /* nginx's HTML error page is swallowed */

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    if (ctx->error_sent) {
        /* flushes still go down, to write what is left of the answer */
        return ngx_http_next_body_filter(r, NULL);
    }

    ctx->error_sent = 1;

    out.buf = ctx->error_body;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


