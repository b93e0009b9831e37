/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_core.h"

#if (NGX_HTTP_UPLOAD_STORE_OPENAT2)
#include <sys/syscall.h>
#include <linux/openat2.h>
#endif


/*
 * The day directories of the filesystem backend, reached from the root
 * without following a link: in one openat2() where the kernel has it
 * (Linux 5.6), else, and to make what is missing, one name at a time.
 * The one the last upload went to is kept open while the root's
 * descriptor is, for the uploads after it: like the root, one moved
 * meanwhile is followed for up to a second; one removed takes nothing in
 * (ENOENT), and the commit opens its day again.
 */


static ngx_int_t ngx_http_upload_store_fs_kept(ngx_http_upload_store_t *store,
    ngx_http_upload_store_record_t *rec, int *day);
static void ngx_http_upload_store_fs_keep(ngx_http_upload_store_t *store,
    ngx_http_upload_store_record_t *rec, int day);
static void ngx_http_upload_store_fs_forget(ngx_http_upload_store_t *store);
static u_char *ngx_http_upload_store_fs_day_name(
    ngx_http_upload_store_t *store, ngx_http_upload_store_record_t *rec,
    size_t *len);
#if (NGX_HTTP_UPLOAD_STORE_OPENAT2)
static int ngx_http_upload_store_fs_beneath(int root,
    ngx_http_upload_store_t *store, ngx_http_upload_store_record_t *rec);

/* the kernel (or a seccomp profile, or valgrind) has refused openat2() */
static ngx_uint_t  ngx_http_upload_store_no_openat2;
#endif


/*
 * the directory of rec's day, opened from the root without following any
 * link below it (a link planted as a customer's directory leads nowhere);
 * made when "create" is set, the customer counted by the worker that
 * makes its directory, and then kept (an upload's commit: the next one
 * goes to the same day).  NGX_DECLINED: not there, or not a directory of
 * the store's; NGX_ERROR: errno set.  Given back with fs_day_close().
 */

