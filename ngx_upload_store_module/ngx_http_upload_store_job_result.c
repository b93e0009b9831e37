
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"
#include "ngx_http_upload_store_jobs.h"


/*
 * A job's queue entry and its ends: queued by the receiving request,
 * cancelled by a DELETE; transcribed, queued again after a backoff, or
 * failed; and what it held given back.
 */


static ngx_msec_t ngx_http_upload_store_job_backoff(
    ngx_http_upload_store_remote_t *remote, ngx_uint_t attempts);
static void ngx_http_upload_store_job_later(ngx_http_upload_store_job_t *job,
    uint64_t ms);
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
 * a stored upload queued: its entry written in {root}/.tmp, then moved
 * into {root}/.jobs, complete
 */

ngx_int_t
ngx_http_upload_store_job_queue(ngx_http_upload_store_t *store,
    ngx_http_upload_store_record_t *rec,
    ngx_http_upload_store_loc_conf_t *uslcf, ngx_pool_t *pool,
    ngx_log_t *log)
{
    char       *dump;
    size_t      len;
    json_t     *json;
    ssize_t     n;
    ngx_fd_t    fd;
    ngx_err_t   err;
    ngx_str_t   entry, temp;

    if (ngx_http_upload_store_job_paths(pool, store, &uslcf->job->name,
                                        rec->id, &entry, &temp)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    json = json_pack("{s:s%,s:s%,s:s%,s:s%,s:s%}",
                     "id", (char *) rec->id,
                     (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN,
                     "customer", (char *) rec->customer.data,
                     rec->customer.len,
                     "category", (char *) rec->category.data,
                     rec->category.len,
                     "provider", (char *) uslcf->job->name.data,
                     uslcf->job->name.len,
                     "location", (char *) uslcf->clcf->name.data,
                     uslcf->clcf->name.len);
    if (json == NULL) {
        return NGX_ERROR;
    }

    dump = json_dumps(json, JSON_COMPACT);
    json_decref(json);

    if (dump == NULL) {
        return NGX_ERROR;
    }

    len = ngx_strlen(dump);

    fd = ngx_open_file(temp.data, NGX_FILE_WRONLY,
                       NGX_FILE_CREATE_OR_OPEN|NGX_FILE_TRUNCATE,
                       store->access);

    if (fd == NGX_INVALID_FILE) {
        err = ngx_errno;
        ngx_log_error(NGX_LOG_CRIT, log, err,
                      ngx_open_file_n " \"%V\" failed (customer \"%V\")",
                      &temp, &rec->customer);
        free(dump);
        return NGX_ERROR;
    }

    n = ngx_write_fd(fd, dump, len);
    err = ngx_errno;

    free(dump);
    (void) ngx_close_file(fd);

    if (n != (ssize_t) len) {
        ngx_log_error(NGX_LOG_CRIT, log, n == -1 ? err : 0,
                      ngx_write_fd_n " \"%V\" failed (customer \"%V\")",
                      &temp, &rec->customer);
        (void) ngx_delete_file(temp.data);
        return NGX_ERROR;
    }

    if (ngx_rename_file(temp.data, entry.data) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      ngx_rename_file_n " \"%V\" to \"%V\" failed "
                      "(customer \"%V\")", &temp, &entry, &rec->customer);
        (void) ngx_delete_file(temp.data);
        return NGX_ERROR;
    }

    /* this worker takes it when it can */

    ngx_http_upload_store_jobs_ready(store, uslcf->job, rec->id);

    return NGX_OK;
}


/*
 * a job's entry removed, whichever provider's queue it is in: NGX_OK, or
 * NGX_DECLINED when there was none
 */

ngx_int_t
ngx_http_upload_store_job_cancel(ngx_http_upload_store_t *store,
    ngx_http_upload_store_record_t *rec, ngx_pool_t *pool, ngx_log_t *log)
{
    ngx_int_t                           rc;
    ngx_str_t                           entry, temp;
    ngx_uint_t                          i;
    ngx_http_upload_store_remote_t     *remote;
    ngx_http_upload_store_main_conf_t  *usmcf;

    usmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                                ngx_http_upload_store_module);

    if (store->jobs_path == NULL || usmcf == NULL) {
        return NGX_DECLINED;
    }

    rc = NGX_DECLINED;
    remote = usmcf->remotes.elts;

    for (i = 0; i < usmcf->remotes.nelts; i++) {

        if (ngx_http_upload_store_job_paths(pool, store, &remote[i].name,
                                            rec->id, &entry, &temp)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (ngx_delete_file(entry.data) != NGX_FILE_ERROR) {
            rc = NGX_OK;
            continue;
        }

        if (ngx_errno != NGX_ENOENT) {
            ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                          ngx_delete_file_n " \"%V\" failed "
                          "(customer \"%V\")", &entry, &rec->customer);
            return NGX_ERROR;
        }
    }

    return rc;
}


