
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"
#include "ngx_http_upload_store_jobs.h"


/*
 * A job's request to its provider, on libcurl: the form (or the raw
 * body) around the stored audio, read from its file as curl sends it;
 * the answer kept up to upload_store_transcribe_buffer; what it means
 * for the job when it ends.
 */


static ngx_int_t ngx_http_upload_store_job_body(
    ngx_http_upload_store_job_t *job);
static size_t ngx_http_upload_store_job_header(char *buf, size_t size,
    size_t n, void *data);
static size_t ngx_http_upload_store_job_write(char *buf, size_t size,
    size_t n, void *data);
static void ngx_http_upload_store_job_done(
    ngx_http_upload_store_transfer_t *t);
static ngx_int_t ngx_http_upload_store_job_answer(
    ngx_http_upload_store_job_t *job, ngx_uint_t *outcome);


/* the provider's request on a curl easy handle */

ngx_int_t
ngx_http_upload_store_job_request(ngx_http_upload_store_job_t *job)
{
    CURL                            *easy;
    ngx_str_t                       *h;
    ngx_uint_t                       i;
    ngx_http_upload_store_remote_t  *remote;

    remote = job->remote;

    easy = curl_easy_init();
    if (easy == NULL) {
        return NGX_ERROR;
    }

    job->transfer.easy = easy;
    job->transfer.done = ngx_http_upload_store_job_done;
    job->end = job->size;

    job->max = job->uslcf ? job->uslcf->transcribe_buffer : 1024 * 1024;

    /* no "Expect: 100-continue": one round trip less */

    if (ngx_http_upload_store_curl_header(&job->headers, "Expect:") != NGX_OK) {
        return NGX_ERROR;
    }

    h = remote->headers.elts;

    for (i = 0; i < remote->headers.nelts; i++) {
        if (ngx_http_upload_store_curl_header(&job->headers, (char *) h[i].data)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_upload_store_job_body(job) != NGX_OK) {
        return NGX_ERROR;
    }

    if (curl_easy_setopt(easy, CURLOPT_URL, job->url) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_HTTPHEADER, job->headers)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) remote->timeout)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                            (long) remote->connect_timeout)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION,
                            ngx_http_upload_store_job_header)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_HEADERDATA, job) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION,
                            ngx_http_upload_store_job_write)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_WRITEDATA, job) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https")
           != CURLE_OK)
    {
        return NGX_ERROR;
    }

    job->start = ngx_current_msec;

    return NGX_OK;
}


/*
 * openai: a form, its file part read from the stored audio as curl sends
 * it, then the provider's fields; raw: the audio is the body, the fields
 * are arguments of the URL
 */

