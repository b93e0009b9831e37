
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_core.h"

#include <dirent.h>
#include <sys/file.h>


/*
 * The filesystem backend's walk over the store, for the cleanup and for
 * sizing the store at start.  It keeps its own stack of open directories
 * between slices (ngx_walk_tree() cannot stop and go on), descends with
 * openat(O_NOFOLLOW) only, knows the layout's levels from
 * ngx_http_upload_store_level(), asks walk->expired() about each file, and
 * removes the directories it empties with rmdir(), which fails harmlessly
 * when an upload has just arrived.
 */


typedef struct {
    DIR                            *dir;
    ngx_uint_t                      level;
    size_t                          len;
    u_char                          name[NGX_HTTP_UPLOAD_STORE_FNAME_MAX + 1];
} ngx_http_upload_store_fs_dir_t;


typedef struct {
    ngx_uint_t                      depth;       /* 0: done */
    ngx_http_upload_store_fs_dir_t  dirs[NGX_HTTP_UPLOAD_STORE_DEPTH];
} ngx_http_upload_store_fs_walk_t;


static void ngx_http_upload_store_fs_entry(ngx_http_upload_store_walk_t *walk,
    ngx_http_upload_store_fs_dir_t *d, u_char *name, size_t len);
static ngx_uint_t ngx_http_upload_store_fs_in_use(int dir, u_char *name);
static void ngx_http_upload_store_fs_expire(
    ngx_http_upload_store_walk_t *walk, int fd,
    ngx_http_upload_store_entry_t *e);
static void ngx_http_upload_store_fs_removed(
    ngx_http_upload_store_walk_t *walk, ngx_http_upload_store_entry_t *e);
static ngx_int_t ngx_http_upload_store_fs_push(
    ngx_http_upload_store_walk_t *walk, ngx_http_upload_store_fs_dir_t *d,
    u_char *name, size_t len, ngx_uint_t level);
static void ngx_http_upload_store_fs_pop(ngx_http_upload_store_walk_t *walk);
static void ngx_http_upload_store_fs_keep_error(
    ngx_http_upload_store_walk_t *walk, ngx_err_t err, char *op,
    u_char *name, size_t len);


/*
 * the walk: NGX_ERROR when the root cannot be opened (a failure of the
 * run); the root may be a symlink the operator made: it is followed
 */

ngx_int_t
ngx_http_upload_store_fs_walk_open(ngx_http_upload_store_walk_t *walk)
{
    int                               fd;
    DIR                              *dir;
    ngx_err_t                         err;
    ngx_http_upload_store_fs_walk_t  *w;

    w = ngx_calloc(sizeof(ngx_http_upload_store_fs_walk_t), walk->log);
    if (w == NULL) {
        return NGX_ERROR;
    }

    walk->cursor = w;

    dir = NULL;
    fd = open((char *) walk->store->root.data,
              O_RDONLY|O_DIRECTORY|O_CLOEXEC);

    if (fd != -1) {
        dir = fdopendir(fd);

        if (dir == NULL) {
            err = ngx_errno;
            (void) close(fd);
            ngx_set_errno(err);
        }
    }

    if (dir == NULL) {
        if (!walk->sizing) {
            ngx_http_upload_store_fs_keep_error(walk, ngx_errno, "opendir()",
                                                NULL, 0);
        }

        return NGX_ERROR;
    }

    w->dirs[0].dir = dir;
    w->dirs[0].level = NGX_HTTP_UPLOAD_STORE_ROOT;
    w->depth = 1;

    return NGX_OK;
}


/* NGX_AGAIN: the slice's budget is spent, NGX_OK: the walk is done */

ngx_int_t
ngx_http_upload_store_fs_walk(ngx_http_upload_store_walk_t *walk,
    ngx_uint_t entries, ngx_msec_t msec)
{
    size_t                            len;
    ngx_err_t                         err;
    ngx_uint_t                        n;
    ngx_msec_t                        start;
    struct dirent                    *de;
    ngx_http_upload_store_fs_dir_t   *d;
    ngx_http_upload_store_fs_walk_t  *w;

    w = walk->cursor;

    if (w == NULL) {
        return NGX_OK;
    }

    start = ngx_http_upload_store_msec();

    for (n = 1; w->depth > 0; n++) {

        /* one unlink() can take milliseconds on a busy disk: every entry */

        if (n > entries || ngx_http_upload_store_msec() - start >= msec) {
            break;
        }

        d = &w->dirs[w->depth - 1];

        ngx_set_errno(0);
        de = readdir(d->dir);

        if (de == NULL) {
            err = ngx_errno;

            if (err != 0) {
                ngx_http_upload_store_fs_keep_error(walk, err, "readdir()",
                                                    NULL, 0);
            }

            ngx_http_upload_store_fs_pop(walk);
            continue;
        }

        len = ngx_strlen(de->d_name);

        if (de->d_name[0] == '.'
            && (len == 1 || (len == 2 && de->d_name[1] == '.')))
        {
            continue;
        }

        walk->run.scanned++;

        ngx_http_upload_store_fs_entry(walk, d, (u_char *) de->d_name, len);
    }

    return w->depth ? NGX_AGAIN : NGX_OK;
}


