
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"


/*
 * Retention: every worker has a timer per store; the worker that takes the
 * store's owner record in the shared zone sweeps it, a slice at a time, so
 * that the event loop is never held for long, over the backend's walk of
 * the store.  What goes:
 *
 *     uploads and records      older than retention
 *     bodies in {root}/.tmp    orphans, older than 1h
 *
 * The backend removes the directories that this empties.
 */

/* one slice: at most this many entries, or this many ms */
#define NGX_HTTP_UPLOAD_STORE_SLICE_FILES  1000
#define NGX_HTTP_UPLOAD_STORE_SLICE_MSEC   5

/* in a thread: the heartbeat is written between slices */
#define NGX_HTTP_UPLOAD_STORE_THREAD_FILES  10000
#define NGX_HTTP_UPLOAD_STORE_THREAD_MSEC   500

/*
 * the uploads a slice removed, kept for their objects' deletion (at most
 * one per entry of a slice in a thread), each "{customer}/{category}/
 * {day}/{id}" in a slot of this size
 */
#define NGX_HTTP_UPLOAD_STORE_GONE_MAX     NGX_HTTP_UPLOAD_STORE_THREAD_FILES
#define NGX_HTTP_UPLOAD_STORE_GONE_LEN                                       \
    (2 * (NGX_HTTP_UPLOAD_STORE_NAME_MAX + 1) + sizeof("YYYY-MM-DD/")        \
     + NGX_HTTP_UPLOAD_STORE_ID_LEN)

/* a body temp file this old belongs to no request */
#define NGX_HTTP_UPLOAD_STORE_ORPHAN_AGE   3600

/*
 * between runs each worker looks at the owner record once a second (runs
 * are "interval" apart): a forced run or a dead owner is noticed soon
 */
#define NGX_HTTP_UPLOAD_STORE_IDLE         1000

/* an owner that has not been heard of for this long is dead */
#define NGX_HTTP_UPLOAD_STORE_OWNER_STALE  10


typedef struct {
    ngx_http_upload_store_t        *store;
    ngx_event_t                     event;
    ngx_connection_t                dummy;
    ngx_log_t                      *log;

    ngx_http_upload_store_walk_t    walk;        /* walk.run: the run */
    ngx_msec_t                      started;     /* ngx_current_msec */

#if (NGX_THREADS)
    ngx_thread_task_t              *task;
    ngx_int_t                       rc;          /* the thread's slice */
#endif

    ngx_queue_t                     waiters;     /* of ..._waiter_t */

    u_char                         *gone;        /* uploads removed, */
    ngx_uint_t                      ngone;       /* for the object store */

    unsigned                        running:1;
} ngx_http_upload_store_cleanup_t;


static ngx_int_t ngx_http_upload_store_cleanup_start_timer(
    ngx_cycle_t *cycle, ngx_http_upload_store_t *store);
static ngx_int_t ngx_http_upload_store_cleanup_stop(ngx_cycle_t *cycle,
    ngx_http_upload_store_t *store);
static void ngx_http_upload_store_cleanup_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_upload_store_cleanup_start(
    ngx_http_upload_store_cleanup_t *clean);
static void ngx_http_upload_store_cleanup_next(
    ngx_http_upload_store_cleanup_t *clean, ngx_int_t rc);
static void ngx_http_upload_store_removed(ngx_http_upload_store_walk_t *walk,
    u_char *upload, size_t len);
static void ngx_http_upload_store_cleanup_objects(
    ngx_http_upload_store_cleanup_t *clean);
#if (NGX_THREADS)
static void ngx_http_upload_store_cleanup_thread(void *data, ngx_log_t *log);
static void ngx_http_upload_store_cleanup_thread_done(ngx_event_t *ev);
#endif
static ngx_uint_t ngx_http_upload_store_expired(
    ngx_http_upload_store_walk_t *walk, ngx_http_upload_store_entry_t *e);
static void ngx_http_upload_store_cleanup_wake(
    ngx_http_upload_store_cleanup_t *clean);
static void ngx_http_upload_store_cleanup_finish(
    ngx_http_upload_store_cleanup_t *clean);
static void ngx_http_upload_store_cleanup_close(
    ngx_http_upload_store_cleanup_t *clean);
static void ngx_http_upload_store_cleanup_arm(
    ngx_http_upload_store_cleanup_t *clean, ngx_msec_t delay);


/* in each worker (or the single process): one timer per store */

