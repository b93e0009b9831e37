
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"
#include "ngx_http_upload_store_jobs.h"


/*
 * What every part of a job uses: a provider's slots (the pids of the
 * workers using them, in the shared zone), the worker's list of entries
 * due, a later attempt (the entry's mtime), and the job's end: its entry
 * removed if it is done, all it held given back.
 */


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
    if (done) {
        ngx_http_upload_store_job_unlink(job);
    }

    ngx_http_upload_store_job_release(job);

    if (job->audio != NGX_INVALID_FILE) {
        (void) ngx_close_file(job->audio);
    }

    if (job->slot != NGX_CONF_UNSET_UINT) {
        ngx_http_upload_store_slot_give(job->slot);
        ngx_queue_remove(&job->queue);

        /* a slot is free: the entries seen due */

        ngx_http_upload_store_jobs_post();
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


/*
 * a slot of the provider's, free or held by a worker that is gone, taken
 * across workers through the zone; slot NULL: only whether there is one
 */

ngx_int_t
ngx_http_upload_store_slot_take(ngx_http_upload_store_remote_t *remote,
    ngx_uint_t *slot)
{
    ngx_uint_t         i;
    ngx_atomic_t      *s;
    ngx_atomic_uint_t  pid;

    s = ngx_http_upload_store_jobs->slots + remote->slot;

    for (i = 0; i < remote->concurrency; i++) {
        if (s[i] == 0
            && (slot == NULL || ngx_atomic_cmp_set(&s[i], 0, ngx_pid)))
        {
            goto found;
        }
    }

    for (i = 0; i < remote->concurrency; i++) {
        pid = s[i];

        if (pid != 0 && pid != (ngx_atomic_uint_t) ngx_pid
            && kill((ngx_pid_t) pid, 0) == -1 && ngx_errno == ESRCH
            && (slot == NULL || ngx_atomic_cmp_set(&s[i], pid, ngx_pid)))
        {
            goto found;
        }
    }

    return NGX_DECLINED;

found:

    if (slot != NULL) {
        *slot = remote->slot + i;
    }

    return NGX_OK;
}


/* whether a provider has a slot to give: a look, not a claim */

ngx_uint_t
ngx_http_upload_store_slots_free(ngx_http_upload_store_remote_t *remote)
{
    return ngx_http_upload_store_slot_take(remote, NULL) == NGX_OK;
}


/* an entry due, to be taken when its provider has a slot */

void
ngx_http_upload_store_jobs_ready(ngx_http_upload_store_t *store,
    ngx_http_upload_store_remote_t *remote, u_char *id)
{
    ngx_http_upload_store_jobs_t   *jobs;
    ngx_http_upload_store_ready_t  *r;

    jobs = ngx_http_upload_store_jobs;

    if (jobs == NULL) {
        return;
    }

    if (jobs->nready == NGX_HTTP_UPLOAD_STORE_READY) {
        jobs->overflow[remote - (ngx_http_upload_store_remote_t *)
                                jobs->usmcf->remotes.elts] = 1;
        return;
    }

    r = &jobs->ready[(jobs->first + jobs->nready++)
                     % NGX_HTTP_UPLOAD_STORE_READY];
    r->store = store;
    r->remote = remote;
    ngx_memcpy(r->name, id, NGX_HTTP_UPLOAD_STORE_ID_LEN);

    /* an entry kept again while they are taken waits for the next slot */

    if (!jobs->taking) {
        ngx_http_upload_store_jobs_post();
    }
}


/* the wait before attempt n + 1: doubled each time, with jitter */

ngx_msec_t
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

void
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


/* what cannot be done now (a save, a read, a handle) is tried later */

void
ngx_http_upload_store_job_postpone(ngx_http_upload_store_job_t *job,
    char *why)
{
    uint64_t    now;
    ngx_msec_t  delay;

    delay = ngx_http_upload_store_job_backoff(job->remote,
                                    ngx_max(job->record.attempts, 1));
    now = ngx_http_upload_store_now();

    ngx_http_upload_store_job_later(job, now + delay);

    ngx_log_error(NGX_LOG_WARN, job->log, 0,
                  "upload store: job of customer \"%V\", id %*s: %s, "
                  "again in %M ms", &job->record.customer,
                  (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, job->record.id,
                  why, delay);

    ngx_http_upload_store_job_end(job, 0);
}


/* the request made (provider's or webhook's): its handle and its parts */

void
ngx_http_upload_store_job_release(ngx_http_upload_store_job_t *job)
{
    if (job->started) {
        ngx_http_upload_store_stats_job_running(job->store, -1);
        job->started = 0;
    }

    if (job->wait.timer_set) {
        ngx_del_timer(&job->wait);
    }

    ngx_http_upload_store_curl_free(&job->transfer, &job->headers);

    if (job->mime != NULL) {
        curl_mime_free(job->mime);
        job->mime = NULL;
    }
}


/*
 * the audio, as curl sends it (a provider's request, an object or its
 * part): from the page cache, a buffer at a time, up to job->end
 */

size_t
ngx_http_upload_store_job_read_audio(char *buf, size_t size, size_t n,
    void *data)
{
    ngx_http_upload_store_job_t *job = data;

    size_t   len;
    ssize_t  rc;

    len = (size_t) ngx_min((off_t) (size * n), job->end - job->offset);

    if (len == 0) {
        return 0;
    }

    rc = pread(job->audio, buf, len, job->offset);

    if (rc == -1) {
        ngx_log_error(NGX_LOG_CRIT, job->log, ngx_errno,
                      "pread() \"%V\" failed", &job->record.path);
        return CURL_READFUNC_ABORT;
    }

    job->offset += rc;

    return rc;
}


int
ngx_http_upload_store_job_seek(void *data, curl_off_t offset, int origin)
{
    ngx_http_upload_store_job_t *job = data;

    if (origin != SEEK_SET || offset < 0 || offset > job->end) {
        return CURL_SEEKFUNC_CANTSEEK;
    }

    job->offset = offset;

    return CURL_SEEKFUNC_OK;
}


/* the entries seen due, taken at the end of this turn of the loop */

void
ngx_http_upload_store_jobs_post(void)
{
    ngx_http_upload_store_jobs_t  *jobs;

    jobs = ngx_http_upload_store_jobs;

    if (jobs != NULL && !jobs->more.posted && !ngx_exiting && !ngx_terminate)
    {
        ngx_post_event(&jobs->more, &ngx_posted_events);
    }
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
