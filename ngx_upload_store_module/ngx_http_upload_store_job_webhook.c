
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"
#include "ngx_http_upload_store_jobs.h"

#include <openssl/hmac.h>


/*
 * A job's webhook: the record POSTed, signed with HMAC-SHA256, to the
 * location's URL or the client's own (to a host the operator lists), on
 * the worker's multi handle, retried through the queue like the job.
 */


static ngx_int_t ngx_http_upload_store_webhook_body(
    ngx_http_upload_store_job_t *job, ngx_str_t *body);
static ngx_int_t ngx_http_upload_store_webhook_headers(
    ngx_http_upload_store_job_t *job, ngx_str_t *body);
static size_t ngx_http_upload_store_webhook_discard(char *buf, size_t size,
    size_t n, void *data);
static void ngx_http_upload_store_webhook_done(
    ngx_http_upload_store_transfer_t *t);
static ngx_int_t ngx_http_upload_store_job_webhook_target(
    ngx_http_upload_store_job_t *job, ngx_str_t *url);


/*
 * the job ended (transcribed or failed): its record POSTed to the
 * location's upload_store_webhook, signed, on the same multi handle;
 * NGX_DECLINED: no webhook, the caller ends the job
 */

ngx_int_t
ngx_http_upload_store_job_webhook(ngx_http_upload_store_job_t *job)
{
    CURL                            *easy;
    ngx_str_t                        body, url;
    ngx_http_upload_store_record_t  *rec;

    rec = &job->record;

    if (rec->webhook != NGX_HTTP_UPLOAD_STORE_WEBHOOK_PENDING) {
        return NGX_DECLINED;
    }

    if (ngx_http_upload_store_job_webhook_target(job, &url) != NGX_OK) {

        /* configured when it ended, not now: given up */

        ngx_log_error(NGX_LOG_ERR, job->log, 0,
                      "upload store: webhook of customer \"%V\", id %*s, "
                      "failed: no webhook is configured now",
                      &rec->customer, (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN,
                      rec->id);

        rec->webhook = NGX_HTTP_UPLOAD_STORE_WEBHOOK_FAILED;
        (void) job->store->backend->save(job->store, rec, job->pool,
                                         job->log);
        return NGX_DECLINED;
    }

    job->webhook = url;

    /* the provider's request is over: the webhook's is a new one */

    ngx_http_upload_store_job_release(job);

    easy = curl_easy_init();
    if (easy == NULL) {
        return NGX_ERROR;
    }

    job->transfer.easy = easy;
    job->transfer.done = ngx_http_upload_store_webhook_done;

    if (ngx_http_upload_store_webhook_body(job, &body) != NGX_OK
        || ngx_http_upload_store_webhook_headers(job, &body) != NGX_OK
        || curl_easy_setopt(easy, CURLOPT_URL, url.data)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_HTTPHEADER, job->headers)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long) body.len)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                            (long) job->remote->timeout)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                            (long) job->remote->connect_timeout)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION,
                            ngx_http_upload_store_webhook_discard)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https")
           != CURLE_OK
        || ngx_http_upload_store_curl_start(&job->transfer) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* {"event": "...", "sent_at": "...", "upload": the record} */

