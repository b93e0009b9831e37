
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"
#include "ngx_http_upload_store_jobs.h"

#include <sys/file.h>


/*
 * Background transcription jobs.  A job is the upload's record (status
 * "queued") and an entry {root}/.jobs/{id}, whose content names the
 * upload and the provider, and whose mtime is when it may run next.
 * Every worker looks at the queue once a second; a worker runs a job
 * while it holds flock(LOCK_EX) on its entry: the lease, which the
 * kernel gives back when the worker dies, whatever the binary.  The
 * provider is called by libcurl on the worker's multi handle
 * (ngx_http_upload_store_curl.c), the audio streamed from its file; a
 * provider's requests in flight, across workers, are slots in a shared
 * zone, each the pid of the worker using it.  The queue is the node's
 * own: its files are local, whatever the backend of the records.
 */


static void ngx_http_upload_store_jobs_scan(ngx_event_t *ev);
static ngx_int_t ngx_http_upload_store_jobs_scan_store(ngx_cycle_t *cycle,
    ngx_http_upload_store_t *store);
static void ngx_http_upload_store_jobs_scan_queue(
    ngx_http_upload_store_t *store, ngx_http_upload_store_remote_t *remote,
    ngx_uint_t *queued, uint64_t *oldest);
static ngx_int_t ngx_http_upload_store_job_claim(
    ngx_http_upload_store_t *store, ngx_http_upload_store_remote_t *remote,
    int dir, u_char *path, u_char *name);
static ngx_int_t ngx_http_upload_store_job_read(ngx_http_upload_store_job_t
    *job, ngx_str_t *remote, ngx_str_t *location);
static void ngx_http_upload_store_job_run(ngx_http_upload_store_job_t *job);
static void ngx_http_upload_store_jobs_more(ngx_event_t *ev);
static ngx_http_upload_store_loc_conf_t *ngx_http_upload_store_job_location(
    ngx_str_t *store, ngx_str_t *location);


ngx_http_upload_store_jobs_t  *ngx_http_upload_store_jobs;


/* in each worker: the multi handle and the first look at the queues */

