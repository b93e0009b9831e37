
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"
#include "ngx_http_upload_store_mp.h"


/*
 * The glue between nginx's request body filters and the parser: only the
 * file part's bytes go down to the save filter, as slices of the buffers
 * read (no copy), except the few bytes held back across two buffers as a
 * possible delimiter, which are copied into small buffers of our own.
 * Buffers are recycled once the save filter has written them: memory is
 * bounded whatever the size of the upload.
 */


/* "\r" and a delimiter less one byte, at most */
#define NGX_HTTP_UPLOAD_STORE_MP_COPY  (1 + NGX_HTTP_UPLOAD_STORE_MP_DELIM_MAX)

/* the callbacks' own codes, mapped to HTTP errors */

#define NGX_HTTP_UPLOAD_STORE_MP_ERROR           100
#define NGX_HTTP_UPLOAD_STORE_MP_FILE_TWICE      101
#define NGX_HTTP_UPLOAD_STORE_MP_FIELDS_MANY     102
#define NGX_HTTP_UPLOAD_STORE_MP_FIELD_NAME      103
#define NGX_HTTP_UPLOAD_STORE_MP_FIELD_LARGE     104
#define NGX_HTTP_UPLOAD_STORE_MP_FIELD_INVALID   105
#define NGX_HTTP_UPLOAD_STORE_MP_REFUSED         106
#define NGX_HTTP_UPLOAD_STORE_MP_FILE_ELSEWHERE  107


struct ngx_http_upload_store_multipart_s {
    ngx_http_request_t             *request;
    ngx_http_upload_store_ctx_t    *ctx;
    ngx_http_upload_store_mp_t      mp;

    /* the piece being parsed, and what goes down for it */
    u_char                         *in_start;
    u_char                         *in_end;
    ngx_chain_t                    *out;
    ngx_chain_t                   **last_out;

    ngx_chain_t                    *busy;
    ngx_chain_t                   **busy_last;
    ngx_chain_t                    *free_slices;
    ngx_chain_t                    *free_copies;

    ngx_array_t                     fields;      /* of ngx_keyval_t */
    ngx_keyval_t                   *field;       /* the part being read */
    size_t                          field_size;  /* of its value's memory */
    size_t                          field_json;  /* its value, escaped */
    ngx_uint_t                      status;      /* the refusal, if any */
    ngx_str_t                       elsewhere;   /* a file's other part */

    unsigned                        in_file:1;
    unsigned                        file_seen:1;
};


static int ngx_http_upload_store_multipart_part(void *data,
    ngx_http_upload_store_mp_part_t *part);
static int ngx_http_upload_store_multipart_file(
    ngx_http_upload_store_multipart_t *m,
    ngx_http_upload_store_mp_part_t *part);
static int ngx_http_upload_store_multipart_data(void *data,
    const u_char *p, size_t len);
static int ngx_http_upload_store_multipart_end(void *data);
static size_t ngx_http_upload_store_json_size(const u_char *p, size_t len);
static ngx_chain_t *ngx_http_upload_store_multipart_buf(
    ngx_http_upload_store_multipart_t *m, ngx_chain_t **free);
static ngx_int_t ngx_http_upload_store_multipart_set_error(
    ngx_http_request_t *r, ngx_http_upload_store_multipart_t *m, int rc);


static ngx_str_t  ngx_http_upload_store_multipart_type =
    ngx_string("multipart/form-data");


/*
 * NGX_DECLINED: not multipart; NGX_OK: the body will be parsed as it
 * is read; else the status to refuse the upload with
 */

