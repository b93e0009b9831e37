
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"
#include "ngx_http_upload_store_store.h"

#include <dirent.h>


/*
 * Retention: every worker has a timer per store; the worker that takes the
 * store's owner record in the shared zone sweeps it, a slice at a time, so
 * that the event loop is never held for long.  The walk keeps its own stack
 * of open directories between slices (ngx_walk_tree() cannot stop and go
 * on), descends with openat(O_NOFOLLOW) only, and knows the layout:
 *
 *     {root}/{customer}/{category}/{day}/files     older than retention
 *     {root}/.tmp/files                            orphans, older than 1h
 *
 * Emptied day, category and customer directories are removed with
 * rmdir(), which fails harmlessly when an upload has just arrived.
 */


#define NGX_HTTP_UPLOAD_STORE_ROOT      0
#define NGX_HTTP_UPLOAD_STORE_CUSTOMER  1
#define NGX_HTTP_UPLOAD_STORE_CATEGORY  2
#define NGX_HTTP_UPLOAD_STORE_DAY       3
#define NGX_HTTP_UPLOAD_STORE_TEMP      4

#define NGX_HTTP_UPLOAD_STORE_LEVELS    4

/* one slice: at most this many entries, or this many ms */
#define NGX_HTTP_UPLOAD_STORE_SLICE_FILES  1000
#define NGX_HTTP_UPLOAD_STORE_SLICE_MSEC   5

/* in a thread: the heartbeat is written between slices */
#define NGX_HTTP_UPLOAD_STORE_THREAD_FILES  10000
#define NGX_HTTP_UPLOAD_STORE_THREAD_MSEC   500

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
    DIR                            *dir;
    ngx_uint_t                      kind;
    size_t                          len;
    u_char                          name[NGX_HTTP_UPLOAD_STORE_FNAME_MAX + 1];
} ngx_http_upload_store_level_t;


typedef struct {
    ngx_http_upload_store_t        *store;
    ngx_event_t                     event;
    ngx_connection_t                dummy;
    ngx_log_t                      *log;

    ngx_uint_t                      depth;       /* 0: no run */
    ngx_http_upload_store_level_t   level[NGX_HTTP_UPLOAD_STORE_LEVELS];

    ngx_http_upload_store_run_t     run;
    ngx_msec_t                      started;     /* ngx_current_msec */

#if (NGX_THREADS)
    ngx_thread_task_t              *task;
    ngx_int_t                       rc;          /* the thread's slice */
#endif

    /* a walk that counts and deletes nothing: the store's size at start */
    unsigned                        count:1;
    off_t                           bytes;
    ngx_uint_t                      files;
    ngx_uint_t                      customers;
} ngx_http_upload_store_cleanup_t;


static ngx_int_t ngx_http_upload_store_cleanup_start_timer(
    ngx_cycle_t *cycle, ngx_http_upload_store_t *store);
static ngx_int_t ngx_http_upload_store_cleanup_stop(ngx_cycle_t *cycle,
    ngx_http_upload_store_t *store);
static ngx_int_t ngx_http_upload_store_each(ngx_cycle_t *cycle,
    ngx_int_t (*handler)(ngx_cycle_t *cycle, ngx_http_upload_store_t *store));
static void ngx_http_upload_store_cleanup_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_upload_store_cleanup_start(
    ngx_http_upload_store_cleanup_t *cl);
static void ngx_http_upload_store_cleanup_next(
    ngx_http_upload_store_cleanup_t *cl, ngx_int_t rc);
#if (NGX_THREADS)
static void ngx_http_upload_store_cleanup_thread(void *data, ngx_log_t *log);
static void ngx_http_upload_store_cleanup_thread_done(ngx_event_t *ev);
#endif
static ngx_int_t ngx_http_upload_store_cleanup_slice(
    ngx_http_upload_store_cleanup_t *cl, ngx_uint_t files, ngx_msec_t msec);
static void ngx_http_upload_store_cleanup_entry(
    ngx_http_upload_store_cleanup_t *cl, ngx_http_upload_store_level_t *lv,
    u_char *name, size_t len);