ngx_int_t
ngx_http_upload_store_cleanup_init(ngx_cycle_t *cycle)
{
    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    return ngx_http_upload_store_each(cycle,
                                    ngx_http_upload_store_cleanup_start_timer);
}


static ngx_int_t
ngx_http_upload_store_cleanup_start_timer(ngx_cycle_t *cycle,
    ngx_http_upload_store_t *store)
{
    ngx_http_upload_store_cleanup_t  *clean;

    clean = ngx_pcalloc(cycle->pool, sizeof(ngx_http_upload_store_cleanup_t));
    if (clean == NULL) {
        return NGX_ERROR;
    }

    clean->store = store;
    clean->log = cycle->log;

    clean->dummy.fd = (ngx_socket_t) -1;
    clean->dummy.data = clean;

    clean->event.handler = ngx_http_upload_store_cleanup_handler;
    clean->event.data = &clean->dummy;
    clean->event.log = cycle->log;
    clean->event.cancelable = 1;

#if (NGX_THREADS)
    if (store->thread_pool) {
        clean->task = ngx_thread_task_alloc(cycle->pool, 0);
        if (clean->task == NULL) {
            return NGX_ERROR;
        }

        clean->task->ctx = clean;
        clean->task->handler = ngx_http_upload_store_cleanup_thread;
        clean->task->event.handler = ngx_http_upload_store_cleanup_thread_done;
        clean->task->event.data = &clean->dummy;
        clean->task->event.log = cycle->log;
    }
#endif

    ngx_queue_init(&clean->waiters);

    store->cleanup = clean;

    /* workers started together do not all look at once */

    ngx_http_upload_store_cleanup_arm(clean, 100 + ngx_random() % 400);

    return NGX_OK;
}


/* the worker leaves: a run it had started is given up for another one */

void
ngx_http_upload_store_cleanup_exit(ngx_cycle_t *cycle)
{
    (void) ngx_http_upload_store_each(cycle,
                                      ngx_http_upload_store_cleanup_stop);
}


static ngx_int_t
ngx_http_upload_store_cleanup_stop(ngx_cycle_t *cycle,
    ngx_http_upload_store_t *store)
{
    if (store->cleanup != NULL) {
        ngx_http_upload_store_cleanup_close(store->cleanup);
    }

    return NGX_OK;
}


/*
 * the admin endpoint wants a run now: the number of the run to wait for,
 * one that starts after this call
 */

ngx_atomic_uint_t
ngx_http_upload_store_cleanup_now(ngx_http_upload_store_t *store)
{
    ngx_atomic_uint_t                 seq;
    ngx_http_upload_store_cleanup_t  *clean;

    seq = store->sh->seq + 1;

    store->sh->force = 1;

    clean = store->cleanup;

    if (clean != NULL && !clean->running && !ngx_exiting) {
        ngx_http_upload_store_cleanup_arm(clean, 1);
    }

    return seq;
}


static void
ngx_http_upload_store_cleanup_handler(ngx_event_t *ev)
{
    ngx_int_t                         rc;
    ngx_msec_t                        start, elapsed;
    ngx_connection_t                 *c;
    ngx_http_upload_store_t          *store;
    ngx_http_upload_store_cleanup_t  *clean;

    c = ev->data;
    clean = c->data;
    store = clean->store;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        ngx_http_upload_store_cleanup_close(clean);
        return;
    }

    if (!clean->running) {
        if (ngx_http_upload_store_cleanup_start(clean) != NGX_OK) {
            ngx_http_upload_store_cleanup_arm(clean,
                                              NGX_HTTP_UPLOAD_STORE_IDLE);
            return;
        }

    } else if (store->sh->owner != (ngx_atomic_uint_t) ngx_pid) {

        /* this worker was thought dead and its run was taken over */

        ngx_log_error(NGX_LOG_WARN, clean->log, 0,
                      "upload store \"%V\": cleanup run %uA given up, "
                      "taken over by worker %uA", &store->name,
                      clean->walk.run.seq, store->sh->owner);

        ngx_http_upload_store_cleanup_close(clean);
        ngx_http_upload_store_cleanup_arm(clean, 1000);
        return;
    }

    store->sh->heartbeat = ngx_time();

#if (NGX_THREADS)

    /* the slice in a thread: the event loop never waits for an unlink() */

    if (store->thread_pool) {
        if (ngx_thread_task_post(store->thread_pool, clean->task) == NGX_OK) {
            return;
        }

        /* the queue is full: this slice here, bounded as ever */
    }