ngx_int_t
ngx_http_upload_store_multipart_init(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx)
{
    int                                 rc;
    size_t                              len;
    const u_char                       *boundary;
    ngx_str_t                          *ct;
    ngx_http_upload_store_multipart_t  *m;
    ngx_http_upload_store_loc_conf_t   *uslcf;

    if (r->headers_in.content_type == NULL) {
        return NGX_DECLINED;
    }

    ct = &r->headers_in.content_type->value;

    if (ct->len < ngx_http_upload_store_multipart_type.len
        || ngx_strncasecmp(ct->data,
                           ngx_http_upload_store_multipart_type.data,
                           ngx_http_upload_store_multipart_type.len)
           != 0
        || (ct->len > ngx_http_upload_store_multipart_type.len
            && ct->data[ngx_http_upload_store_multipart_type.len] != ';'
            && ct->data[ngx_http_upload_store_multipart_type.len] != ' '))
    {
        return NGX_DECLINED;
    }

    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);

    m = ngx_pcalloc(r->pool, sizeof(ngx_http_upload_store_multipart_t));
    if (m == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    m->request = r;
    m->ctx = ctx;
    m->busy_last = &m->busy;

    m->mp.on_part = ngx_http_upload_store_multipart_part;
    m->mp.on_data = ngx_http_upload_store_multipart_data;
    m->mp.on_part_end = ngx_http_upload_store_multipart_end;
    m->mp.data = m;
    m->mp.headers_max = uslcf->form_headers;
    m->mp.headers = ngx_pnalloc(r->pool, uslcf->form_headers + 1);

    if (m->mp.headers == NULL
        || ngx_array_init(&m->fields, r->pool, 4, sizeof(ngx_keyval_t))
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_upload_store_mp_boundary(ct->data, ct->len, &boundary,
                                           &len);

    if (rc == NGX_HTTP_UPLOAD_STORE_MP_OK) {
        rc = ngx_http_upload_store_mp_init(&m->mp, boundary, len);
    }

    if (rc != NGX_HTTP_UPLOAD_STORE_MP_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "upload store \"%V\": invalid multipart boundary "
                      "from customer \"%V\"", &ctx->store->name,
                      &ctx->record.customer);

        return ngx_http_upload_store_set_error(r, NGX_HTTP_BAD_REQUEST,
                                               "boundary_invalid",
                                               "multipart/form-data needs a "
                                               "boundary of 1 to 70 "
                                               "characters");
    }

    ctx->multipart = m;
    ctx->record.fields = &m->fields;

    return NGX_OK;
}


/*
 * parses the bufs read and returns in *out the file's bytes among them;
 * NGX_OK, or the status to refuse the upload with
 */

ngx_int_t
ngx_http_upload_store_multipart_filter(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_chain_t *in, ngx_chain_t **out)
{
    int                                 rc;
    ngx_uint_t                          last;
    ngx_chain_t                        *cl;
    ngx_http_upload_store_multipart_t  *m;

    m = ctx->multipart;

    m->out = NULL;
    m->last_out = &m->out;
    last = 0;

    for (cl = in; cl; cl = cl->next) {

        m->in_start = cl->buf->pos;
        m->in_end = cl->buf->last;

        rc = ngx_http_upload_store_mp_parse(&m->mp, cl->buf->pos,
                                            cl->buf->last - cl->buf->pos);

        cl->buf->pos = cl->buf->last;

        if (rc != NGX_HTTP_UPLOAD_STORE_MP_OK) {
            return ngx_http_upload_store_multipart_set_error(r, m, rc);
        }

        if (cl->buf->last_buf) {
            last = 1;
        }
    }

    if (last) {
        rc = ngx_http_upload_store_mp_finish(&m->mp);

        if (rc != NGX_HTTP_UPLOAD_STORE_MP_OK) {
            return ngx_http_upload_store_multipart_set_error(r, m, rc);
        }

        if (!m->file_seen) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "upload store \"%V\": no \"%V\" part in the form "
                          "from customer \"%V\"", &ctx->store->name,
                          &ctx->file_field, &ctx->record.customer);

            return ngx_http_upload_store_set_error(r, NGX_HTTP_BAD_REQUEST,
                                                   "file_missing",
                                                   "the form has no \"%V\" "
                                                   "part", &ctx->file_field);
        }

        cl = ngx_http_upload_store_multipart_buf(m, &m->free_copies);
        if (cl == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cl->buf->last_buf = 1;
    }

    *out = m->out;

    return NGX_OK;
}


/* after the save filter: what it has written is free again */

void
ngx_http_upload_store_multipart_sent(ngx_http_upload_store_ctx_t *ctx,
    ngx_chain_t *out)
{
    ngx_chain_t                        *cl, **ll;
    ngx_http_upload_store_multipart_t  *m;

    m = ctx->multipart;

    *m->busy_last = out;

    for (ll = m->busy_last; *ll; ll = &(*ll)->next) { /* void */ }

    m->busy_last = ll;

    while (m->busy != NULL && m->busy->buf->pos == m->busy->buf->last) {
        cl = m->busy;
        m->busy = cl->next;

        if (m->busy == NULL) {
            m->busy_last = &m->busy;
        }

        if (cl->buf->temporary) {
            cl->buf->pos = cl->buf->start;
            cl->buf->last = cl->buf->start;
            cl->buf->last_buf = 0;
            cl->next = m->free_copies;
            m->free_copies = cl;

        } else {
            cl->next = m->free_slices;
            m->free_slices = cl;
        }
    }
}