ngx_int_t
ngx_http_upload_store_jobs_init(ngx_cycle_t *cycle)
{
    ngx_http_upload_store_jobs_t       *jobs;
    ngx_http_upload_store_main_conf_t  *usmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    usmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                                ngx_http_upload_store_module);

    if (usmcf == NULL || usmcf->slots == NULL
        || (usmcf->jobs.nelts == 0 && usmcf->objects.nelts == 0))
    {
        return NGX_OK;
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "upload store: curl_global_init() failed");
        return NGX_ERROR;
    }

    if (ngx_http_upload_store_curl_init(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    jobs = ngx_pcalloc(cycle->pool, sizeof(ngx_http_upload_store_jobs_t));
    if (jobs == NULL) {
        return NGX_ERROR;
    }

    jobs->cycle = cycle;
    jobs->usmcf = usmcf;

    jobs->overflow = ngx_pcalloc(cycle->pool, usmcf->remotes.nelts);
    if (jobs->overflow == NULL) {
        return NGX_ERROR;
    }

    jobs->slots = usmcf->slots->data;

    ngx_queue_init(&jobs->running);

    jobs->scan.handler = ngx_http_upload_store_jobs_scan;
    jobs->scan.data = jobs;
    jobs->scan.log = cycle->log;
    jobs->scan.cancelable = 1;

    jobs->more.handler = ngx_http_upload_store_jobs_more;
    jobs->more.data = jobs;
    jobs->more.log = cycle->log;

    ngx_http_upload_store_jobs = jobs;

    /* the workers do not all look at once */

    ngx_add_timer(&jobs->scan, 50 + ngx_random() % 200);

    return NGX_OK;
}


/*
 * the worker leaves at once (a fast shutdown, or after the jobs of a
 * graceful one): what still runs is left to the worker that takes the
 * entry next, which calls the provider again
 */

void
ngx_http_upload_store_jobs_exit(ngx_cycle_t *cycle)
{
    ngx_queue_t                  *q;
    ngx_http_upload_store_job_t  *job;

    if (ngx_http_upload_store_jobs == NULL) {
        return;
    }

    while (!ngx_queue_empty(&ngx_http_upload_store_jobs->running)) {
        q = ngx_queue_head(&ngx_http_upload_store_jobs->running);
        job = ngx_queue_data(q, ngx_http_upload_store_job_t, queue);

        ngx_log_error(NGX_LOG_INFO, job->log, 0,
                      "upload store: job of customer \"%V\", id %*s, "
                      "left to another worker", &job->record.customer,
                      (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, job->record.id);

        ngx_http_upload_store_curl_stop(&job->transfer);
        ngx_http_upload_store_job_end(job, 0);
    }

    ngx_http_upload_store_curl_exit();
    curl_global_cleanup();

    ngx_http_upload_store_jobs = NULL;
}


/* a look at every store's queue; the next one sooner if a job is due */

static void
ngx_http_upload_store_jobs_scan(ngx_event_t *ev)
{
    ngx_msec_t                     wait;
    ngx_http_upload_store_jobs_t  *jobs;

    jobs = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    jobs->next = ngx_http_upload_store_msec() + NGX_HTTP_UPLOAD_STORE_SCAN;

    /* the list of entries due is made again */

    jobs->nready = 0;
    jobs->first = 0;
    ngx_memzero(jobs->overflow, jobs->usmcf->remotes.nelts);

    (void) ngx_http_upload_store_each(jobs->cycle,
                                      ngx_http_upload_store_jobs_scan_store);

    if (ngx_http_upload_store_jobs == NULL || ev->timer_set) {
        return;
    }

    wait = jobs->next - ngx_http_upload_store_msec();

    if ((ngx_msec_int_t) wait < 10) {
        wait = 10;
    }

    ngx_add_timer(ev, wait);
}


static ngx_int_t
ngx_http_upload_store_jobs_scan_store(ngx_cycle_t *cycle,
    ngx_http_upload_store_t *store)
{
    uint64_t                         oldest, first;
    ngx_uint_t                       i, queued, offloads;
    ngx_http_upload_store_remote_t  *remote;

    if (store->jobs_path == NULL) {
        return NGX_OK;
    }

    queued = 0;
    offloads = 0;
    oldest = 0;
    first = 0;
    remote = ngx_http_upload_store_jobs->usmcf->remotes.elts;

    for (i = 0; i < ngx_http_upload_store_jobs->usmcf->remotes.nelts; i++) {

        /* an object store's offloads: its own store's only */

        if (remote[i].store != NULL) {
            if (remote[i].store == store) {
                ngx_http_upload_store_jobs_scan_queue(store, &remote[i],
                                                      &offloads, &first);
            }

        } else {
            ngx_http_upload_store_jobs_scan_queue(store, &remote[i],
                                                  &queued, &oldest);
        }

        if (ngx_http_upload_store_jobs == NULL) {
            return NGX_OK;
        }
    }

    ngx_http_upload_store_stats_queue(store, queued, oldest);
    ngx_http_upload_store_stats_offloads(store, offloads);

    return NGX_OK;
}


/*
 * a provider's queue in a store: its entries counted, those due taken
 * while the provider has slots, then a few kept for when it has again
 */

static void
ngx_http_upload_store_jobs_scan_queue(ngx_http_upload_store_t *store,
    ngx_http_upload_store_remote_t *remote, ngx_uint_t *queued,
    uint64_t *oldest)
{
    DIR                           *dir;
    u_char                         path[NGX_MAX_PATH];
    uint64_t                       ms, now;
    ngx_int_t                      rc;
    ngx_uint_t                     full;
    ngx_msec_t                     next;
    struct stat                    st;
    struct dirent                 *de;
    ngx_http_upload_store_jobs_t  *jobs;

    jobs = ngx_http_upload_store_jobs;

    if (ngx_http_upload_store_jobs_name(path, sizeof(path), &store->root,
                                        &remote->name, NULL)
        == NULL)
    {
        return;
    }

    dir = opendir((char *) path);

    if (dir == NULL) {
        if (ngx_errno != NGX_ENOENT) {
            ngx_log_error(NGX_LOG_CRIT, jobs->cycle->log, ngx_errno,
                          "opendir() \"%s\" failed", path);
        }

        return;
    }

    now = ngx_http_upload_store_now();
    full = !ngx_http_upload_store_slots_free(remote);

    for ( ;; ) {
        de = readdir(dir);

        if (de == NULL) {
            break;
        }

        if (ngx_strlen(de->d_name) != NGX_HTTP_UPLOAD_STORE_ID_LEN
            || ngx_http_upload_store_parse_id((u_char *) de->d_name,
                                              NGX_HTTP_UPLOAD_STORE_ID_LEN,
                                              &ms)
               != NGX_OK)
        {
            continue;
        }

        /* its id says when it was queued first */

        (*queued)++;

        if (*oldest == 0 || ms < *oldest) {
            *oldest = ms;
        }

        /* a busy provider: no more than what the ready list can hold */

        if (full && jobs->nready == NGX_HTTP_UPLOAD_STORE_READY) {
            jobs->overflow[remote - (ngx_http_upload_store_remote_t *)
                                    jobs->usmcf->remotes.elts] = 1;
            continue;
        }

        if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1
            || !S_ISREG(st.st_mode))
        {
            continue;
        }

        /* its mtime is when it may run */

        ms = (uint64_t) st.st_mtim.tv_sec * 1000
             + st.st_mtim.tv_nsec / 1000000;

        if (ms > now) {
            next = ngx_http_upload_store_msec() + (ngx_msec_t) (ms - now);

            if ((ngx_msec_int_t) (next - jobs->next) < 0) {
                jobs->next = next;
            }

            continue;
        }

        rc = full ? NGX_BUSY
                  : ngx_http_upload_store_job_claim(store, remote,
                                                    dirfd(dir),
                                                    (u_char *) de->d_name,
                                                    (u_char *) de->d_name);

        if (ngx_http_upload_store_jobs == NULL) {
            break;
        }

        if (rc == NGX_BUSY) {
            full = 1;
            ngx_http_upload_store_jobs_ready(store, remote,
                                             (u_char *) de->d_name);
        }
    }

    (void) closedir(dir);
}


/*
 * an entry due: taken if a slot of its provider is free and no other
 * worker holds it; NGX_OK (its job runs, or ended), NGX_BUSY (no slot),
 * NGX_DECLINED (not to be run by this worker now)
 */

static ngx_int_t
ngx_http_upload_store_job_claim(ngx_http_upload_store_t *store,
    ngx_http_upload_store_remote_t *remote, int dir, u_char *path,
    u_char *name)
{
    int                           fd;
    ngx_str_t                     provider, location, temp;
    ngx_uint_t                    slot;
    ngx_pool_t                   *pool;
    struct stat                   st;
    ngx_http_upload_store_job_t  *job;

    if (ngx_http_upload_store_slot_take(remote, &slot) != NGX_OK) {
        return NGX_BUSY;
    }

    fd = openat(dir, (char *) path, O_RDWR|O_NOFOLLOW|O_CLOEXEC);

    if (fd == -1) {
        ngx_http_upload_store_slot_give(slot);
        return NGX_DECLINED;
    }

    /*
     * another worker runs it; or it was removed between the look and the
     * lock: its job is over; or another worker put it off meanwhile
     */

    if (flock(fd, LOCK_EX|LOCK_NB) == -1
        || fstat(fd, &st) == -1 || st.st_nlink == 0
        || (uint64_t) st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000
           > ngx_http_upload_store_now())
    {
        (void) close(fd);
        ngx_http_upload_store_slot_give(slot);
        return NGX_DECLINED;
    }

    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL) {
        (void) close(fd);
        ngx_http_upload_store_slot_give(slot);
        return NGX_DECLINED;
    }

    job = ngx_pcalloc(pool, sizeof(ngx_http_upload_store_job_t));
    if (job == NULL) {
        ngx_destroy_pool(pool);
        (void) close(fd);
        ngx_http_upload_store_slot_give(slot);
        return NGX_DECLINED;
    }

    job->pool = pool;
    job->log = ngx_cycle->log;
    job->store = store;
    job->remote = remote;
    job->entry = fd;
    job->audio = NGX_INVALID_FILE;
    job->slot = slot;

    ngx_queue_insert_tail(&ngx_http_upload_store_jobs->running, &job->queue);

    ngx_memcpy(job->record.id, name, NGX_HTTP_UPLOAD_STORE_ID_LEN);

    /* the id gives the day directory */

    (void) ngx_http_upload_store_parse_id(name, NGX_HTTP_UPLOAD_STORE_ID_LEN,
                                          &job->record.created);

    if (ngx_http_upload_store_job_paths(pool, store, &remote->name,
                                        job->record.id, &job->entry_path,
                                        &temp)
        != NGX_OK
        || ngx_http_upload_store_job_read(job, &provider, &location)
           != NGX_OK)
    {
        ngx_http_upload_store_job_end(job, 0);
        return NGX_OK;
    }

    if (remote->store != NULL) {
        ngx_http_upload_store_offload_run(job);
        return NGX_OK;
    }

    job->uslcf = ngx_http_upload_store_job_location(&store->name, &location);

    ngx_http_upload_store_job_run(job);

    return NGX_OK;
}