static ngx_int_t
ngx_http_upload_store_webhook_body(ngx_http_upload_store_job_t *job,
    ngx_str_t *body)
{
    u_char      now[sizeof("1970-01-01T00:00:00.000Z") - 1];
    json_t     *json, *rec;
    uint64_t    ms;
    ngx_int_t   rc;

    rec = ngx_http_upload_store_record_json(job->pool, &job->record,
                                            job->log);
    if (rec == NULL) {
        return NGX_ERROR;
    }

    ms = ngx_http_upload_store_now();
    job->sent = ms / 1000;

    json = json_pack("{s:s,s:s%,s:o}",
                     "event",
                     job->record.state == NGX_HTTP_UPLOAD_STORE_TRANSCRIBED
                     ? "transcription.completed" : "transcription.failed",
                     "sent_at", (char *) now,
                     (size_t) (ngx_http_upload_store_iso_time(now, ms) - now),
                     "upload", rec);
    if (json == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_upload_store_json_dump(job->pool, json, body);

    json_decref(json);

    return rc;
}


/*
 * X-Upload-Store-Signature: sha256=HMAC-SHA256(secret, body), hex, as
 * GitHub signs its webhooks; the body holds its own time (sent_at),
 * which X-Upload-Store-Timestamp repeats
 */

static ngx_int_t
ngx_http_upload_store_webhook_headers(ngx_http_upload_store_job_t *job,
    ngx_str_t *body)
{
    u_char             *p, mac[EVP_MAX_MD_SIZE], hex[2 * EVP_MAX_MD_SIZE];
    u_char              line[128 + 2 * EVP_MAX_MD_SIZE];
    ngx_str_t          *secret;
    unsigned int        len;

    if (ngx_http_upload_store_curl_header(&job->headers,
                                          "Content-Type: application/json")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = ngx_sprintf(line, "X-Upload-Store-Timestamp: %T%Z", job->sent);

    if (ngx_http_upload_store_curl_header(&job->headers, (char *) line)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_upload_store_curl_header(&job->headers, "Expect:") != NGX_OK) {
        return NGX_ERROR;
    }

    secret = &job->uslcf->webhook_secret;

    if (secret->len == 0) {
        return NGX_OK;
    }

    if (HMAC(EVP_sha256(), secret->data, (int) secret->len, body->data,
             body->len, mac, &len)
        == NULL)
    {
        return NGX_ERROR;
    }

    p = ngx_hex_dump(hex, mac, len);

    (void) ngx_sprintf(line, "X-Upload-Store-Signature: sha256=%*s%Z",
                       (size_t) (p - hex), hex);

    if (ngx_http_upload_store_curl_header(&job->headers, (char *) line)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static size_t
ngx_http_upload_store_webhook_discard(char *buf, size_t size, size_t n,
    void *data)
{
    return size * n;
}


/* delivered on a 2xx; else tried again as a job is, or given up */

static void
ngx_http_upload_store_webhook_done(ngx_http_upload_store_transfer_t *t)
{
    ngx_http_upload_store_job_t *job = (ngx_http_upload_store_job_t *) t;

    long                             code;
    u_char                           why[128], *last;
    uint64_t                         now;
    ngx_msec_t                       delay;
    ngx_http_upload_store_record_t  *rec;

    rec = &job->record;

    code = 0;
    (void) curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);

    last = (t->result == CURLE_OK)
           ? ngx_snprintf(why, sizeof(why), "HTTP %l", code)
           : ngx_snprintf(why, sizeof(why), "%s",
                          curl_easy_strerror(t->result));

    rec->webhook_attempts++;

    if (t->result == CURLE_OK && code >= 200 && code < 300) {
        rec->webhook = NGX_HTTP_UPLOAD_STORE_WEBHOOK_DELIVERED;
        ngx_http_upload_store_stats_job(job->store,
                                        NGX_HTTP_UPLOAD_STORE_JOB_WEBHOOK);

        ngx_log_error(NGX_LOG_INFO, job->log, 0,
                      "upload store: webhook of customer \"%V\", id %*s, "
                      "delivered, attempt %ui", &rec->customer,
                      (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, rec->id,
                      rec->webhook_attempts);

    } else if (rec->webhook_attempts > job->remote->retries) {
        rec->webhook = NGX_HTTP_UPLOAD_STORE_WEBHOOK_FAILED;
        ngx_http_upload_store_stats_job(job->store,
                                   NGX_HTTP_UPLOAD_STORE_JOB_WEBHOOK_FAILED);

        ngx_log_error(NGX_LOG_ERR, job->log, 0,
                      "upload store: webhook of customer \"%V\", id %*s, "
                      "\"%V\", failed: %*s, attempt %ui",
                      &rec->customer, (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN,
                      rec->id, &job->webhook, (size_t) (last - why),
                      why, rec->webhook_attempts);

    } else {
        delay = ngx_http_upload_store_job_backoff(job->remote,
                                                  rec->webhook_attempts);
        now = ngx_http_upload_store_now();

        (void) job->store->backend->save(job->store, rec, job->pool,
                                         job->log);
        ngx_http_upload_store_job_later(job, now + delay);
        ngx_http_upload_store_stats_job(job->store,
                                    NGX_HTTP_UPLOAD_STORE_JOB_WEBHOOK_RETRY);

        ngx_log_error(NGX_LOG_WARN, job->log, 0,
                      "upload store: webhook of customer \"%V\", id %*s, "
                      "attempt %ui failed (%*s), next in %M ms",
                      &rec->customer, (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN,
                      rec->id, rec->webhook_attempts, (size_t) (last - why),
                      why, delay);

        ngx_http_upload_store_job_end(job, 0);
        return;
    }

    (void) job->store->backend->save(job->store, rec, job->pool, job->log);

    ngx_http_upload_store_job_end(job, 1);
}


/*
 * the client's own webhook, from the form field upload_store_webhook_client
 * names: NGX_OK (url set, null-terminated), NGX_DECLINED (none), NGX_ERROR
 * (not http(s), or a host the operator did not list)
 */

ngx_int_t
ngx_http_upload_store_webhook_url(ngx_http_upload_store_loc_conf_t *uslcf,
    ngx_http_upload_store_record_t *rec, ngx_pool_t *pool, ngx_str_t *url)
{
    char          *scheme, *host, *port;
    u_char         where[NGX_MAX_PATH];
    size_t         len;
    CURLU         *u;
    ngx_int_t      rc;
    ngx_str_t     *allowed;
    ngx_uint_t     i;
    ngx_keyval_t  *f;

    if (uslcf->webhook_field.len == 0 || rec->fields == NULL) {
        return NGX_DECLINED;
    }

    f = rec->fields->elts;

    for (i = 0; i < rec->fields->nelts; i++) {
        if (f[i].key.len == uslcf->webhook_field.len
            && ngx_strncmp(f[i].key.data, uslcf->webhook_field.data,
                           f[i].key.len) == 0)
        {
            break;
        }
    }

    if (i == rec->fields->nelts || f[i].value.len == 0) {
        return NGX_DECLINED;
    }

    url->len = f[i].value.len;
    url->data = ngx_pnalloc(pool, url->len + 1);
    if (url->data == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_cpystrn(url->data, f[i].value.data, url->len + 1);

    /* curl's own parser: the host it would connect to is the one checked */

    u = curl_url();
    if (u == NULL) {
        return NGX_ERROR;
    }

    scheme = NULL;
    host = NULL;
    port = NULL;
    rc = NGX_ERROR;

    if (ngx_strlen(url->data) == url->len
        && curl_url_set(u, CURLUPART_URL, (char *) url->data, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK
        && (ngx_strcmp(scheme, "http") == 0
            || ngx_strcmp(scheme, "https") == 0))
    {
        /* a port other than the scheme's must be listed with the host */

        len = ngx_strlen(host);

        if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK
            && len + 1 + ngx_strlen(port) < sizeof(where))
        {
            len = ngx_sprintf(where, "%s:%s", host, port) - where;

        } else {
            len = ngx_min(len, sizeof(where));
            ngx_memcpy(where, host, len);
        }

        allowed = uslcf->webhook_hosts->elts;

        for (i = 0; i < uslcf->webhook_hosts->nelts; i++) {
            if (len == allowed[i].len
                && ngx_strncasecmp(where, allowed[i].data, len) == 0)
            {
                rc = NGX_OK;
                break;
            }
        }
    }

    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);

    return rc;
}


/* the job's webhook: the client's, when allowed, else the location's */

static ngx_int_t
ngx_http_upload_store_job_webhook_target(ngx_http_upload_store_job_t *job,
    ngx_str_t *url)
{
    if (job->uslcf == NULL) {
        return NGX_DECLINED;
    }

    if (ngx_http_upload_store_webhook_url(job->uslcf, &job->record,
                                          job->pool, url)
        == NGX_OK)
    {
        return NGX_OK;
    }

    *url = job->uslcf->webhook;

    return url->len ? NGX_OK : NGX_DECLINED;
}


/* before the record that ends the job is saved: whether a webhook is due */

void
ngx_http_upload_store_job_webhook_wanted(ngx_http_upload_store_job_t *job)
{
    ngx_str_t  url;

    if (job->record.webhook == NGX_HTTP_UPLOAD_STORE_WEBHOOK_NONE
        && ngx_http_upload_store_job_webhook_target(job, &url) == NGX_OK)
    {
        job->record.webhook = NGX_HTTP_UPLOAD_STORE_WEBHOOK_PENDING;
        job->record.job = 1;
    }
}


/* the job ended: its webhook sent if one is due, else the entry goes */

void
ngx_http_upload_store_job_webhook_or_end(ngx_http_upload_store_job_t *job)
{
    switch (ngx_http_upload_store_job_webhook(job)) {

    case NGX_OK:
        return;

    case NGX_DECLINED:
        ngx_http_upload_store_job_end(job, 1);
        return;

    default:
        ngx_http_upload_store_job_postpone(job, "the webhook cannot be sent");
    }
}