/* the record transcribed, as by the synchronous path; the entry goes */

void
ngx_http_upload_store_job_transcribed(ngx_http_upload_store_job_t *job,
    ngx_str_t *text)
{
    ngx_http_upload_store_t         *store;
    ngx_http_upload_store_record_t  *rec;

    store = job->store;
    rec = &job->record;

    rec->text.len = text->len;
    rec->text.data = ngx_pnalloc(job->pool, text->len + 1);
    if (rec->text.data == NULL) {
        ngx_http_upload_store_job_retry(job, rec->provider_status);
        return;
    }

    ngx_memcpy(rec->text.data, text->data, text->len);
    ngx_str_null(&rec->processed);

    if (job->uslcf != NULL && job->uslcf->lexicon != NULL
        && ngx_http_upload_store_lexicon_apply(job->pool, job->uslcf->lexicon,
                                               &rec->text, &rec->processed)
           != NGX_OK)
    {
        ngx_str_null(&rec->processed);
    }

    (void) ngx_http_upload_store_record_set_state(rec,
                                        NGX_HTTP_UPLOAD_STORE_TRANSCRIBED);
    rec->transcription = 1;
    rec->outcome = NGX_HTTP_UPLOAD_STORE_OUTCOME_TRANSCRIBED;
    ngx_str_null(&rec->last_error);

    /* the webhook to come is in the record that says the job ended */

    ngx_http_upload_store_job_webhook_wanted(job);

    if (store->backend->save(store, rec, job->pool, job->log) == NGX_ERROR) {
        /* the entry stays: the job runs again, later */
        ngx_http_upload_store_job_postpone(job, "the record cannot be saved");
        return;
    }

    ngx_http_upload_store_stats_transcription(store, rec->outcome,
                                              rec->transcribe_ms);
    ngx_http_upload_store_stats_job(store,
                                    NGX_HTTP_UPLOAD_STORE_JOB_TRANSCRIBED);

    if (job->uslcf != NULL && !job->uslcf->keep) {
        (void) store->backend->remove(store, rec, NGX_HTTP_UPLOAD_STORE_AUDIO,
                                      job->log);
    }

    ngx_log_error(NGX_LOG_INFO, job->log, 0,
                  "upload store: job of customer \"%V\", id %*s, "
                  "transcribed in %M ms, attempt %ui", &rec->customer,
                  (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, rec->id,
                  rec->transcribe_ms, rec->attempts);

    ngx_http_upload_store_job_webhook_or_end(job);
}


/*
 * a failure that may pass: queued again after a backoff with jitter
 * (the provider's Retry-After if longer), or failed after "retries"
 */

void
ngx_http_upload_store_job_retry(ngx_http_upload_store_job_t *job,
    ngx_uint_t status)
{
    time_t                           t;
    uint64_t                         now;
    ngx_int_t                        n;
    ngx_msec_t                       delay, after;
    ngx_http_upload_store_t         *store;
    ngx_http_upload_store_remote_t  *remote;
    ngx_http_upload_store_record_t  *rec;

    store = job->store;
    remote = job->remote;
    rec = &job->record;

    if (rec->attempts > remote->retries) {
        ngx_http_upload_store_job_failed(job,
                     status == NGX_HTTP_TOO_MANY_REQUESTS
                     ? NGX_HTTP_UPLOAD_STORE_OUTCOME_RATE_LIMITED
                     : (job->transfer.result == CURLE_OPERATION_TIMEDOUT
                        ? NGX_HTTP_UPLOAD_STORE_OUTCOME_TIMEOUT
                        : NGX_HTTP_UPLOAD_STORE_OUTCOME_ERROR),
                     status);
        return;
    }

    delay = ngx_http_upload_store_job_backoff(remote, rec->attempts);

    /* Retry-After: seconds, or an HTTP date */

    if (job->retry_after.len) {
        n = ngx_atoi(job->retry_after.data, job->retry_after.len);

        if (n == NGX_ERROR) {
            t = ngx_parse_http_time(job->retry_after.data,
                                    job->retry_after.len);
            n = (t == NGX_ERROR || t < ngx_time()) ? 0 : t - ngx_time();
        }

        after = (ngx_msec_t) ngx_min(n, NGX_HTTP_UPLOAD_STORE_RETRY_MAX
                                        / 1000) * 1000;
        delay = ngx_max(delay, after);
    }

    now = (uint64_t) ngx_time() * 1000 + (ngx_timeofday())->msec;

    (void) ngx_http_upload_store_record_set_state(rec,
                                            NGX_HTTP_UPLOAD_STORE_QUEUED);
    rec->next_attempt = now + delay;

    if (store->backend->save(store, rec, job->pool, job->log)
        == NGX_DECLINED)
    {
        ngx_http_upload_store_job_end(job, 1);
        return;
    }

    ngx_http_upload_store_job_later(job, rec->next_attempt);
    ngx_http_upload_store_stats_job(store, NGX_HTTP_UPLOAD_STORE_JOB_RETRY);

    ngx_log_error(NGX_LOG_WARN, job->log, 0,
                  "upload store: job of customer \"%V\", id %*s, attempt "
                  "%ui failed (%V), next in %M ms", &rec->customer,
                  (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, rec->id,
                  rec->attempts, &rec->last_error, delay);

    ngx_http_upload_store_job_end(job, 0);
}


/* the job ends failed: the record says why, the entry goes */

void
ngx_http_upload_store_job_failed(ngx_http_upload_store_job_t *job,
    ngx_uint_t outcome, ngx_uint_t status)
{
    ngx_http_upload_store_t         *store;
    ngx_http_upload_store_record_t  *rec;

    store = job->store;
    rec = &job->record;

    ngx_log_error(NGX_LOG_ERR, job->log, 0,
                  "upload store: job of customer \"%V\", id %*s, \"%V\", "
                  "failed: %s (provider status %ui, attempt %ui: %V)",
                  &rec->customer, (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN,
                  rec->id, &rec->path,
                  ngx_http_upload_store_outcome_name(outcome), status,
                  rec->attempts, &rec->last_error);

    if (rec->file.len != 0) {
        /* loaded: its record says so */

        rec->job = 1;
        rec->transcription = 1;
        rec->outcome = outcome;

        (void) ngx_http_upload_store_record_set_state(rec,
                                            NGX_HTTP_UPLOAD_STORE_FAILED);

        ngx_http_upload_store_job_webhook_wanted(job);

        if (store->backend->save(store, rec, job->pool, job->log)
            == NGX_ERROR)
        {
            ngx_http_upload_store_job_postpone(job,
                                               "the record cannot be saved");
            return;
        }

        ngx_http_upload_store_stats_transcription(store, outcome,
                                                  rec->transcribe_ms);
        ngx_http_upload_store_stats_job(store,
                                        NGX_HTTP_UPLOAD_STORE_JOB_FAILED);

        ngx_http_upload_store_job_webhook_or_end(job);
        return;
    }

    ngx_http_upload_store_job_end(job, 1);
}


/* the record's last_error, from the job's pool */

void
ngx_http_upload_store_job_error(ngx_http_upload_store_job_t *job,
    const char *fmt, ...)
{
    u_char   *p, buf[512];
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    job->record.last_error.data = ngx_pnalloc(job->pool, p - buf);
    if (job->record.last_error.data == NULL) {
        job->record.last_error.len = 0;
        return;
    }

    job->record.last_error.len = p - buf;
    ngx_memcpy(job->record.last_error.data, buf, p - buf);
}


/*
 * everything the job holds given back; done: its entry goes first, while
 * it is still locked, so no other worker can take it
 */

void
ngx_http_upload_store_job_end(ngx_http_upload_store_job_t *job,
    ngx_uint_t done)
{
    if (job->started) {
        ngx_http_upload_store_stats_job_running(job->store, -1);
        job->started = 0;
    }

    if (done) {
        ngx_http_upload_store_job_unlink(job);
    }

    if (job->transfer.easy != NULL) {
        ngx_http_upload_store_curl_stop(&job->transfer);
        curl_easy_cleanup(job->transfer.easy);
        job->transfer.easy = NULL;
    }

    if (job->mime != NULL) {
        curl_mime_free(job->mime);
    }

    if (job->headers != NULL) {
        curl_slist_free_all(job->headers);
    }

    if (job->audio != NGX_INVALID_FILE) {
        (void) ngx_close_file(job->audio);
    }

    if (job->slot != NGX_CONF_UNSET_UINT) {
        ngx_http_upload_store_slot_give(job->slot);
        ngx_queue_remove(&job->queue);

        /* a slot is free: the entries seen due */

        if (!ngx_http_upload_store_jobs->more.posted && !ngx_exiting
            && !ngx_terminate)
        {
            ngx_post_event(&ngx_http_upload_store_jobs->more,
                           &ngx_posted_events);
        }
    }

    (void) close(job->entry);

    ngx_destroy_pool(job->pool);
}


void
ngx_http_upload_store_slot_give(ngx_uint_t slot)
{
    (void) ngx_atomic_cmp_set(&ngx_http_upload_store_jobs->slots[slot],
                              ngx_pid, 0);
}


/* the wait before attempt n + 1: doubled each time, with jitter */

static ngx_msec_t
ngx_http_upload_store_job_backoff(ngx_http_upload_store_remote_t *remote,
    ngx_uint_t attempts)
{
    ngx_msec_t  delay;

    delay = remote->backoff_max;

    if (attempts >= 1 && attempts <= 20) {
        delay = ngx_min(remote->backoff << (attempts - 1),
                        remote->backoff_max);
    }

    return delay / 2 + ngx_random() % (delay / 2 + 1);
}


/* the entry's mtime: when the job may run again */

static void
ngx_http_upload_store_job_later(ngx_http_upload_store_job_t *job,
    uint64_t ms)
{
    struct timespec  ts[2];

    ts[0].tv_sec = (time_t) (ms / 1000);
    ts[0].tv_nsec = (long) (ms % 1000) * 1000000;
    ts[1] = ts[0];

    if (futimens(job->entry, ts) == -1) {
        ngx_log_error(NGX_LOG_CRIT, job->log, ngx_errno,
                      "futimens() \"%V\" failed", &job->entry_path);
    }
}


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

    /* the provider's request is over: its handle serves the webhook */

    if (job->started) {
        ngx_http_upload_store_stats_job_running(job->store, -1);
        job->started = 0;
    }

    if (job->transfer.easy != NULL) {
        ngx_http_upload_store_curl_stop(&job->transfer);
        curl_easy_cleanup(job->transfer.easy);
        job->transfer.easy = NULL;
    }

    if (job->mime != NULL) {
        curl_mime_free(job->mime);
        job->mime = NULL;
    }

    if (job->headers != NULL) {
        curl_slist_free_all(job->headers);
        job->headers = NULL;
    }

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

    ms = (uint64_t) ngx_time() * 1000 + (ngx_timeofday())->msec;
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
    struct curl_slist  *list;

    list = curl_slist_append(NULL, "Content-Type: application/json");
    if (list == NULL) {
        return NGX_ERROR;
    }

    job->headers = list;

    p = ngx_sprintf(line, "X-Upload-Store-Timestamp: %T%Z", job->sent);

    list = curl_slist_append(job->headers, (char *) line);
    if (list == NULL) {
        return NGX_ERROR;
    }

    job->headers = list;

    list = curl_slist_append(job->headers, "Expect:");
    if (list == NULL) {
        return NGX_ERROR;
    }

    job->headers = list;

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

    list = curl_slist_append(job->headers, (char *) line);
    if (list == NULL) {
        return NGX_ERROR;
    }

    job->headers = list;

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
        now = (uint64_t) ngx_time() * 1000 + (ngx_timeofday())->msec;

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


/* what cannot be done now (a save, a read, a handle) is tried later */

void
ngx_http_upload_store_job_postpone(ngx_http_upload_store_job_t *job,
    char *why)
{
    uint64_t    now;
    ngx_msec_t  delay;

    delay = ngx_http_upload_store_job_backoff(job->remote,
                                    ngx_max(job->record.attempts, 1));
    now = (uint64_t) ngx_time() * 1000 + (ngx_timeofday())->msec;

    ngx_http_upload_store_job_later(job, now + delay);

    ngx_log_error(NGX_LOG_WARN, job->log, 0,
                  "upload store: job of customer \"%V\", id %*s: %s, "
                  "again in %M ms", &job->record.customer,
                  (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, job->record.id,
                  why, delay);

    ngx_http_upload_store_job_end(job, 0);
}


/*
 * the entry removed while it is still locked, if it is still the one
 * locked: a new entry of the same upload (queued again meanwhile) stays
 */

void
ngx_http_upload_store_job_unlink(ngx_http_upload_store_job_t *job)
{
    struct stat  mine, now;

    if (fstat(job->entry, &mine) == -1
        || stat((char *) job->entry_path.data, &now) == -1
        || mine.st_dev != now.st_dev || mine.st_ino != now.st_ino)
    {
        return;
    }

    if (ngx_delete_file(job->entry_path.data) == NGX_FILE_ERROR
        && ngx_errno != NGX_ENOENT)
    {
        ngx_log_error(NGX_LOG_CRIT, job->log, ngx_errno,
                      ngx_delete_file_n " \"%V\" failed", &job->entry_path);
    }
}