#endif

    start = ngx_http_upload_store_msec();

    rc = store->backend->walk(&clean->walk, NGX_HTTP_UPLOAD_STORE_SLICE_FILES,
                              NGX_HTTP_UPLOAD_STORE_SLICE_MSEC);

    elapsed = ngx_http_upload_store_msec() - start;

    if (elapsed > clean->walk.run.slice) {
        clean->walk.run.slice = elapsed;
    }

    ngx_http_upload_store_cleanup_next(clean, rc);
}


/* after a slice: the next one, or the end of the run */

static void
ngx_http_upload_store_cleanup_next(ngx_http_upload_store_cleanup_t *clean,
    ngx_int_t rc)
{
    ngx_time_update();

    ngx_http_upload_store_cleanup_objects(clean);

    if (rc == NGX_AGAIN) {
        /* the events that came meanwhile go first */
        ngx_http_upload_store_cleanup_arm(clean, 1);
        return;
    }

    if (clean->store->sh->owner != (ngx_atomic_uint_t) ngx_pid) {

        /* a slice so slow that another worker took over meanwhile */

        ngx_http_upload_store_cleanup_close(clean);
        ngx_http_upload_store_cleanup_arm(clean, NGX_HTTP_UPLOAD_STORE_IDLE);
        return;
    }

    ngx_http_upload_store_cleanup_finish(clean);
    ngx_http_upload_store_cleanup_arm(clean, NGX_HTTP_UPLOAD_STORE_IDLE);
}


#if (NGX_THREADS)

/* in a thread of the pool: a longer slice, the event loop is not held */

static void
ngx_http_upload_store_cleanup_thread(void *data, ngx_log_t *log)
{
    ngx_http_upload_store_cleanup_t  *clean = data;

    clean->rc = clean->store->backend->walk(&clean->walk,
                                      NGX_HTTP_UPLOAD_STORE_THREAD_FILES,
                                      NGX_HTTP_UPLOAD_STORE_THREAD_MSEC);
}


/* back in the event loop */

static void
ngx_http_upload_store_cleanup_thread_done(ngx_event_t *ev)
{
    ngx_connection_t                 *c;
    ngx_http_upload_store_cleanup_t  *clean;

    c = ev->data;
    clean = c->data;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        ngx_http_upload_store_cleanup_close(clean);
        return;
    }

    clean->store->sh->heartbeat = ngx_time();

    ngx_http_upload_store_cleanup_next(clean, clean->rc);
}

#endif


/* NGX_OK: this worker owns the store and starts a run */

static ngx_int_t
ngx_http_upload_store_cleanup_start(ngx_http_upload_store_cleanup_t *clean)
{
    time_t                       now;
    ngx_atomic_uint_t            owner;
    ngx_http_upload_store_t     *store;
    ngx_http_upload_store_sh_t  *sh;

    store = clean->store;
    sh = store->sh;
    now = ngx_time();

    /*
     * an owner that died (SIGKILL, a crash) is replaced at once, and its
     * run made again, whether or not a run is due
     */

    owner = sh->owner;

    if (owner == (ngx_atomic_uint_t) ngx_pid) {
        /* not in a run (this is called between runs): a record left over */
        (void) ngx_atomic_cmp_set(&sh->owner, owner, 0);
        owner = 0;
    }

    if (owner != 0
        && (now - (time_t) sh->heartbeat >= NGX_HTTP_UPLOAD_STORE_OWNER_STALE
            || (kill((ngx_pid_t) owner, 0) == -1 && ngx_errno == ESRCH))
        && ngx_atomic_cmp_set(&sh->owner, owner, 0))
    {
        ngx_log_error(NGX_LOG_WARN, clean->log, 0,
                      "upload store \"%V\": cleanup owner, worker %uA, "
                      "is gone; its run is made again", &store->name, owner);

        sh->next_run = 0;
    }

    if (!sh->force && now < (time_t) sh->next_run) {
        return NGX_DECLINED;
    }

    if (!ngx_atomic_cmp_set(&sh->owner, 0, ngx_pid)) {
        return NGX_DECLINED;
    }

    /* another worker may have just finished a run */

    if (!sh->force && now < (time_t) sh->next_run) {
        sh->owner = 0;
        return NGX_DECLINED;
    }

    sh->force = 0;
    sh->next_run = now + store->interval;
    sh->heartbeat = now;

    ngx_memzero(&clean->walk.run, sizeof(ngx_http_upload_store_run_t));

    clean->walk.run.seq = ngx_atomic_fetch_add(&sh->seq, 1) + 1;
    clean->walk.run.pid = ngx_pid;
    clean->walk.run.start = (ngx_atomic_uint_t) ngx_http_upload_store_now();
    clean->started = ngx_current_msec;

    clean->walk.store = store;
    clean->walk.log = clean->log;
    clean->walk.expired = ngx_http_upload_store_expired;
    clean->walk.removed = store->object ? ngx_http_upload_store_removed
                                        : NULL;
    clean->walk.data = clean;

    /* a root that cannot be opened is the run's failure, and its end */

    (void) store->backend->walk_open(&clean->walk);

    clean->running = 1;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, clean->log, 0,
                   "upload store \"%V\": cleanup run %uA", &store->name,
                   clean->walk.run.seq);

    return NGX_OK;
}


