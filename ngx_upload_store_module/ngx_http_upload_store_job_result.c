
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"
#include "ngx_http_upload_store_jobs.h"


/*
 * A job's queue entry and its ends: queued by the receiving request,
 * cancelled by a DELETE; transcribed, queued again after a backoff, or
 * failed, then its webhook.
 */


static ngx_int_t ngx_http_upload_store_job_entry(
    ngx_http_upload_store_t *store, ngx_http_upload_store_record_t *rec,
    ngx_http_upload_store_remote_t *remote, ngx_str_t *location,
    ngx_uint_t remove, ngx_pool_t *pool, ngx_log_t *log);
static ngx_uint_t ngx_http_upload_store_job_deleting(ngx_str_t *entry);
static char *ngx_http_upload_store_entry_json(
    ngx_http_upload_store_record_t *rec,
    ngx_http_upload_store_remote_t *remote, ngx_str_t *location,
    ngx_uint_t remove, ngx_uint_t attempts);


/* a stored upload queued for its location's provider */

ngx_int_t
ngx_http_upload_store_job_queue(ngx_http_upload_store_t *store,
    ngx_http_upload_store_record_t *rec,
    ngx_http_upload_store_loc_conf_t *uslcf, ngx_pool_t *pool,
    ngx_log_t *log)
{
    return ngx_http_upload_store_job_entry(store, rec, uslcf->job,
                                           &uslcf->clcf->name, 0, pool, log);
}


/*
 * an upload queued for the object store: its copy made or brought up to
 * date, or (remove) its objects deleted; nothing without an object store
 */

ngx_int_t
ngx_http_upload_store_offload_queue(ngx_http_upload_store_t *store,
    ngx_http_upload_store_record_t *rec, ngx_uint_t remove, ngx_pool_t *pool,
    ngx_log_t *log)
{
    ngx_str_t  none = ngx_null_string;

    if (store->object == NULL) {
        return NGX_OK;
    }

    return ngx_http_upload_store_job_entry(store, rec, store->object->remote,
                                           &none, remove, pool, log);
}


/*
 * a job's entry written in {root}/.tmp, then moved into {root}/.jobs,
 * complete; one queued again replaces the one waiting
 */

static ngx_int_t
ngx_http_upload_store_job_entry(ngx_http_upload_store_t *store,
    ngx_http_upload_store_record_t *rec,
    ngx_http_upload_store_remote_t *remote, ngx_str_t *location,
    ngx_uint_t remove, ngx_pool_t *pool, ngx_log_t *log)
{
    char       *dump;
    size_t      len;
    ssize_t     n;
    ngx_fd_t    fd;
    ngx_err_t   err;
    ngx_str_t   entry, temp;

    if (ngx_http_upload_store_job_paths(pool, store, &remote->name,
                                        rec->id, &entry, &temp)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* an offload queued again does not take a delete's place */

    if (!remove && remote->store != NULL
        && ngx_http_upload_store_job_deleting(&entry))
    {
        return NGX_OK;
    }

    dump = ngx_http_upload_store_entry_json(rec, remote, location, remove,
                                            0);
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

    ngx_http_upload_store_jobs_ready(store, remote, rec->id);

    return NGX_OK;
}


/* an entry's content: the upload, its queue, what to do */

static char *
ngx_http_upload_store_entry_json(ngx_http_upload_store_record_t *rec,
    ngx_http_upload_store_remote_t *remote, ngx_str_t *location,
    ngx_uint_t remove, ngx_uint_t attempts)
{
    char    *dump;
    json_t  *json;

    json = json_pack("{s:s%,s:s%,s:s%,s:s%,s:s%,s:s%,s:b,s:i}",
                     "id", (char *) rec->id,
                     (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN,
                     "customer", (char *) rec->customer.data,
                     rec->customer.len,
                     "category", (char *) rec->category.data,
                     rec->category.len,
                     "provider", (char *) remote->name.data,
                     remote->name.len,
                     "location", location->len ? (char *) location->data : "",
                     location->len,
                     "file", rec->file.len ? (char *) rec->file.data : "",
                     rec->file.len,
                     "delete", (int) remove,
                     "attempts", (int) attempts);
    if (json == NULL) {
        return NULL;
    }

    dump = json_dumps(json, JSON_COMPACT);
    json_decref(json);

    return dump;
}


/*
 * a delete job's attempts, written into its entry (locked by the job,
 * rewritten in place): the next attempt waits longer
 */

ngx_int_t
ngx_http_upload_store_job_entry_attempts(ngx_http_upload_store_job_t *job,
    ngx_uint_t attempts)
{
    char       *dump;
    size_t      len;
    ssize_t     n;
    ngx_str_t   none = ngx_null_string;

    dump = ngx_http_upload_store_entry_json(&job->record, job->remote, &none,
                                            job->remove, attempts);
    if (dump == NULL) {
        return NGX_ERROR;
    }

    len = ngx_strlen(dump);

    n = pwrite(job->entry, dump, len, 0);

    free(dump);

    if (n != (ssize_t) len || ftruncate(job->entry, len) == -1) {
        ngx_log_error(NGX_LOG_CRIT, job->log, ngx_errno,
                      "pwrite() \"%V\" failed", &job->entry_path);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * an upload deleted here whose objects are still to be deleted: not to
 * be served from the bucket meanwhile
 */

ngx_uint_t
ngx_http_upload_store_offload_deleted(ngx_http_upload_store_t *store,
    u_char *id, ngx_pool_t *pool)
{
    ngx_str_t                        entry, temp;
    ngx_http_upload_store_remote_t  *remote;

    remote = store->object ? store->object->remote : NULL;

    return remote != NULL
           && ngx_http_upload_store_job_paths(pool, store, &remote->name, id,
                                              &entry, &temp)
              == NGX_OK
           && ngx_http_upload_store_job_deleting(&entry);
}


/* whether an upload's object store entry is a delete: the upload is gone */

static ngx_uint_t
ngx_http_upload_store_job_deleting(ngx_str_t *entry)
{
    u_char        buf[NGX_HTTP_UPLOAD_STORE_ENTRY_MAX];
    json_t       *json;
    ssize_t       n;
    ngx_fd_t      fd;
    ngx_uint_t    deleting;
    json_error_t  error;

    fd = ngx_open_file(entry->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        return 0;
    }

    n = ngx_read_fd(fd, buf, sizeof(buf));
    (void) ngx_close_file(fd);

    json = (n > 0 && n < (ssize_t) sizeof(buf))
           ? json_loadb((char *) buf, n, 0, &error) : NULL;

    deleting = json_is_true(json_object_get(json, "delete"));

    json_decref(json);

    return deleting;
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
    ngx_int_t                        rc;
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

    rc = store->backend->save(store, rec, job->pool, job->log);

    if (rc == NGX_ERROR) {
        /* the entry stays: the job runs again, later */
        ngx_http_upload_store_job_postpone(job, "the record cannot be saved");
        return;
    }

    /* the bucket's record with the transcript; none for one deleted */

    if (rc == NGX_OK) {
        (void) ngx_http_upload_store_offload_queue(store, rec, 0, job->pool,
                                                   job->log);
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

    now = ngx_http_upload_store_now();

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
    ngx_int_t                        rc;
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

        rc = store->backend->save(store, rec, job->pool, job->log);

        if (rc == NGX_ERROR) {
            ngx_http_upload_store_job_postpone(job,
                                               "the record cannot be saved");
            return;
        }

        if (rc == NGX_OK) {
            (void) ngx_http_upload_store_offload_queue(store, rec, 0,
                                                       job->pool, job->log);
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