/* the directories still open are closed: the walk stops here */

void
ngx_http_upload_store_fs_walk_close(ngx_http_upload_store_walk_t *walk)
{
    ngx_http_upload_store_fs_walk_t  *w;

    w = walk->cursor;

    if (w == NULL) {
        return;
    }

    while (w->depth) {
        (void) closedir(w->dirs[--w->depth].dir);
    }

    ngx_free(w);
    walk->cursor = NULL;
}


static void
ngx_http_upload_store_fs_entry(ngx_http_upload_store_walk_t *walk,
    ngx_http_upload_store_fs_dir_t *d, u_char *name, size_t len)
{
    int                            fd;
    ngx_int_t                      level;
    ngx_err_t                      err;
    struct stat                    st;
    ngx_http_upload_store_entry_t  e;

    fd = dirfd(d->dir);

    if (fstatat(fd, (char *) name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
        err = ngx_errno;

        if (err != NGX_ENOENT) {
            ngx_http_upload_store_fs_keep_error(walk, err, "fstatat()",
                                                name, len);
        }

        return;
    }

    level = ngx_http_upload_store_level(d->level, name, len,
                                        S_ISDIR(st.st_mode));

    if (level == NGX_DONE) {
        return;
    }

    if (level == NGX_DECLINED) {
        /* not the store's: left alone */
        walk->run.skipped++;
        return;
    }

    if ((ngx_uint_t) level != d->level) {

        /* a directory of the layout; bodies in flight are not stored yet */

        if (level == NGX_HTTP_UPLOAD_STORE_TEMP && walk->sizing) {
            return;
        }

        if (ngx_http_upload_store_fs_push(walk, d, name, len, level)
            == NGX_OK
            && level == NGX_HTTP_UPLOAD_STORE_CUSTOMER)
        {
            walk->customers++;
        }

        return;
    }

    /* a symbolic link goes as a file does, its target stays */

    if (!S_ISREG(st.st_mode)
        && !(S_ISLNK(st.st_mode) && level == NGX_HTTP_UPLOAD_STORE_DAY))
    {
        walk->run.skipped++;
        return;
    }

    e.level = level;
    e.name = name;
    e.len = len;
    e.size = S_ISREG(st.st_mode) ? st.st_size : 0;
    e.mtime = st.st_mtime;
    e.link = S_ISLNK(st.st_mode);
    e.record = ngx_http_upload_store_is_record(name, len);

    if (walk->expired(walk, &e) && !walk->sizing
        && (level != NGX_HTTP_UPLOAD_STORE_TEMP
            || !ngx_http_upload_store_fs_in_use(fd, name)))
    {
        ngx_http_upload_store_fs_expire(walk, fd, &e);
    }
}


/*
 * a body being received: its worker holds a lock on it from its first
 * write (receive.c's request body filter), however old its mtime looks,
 * since nginx writes only when a buffer is full (a body written whole at
 * once is not locked: its commit follows at once); a dead worker's lock
 * is gone with it
 */

static ngx_uint_t
ngx_http_upload_store_fs_in_use(int dir, u_char *name)
{
    int         fd;
    ngx_uint_t  busy;

    fd = openat(dir, (char *) name,
                O_RDONLY|O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC);

    if (fd == -1) {
        return 0;
    }

    busy = (flock(fd, LOCK_EX|LOCK_NB) == -1 && ngx_errno == EWOULDBLOCK);

    (void) close(fd);

    return busy;
}


/* gone already is no failure, but nothing to count */

static void
ngx_http_upload_store_fs_expire(ngx_http_upload_store_walk_t *walk, int fd,
    ngx_http_upload_store_entry_t *e)
{
    ngx_err_t  err;

    if (unlinkat(fd, (char *) e->name, 0) == -1) {
        err = ngx_errno;

        if (err != NGX_ENOENT) {
            ngx_http_upload_store_fs_keep_error(walk, err, "unlinkat()",
                                                e->name, e->len);
        }

        return;
    }

    walk->run.freed += e->size;

    if (e->level == NGX_HTTP_UPLOAD_STORE_TEMP) {
        walk->run.temp++;
        return;
    }

    walk->run.deleted++;

    if (e->record && walk->removed != NULL) {
        ngx_http_upload_store_fs_removed(walk, e);
    }

    if (!e->link) {
        ngx_http_upload_store_stats_removed(walk->store, e->size,
                                            e->record ? 0 : 1);
    }
}


/* a record removed: its upload, by the directories it was in */

static void
ngx_http_upload_store_fs_removed(ngx_http_upload_store_walk_t *walk,
    ngx_http_upload_store_entry_t *e)
{
    u_char                           *p, *last;
    u_char                            buf[3 * (NGX_HTTP_UPLOAD_STORE_FNAME_MAX
                                               + 1)
                                          + NGX_HTTP_UPLOAD_STORE_ID_LEN];
    ngx_uint_t                        i;
    ngx_http_upload_store_fs_walk_t  *w;

    w = walk->cursor;

    if (w->depth != NGX_HTTP_UPLOAD_STORE_DEPTH
        || e->len != NGX_HTTP_UPLOAD_STORE_ID_LEN + sizeof(".json") - 1)
    {
        return;
    }

    p = buf;
    last = buf + sizeof(buf);

    for (i = 1; i < w->depth; i++) {
        p = ngx_slprintf(p, last, "%s/", w->dirs[i].name);
    }

    p = ngx_slprintf(p, last, "%*s", (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN,
                     e->name);

    walk->removed(walk, buf, p - buf);
}


static ngx_int_t
ngx_http_upload_store_fs_push(ngx_http_upload_store_walk_t *walk,
    ngx_http_upload_store_fs_dir_t *d, u_char *name, size_t len,
    ngx_uint_t level)
{
    int                               fd;
    DIR                              *dir;
    ngx_err_t                         err;
    ngx_http_upload_store_fs_dir_t   *next;
    ngx_http_upload_store_fs_walk_t  *w;

    w = walk->cursor;

    if (w->depth == NGX_HTTP_UPLOAD_STORE_DEPTH
        || len > NGX_HTTP_UPLOAD_STORE_FNAME_MAX)
    {
        walk->run.skipped++;
        return NGX_DECLINED;
    }

    /* a directory swapped for a symbolic link since fstatat() fails here */

    fd = openat(dirfd(d->dir), (char *) name,
                O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);

    if (fd == -1) {
        err = ngx_errno;

        if (err != NGX_ENOENT) {
            ngx_http_upload_store_fs_keep_error(walk, err, "openat()",
                                                name, len);
        }

        return NGX_ERROR;
    }

    dir = fdopendir(fd);

    if (dir == NULL) {
        err = ngx_errno;
        (void) close(fd);
        ngx_http_upload_store_fs_keep_error(walk, err, "fdopendir()",
                                            name, len);
        return NGX_ERROR;
    }

    next = &w->dirs[w->depth++];

    next->dir = dir;
    next->level = level;
    next->len = len;
    ngx_memcpy(next->name, name, len);
    next->name[len] = '\0';

    return NGX_OK;
}


/* a directory is done: closed, and removed if it is empty now */

static void
ngx_http_upload_store_fs_pop(ngx_http_upload_store_walk_t *walk)
{
    ngx_err_t                         err;
    ngx_http_upload_store_fs_dir_t   *d, *parent;
    ngx_http_upload_store_fs_walk_t  *w;

    w = walk->cursor;
    d = &w->dirs[--w->depth];

    (void) closedir(d->dir);
    d->dir = NULL;

    if (w->depth == 0 || d->level == NGX_HTTP_UPLOAD_STORE_TEMP
        || walk->sizing)
    {
        return;
    }

    parent = &w->dirs[w->depth - 1];

    if (unlinkat(dirfd(parent->dir), (char *) d->name, AT_REMOVEDIR) == -1) {
        err = ngx_errno;

        if (err != ENOTEMPTY && err != NGX_EEXIST && err != NGX_ENOENT
            && err != NGX_EBUSY)
        {
            w->depth++;
            ngx_http_upload_store_fs_keep_error(walk, err, "rmdir()", NULL, 0);
            w->depth--;
        }

        return;
    }

    walk->run.dirs++;

    if (d->level == NGX_HTTP_UPLOAD_STORE_CUSTOMER) {
        ngx_http_upload_store_stats_customer(walk->store, -1);
    }
}


/*
 * counts the failure, keeps the first few messages for the admin
 * endpoint; the log has one line per run, written by the cleanup
 */

static void
ngx_http_upload_store_fs_keep_error(ngx_http_upload_store_walk_t *walk,
    ngx_err_t err, char *op, u_char *name, size_t len)
{
    u_char                           *p, *last;
    ngx_uint_t                        i;
    ngx_http_upload_store_run_t      *run;
    ngx_http_upload_store_fs_walk_t  *w;

    w = walk->cursor;
    run = &walk->run;
    run->failed++;

    if (run->nerrors == NGX_HTTP_UPLOAD_STORE_NERR) {
        return;
    }

    (void) ngx_cpystrn(run->error_op[run->nerrors], (u_char *) op,
                       sizeof(run->error_op[0]));
    run->error_no[run->nerrors] = err;

    p = run->errors[run->nerrors++];
    last = p + NGX_HTTP_UPLOAD_STORE_ERRLEN - 1;

    p = ngx_slprintf(p, last, "%s \"%V", op, &walk->store->root);

    for (i = 1; i < w->depth; i++) {
        p = ngx_slprintf(p, last, "/%s", w->dirs[i].name);
    }

    if (name) {
        p = ngx_slprintf(p, last, "/%*s", len, name);
    }

    p = ngx_slprintf(p, last, "\" failed (%d: ", err);
    p = ngx_strerror(err, p, last - p);
    p = ngx_slprintf(p, last, ")");

    *p = '\0';
}