static ngx_int_t ngx_http_upload_store_cleanup_unlink(
    ngx_http_upload_store_cleanup_t *cl, int fd, u_char *name, size_t len);
static ngx_int_t ngx_http_upload_store_cleanup_push(
    ngx_http_upload_store_cleanup_t *cl, ngx_http_upload_store_level_t *lv,
    u_char *name, size_t len, ngx_uint_t kind);
static void ngx_http_upload_store_cleanup_pop(
    ngx_http_upload_store_cleanup_t *cl);
static void ngx_http_upload_store_cleanup_finish(
    ngx_http_upload_store_cleanup_t *cl);
static void ngx_http_upload_store_cleanup_close(
    ngx_http_upload_store_cleanup_t *cl);
static void ngx_http_upload_store_cleanup_failed(
    ngx_http_upload_store_cleanup_t *cl, ngx_err_t err, char *op,
    u_char *name, size_t len);
static ngx_msec_t ngx_http_upload_store_cleanup_msec(void);
static void ngx_http_upload_store_cleanup_arm(
    ngx_http_upload_store_cleanup_t *cl, ngx_msec_t delay);


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
    ngx_http_upload_store_cleanup_t  *cl;

    cl = ngx_pcalloc(cycle->pool, sizeof(ngx_http_upload_store_cleanup_t));
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->store = store;
    cl->log = cycle->log;

    cl->dummy.fd = (ngx_socket_t) -1;
    cl->dummy.data = cl;

    cl->event.handler = ngx_http_upload_store_cleanup_handler;
    cl->event.data = &cl->dummy;
    cl->event.log = cycle->log;
    cl->event.cancelable = 1;

#if (NGX_THREADS)
    if (store->thread_pool) {
        cl->task = ngx_thread_task_alloc(cycle->pool, 0);
        if (cl->task == NULL) {
            return NGX_ERROR;
        }

        cl->task->ctx = cl;
        cl->task->handler = ngx_http_upload_store_cleanup_thread;
        cl->task->event.handler = ngx_http_upload_store_cleanup_thread_done;
        cl->task->event.data = &cl->dummy;
        cl->task->event.log = cycle->log;
    }
#endif

    store->cleanup = cl;

    /* workers started together do not all look at once */

    ngx_http_upload_store_cleanup_arm(cl, 100 + ngx_random() % 400);

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


/* the stores of the cycle: the zones of upload_store_path */

static ngx_int_t
ngx_http_upload_store_each(ngx_cycle_t *cycle,
    ngx_int_t (*handler)(ngx_cycle_t *cycle, ngx_http_upload_store_t *store))
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_shm_zone_t   *shm_zone;

    part = &cycle->shared_memory.part;
    shm_zone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            shm_zone = part->elts;
            i = 0;
        }

        if (shm_zone[i].tag != &ngx_http_upload_store_module
            || shm_zone[i].data == NULL)
        {
            continue;
        }

        if (handler(cycle, shm_zone[i].data) != NGX_OK) {
            return NGX_ERROR;
        }
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
    ngx_http_upload_store_cleanup_t  *cl;

    seq = store->sh->seq + 1;

    store->sh->force = 1;

    cl = store->cleanup;

    if (cl != NULL && cl->depth == 0 && !ngx_exiting) {
        ngx_http_upload_store_cleanup_arm(cl, 1);
    }

    return seq;
}


/*
 * at start (zone init, in the master): what the store holds, as the
 * cleanup sees it, with the same walk; synchronous, as nginx's own
 * temp path checks are
 */