/*
 * an upload removed, in the walk (a thread, perhaps): kept, without a
 * pool, for the event loop to queue its objects' deletion
 */

static void
ngx_http_upload_store_removed(ngx_http_upload_store_walk_t *walk,
    u_char *upload, size_t len)
{
    u_char                           *p;
    ngx_http_upload_store_cleanup_t  *clean;

    clean = walk->data;

    if (len >= NGX_HTTP_UPLOAD_STORE_GONE_LEN
        || clean->ngone == NGX_HTTP_UPLOAD_STORE_GONE_MAX)
    {
        return;
    }

    if (clean->gone == NULL) {
        clean->gone = ngx_alloc(NGX_HTTP_UPLOAD_STORE_GONE_MAX
                                * NGX_HTTP_UPLOAD_STORE_GONE_LEN, walk->log);
        if (clean->gone == NULL) {
            return;
        }
    }

    p = clean->gone + clean->ngone++ * NGX_HTTP_UPLOAD_STORE_GONE_LEN;
    *p++ = (u_char) len;
    ngx_memcpy(p, upload, len);
}


/*
 * the uploads a slice removed: each one's objects deleted by a job of
 * the object store's queue
 */

static void
ngx_http_upload_store_cleanup_objects(ngx_http_upload_store_cleanup_t *clean)
{
    u_char                          *p, *last, *slash[3];
    ngx_uint_t                       i, n, queued;
    ngx_pool_t                      *pool;
    ngx_http_upload_store_record_t   rec;

    if (clean->ngone == 0) {
        return;
    }

    pool = ngx_create_pool(4096, clean->log);
    queued = 0;

    for (i = 0; pool != NULL && i < clean->ngone; i++) {
        p = clean->gone + i * NGX_HTTP_UPLOAD_STORE_GONE_LEN;
        last = p + 1 + *p;
        p++;

        ngx_memzero(&rec, sizeof(ngx_http_upload_store_record_t));

        for (n = 0; n < 3; n++) {
            slash[n] = ngx_strlchr(n ? slash[n - 1] + 1 : p, last, '/');

            if (slash[n] == NULL) {
                break;
            }
        }

        if (n < 3) {
            continue;
        }

        rec.customer.data = p;
        rec.customer.len = slash[0] - p;
        rec.category.data = slash[0] + 1;
        rec.category.len = slash[1] - rec.category.data;

        if (last - slash[2] - 1 != NGX_HTTP_UPLOAD_STORE_ID_LEN
            || ngx_http_upload_store_parse_id(slash[2] + 1,
                                              NGX_HTTP_UPLOAD_STORE_ID_LEN,
                                              &rec.created)
               != NGX_OK)
        {
            continue;
        }

        ngx_memcpy(rec.id, slash[2] + 1, NGX_HTTP_UPLOAD_STORE_ID_LEN);

        if (ngx_http_upload_store_offload_queue(clean->store, &rec, 1, pool,
                                                clean->log)
            == NGX_OK)
        {
            queued++;
        }

        ngx_reset_pool(pool);
    }

    if (pool != NULL) {
        ngx_destroy_pool(pool);
    }

    ngx_log_error(NGX_LOG_INFO, clean->log, 0,
                  "upload store \"%V\": cleanup queued the deletion of the "
                  "objects of %ui expired uploads", &clean->store->name,
                  queued);

    clean->ngone = 0;
}


/* what goes: 1 for an upload past retention, or an orphan body */