/* the entry's content: the upload, the provider, the queuing location */

static ngx_int_t
ngx_http_upload_store_job_read(ngx_http_upload_store_job_t *job,
    ngx_str_t *remote, ngx_str_t *location)
{
    u_char                          *buf;
    json_t                          *json, *v;
    ssize_t                          n;
    json_error_t                     error;
    ngx_http_upload_store_record_t  *rec;

    rec = &job->record;

    buf = ngx_pnalloc(job->pool, NGX_HTTP_UPLOAD_STORE_ENTRY_MAX);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    n = pread(job->entry, buf, NGX_HTTP_UPLOAD_STORE_ENTRY_MAX, 0);

    json = (n > 0 && n < NGX_HTTP_UPLOAD_STORE_ENTRY_MAX)
           ? json_loadb((char *) buf, n, 0, &error) : NULL;

    v = json_object_get(json, "id");

    if (json == NULL || !json_is_string(v)
        || json_string_length(v) != NGX_HTTP_UPLOAD_STORE_ID_LEN
        || ngx_strncmp(json_string_value(v), rec->id,
                       NGX_HTTP_UPLOAD_STORE_ID_LEN) != 0
        || !json_is_string(json_object_get(json, "customer"))
        || !json_is_string(json_object_get(json, "category"))
        || !json_is_string(json_object_get(json, "provider")))
    {
        ngx_log_error(NGX_LOG_ERR, job->log, 0,
                      "upload store \"%V\": job entry \"%V\" is invalid, "
                      "removed", &job->store->name, &job->entry_path);
        json_decref(json);
        ngx_http_upload_store_job_unlink(job);
        return NGX_ERROR;
    }

    remote->len = json_string_length(json_object_get(json, "provider"));
    rec->customer.len = json_string_length(json_object_get(json,
                                                           "customer"));
    rec->category.len = json_string_length(json_object_get(json,
                                                           "category"));
    v = json_object_get(json, "location");
    location->len = json_is_string(v) ? json_string_length(v) : 0;

    remote->data = ngx_pnalloc(job->pool, remote->len + rec->customer.len
                                          + rec->category.len
                                          + location->len + 4);
    if (remote->data == NULL) {
        json_decref(json);
        return NGX_ERROR;
    }

    rec->customer.data = ngx_cpymem(remote->data,
                           json_string_value(json_object_get(json,
                                                             "provider")),
                           remote->len);
    rec->category.data = ngx_cpymem(rec->customer.data,
                           json_string_value(json_object_get(json,
                                                             "customer")),
                           rec->customer.len);
    location->data = ngx_cpymem(rec->category.data,
                           json_string_value(json_object_get(json,
                                                             "category")),
                           rec->category.len);
    (void) ngx_cpymem(location->data,
                      location->len ? json_string_value(v) : "",
                      location->len);

    /* an object store's: its objects to delete, named by the audio */

    job->remove = json_is_true(json_object_get(json, "delete"));

    v = json_object_get(json, "attempts");
    job->attempts = (json_is_integer(v) && json_integer_value(v) > 0
                     && json_integer_value(v) < 1000)
                    ? (ngx_uint_t) json_integer_value(v) : 0;

    v = json_object_get(json, "file");

    if (json_is_string(v)) {
        rec->file.len = json_string_length(v);
        rec->file.data = ngx_pnalloc(job->pool, rec->file.len + 1);
        if (rec->file.data == NULL) {
            json_decref(json);
            return NGX_ERROR;
        }

        (void) ngx_cpystrn(rec->file.data, (u_char *) json_string_value(v),
                           rec->file.len + 1);
    }

    json_decref(json);

    /* nothing from a file becomes a path unchecked */

    if (ngx_http_upload_store_valid_name(&rec->customer) != NGX_OK
        || ngx_http_upload_store_valid_name(&rec->category) != NGX_OK
        || (rec->file.len
            && ngx_http_upload_store_valid_file(&rec->file) != NGX_OK))
    {
        ngx_log_error(NGX_LOG_ERR, job->log, 0,
                      "upload store \"%V\": job entry \"%V\" names an "
                      "invalid customer or category, removed",
                      &job->store->name, &job->entry_path);
        ngx_http_upload_store_job_unlink(job);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the record loaded and marked, the audio opened, the request started */

static void
ngx_http_upload_store_job_run(ngx_http_upload_store_job_t *job)
{
    ngx_int_t                        rc;
    ngx_str_t                        raw;
    ngx_file_t                       file;
    ngx_file_info_t                  fi;
    ngx_http_upload_store_t         *store;
    ngx_http_upload_store_record_t  *rec;

    store = job->store;
    rec = &job->record;

    rc = store->backend->load(store, rec, &raw, job->pool, job->log);

    if (rc == NGX_DECLINED) {
        /* the upload was deleted: so is its job */
        ngx_log_error(NGX_LOG_INFO, job->log, 0,
                      "upload store: job of customer \"%V\", id %*s: no "
                      "such upload, its entry removed", &rec->customer,
                      (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, rec->id);
        ngx_http_upload_store_job_end(job, 1);
        return;
    }

    if (rc != NGX_OK) {

        if (ngx_errno == 0) {
            /* not a record of the store's: nothing to run (logged) */
            ngx_http_upload_store_job_end(job, 1);
            return;
        }

        /* it cannot be read now (EMFILE, EIO...): later */

        ngx_http_upload_store_job_postpone(job, "the record cannot be read");
        return;
    }

    if ((rec->state == NGX_HTTP_UPLOAD_STORE_TRANSCRIBED
         || rec->state == NGX_HTTP_UPLOAD_STORE_FAILED)
        && rec->webhook == NGX_HTTP_UPLOAD_STORE_WEBHOOK_PENDING)
    {
        /* ended: only its webhook is left to deliver */

        ngx_http_upload_store_job_webhook_or_end(job);
        return;
    }

    if (rec->state != NGX_HTTP_UPLOAD_STORE_QUEUED
        && rec->state != NGX_HTTP_UPLOAD_STORE_TRANSCRIBING)
    {
        /* ended by a worker that died before it removed the entry */
        ngx_http_upload_store_job_end(job, 1);
        return;
    }

    /* "transcribing": its worker died mid-request, it is made again */

    (void) ngx_http_upload_store_record_set_state(rec,
                                        NGX_HTTP_UPLOAD_STORE_TRANSCRIBING);
    rec->job = 1;
    rec->attempts++;
    rec->next_attempt = 0;

    rc = store->backend->save(store, rec, job->pool, job->log);

    if (rc == NGX_DECLINED) {
        ngx_http_upload_store_job_end(job, 1);
        return;
    }

    if (rc != NGX_OK) {
        /* no call before its attempt is counted on disk */
        ngx_http_upload_store_job_postpone(job, "the record cannot be saved");
        return;
    }

    if (store->backend->open(store, rec, &file, job->log) != NGX_OK) {
        ngx_http_upload_store_job_error(job, "the audio cannot be opened");
        ngx_http_upload_store_job_failed(job,
                                         NGX_HTTP_UPLOAD_STORE_OUTCOME_OTHER,
                                         0);
        return;
    }

    job->audio = file.fd;

    if (ngx_fd_info(job->audio, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, job->log, ngx_errno,
                      ngx_fd_info_n " \"%V\" failed", &rec->path);
        ngx_http_upload_store_job_failed(job,
                                         NGX_HTTP_UPLOAD_STORE_OUTCOME_OTHER,
                                         0);
        return;
    }

    job->size = ngx_file_size(&fi);

    ngx_http_upload_store_stats_job(store, NGX_HTTP_UPLOAD_STORE_JOB_ATTEMPT);
    ngx_http_upload_store_stats_job_running(store, 1);
    job->started = 1;

    ngx_log_error(NGX_LOG_INFO, job->log, 0,
                  "upload store: job of customer \"%V\", id %*s, attempt "
                  "%ui to provider \"%V\"", &rec->customer,
                  (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, rec->id,
                  rec->attempts, &job->remote->name);

    if (ngx_http_upload_store_job_request(job) != NGX_OK
        || ngx_http_upload_store_curl_start(&job->transfer) != NGX_OK)
    {
        ngx_http_upload_store_job_error(job, "the request cannot be made");
        ngx_http_upload_store_job_retry(job, 0);
        return;
    }
}


/*
 * a slot freed, or a job queued: the entries kept are taken in the order
 * they came, where their provider has a slot; a new look only for a
 * provider that has slots and had more entries than were kept
 */

static void
ngx_http_upload_store_jobs_more(ngx_event_t *ev)
{
    u_char                           path[NGX_MAX_PATH];
    ngx_int_t                        rc;
    ngx_uint_t                       i, n;
    ngx_http_upload_store_jobs_t    *jobs;
    ngx_http_upload_store_ready_t    r;
    ngx_http_upload_store_remote_t  *remote;

    jobs = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    jobs->taking = 1;

    for (n = jobs->nready; n && jobs->nready; n--) {
        r = jobs->ready[jobs->first];
        jobs->first = (jobs->first + 1) % NGX_HTTP_UPLOAD_STORE_READY;
        jobs->nready--;

        rc = NGX_BUSY;

        if (ngx_http_upload_store_slots_free(r.remote)
            && ngx_http_upload_store_jobs_name(path, sizeof(path),
                                               &r.store->root,
                                               &r.remote->name, r.name)
               != NULL)
        {
            rc = ngx_http_upload_store_job_claim(r.store, r.remote, AT_FDCWD,
                                                 path, r.name);
        }

        if (ngx_http_upload_store_jobs == NULL) {
            return;
        }

        if (rc == NGX_BUSY) {
            /* kept, at the end */
            ngx_http_upload_store_jobs_ready(r.store, r.remote, r.name);
        }
    }

    jobs->taking = 0;

    remote = jobs->usmcf->remotes.elts;

    for (i = 0; i < jobs->usmcf->remotes.nelts; i++) {
        if (jobs->overflow[i] && ngx_http_upload_store_slots_free(&remote[i]))
        {
            ngx_add_timer(&jobs->scan, 1);
            return;
        }
    }
}


/* the location that queued the job, for its lexicon and keep */

static ngx_http_upload_store_loc_conf_t *
ngx_http_upload_store_job_location(ngx_str_t *store, ngx_str_t *location)
{
    ngx_str_t                           *name, *zone;
    ngx_uint_t                           i;
    ngx_http_upload_store_loc_conf_t   **jobs;
    ngx_http_upload_store_main_conf_t   *usmcf;

    usmcf = ngx_http_upload_store_jobs->usmcf;
    jobs = usmcf->jobs.elts;

    for (i = 0; i < usmcf->jobs.nelts; i++) {
        name = &jobs[i]->clcf->name;
        zone = jobs[i]->receive ? &jobs[i]->receive->shm.name
                                : &jobs[i]->files->shm.name;

        if (zone->len == store->len
            && ngx_strncmp(zone->data, store->data, store->len) == 0
            && name->len == location->len
            && ngx_strncmp(name->data, location->data, name->len) == 0)
        {
            return jobs[i];
        }
    }

    return NULL;
}