ngx_int_t
ngx_http_upload_store_cleanup_count(ngx_http_upload_store_t *store,
    ngx_log_t *log)
{
    int                               fd;
    ngx_int_t                         rc;
    ngx_http_upload_store_cleanup_t  *cl;

    cl = ngx_calloc(sizeof(ngx_http_upload_store_cleanup_t), log);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->store = store;
    cl->log = log;
    cl->count = 1;

    fd = open((char *) store->root.data, O_RDONLY|O_DIRECTORY|O_CLOEXEC);

    if (fd != -1) {
        cl->level[0].dir = fdopendir(fd);

        if (cl->level[0].dir == NULL) {
            (void) close(fd);
        }
    }

    if (cl->level[0].dir == NULL) {
        /* not there yet: nginx creates it later */
        ngx_free(cl);
        return NGX_OK;
    }

    cl->level[0].kind = NGX_HTTP_UPLOAD_STORE_ROOT;
    cl->depth = 1;

    while (ngx_http_upload_store_cleanup_slice(cl, NGX_MAX_UINT32_VALUE,
                                               NGX_MAX_INT32_VALUE)
           == NGX_AGAIN)
    {
        /* void */
    }

    rc = NGX_OK;

    if (cl->run.failed) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "upload store \"%V\": %uA entries could not be "
                      "read to size the store, the first: %s",
                      &store->name, cl->run.failed, cl->run.errors[0]);
        rc = NGX_DECLINED;
    }

    store->sh->bytes = cl->bytes;
    store->sh->files = cl->files;
    store->sh->customers = cl->customers;

    ngx_free(cl);

    return rc;
}


static void
ngx_http_upload_store_cleanup_handler(ngx_event_t *ev)
{
    ngx_int_t                         rc;
    ngx_msec_t                        start, elapsed;
    ngx_connection_t                 *c;
    ngx_http_upload_store_t          *store;
    ngx_http_upload_store_cleanup_t  *cl;

    c = ev->data;
    cl = c->data;
    store = cl->store;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        ngx_http_upload_store_cleanup_close(cl);
        return;
    }

    if (cl->depth == 0) {
        if (ngx_http_upload_store_cleanup_start(cl) != NGX_OK) {
            ngx_http_upload_store_cleanup_arm(cl,
                                              NGX_HTTP_UPLOAD_STORE_IDLE);
            return;
        }

    } else if (store->sh->owner != (ngx_atomic_uint_t) ngx_pid) {

        /* this worker was thought dead and its run was taken over */

        ngx_log_error(NGX_LOG_WARN, cl->log, 0,
                      "upload store \"%V\": cleanup run %uA given up, "
                      "taken over by worker %uA", &store->name,
                      cl->run.seq, store->sh->owner);

        ngx_http_upload_store_cleanup_close(cl);
        ngx_http_upload_store_cleanup_arm(cl, 1000);
        return;
    }

    store->sh->heartbeat = ngx_time();

#if (NGX_THREADS)

    /* the slice in a thread: the event loop never waits for an unlink() */

    if (store->thread_pool) {
        if (ngx_thread_task_post(store->thread_pool, cl->task) == NGX_OK) {
            return;
        }

        /* the queue is full: this slice here, bounded as ever */
    }

#endif

    start = ngx_http_upload_store_cleanup_msec();

    rc = ngx_http_upload_store_cleanup_slice(cl,
                                           NGX_HTTP_UPLOAD_STORE_SLICE_FILES,
                                           NGX_HTTP_UPLOAD_STORE_SLICE_MSEC);

    elapsed = ngx_http_upload_store_cleanup_msec() - start;

    if (elapsed > cl->run.slice) {
        cl->run.slice = elapsed;
    }

    ngx_http_upload_store_cleanup_next(cl, rc);
}


/* after a slice: the next one, or the end of the run */

static void
ngx_http_upload_store_cleanup_next(ngx_http_upload_store_cleanup_t *cl,
    ngx_int_t rc)
{
    ngx_time_update();

    if (rc == NGX_AGAIN) {
        /* the events that came meanwhile go first */
        ngx_http_upload_store_cleanup_arm(cl, 1);
        return;
    }

    if (cl->store->sh->owner != (ngx_atomic_uint_t) ngx_pid) {

        /* a slice so slow that another worker took over meanwhile */

        ngx_http_upload_store_cleanup_close(cl);
        ngx_http_upload_store_cleanup_arm(cl, NGX_HTTP_UPLOAD_STORE_IDLE);
        return;
    }

    ngx_http_upload_store_cleanup_finish(cl);
    ngx_http_upload_store_cleanup_arm(cl, NGX_HTTP_UPLOAD_STORE_IDLE);
}