static int
ngx_http_upload_store_multipart_part(void *data,
    ngx_http_upload_store_mp_part_t *part)
{
    ngx_http_upload_store_multipart_t *m = data;

    ngx_str_t                          name;
    ngx_keyval_t                      *f;
    ngx_http_request_t                *r;
    ngx_http_upload_store_ctx_t       *ctx;
    ngx_http_upload_store_loc_conf_t  *uslcf;

    r = m->request;
    ctx = m->ctx;

    name.data = part->disposition.name;
    name.len = part->disposition.name_len;

    if (name.len == ctx->file_field.len
        && ngx_strncmp(name.data, ctx->file_field.data, name.len) == 0)
    {
        return ngx_http_upload_store_multipart_file(m, part);
    }

    m->in_file = 0;

    /*
     * a file before the file part, under another name (curl -F audio=@..):
     * the client put its audio in the wrong field, it is not a field
     */

    if (part->disposition.has_filename && !m->file_seen) {
        if (name.len <= NGX_HTTP_UPLOAD_STORE_NAME_MAX
            && ngx_http_upload_store_utf8(name.data, name.len, 1) == NGX_OK)
        {
            m->elsewhere.data = ngx_pnalloc(r->pool, name.len);
            if (m->elsewhere.data == NULL) {
                return NGX_HTTP_UPLOAD_STORE_MP_ERROR;
            }

            m->elsewhere.len = name.len;
            ngx_memcpy(m->elsewhere.data, name.data, name.len);
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "upload store \"%V\": a file in another part than "
                      "\"%V\" from customer \"%V\"", &ctx->store->name,
                      &ctx->file_field, &ctx->record.customer);

        return NGX_HTTP_UPLOAD_STORE_MP_FILE_ELSEWHERE;
    }

    /* a form field, kept in memory within bounds */

    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);

    if (m->fields.nelts == uslcf->form_fields) {
        return NGX_HTTP_UPLOAD_STORE_MP_FIELDS_MANY;
    }

    if (name.len == 0 || name.len > uslcf->form_name) {
        return NGX_HTTP_UPLOAD_STORE_MP_FIELD_NAME;
    }

    if (ngx_http_upload_store_utf8(name.data, name.len, 0) != NGX_OK) {
        return NGX_HTTP_UPLOAD_STORE_MP_FIELD_INVALID;
    }

    f = ngx_array_push(&m->fields);
    if (f == NULL) {
        return NGX_HTTP_UPLOAD_STORE_MP_ERROR;
    }

    f->key.data = ngx_pnalloc(r->pool, name.len);
    if (f->key.data == NULL) {
        return NGX_HTTP_UPLOAD_STORE_MP_ERROR;
    }

    f->key.len = name.len;
    ngx_memcpy(f->key.data, name.data, name.len);

    /* an empty field is an empty string, not nothing */

    f->value.data = (u_char *) "";
    f->value.len = 0;

    m->field = f;
    m->field_size = 0;
    m->field_json = 0;

    return 0;
}


/* the file part: its name and type checked, its bytes go to the file */

static int
ngx_http_upload_store_multipart_file(ngx_http_upload_store_multipart_t *m,
    ngx_http_upload_store_mp_part_t *part)
{
    ngx_int_t                     rc;
    ngx_str_t                     ct;
    ngx_http_request_t           *r;
    ngx_http_upload_store_ctx_t  *ctx;

    r = m->request;
    ctx = m->ctx;

    if (m->file_seen) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "upload store \"%V\": a second \"%V\" part "
                      "from customer \"%V\"", &ctx->store->name,
                      &ctx->file_field, &ctx->record.customer);

        return NGX_HTTP_UPLOAD_STORE_MP_FILE_TWICE;
    }

    m->file_seen = 1;
    m->in_file = 1;

    ct.data = part->content_type;
    ct.len = part->content_type_len;

    rc = NGX_OK;

    if (part->disposition.has_filename) {
        rc = ngx_http_upload_store_set_filename(r, ctx,
                                             part->disposition.filename,
                                             part->disposition.filename_len);
    }

    if (rc == NGX_OK) {
        rc = ngx_http_upload_store_set_type(r, ctx, &ct);
    }

    if (rc != NGX_OK) {
        m->status = rc;
        return NGX_HTTP_UPLOAD_STORE_MP_REFUSED;
    }

    return 0;
}