static ngx_int_t
ngx_http_upload_store_job_body(ngx_http_upload_store_job_t *job)
{
    u_char                          *p;
    char                            *esc;
    size_t                           len;
    ngx_str_t                        type;
    ngx_uint_t                       i;
    ngx_keyval_t                    *f;
    curl_mimepart                   *part;
    ngx_http_upload_store_remote_t  *remote;
    ngx_http_upload_store_record_t  *rec;

    remote = job->remote;
    rec = &job->record;
    f = remote->fields.elts;

    type = rec->content_type;

    if (type.len == 0) {
        ngx_str_set(&type, "application/octet-stream");
    }

    if (ngx_strcmp(remote->protocol->name.data, "raw") != 0) {
        job->url = (char *) remote->url.data;

        job->mime = curl_mime_init(job->transfer.easy);
        if (job->mime == NULL) {
            return NGX_ERROR;
        }

        part = curl_mime_addpart(job->mime);

        if (part == NULL
            || curl_mime_name(part, "file") != CURLE_OK
            || curl_mime_filename(part, (char *) rec->file.data) != CURLE_OK
            || curl_mime_type(part, (char *) type.data) != CURLE_OK
            || curl_mime_data_cb(part, job->size,
                                 ngx_http_upload_store_job_read_audio,
                                 ngx_http_upload_store_job_seek, NULL, job)
               != CURLE_OK)
        {
            return NGX_ERROR;
        }

        for (i = 0; i < remote->fields.nelts; i++) {
            part = curl_mime_addpart(job->mime);

            if (part == NULL
                || curl_mime_name(part, (char *) f[i].key.data) != CURLE_OK
                || curl_mime_data(part, (char *) f[i].value.data,
                                  f[i].value.len)
                   != CURLE_OK)
            {
                return NGX_ERROR;
            }
        }

        return curl_easy_setopt(job->transfer.easy, CURLOPT_MIMEPOST,
                                job->mime) == CURLE_OK ? NGX_OK : NGX_ERROR;
    }

    /* raw */

    len = remote->url.len + 1;

    for (i = 0; i < remote->fields.nelts; i++) {
        len += 2 + 3 * (f[i].key.len + f[i].value.len);
    }

    job->url = ngx_pnalloc(job->pool, len);
    if (job->url == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(job->url, remote->url.data, remote->url.len);

    for (i = 0; i < remote->fields.nelts; i++) {
        *p++ = (i == 0 && ngx_strlchr(remote->url.data,
                                      remote->url.data + remote->url.len,
                                      '?') == NULL)
               ? '?' : '&';

        p = (u_char *) ngx_escape_uri(p, f[i].key.data, f[i].key.len,
                                      NGX_ESCAPE_ARGS);
        *p++ = '=';

        esc = curl_easy_escape(job->transfer.easy, (char *) f[i].value.data,
                               f[i].value.len);
        if (esc == NULL) {
            return NGX_ERROR;
        }

        p = ngx_cpymem(p, esc, ngx_min(ngx_strlen(esc), 3 * f[i].value.len));
        curl_free(esc);
    }

    *p = '\0';

    p = ngx_pnalloc(job->pool, sizeof("Content-Type: ") + type.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_sprintf(p, "Content-Type: %V%Z", &type);

    if (ngx_http_upload_store_curl_header(&job->headers, (char *) p)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (curl_easy_setopt(job->transfer.easy, CURLOPT_POST, 1L) != CURLE_OK
        || curl_easy_setopt(job->transfer.easy, CURLOPT_POSTFIELDSIZE_LARGE,
                            (curl_off_t) job->size)
           != CURLE_OK
        || curl_easy_setopt(job->transfer.easy, CURLOPT_READFUNCTION,
                            ngx_http_upload_store_job_read_audio)
           != CURLE_OK
        || curl_easy_setopt(job->transfer.easy, CURLOPT_READDATA, job)
           != CURLE_OK
        || curl_easy_setopt(job->transfer.easy, CURLOPT_SEEKFUNCTION,
                            ngx_http_upload_store_job_seek)
           != CURLE_OK
        || curl_easy_setopt(job->transfer.easy, CURLOPT_SEEKDATA, job)
           != CURLE_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* Retry-After and Content-Type of the last answer (after a 100) */

static size_t
ngx_http_upload_store_job_header(char *buf, size_t size, size_t n,
    void *data)
{
    ngx_http_upload_store_job_t *job = data;

    u_char     *p;
    size_t      len;
    ngx_str_t  *value, v;

    len = size * n;
    p = (u_char *) buf;

    if (len > 5 && ngx_strncmp(p, "HTTP/", 5) == 0) {
        ngx_str_null(&job->retry_after);
        ngx_str_null(&job->content_type);
        return len;
    }

    if (ngx_http_upload_store_curl_value(p, len, "Retry-After:", &v)) {
        value = &job->retry_after;

    } else if (ngx_http_upload_store_curl_value(p, len, "Content-Type:", &v))
    {
        value = &job->content_type;

    } else {
        return len;
    }

    value->len = ngx_min(v.len, 128);
    value->data = ngx_pnalloc(job->pool, value->len);

    if (value->data == NULL) {
        return 0;
    }

    ngx_memcpy(value->data, v.data, value->len);

    return len;
}


/* the answer, kept up to upload_store_transcribe_buffer */

static size_t
ngx_http_upload_store_job_write(char *buf, size_t size, size_t n, void *data)
{
    ngx_http_upload_store_job_t *job = data;

    ngx_int_t  rc;

    rc = ngx_http_upload_store_curl_keep(job->pool, &job->answer, &job->len,
                                         &job->cap, job->max, buf, size * n);

    if (rc == NGX_DECLINED) {
        job->too_big = 1;
    }

    return (rc == NGX_OK) ? size * n : 0;
}


/* the provider's answer, or curl's failure: what becomes of the job */

static void
ngx_http_upload_store_job_done(ngx_http_upload_store_transfer_t *t)
{
    ngx_http_upload_store_job_t *job = (ngx_http_upload_store_job_t *) t;

    long        code;
    ngx_buf_t   answer;
    ngx_uint_t  status, outcome;

    code = 0;
    (void) curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
    status = (code > 0 && code < 1000) ? (ngx_uint_t) code : 0;

    job->record.transcribe_ms = ngx_current_msec - job->start;
    job->record.provider_status = status;

    if (t->result != CURLE_OK) {

        if (job->too_big) {
            ngx_http_upload_store_job_error(job, "the answer is larger than "
                                            "upload_store_transcribe_buffer");
            ngx_http_upload_store_job_failed(job,
                                 NGX_HTTP_UPLOAD_STORE_OUTCOME_TOO_LARGE,
                                 status);
            return;
        }

        ngx_http_upload_store_job_error(job, "%s",
                                        curl_easy_strerror(t->result));
        ngx_http_upload_store_job_retry(job, status);
        return;
    }

    switch (status) {

    case NGX_HTTP_UNAUTHORIZED:
    case NGX_HTTP_FORBIDDEN:
        ngx_http_upload_store_job_error(job, "HTTP %ui", status);
        ngx_http_upload_store_job_failed(job,
                                         NGX_HTTP_UPLOAD_STORE_OUTCOME_AUTH,
                                         status);
        return;

    case NGX_HTTP_REQUEST_TIME_OUT:
    case NGX_HTTP_TOO_MANY_REQUESTS:
        ngx_http_upload_store_job_error(job, "HTTP %ui", status);
        ngx_http_upload_store_job_retry(job, status);
        return;
    }

    if (status >= NGX_HTTP_INTERNAL_SERVER_ERROR) {
        ngx_http_upload_store_job_error(job, "HTTP %ui", status);
        ngx_http_upload_store_job_retry(job, status);
        return;
    }

    if (status < NGX_HTTP_OK || status >= NGX_HTTP_SPECIAL_RESPONSE) {
        /* a 4xx: the request is wrong, it will not be better again */

        ngx_memzero(&answer, sizeof(ngx_buf_t));
        answer.pos = job->answer;
        answer.last = job->answer + job->len;

        ngx_http_upload_store_job_error(job, "HTTP %ui: %s", status,
                       ngx_http_upload_store_provider_message(job->pool,
                                                job->len ? &answer : NULL));
        outcome = (status >= NGX_HTTP_BAD_REQUEST)
                  ? NGX_HTTP_UPLOAD_STORE_OUTCOME_REFUSED
                  : NGX_HTTP_UPLOAD_STORE_OUTCOME_ERROR;

        ngx_http_upload_store_job_failed(job, outcome, status);
        return;
    }

    outcome = NGX_HTTP_UPLOAD_STORE_OUTCOME_TRANSCRIBED;

    if (ngx_http_upload_store_job_answer(job, &outcome) != NGX_OK) {
        ngx_http_upload_store_job_failed(job, outcome, status);
    }
}


/* a 2xx: its text, from JSON at the provider's pointer, or as text */

static ngx_int_t
ngx_http_upload_store_job_answer(ngx_http_upload_store_job_t *job,
    ngx_uint_t *outcome)
{
    json_t        *root, *text;
    ngx_str_t      s;
    ngx_uint_t     failed;
    json_error_t   jerr;

    *outcome = NGX_HTTP_UPLOAD_STORE_OUTCOME_BAD_RESPONSE;

    if (job->remote->text_format) {
        if (ngx_http_upload_store_utf8(job->answer, job->len, 0) != NGX_OK) {
            ngx_http_upload_store_job_error(job, "the answer is not UTF-8 "
                                            "text");
            return NGX_ERROR;
        }

        s.data = job->answer;
        s.len = job->len;

        ngx_http_upload_store_job_transcribed(job, &s);
        return NGX_OK;
    }

    root = json_loadb((char *) job->answer, job->len, 0, &jerr);

    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        ngx_http_upload_store_job_error(job, "the answer is not a JSON "
                                        "object");
        return NGX_ERROR;
    }

    failed = job->remote->protocol->failed(root);
    text = ngx_http_upload_store_json_pointer(root, &job->remote->text);

    if (failed || !json_is_string(text)) {
        json_decref(root);

        if (failed) {
            *outcome = NGX_HTTP_UPLOAD_STORE_OUTCOME_ERROR;
        }

        ngx_http_upload_store_job_error(job, failed
                                        ? "the answer is an error"
                                        : "the answer has no text");
        return NGX_ERROR;
    }

    s.data = (u_char *) json_string_value(text);
    s.len = json_string_length(text);

    ngx_http_upload_store_job_transcribed(job, &s);

    json_decref(root);

    return NGX_OK;
}