#if (NGX_THREADS)

/* in a thread of the pool: a longer slice, the event loop is not held */

static void
ngx_http_upload_store_cleanup_thread(void *data, ngx_log_t *log)
{
    ngx_http_upload_store_cleanup_t  *cl = data;

    cl->rc = ngx_http_upload_store_cleanup_slice(cl,
                                          NGX_HTTP_UPLOAD_STORE_THREAD_FILES,
                                          NGX_HTTP_UPLOAD_STORE_THREAD_MSEC);
}


/* back in the event loop */

static void
ngx_http_upload_store_cleanup_thread_done(ngx_event_t *ev)
{
    ngx_connection_t                 *c;
    ngx_http_upload_store_cleanup_t  *cl;

    c = ev->data;
    cl = c->data;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        ngx_http_upload_store_cleanup_close(cl);
        return;
    }

    cl->store->sh->heartbeat = ngx_time();

    ngx_http_upload_store_cleanup_next(cl, cl->rc);
}

#endif


/* NGX_OK: this worker owns the store and starts a run */

static ngx_int_t
ngx_http_upload_store_cleanup_start(ngx_http_upload_store_cleanup_t *cl)
{
    int                          fd;
    time_t                       now;
    ngx_err_t                    err;
    ngx_time_t                  *tp;
    ngx_atomic_uint_t            owner;
    ngx_http_upload_store_t     *store;
    ngx_http_upload_store_sh_t  *sh;

    store = cl->store;
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
        ngx_log_error(NGX_LOG_WARN, cl->log, 0,
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

    ngx_memzero(&cl->run, sizeof(ngx_http_upload_store_run_t));

    cl->run.seq = ngx_atomic_fetch_add(&sh->seq, 1) + 1;
    cl->run.pid = ngx_pid;
    tp = ngx_timeofday();
    cl->run.start = (ngx_atomic_uint_t) tp->sec * 1000 + tp->msec;
    cl->started = ngx_current_msec;

    /* the root may be a symlink the operator made: it is followed */

    fd = open((char *) store->root.data, O_RDONLY|O_DIRECTORY|O_CLOEXEC);

    if (fd != -1) {
        cl->level[0].dir = fdopendir(fd);

        if (cl->level[0].dir == NULL) {
            err = ngx_errno;
            (void) close(fd);
            ngx_set_errno(err);
        }
    }

    if (fd == -1 || cl->level[0].dir == NULL) {
        ngx_http_upload_store_cleanup_failed(cl, ngx_errno, "opendir()",
                                             NULL, 0);
        cl->depth = 0;
        return NGX_OK;
    }

    cl->level[0].kind = NGX_HTTP_UPLOAD_STORE_ROOT;
    cl->level[0].len = 0;
    cl->depth = 1;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, cl->log, 0,
                   "upload store \"%V\": cleanup run %uA", &store->name,
                   cl->run.seq);

    return NGX_OK;
}


/* NGX_AGAIN: the slice's budget is spent, NGX_OK: the run is done */

static ngx_int_t
ngx_http_upload_store_cleanup_slice(ngx_http_upload_store_cleanup_t *cl,
    ngx_uint_t files, ngx_msec_t msec)
{
    size_t                          len;
    ngx_err_t                       err;
    ngx_uint_t                      n;
    ngx_msec_t                      start;
    struct dirent                  *de;
    ngx_http_upload_store_level_t  *lv;

    start = ngx_http_upload_store_cleanup_msec();

    for (n = 1; cl->depth > 0; n++) {

        /* one unlink() can take milliseconds on a busy disk: every entry */

        if (n > files
            || ngx_http_upload_store_cleanup_msec() - start >= msec)
        {
            break;
        }

        lv = &cl->level[cl->depth - 1];

        ngx_set_errno(0);
        de = readdir(lv->dir);

        if (de == NULL) {
            err = ngx_errno;

            if (err != 0) {
                ngx_http_upload_store_cleanup_failed(cl, err, "readdir()",
                                                     NULL, 0);
            }

            ngx_http_upload_store_cleanup_pop(cl);
            continue;
        }

        len = ngx_strlen(de->d_name);

        if (de->d_name[0] == '.'
            && (len == 1 || (len == 2 && de->d_name[1] == '.')))
        {
            continue;
        }

        cl->run.scanned++;

        ngx_http_upload_store_cleanup_entry(cl, lv, (u_char *) de->d_name,
                                            len);
    }

    return cl->depth ? NGX_AGAIN : NGX_OK;
}