static int
ngx_http_upload_store_multipart_data(void *data, const u_char *p,
    size_t len)
{
    ngx_http_upload_store_multipart_t *m = data;

    u_char                            *v;
    size_t                             size;
    ngx_int_t                          rc;
    ngx_buf_t                         *b;
    ngx_chain_t                       *cl;
    ngx_keyval_t                      *f;
    ngx_http_upload_store_loc_conf_t  *uslcf;

    if (m->in_file) {

        if (m->ctx->sniff) {
            rc = ngx_http_upload_store_sniff(m->request, m->ctx, (u_char *) p,
                                             len);
            if (rc != NGX_OK) {
                m->status = rc;
                return NGX_HTTP_UPLOAD_STORE_MP_REFUSED;
            }
        }

        if (p >= m->in_start && p + len <= m->in_end) {

            /* a slice of the buffer read: no copy */

            cl = ngx_http_upload_store_multipart_buf(m, &m->free_slices);
            if (cl == NULL) {
                return NGX_HTTP_UPLOAD_STORE_MP_ERROR;
            }

            b = cl->buf;
            b->start = (u_char *) p;
            b->pos = (u_char *) p;
            b->last = (u_char *) p + len;
            b->end = (u_char *) p + len;
            b->memory = 1;

            return 0;
        }

        /* held back from an earlier buffer: a few bytes, copied */

        cl = ngx_http_upload_store_multipart_buf(m, &m->free_copies);
        if (cl == NULL) {
            return NGX_HTTP_UPLOAD_STORE_MP_ERROR;
        }

        cl->buf->last = ngx_cpymem(cl->buf->last, p, len);

        return 0;
    }

    f = m->field;
    uslcf = ngx_http_get_module_loc_conf(m->request,
                                         ngx_http_upload_store_module);

    /*
     * the limit is on what the value takes in the record and the answer:
     * escaped, a control byte is 6 ("\u0001"), so 16k of them cannot
     * make 96k of JSON
     */

    m->field_json += ngx_http_upload_store_json_size(p, len);

    if (m->field_json > uslcf->form_value) {
        return NGX_HTTP_UPLOAD_STORE_MP_FIELD_LARGE;
    }

    if (f->value.len + len > m->field_size) {
        size = ngx_max(2 * m->field_size, f->value.len + len);
        size = ngx_max(size, 64);
        size = ngx_min(size, uslcf->form_value);

        v = ngx_pnalloc(m->request->pool, size);
        if (v == NULL) {
            return NGX_HTTP_UPLOAD_STORE_MP_ERROR;
        }

        if (f->value.len) {
            ngx_memcpy(v, f->value.data, f->value.len);
        }

        f->value.data = v;
        m->field_size = size;
    }

    ngx_memcpy(f->value.data + f->value.len, p, len);
    f->value.len += len;

    return 0;
}


static int
ngx_http_upload_store_multipart_end(void *data)
{
    ngx_http_upload_store_multipart_t *m = data;

    if (m->in_file) {
        m->in_file = 0;
        return 0;
    }

    if (ngx_http_upload_store_utf8(m->field->value.data,
                                   m->field->value.len, 0)
        != NGX_OK)
    {
        return NGX_HTTP_UPLOAD_STORE_MP_FIELD_INVALID;
    }

    m->field = NULL;

    return 0;
}


/* the bytes of a JSON string's content, escaped as jansson escapes them */

static size_t
ngx_http_upload_store_json_size(const u_char *p, size_t len)
{
    size_t         n;
    const u_char  *last;

    for (n = len, last = p + len; p < last; p++) {
        if (*p == '"' || *p == '\\' || *p == '\n' || *p == '\r'
            || *p == '\t' || *p == '\b' || *p == '\f')
        {
            n += 1;

        } else if (*p < 0x20) {
            n += 5;
        }
    }

    return n;
}


/* a buf for the output, from a free list or new; slices have no memory */

static ngx_chain_t *
ngx_http_upload_store_multipart_buf(ngx_http_upload_store_multipart_t *m,
    ngx_chain_t **free)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    cl = *free;

    if (cl != NULL) {
        *free = cl->next;

    } else {
        cl = ngx_alloc_chain_link(m->request->pool);
        if (cl == NULL) {
            return NULL;
        }

        b = ngx_calloc_buf(m->request->pool);
        if (b == NULL) {
            return NULL;
        }

        if (free == &m->free_copies) {
            b->start = ngx_pnalloc(m->request->pool,
                                   NGX_HTTP_UPLOAD_STORE_MP_COPY);
            if (b->start == NULL) {
                return NULL;
            }

            b->pos = b->start;
            b->last = b->start;
            b->end = b->start + NGX_HTTP_UPLOAD_STORE_MP_COPY;
            b->temporary = 1;
        }

        b->tag = (ngx_buf_tag_t) &ngx_http_upload_store_module;
        cl->buf = b;
    }

    cl->next = NULL;
    *m->last_out = cl;
    m->last_out = &cl->next;

    return cl;
}