ngx_int_t
ngx_http_upload_store_fs_day(ngx_http_upload_store_t *store,
    ngx_http_upload_store_record_t *rec, ngx_uint_t create, int *day,
    ngx_log_t *log)
{
    int         fd, next, root;
    u_char     *p, *end, name[NGX_HTTP_UPLOAD_STORE_NAME_MAX + 1];
    size_t      len;
    ngx_err_t   err;
    ngx_uint_t  level;

    root = ngx_http_upload_store_fs_root(store);
    if (root == -1) {
        return NGX_ERROR;
    }

    if (create && ngx_http_upload_store_fs_kept(store, rec, day) == NGX_OK) {
        return NGX_OK;
    }

    fd = root;

#if (NGX_HTTP_UPLOAD_STORE_OPENAT2)

    next = ngx_http_upload_store_fs_beneath(root, store, rec);

    if (next != -1) {
        if (create) {
            ngx_http_upload_store_fs_keep(store, rec, next);
        }

        *day = next;
        return NGX_OK;
    }

    err = ngx_errno;

    if (!create
        && (err == NGX_ENOENT || err == NGX_ENOTDIR || err == NGX_ELOOP
            || err == EXDEV))
    {
        /* not there, or not the store's: what the walk would say */
        return NGX_DECLINED;
    }

    /* missing, a link, or no openat2(): the walk tells which, and makes */

#endif

    p = rec->record_path.data + store->root.len + 1;

    for (level = 0; level < 3; level++) {

        end = ngx_strlchr(p, rec->record_path.data + rec->record_path.len,
                          '/');

        len = end ? (size_t) (end - p) : 0;

        if (len == 0 || len > NGX_HTTP_UPLOAD_STORE_NAME_MAX) {
            if (fd != root) {
                (void) close(fd);
            }

            ngx_set_errno(NGX_EINVAL);
            return NGX_ERROR;
        }

        ngx_memcpy(name, p, len);
        name[len] = '\0';
        p = end + 1;

        next = openat(fd, (char *) name,
                      O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);

        if (next == -1 && ngx_errno == NGX_ENOENT && create) {

            if (mkdirat(fd, (char *) name, ngx_dir_access(store->access))
                == 0)
            {
                if (level == 0) {
                    ngx_http_upload_store_stats_customer(store, 1);
                }

            } else if (ngx_errno != NGX_EEXIST) {
                err = ngx_errno;
                ngx_log_error(NGX_LOG_CRIT, log, err,
                              "mkdirat() \"%s\" failed (customer \"%V\", "
                              "for \"%V\")", name, &rec->customer,
                              &rec->record_path);

                if (fd != root) {
                    (void) close(fd);
                }

                ngx_set_errno(err);
                return NGX_ERROR;
            }

            next = openat(fd, (char *) name,
                          O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
        }

        err = ngx_errno;

        if (fd != root) {
            (void) close(fd);
        }

        if (next == -1) {
            ngx_set_errno(err);

            if (err == NGX_ENOENT || err == NGX_ENOTDIR || err == NGX_ELOOP)
            {
                if (create) {
                    ngx_log_error(NGX_LOG_CRIT, log, err,
                                  "openat() \"%s\" under \"%V\" failed "
                                  "(customer \"%V\")", name, &store->root,
                                  &rec->customer);
                    return NGX_ERROR;
                }

                return NGX_DECLINED;
            }

            return NGX_ERROR;
        }

        fd = next;
    }

    if (create) {
        ngx_http_upload_store_fs_keep(store, rec, fd);
    }

    *day = fd;

    return NGX_OK;
}


/*
 * done with a day directory: closed, unless it is the one kept; "stale":
 * nothing could be made in it (removed by a cleanup since, ENOENT), kept
 * or not, it is closed and the next upload opens its day again
 */

void
ngx_http_upload_store_fs_day_close(ngx_http_upload_store_t *store, int day,
    ngx_uint_t stale)
{
    if (store->day_open && day == store->day_fd) {

        if (stale) {
            ngx_http_upload_store_fs_forget(store);
        }

        return;
    }

    (void) close(day);
}


/* the day directory kept, if it is rec's */

static ngx_int_t
ngx_http_upload_store_fs_kept(ngx_http_upload_store_t *store,
    ngx_http_upload_store_record_t *rec, int *day)
{
    u_char  *name;
    size_t   len;

    if (!store->day_open) {
        return NGX_DECLINED;
    }

    name = ngx_http_upload_store_fs_day_name(store, rec, &len);

    if (len != store->day_len
        || ngx_memcmp(name, store->day_name, len) != 0)
    {
        return NGX_DECLINED;
    }

    *day = store->day_fd;

    return NGX_OK;
}


/* an upload's day directory, kept for the next upload */

static void
ngx_http_upload_store_fs_keep(ngx_http_upload_store_t *store,
    ngx_http_upload_store_record_t *rec, int day)
{
    u_char  *name;
    size_t   len;

    name = ngx_http_upload_store_fs_day_name(store, rec, &len);

    if (len == 0 || len > NGX_HTTP_UPLOAD_STORE_DAY_MAX) {
        return;
    }

    ngx_http_upload_store_fs_forget(store);

    ngx_memcpy(store->day_name, name, len);
    store->day_len = len;
    store->day_fd = day;
    store->day_open = 1;
}


/*
 * "customer/category/day" in rec's {root}/customer/category/day/{id}.json,
 * the key of the directory kept; len 0: none
 */

static u_char *
ngx_http_upload_store_fs_day_name(ngx_http_upload_store_t *store,
    ngx_http_upload_store_record_t *rec, size_t *len)
{
    u_char  *name;
    size_t   n;

    name = rec->record_path.data + store->root.len + 1;
    n = rec->record_path.len - store->root.len - 1;

    while (n && name[n - 1] != '/') {
        n--;
    }

    *len = n ? n - 1 : 0;

    return name;
}


static void
ngx_http_upload_store_fs_forget(ngx_http_upload_store_t *store)
{
    if (store->day_open) {
        (void) close(store->day_fd);
        store->day_open = 0;
        store->day_fd = -1;
    }
}


/*
 * the store's root for the event loop (the cleanup's thread walks on
 * descriptors of its own): the root may be a link the operator made, it
 * is followed, and opened again after a second, so that a root moved or
 * made again is found; the day directory kept goes with it.  The same
 * descriptor while ngx_current_msec stays: through an event's handler
 */

int
ngx_http_upload_store_fs_root(ngx_http_upload_store_t *store)
{
    int  fd;

    if (store->root_open && ngx_current_msec - store->root_time < 1000) {
        return store->root_fd;
    }

    fd = open((char *) store->root.data, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
    if (fd == -1) {
        return -1;
    }

    ngx_http_upload_store_fs_forget(store);

    if (store->root_open) {
        (void) close(store->root_fd);
    }

    store->root_fd = fd;
    store->root_open = 1;
    store->root_time = ngx_current_msec;

    return fd;
}


/* the configuration's pool is destroyed: so is the store */

void
ngx_http_upload_store_fs_root_close(void *data)
{
    ngx_http_upload_store_t  *store = data;

    ngx_http_upload_store_fs_forget(store);

    if (store->root_open) {
        (void) close(store->root_fd);
        store->root_open = 0;
        store->root_fd = -1;
    }
}


#if (NGX_HTTP_UPLOAD_STORE_OPENAT2)

/*
 * the three names below the root in one lookup, refusing any link and
 * anything not beneath it: what the walk below opens one name at a time
 */

static int
ngx_http_upload_store_fs_beneath(int root, ngx_http_upload_store_t *store,
    ngx_http_upload_store_record_t *rec)
{
    int              fd;
    u_char          *p, *name, *last;
    u_char           dir[NGX_HTTP_UPLOAD_STORE_DAY_MAX];
    size_t           len;
    ngx_uint_t       n;
    struct open_how  how;

    if (ngx_http_upload_store_no_openat2) {
        ngx_set_errno(NGX_ENOSYS);
        return -1;
    }

    name = rec->record_path.data + store->root.len + 1;
    last = rec->record_path.data + rec->record_path.len;

    /* "customer/category/day/": three names as the walk takes them */

    len = 0;

    for (n = 0, p = name; p < last && n < 3; p++) {

        if (*p != '/') {
            continue;
        }

        if (p == name || p - name > NGX_HTTP_UPLOAD_STORE_NAME_MAX) {
            ngx_set_errno(NGX_EINVAL);
            return -1;
        }

        n++;
        name = p + 1;
        len = p - (rec->record_path.data + store->root.len + 1);
    }

    if (n != 3) {
        ngx_set_errno(NGX_EINVAL);
        return -1;
    }

    ngx_memcpy(dir, rec->record_path.data + store->root.len + 1, len);
    dir[len] = '\0';

    ngx_memzero(&how, sizeof(struct open_how));
    how.flags = O_RDONLY|O_DIRECTORY|O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS;

    fd = (int) syscall(SYS_openat2, root, dir, &how,
                       sizeof(struct open_how));

    if (fd == -1 && (ngx_errno == NGX_ENOSYS || ngx_errno == NGX_EPERM)) {
        ngx_http_upload_store_no_openat2 = 1;
    }

    return fd;
}

#endif