static void
ngx_http_upload_store_cleanup_entry(ngx_http_upload_store_cleanup_t *cl,
    ngx_http_upload_store_level_t *lv, u_char *name, size_t len)
{
    int                       fd;
    time_t                    age;
    ngx_str_t                 s;
    ngx_err_t                 err;
    struct stat               st;
    ngx_http_upload_store_t  *store;

    store = cl->store;
    fd = dirfd(lv->dir);

    if (fstatat(fd, (char *) name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
        err = ngx_errno;

        if (err != NGX_ENOENT) {
            ngx_http_upload_store_cleanup_failed(cl, err, "fstatat()",
                                                 name, len);
        }

        return;
    }

    switch (lv->kind) {

    case NGX_HTTP_UPLOAD_STORE_ROOT:

        if (!S_ISDIR(st.st_mode)) {
            break;
        }

        if (len == 4 && ngx_strncmp(name, ".tmp", 4) == 0) {

            /* bodies in flight are not stored yet */

            if (!cl->count) {
                (void) ngx_http_upload_store_cleanup_push(cl, lv, name, len,
                                                 NGX_HTTP_UPLOAD_STORE_TEMP);
            }

            return;
        }

        s.data = name;
        s.len = len;

        if (ngx_http_upload_store_valid_name(&s) != NGX_OK) {
            break;
        }

        if (ngx_http_upload_store_cleanup_push(cl, lv, name, len,
                                               lv->kind + 1)
            == NGX_OK)
        {
            cl->customers++;
        }

        return;

    case NGX_HTTP_UPLOAD_STORE_CUSTOMER:
    case NGX_HTTP_UPLOAD_STORE_CATEGORY:

        if (!S_ISDIR(st.st_mode)) {
            break;
        }

        (void) ngx_http_upload_store_cleanup_push(cl, lv, name, len,
                                                  lv->kind + 1);
        return;

    case NGX_HTTP_UPLOAD_STORE_DAY:

        /* a symbolic link goes as a file does, its target stays */

        if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
            break;
        }

        if (cl->count) {
            if (S_ISREG(st.st_mode)) {
                cl->bytes += st.st_size;

                if (len < 5 || ngx_strncmp(name + len - 5, ".json", 5) != 0)
                {
                    cl->files++;
                }
            }

            return;
        }

        if (store->retention == 0) {
            return;
        }

        age = ngx_time() - st.st_mtime;

        if (age < store->retention) {
            return;
        }

        if (ngx_http_upload_store_cleanup_unlink(cl, fd, name, len)
            != NGX_OK)
        {
            return;
        }

        cl->run.deleted++;

        if (S_ISREG(st.st_mode)) {
            cl->run.freed += st.st_size;

            (void) ngx_atomic_fetch_add(&store->sh->bytes, -st.st_size);

            if (len < 5 || ngx_strncmp(name + len - 5, ".json", 5) != 0) {
                (void) ngx_atomic_fetch_add(&store->sh->files, -1);
            }
        }

        return;

    default: /* NGX_HTTP_UPLOAD_STORE_TEMP */

        /* bodies being received are written to: their mtime is recent */

        if (!S_ISREG(st.st_mode)) {
            break;
        }

        if (ngx_time() - st.st_mtime < NGX_HTTP_UPLOAD_STORE_ORPHAN_AGE) {
            return;
        }

        if (ngx_http_upload_store_cleanup_unlink(cl, fd, name, len)
            != NGX_OK)
        {
            return;
        }

        cl->run.temp++;
        cl->run.freed += st.st_size;

        return;
    }

    /* not the store's: left alone */

    cl->run.skipped++;
}


