
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"
#include "ngx_http_upload_store_jobs.h"


/*
 * An offload's requests to the object store, one step at a time: the
 * method, the query and the body of the step, the audio (or its part)
 * read from its file as libcurl sends it, the ETag and the body of the
 * answer kept for the step's end (ngx_http_upload_store_offload.c).
 */


static ngx_int_t ngx_http_upload_store_offload_body(
    ngx_http_upload_store_job_t *job, CURL *easy, char *method,
    u_char *data, size_t len, char *type);
static char *ngx_http_upload_store_offload_query(
    ngx_http_upload_store_job_t *job);
static size_t ngx_http_upload_store_offload_header(char *buf, size_t size,
    size_t n, void *data);
static size_t ngx_http_upload_store_offload_write(char *buf, size_t size,
    size_t n, void *data);


static ngx_str_t  ngx_http_upload_store_octets =
    ngx_string("application/octet-stream");


/* the request of the step the offload is at, on a new handle */

ngx_int_t
ngx_http_upload_store_offload_send(ngx_http_upload_store_job_t *job)
{
    char                             *type;
    CURL                             *easy;
    ngx_str_t                        *key, *ct;
    ngx_uint_t                        step;
    ngx_http_upload_store_offload_t  *off;

    off = job->offload;
    step = off->step;

    /* the object's type is the upload's */

    ct = job->record.content_type.len ? &job->record.content_type
                                      : &ngx_http_upload_store_octets;
    type = ngx_pnalloc(job->pool, sizeof("Content-Type: ") + ct->len);
    if (type == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_sprintf((u_char *) type, "Content-Type: %V%Z", ct);

    ngx_http_upload_store_offload_reset(job);

    key = (step == ngx_us_record || step == ngx_us_delete_record
           || step == ngx_us_find)
          ? &off->record_key : &off->key;

    easy = ngx_http_upload_store_object_easy(job->store->object, key,
                               ngx_http_upload_store_offload_query(job),
                               &job->headers, job->pool);
    if (easy == NULL) {
        return NGX_ERROR;
    }

    job->transfer.easy = easy;
    job->len = 0;
    ngx_str_null(&off->etag);

    if (curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION,
                         ngx_http_upload_store_offload_header)
        != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_HEADERDATA, job) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION,
                            ngx_http_upload_store_offload_write)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_WRITEDATA, job) != CURLE_OK)
    {
        return NGX_ERROR;
    }

    switch (step) {

    case ngx_us_head:
    case ngx_us_head_done:
        if (ngx_http_upload_store_offload_body(job, easy, "HEAD", NULL, 0,
                                               NULL)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        break;

    case ngx_us_put:
    case ngx_us_part:
        job->offset = (off->part ? off->part - 1 : 0)
                      * job->store->object->part_size;
        job->end = off->part ? ngx_min(job->offset
                                       + job->store->object->part_size,
                                       job->size)
                             : job->size;

        if (ngx_http_upload_store_offload_body(job, easy, NULL, NULL,
                                               job->end - job->offset,
                                               off->part ? NULL : type)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        break;

    case ngx_us_create:
        if (ngx_http_upload_store_offload_body(job, easy, "POST",
                                               (u_char *) "", 0, type)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        break;

    case ngx_us_complete:
        if (ngx_http_upload_store_offload_body(job, easy, "POST",
                                               off->body.data, off->body.len,
                                               "Content-Type: application/xml")
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        break;

    case ngx_us_record:
        if (ngx_http_upload_store_offload_body(job, easy, "PUT",
                                               off->body.data, off->body.len,
                                               "Content-Type: "
                                               "application/json")
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        break;

    case ngx_us_find:
        if (ngx_http_upload_store_offload_body(job, easy, "GET", NULL, 0,
                                               NULL)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        break;

    default: /* the deletes */
        if (ngx_http_upload_store_offload_body(job, easy, "DELETE",
                                               NULL, 0, NULL)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_http_upload_store_curl_start(&job->transfer);
}


/*
 * a body: the audio from job->offset (method NULL, streamed), or data
 * (NULL: none) with its SHA-256 signed; the headers set
 */

static ngx_int_t
ngx_http_upload_store_offload_body(ngx_http_upload_store_job_t *job,
    CURL *easy, char *method, u_char *data, size_t len, char *type)
{
    u_char              *p, hash[EVP_MAX_MD_SIZE];
    unsigned int         n;
    u_char               header[sizeof("x-amz-content-sha256: ") + 64];

    p = ngx_cpymem(header, "x-amz-content-sha256: ",
                   sizeof("x-amz-content-sha256: ") - 1);

    if (method == NULL) {
        p = ngx_cpymem(p, "UNSIGNED-PAYLOAD", 16);

        if (curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L) != CURLE_OK
            || curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE,
                                (curl_off_t) len)
               != CURLE_OK
            || curl_easy_setopt(easy, CURLOPT_READFUNCTION,
                                ngx_http_upload_store_job_read_audio)
               != CURLE_OK
            || curl_easy_setopt(easy, CURLOPT_READDATA, job) != CURLE_OK)
        {
            return NGX_ERROR;
        }

    } else if (data == NULL) {
        p = ngx_cpymem(p, NGX_HTTP_UPLOAD_STORE_EMPTY_SHA256, 64);

        if ((method[0] == 'H'
             ? curl_easy_setopt(easy, CURLOPT_NOBODY, 1L)
             : curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method))
            != CURLE_OK)
        {
            return NGX_ERROR;
        }

    } else {
        if (EVP_Digest(data, len, hash, &n, EVP_sha256(), NULL) != 1) {
            return NGX_ERROR;
        }

        p = ngx_hex_dump(p, hash, n);

        if (curl_easy_setopt(easy, CURLOPT_POSTFIELDS, data) != CURLE_OK
            || curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                                (curl_off_t) len)
               != CURLE_OK
            || curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method)
               != CURLE_OK)
        {
            return NGX_ERROR;
        }
    }

    *p = '\0';

    if (ngx_http_upload_store_curl_header(&job->headers, (char *) header)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* none without a body: "Content-Type:" would be signed, not sent */

    if (type != NULL) {
        if (ngx_http_upload_store_curl_header(&job->headers, type) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return curl_easy_setopt(easy, CURLOPT_HTTPHEADER, job->headers)
           == CURLE_OK ? NGX_OK : NGX_ERROR;
}


/* the step's query: "uploads=" as the signature wants it, not "uploads" */

static char *
ngx_http_upload_store_offload_query(ngx_http_upload_store_job_t *job)
{
    u_char                           *q, *p;
    ngx_http_upload_store_offload_t  *off;

    off = job->offload;

    switch (off->step) {

    case ngx_us_create:
        return "uploads=";

    case ngx_us_part:
    case ngx_us_complete:
    case ngx_us_abort:
        q = ngx_pnalloc(job->pool, sizeof("partNumber=&uploadId=")
                                   + NGX_INT_T_LEN + 3 * off->upload_id.len);
        if (q == NULL) {
            return NULL;
        }

        /* the gateway's id, escaped: it is not trusted to be plain */

        p = (off->step == ngx_us_part)
            ? ngx_sprintf(q, "partNumber=%ui&uploadId=", off->part)
            : ngx_cpymem(q, "uploadId=", sizeof("uploadId=") - 1);

        p = ngx_http_upload_store_object_escape(p, &off->upload_id);
        *p = '\0';

        return (char *) q;

    default:
        return NULL;
    }
}


/* the ETag of the answer */

static size_t
ngx_http_upload_store_offload_header(char *buf, size_t size, size_t n,
    void *data)
{
    ngx_http_upload_store_job_t *job = data;

    size_t                            len;
    ngx_str_t                         v;
    ngx_http_upload_store_offload_t  *off;

    off = job->offload;
    len = size * n;

    if (!ngx_http_upload_store_curl_value((u_char *) buf, len, "ETag:", &v)
        || v.len > 128)
    {
        return len;
    }

    off->etag.len = v.len;
    off->etag.data = ngx_pnalloc(job->pool, v.len);
    if (off->etag.data == NULL) {
        return 0;
    }

    ngx_memcpy(off->etag.data, v.data, v.len);

    return len;
}


/* an answer's body: an error's code, an UploadId, a record; bounded */

static size_t
ngx_http_upload_store_offload_write(char *buf, size_t size, size_t n,
    void *data)
{
    ngx_http_upload_store_job_t *job = data;

    ngx_int_t                         rc;
    ngx_http_upload_store_offload_t  *off;

    off = job->offload;

    /*
     * a record, whole (larger: not one of this module's); else a code
     * and an id, which come first: the rest is dropped
     */

    rc = ngx_http_upload_store_curl_keep(job->pool, &job->answer, &job->len,
                                     &job->cap,
                                     off->step == ngx_us_find
                                     ? NGX_HTTP_UPLOAD_STORE_RECORD_MAX
                                     : NGX_HTTP_UPLOAD_STORE_ANSWER_MAX,
                                     buf, size * n);

    return (rc == NGX_ERROR || (rc == NGX_DECLINED && off->step == ngx_us_find))
           ? 0 : size * n;
}


/* the last request's handle and headers given back */

void
ngx_http_upload_store_offload_reset(ngx_http_upload_store_job_t *job)
{
    ngx_http_upload_store_curl_free(&job->transfer, &job->headers);
}