static ngx_uint_t
ngx_http_upload_store_expired(ngx_http_upload_store_walk_t *walk,
    ngx_http_upload_store_entry_t *e)
{
    time_t  age;

    age = ngx_time() - e->mtime;

    /* bodies being received are written to: their mtime is recent */

    if (e->level == NGX_HTTP_UPLOAD_STORE_TEMP) {
        return age >= NGX_HTTP_UPLOAD_STORE_ORPHAN_AGE;
    }

    return walk->store->retention != 0 && age >= walk->store->retention;
}


static void
ngx_http_upload_store_cleanup_finish(ngx_http_upload_store_cleanup_t *clean)
{
    ngx_http_upload_store_t      *store;
    ngx_http_upload_store_run_t  *run;

    store = clean->store;
    run = &clean->walk.run;

    store->backend->walk_close(&clean->walk);
    clean->running = 0;

    ngx_time_update();
    run->duration = ngx_current_msec - clean->started;

    if (run->failed) {
        ngx_log_error(NGX_LOG_CRIT, clean->log, 0,
                      "upload store \"%V\": cleanup could not remove "
                      "%uA entries, the first: %s", &store->name,
                      run->failed, run->errors[0]);
    }

    ngx_log_error(NGX_LOG_INFO, clean->log, 0,
                  "upload store \"%V\": cleanup run %uA: %uA scanned, "
                  "%uA deleted, %uA temp files, %uA bytes freed, "
                  "%uA dirs removed, %uA failed, %uA skipped in %uA ms, "
                  "longest slice %uA ms",
                  &store->name, run->seq, run->scanned, run->deleted,
                  run->temp, run->freed, run->dirs, run->failed,
                  run->skipped, run->duration, run->slice);

    ngx_http_upload_store_stats_cleanup(store, run, 1);

    if (clean->gone != NULL) {
        ngx_free(clean->gone);
        clean->gone = NULL;
    }

    (void) ngx_atomic_cmp_set(&store->sh->owner, ngx_pid, 0);

    ngx_http_upload_store_cleanup_wake(clean);
}


/* stops a run: the walk closed, the owner record given back */

static void
ngx_http_upload_store_cleanup_close(ngx_http_upload_store_cleanup_t *clean)
{
    ngx_http_upload_store_t  *store;

    if (!clean->running) {
        return;
    }

    store = clean->store;

    store->backend->walk_close(&clean->walk);
    clean->running = 0;

    /* what was deleted is deleted: the totals say so */

    ngx_http_upload_store_stats_cleanup(store, &clean->walk.run, 0);

    if (ngx_atomic_cmp_set(&store->sh->owner, ngx_pid, 0)) {

        /* the run starts over in another worker */

        store->sh->next_run = 0;

        ngx_log_error(NGX_LOG_NOTICE, clean->log, 0,
                      "upload store \"%V\": cleanup run %uA given up after "
                      "%uA entries, the worker is exiting",
                      &store->name, clean->walk.run.seq,
                      clean->walk.run.scanned);
    }

    ngx_http_upload_store_cleanup_wake(clean);
}


/*
 * a request of this worker waits for a run's end: woken when a run of
 * this worker ends (one of another worker's is seen by its own timer)
 */

void
ngx_http_upload_store_cleanup_wait(ngx_http_upload_store_t *store,
    ngx_http_upload_store_waiter_t *waiter)
{
    ngx_http_upload_store_cleanup_t  *clean;

    clean = store->cleanup;

    if (clean == NULL || waiter->queue.next != NULL) {
        return;
    }

    ngx_queue_insert_tail(&clean->waiters, &waiter->queue);
}


void
ngx_http_upload_store_cleanup_unwait(ngx_http_upload_store_waiter_t *waiter)
{
    if (waiter->queue.next != NULL) {
        ngx_queue_remove(&waiter->queue);
        waiter->queue.next = NULL;
    }
}


static void
ngx_http_upload_store_cleanup_wake(ngx_http_upload_store_cleanup_t *clean)
{
    ngx_queue_t                     *q;
    ngx_http_upload_store_waiter_t  *waiter;

    while (!ngx_queue_empty(&clean->waiters)) {
        q = ngx_queue_head(&clean->waiters);
        waiter = ngx_queue_data(q, ngx_http_upload_store_waiter_t, queue);

        ngx_queue_remove(q);
        waiter->queue.next = NULL;

        ngx_post_event(waiter->event, &ngx_posted_events);
    }
}


static void
ngx_http_upload_store_cleanup_arm(ngx_http_upload_store_cleanup_t *clean,
    ngx_msec_t delay)
{
    if (clean->event.timer_set) {
        ngx_del_timer(&clean->event);
    }

    ngx_add_timer(&clean->event, delay);
}