/* NGX_OK: removed; gone already is no failure, but nothing to count */

static ngx_int_t
ngx_http_upload_store_cleanup_unlink(ngx_http_upload_store_cleanup_t *cl,
    int fd, u_char *name, size_t len)
{
    ngx_err_t  err;

    if (unlinkat(fd, (char *) name, 0) == -1) {
        err = ngx_errno;

        if (err != NGX_ENOENT) {
            ngx_http_upload_store_cleanup_failed(cl, err, "unlinkat()",
                                                 name, len);
        }

        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_store_cleanup_push(ngx_http_upload_store_cleanup_t *cl,
    ngx_http_upload_store_level_t *lv, u_char *name, size_t len,
    ngx_uint_t kind)
{
    int                             fd;
    DIR                            *dir;
    ngx_err_t                       err;
    ngx_http_upload_store_level_t  *next;

    if (cl->depth == NGX_HTTP_UPLOAD_STORE_LEVELS
        || len > NGX_HTTP_UPLOAD_STORE_FNAME_MAX)
    {
        cl->run.skipped++;
        return NGX_DECLINED;
    }

    /* a directory swapped for a symbolic link since fstatat() fails here */

    fd = openat(dirfd(lv->dir), (char *) name,
                O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);

    if (fd == -1) {
        err = ngx_errno;

        if (err != NGX_ENOENT) {
            ngx_http_upload_store_cleanup_failed(cl, err, "openat()",
                                                 name, len);
        }

        return NGX_ERROR;
    }

    dir = fdopendir(fd);

    if (dir == NULL) {
        err = ngx_errno;
        (void) close(fd);
        ngx_http_upload_store_cleanup_failed(cl, err, "fdopendir()",
                                             name, len);
        return NGX_ERROR;
    }

    next = &cl->level[cl->depth++];

    next->dir = dir;
    next->kind = kind;
    next->len = len;
    ngx_memcpy(next->name, name, len);
    next->name[len] = '\0';

    return NGX_OK;
}


/* a directory is done: closed, and removed if it is empty now */

static void
ngx_http_upload_store_cleanup_pop(ngx_http_upload_store_cleanup_t *cl)
{
    ngx_err_t                       err;
    ngx_http_upload_store_level_t  *lv, *parent;

    lv = &cl->level[--cl->depth];

    (void) closedir(lv->dir);
    lv->dir = NULL;

    if (cl->depth == 0 || lv->kind == NGX_HTTP_UPLOAD_STORE_TEMP
        || cl->count)
    {
        return;
    }

    parent = &cl->level[cl->depth - 1];

    if (unlinkat(dirfd(parent->dir), (char *) lv->name, AT_REMOVEDIR) == -1) {
        err = ngx_errno;

        if (err != ENOTEMPTY && err != NGX_EEXIST && err != NGX_ENOENT
            && err != NGX_EBUSY)
        {
            cl->depth++;
            ngx_http_upload_store_cleanup_failed(cl, err, "rmdir()",
                                                 NULL, 0);
            cl->depth--;
        }

        return;
    }

    cl->run.dirs++;

    if (lv->kind == NGX_HTTP_UPLOAD_STORE_CUSTOMER
        && cl->store->sh->customers > 0)
    {
        (void) ngx_atomic_fetch_add(&cl->store->sh->customers, -1);
    }
}


static void
ngx_http_upload_store_cleanup_finish(ngx_http_upload_store_cleanup_t *cl)
{
    ngx_http_upload_store_t         *store;
    ngx_http_upload_store_sh_t      *sh;
    ngx_http_upload_store_run_t     *run;

    store = cl->store;
    sh = store->sh;
    run = &cl->run;

    ngx_time_update();
    run->duration = ngx_current_msec - cl->started;

    if (run->failed) {
        ngx_log_error(NGX_LOG_CRIT, cl->log, 0,
                      "upload store \"%V\": cleanup could not remove "
                      "%uA entries, the first: %s", &store->name,
                      run->failed, run->errors[0]);
    }

    ngx_log_error(NGX_LOG_INFO, cl->log, 0,
                  "upload store \"%V\": cleanup run %uA: %uA scanned, "
                  "%uA deleted, %uA temp files, %uA bytes freed, "
                  "%uA dirs removed, %uA failed, %uA skipped in %uA ms, "
                  "longest slice %uA ms",
                  &store->name, run->seq, run->scanned, run->deleted,
                  run->temp, run->freed, run->dirs, run->failed,
                  run->skipped, run->duration, run->slice);

    ngx_memcpy(&sh->last, run, sizeof(ngx_http_upload_store_run_t));

    (void) ngx_atomic_fetch_add(&sh->cleaned, run->deleted + run->temp);
    (void) ngx_atomic_fetch_add(&sh->cleaned_bytes, run->freed);
    (void) ngx_atomic_fetch_add(&sh->clean_failed, run->failed);
    (void) ngx_atomic_fetch_add(&sh->runs, 1);

    (void) ngx_atomic_cmp_set(&sh->owner, ngx_pid, 0);
}


/* stops a run: the directories closed, the owner record given back */

static void
ngx_http_upload_store_cleanup_close(ngx_http_upload_store_cleanup_t *cl)
{
    ngx_http_upload_store_sh_t  *sh;

    sh = cl->store->sh;

    if (cl->depth == 0) {
        return;
    }

    while (cl->depth) {
        (void) closedir(cl->level[--cl->depth].dir);
        cl->level[cl->depth].dir = NULL;
    }

    /* what was deleted is deleted: the totals say so */

    (void) ngx_atomic_fetch_add(&sh->cleaned, cl->run.deleted + cl->run.temp);
    (void) ngx_atomic_fetch_add(&sh->cleaned_bytes, cl->run.freed);
    (void) ngx_atomic_fetch_add(&sh->clean_failed, cl->run.failed);

    if (ngx_atomic_cmp_set(&sh->owner, ngx_pid, 0)) {

        /* the run starts over in another worker */

        sh->next_run = 0;

        ngx_log_error(NGX_LOG_NOTICE, cl->log, 0,
                      "upload store \"%V\": cleanup run %uA given up after "
                      "%uA entries, the worker is exiting",
                      &cl->store->name, cl->run.seq, cl->run.scanned);
    }
}


/*
 * counts the failure, keeps the first few messages for the admin
 * endpoint; the log has one line per run, in cleanup_finish()
 */

static void
ngx_http_upload_store_cleanup_failed(ngx_http_upload_store_cleanup_t *cl,
    ngx_err_t err, char *op, u_char *name, size_t len)
{
    u_char                       *p, *last;
    ngx_uint_t                    i;
    ngx_http_upload_store_run_t  *run;

    run = &cl->run;
    run->failed++;

    if (run->nerrors == NGX_HTTP_UPLOAD_STORE_NERR) {
        return;
    }

    p = run->errors[run->nerrors++];
    last = p + NGX_HTTP_UPLOAD_STORE_ERRLEN - 1;

    p = ngx_slprintf(p, last, "%s \"%V", op, &cl->store->root);

    for (i = 1; i < cl->depth; i++) {
        p = ngx_slprintf(p, last, "/%s", cl->level[i].name);
    }

    if (name) {
        p = ngx_slprintf(p, last, "/%*s", len, name);
    }

    p = ngx_slprintf(p, last, "\" failed (%d: ", err);
    p = ngx_strerror(err, p, last - p);
    p = ngx_slprintf(p, last, ")");

    *p = '\0';
}


static void
ngx_http_upload_store_cleanup_arm(ngx_http_upload_store_cleanup_t *cl,
    ngx_msec_t delay)
{
    if (cl->event.timer_set) {
        ngx_del_timer(&cl->event);
    }

    ngx_add_timer(&cl->event, delay);
}



/* a monotonic clock, cheap enough to read for every entry (vDSO) */

static ngx_msec_t
ngx_http_upload_store_cleanup_msec(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (ngx_msec_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