static ngx_int_t
ngx_http_upload_store_multipart_set_error(ngx_http_request_t *r,
    ngx_http_upload_store_multipart_t *m, int rc)
{
    ngx_http_upload_store_ctx_t       *ctx;
    ngx_http_upload_store_loc_conf_t  *uslcf;

    ctx = m->ctx;
    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);

    switch (rc) {

    case NGX_HTTP_UPLOAD_STORE_MP_REFUSED:
        return m->status;

    case NGX_HTTP_UPLOAD_STORE_MP_ERROR:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;

    case NGX_HTTP_UPLOAD_STORE_MP_FILE_ELSEWHERE:
        if (m->elsewhere.len == 0) {
            return ngx_http_upload_store_set_error(r, NGX_HTTP_BAD_REQUEST,
                                           "file_missing",
                                           "the form has no \"%V\" part: "
                                           "its file is in another part, "
                                           "send it as \"%V\"",
                                           &ctx->file_field,
                                           &ctx->file_field);
        }

        return ngx_http_upload_store_set_error(r, NGX_HTTP_BAD_REQUEST,
                                           "file_missing",
                                           "the form has no \"%V\" part: "
                                           "its file is in \"%V\", send it "
                                           "as \"%V\"", &ctx->file_field,
                                           &m->elsewhere, &ctx->file_field);

    case NGX_HTTP_UPLOAD_STORE_MP_FILE_TWICE:
        return ngx_http_upload_store_set_error(r, NGX_HTTP_BAD_REQUEST,
                                               "file_duplicate",
                                               "the form has more than one "
                                               "\"%V\" part", &ctx->file_field);

    case NGX_HTTP_UPLOAD_STORE_MP_FIELDS_MANY:
        return ngx_http_upload_store_set_error(r, NGX_HTTP_BAD_REQUEST,
                                               "fields_too_many",
                                               "the form has more than %ui "
                                               "fields", uslcf->form_fields);

    case NGX_HTTP_UPLOAD_STORE_MP_FIELD_NAME:
        return ngx_http_upload_store_set_error(r, NGX_HTTP_BAD_REQUEST,
                                               "field_name_invalid",
                                               "a field name is empty or "
                                               "longer than %uz bytes",
                                               uslcf->form_name);

    case NGX_HTTP_UPLOAD_STORE_MP_FIELD_LARGE:
        return ngx_http_upload_store_set_error(r, NGX_HTTP_BAD_REQUEST,
                                               "field_too_large",
                                               "field \"%V\" is longer than "
                                               "%uz bytes", &m->field->key,
                                               uslcf->form_value);

    case NGX_HTTP_UPLOAD_STORE_MP_FIELD_INVALID:
        return ngx_http_upload_store_set_error(r, NGX_HTTP_BAD_REQUEST,
                                               "field_invalid",
                                               "a field name or value is not "
                                               "UTF-8");

    case NGX_HTTP_UPLOAD_STORE_MP_HEADERS_LARGE:
        return ngx_http_upload_store_set_error(r, NGX_HTTP_BAD_REQUEST,
                                               "part_headers_too_large",
                                               "the headers of a part are "
                                               "longer than %uz bytes",
                                               uslcf->form_headers);

    case NGX_HTTP_UPLOAD_STORE_MP_NO_NAME:
        return ngx_http_upload_store_set_error(r, NGX_HTTP_BAD_REQUEST,
                                               "multipart_invalid",
                                               "a part has no "
                                               "\"Content-Disposition: "
                                               "form-data; name=...\"");

    case NGX_HTTP_UPLOAD_STORE_MP_INCOMPLETE:
        return ngx_http_upload_store_set_error(r, NGX_HTTP_BAD_REQUEST,
                                               "multipart_incomplete",
                                               "the form ends before its "
                                               "closing boundary");

    default: /* NGX_HTTP_UPLOAD_STORE_MP_MALFORMED */
        return ngx_http_upload_store_set_error(r, NGX_HTTP_BAD_REQUEST,
                                               "multipart_invalid",
                                               "malformed multipart/form-data");
    }
}


/* the value of a form field (the first one, for a name given twice) */

ngx_int_t
ngx_http_upload_store_multipart_field(ngx_http_upload_store_ctx_t *ctx,
    ngx_str_t *name, ngx_str_t *value)
{
    ngx_uint_t     i;
    ngx_keyval_t  *f;

    f = ctx->multipart->fields.elts;

    for (i = 0; i < ctx->multipart->fields.nelts; i++) {
        if (f[i].key.len == name->len
            && ngx_strncmp(f[i].key.data, name->data, name->len) == 0)
        {
            *value = f[i].value;
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}
