
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_core.h"

#include <sys/statvfs.h>


/*
 * The POSIX filesystem backend: uploads and records as files under the
 * store's root, in the layout's directories.  Whatever becomes visible is
 * complete: a body and a record are written under {root}/.tmp and renamed
 * into place.  Its walk is in ngx_http_upload_store_fs_walk.c.
 */


static ngx_int_t ngx_http_upload_store_fs_commit(
    ngx_http_upload_store_t *store, ngx_http_upload_store_record_t *rec,
    ngx_temp_file_t *tf, ngx_str_t *json, ngx_log_t *log);
static ngx_int_t ngx_http_upload_store_fs_open(
    ngx_http_upload_store_t *store, ngx_http_upload_store_record_t *rec,
    ngx_file_t *file, ngx_log_t *log);
static ngx_int_t ngx_http_upload_store_fs_load(
    ngx_http_upload_store_t *store, ngx_http_upload_store_record_t *rec,
    ngx_str_t *raw, ngx_pool_t *pool, ngx_log_t *log);
static ngx_int_t ngx_http_upload_store_fs_read(ngx_http_upload_store_t *store,
    ngx_http_upload_store_record_t *rec, ngx_str_t *raw, ngx_pool_t *pool,
    ngx_log_t *log);
static ngx_fd_t ngx_http_upload_store_fs_openat(
    ngx_http_upload_store_t *store, ngx_http_upload_store_record_t *rec,
    ngx_str_t *path, int flags, ngx_log_t *log);
static ngx_int_t ngx_http_upload_store_fs_save(
    ngx_http_upload_store_t *store, ngx_http_upload_store_record_t *rec,
    ngx_pool_t *pool, ngx_log_t *log);
static ngx_int_t ngx_http_upload_store_fs_remove(
    ngx_http_upload_store_t *store, ngx_http_upload_store_record_t *rec,
    ngx_uint_t what, ngx_log_t *log);
static ngx_int_t ngx_http_upload_store_fs_space(
    ngx_http_upload_store_t *store, off_t *total, off_t *avail);
static ngx_int_t ngx_http_upload_store_write_file(
    ngx_http_upload_store_t *store, ngx_str_t *name, ngx_str_t *data,
    ngx_log_t *log);
static void ngx_http_upload_store_keep_temp(ngx_pool_t *pool, ngx_fd_t fd);
static u_char *ngx_http_upload_store_fs_name(ngx_str_t *path);
static char *ngx_http_upload_store_fs_at(ngx_http_upload_store_t *store,
    ngx_str_t *path, int *dir);
static ngx_uint_t ngx_http_upload_store_fs_chmod(ngx_uint_t made,
    ngx_uint_t access);


static mode_t  ngx_http_upload_store_umask;


ngx_http_upload_store_backend_t  ngx_http_upload_store_fs_backend = {
    "fs",
    ngx_http_upload_store_fs_commit,
    ngx_http_upload_store_fs_open,
    ngx_http_upload_store_fs_load,
    ngx_http_upload_store_fs_save,
    ngx_http_upload_store_fs_remove,
    ngx_http_upload_store_fs_walk_open,
    ngx_http_upload_store_fs_walk,
    ngx_http_upload_store_fs_walk_close,
    ngx_http_upload_store_fs_space
};


/*
 * moves the body from {root}/.tmp into place and its record beside it:
 * both are complete before they become visible; NGX_ERROR with the
 * errno of the failure
 */

static ngx_int_t
ngx_http_upload_store_fs_commit(ngx_http_upload_store_t *store,
    ngx_http_upload_store_record_t *rec, ngx_temp_file_t *tf,
    ngx_str_t *json, ngx_log_t *log)
{
    int         day, body_dir, temp_dir;
    char       *body, *record;
    ngx_err_t   err;
    ngx_int_t   rc;
    ngx_uint_t  n;
    ngx_str_t   temp;

    if (ngx_http_upload_store_temp_record(tf->pool, store, rec, &temp)
        != NGX_OK)
    {
        ngx_set_errno(NGX_ENOMEM);
        return NGX_ERROR;
    }

    if (ngx_http_upload_store_write_file(store, &temp, json, log) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the exact mode, whatever the umask: nginx made the file 0600 */

    if (ngx_http_upload_store_fs_chmod(0600, store->access)
        && fchmod(tf->file.fd, store->access) == -1)
    {
        err = ngx_errno;
        ngx_log_error(NGX_LOG_CRIT, log, err,
                      "fchmod() \"%V\" failed", &tf->file.name);
        goto failed;
    }

    /* a cleanup run may remove the directories just made: made again */

    for (n = 0; /* void */; n++) {

        rc = ngx_http_upload_store_fs_day(store, rec, 1, &day, log);

        if (rc != NGX_OK) {
            err = ngx_errno;
            goto failed;
        }

        /* after fs_day(): the root's descriptor it may have opened again */

        body = ngx_http_upload_store_fs_at(store, &tf->file.name, &body_dir);

        if (renameat(body_dir, body, day,
                     (char *) ngx_http_upload_store_fs_name(&rec->path))
            == 0)
        {
            break;
        }

        err = ngx_errno;
        ngx_http_upload_store_fs_day_close(store, day, err == NGX_ENOENT);

        if (err != NGX_ENOENT || n == 2) {
            ngx_log_error(NGX_LOG_CRIT, log, err,
                          "renameat() \"%V\" to \"%V\" failed",
                          &tf->file.name, &rec->path);
            goto failed;
        }
    }

    ngx_http_upload_store_keep_temp(tf->pool, tf->file.fd);

    record = ngx_http_upload_store_fs_at(store, &temp, &temp_dir);

    if (renameat(temp_dir, record, day,
                 (char *) ngx_http_upload_store_fs_name(&rec->record_path))
        == -1)
    {
        err = ngx_errno;

        ngx_log_error(NGX_LOG_CRIT, log, err,
                      "renameat() \"%s\" to \"%s\" failed "
                      "(customer \"%V\", id %*s)",
                      temp.data, rec->record_path.data, &rec->customer,
                      (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, rec->id);

        (void) ngx_delete_file(temp.data);

        if (unlinkat(day, (char *) ngx_http_upload_store_fs_name(&rec->path),
                     0)
            == -1)
        {
            ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                          "unlinkat() \"%s\" failed", rec->path.data);
        }

        ngx_http_upload_store_fs_day_close(store, day, 0);
        ngx_set_errno(err);
        return NGX_ERROR;
    }

    ngx_http_upload_store_fs_day_close(store, day, 0);

    rec->record_bytes = json->len;

    ngx_http_upload_store_stats_stored(store, rec->bytes + (off_t) json->len);

    store->avail -= rec->bytes + (off_t) json->len;

    return NGX_OK;

failed:

    (void) ngx_delete_file(temp.data);
    ngx_set_errno(err);

    return NGX_ERROR;
}


/*
 * a file of rec's day directory, opened without following a link on the
 * way, nor as the file itself; NGX_INVALID_FILE with errno set
 */

static ngx_fd_t
ngx_http_upload_store_fs_openat(ngx_http_upload_store_t *store,
    ngx_http_upload_store_record_t *rec, ngx_str_t *path, int flags,
    ngx_log_t *log)
{
    int        day, fd;
    ngx_err_t  err;
    ngx_int_t  rc;

    rc = ngx_http_upload_store_fs_day(store, rec, 0, &day, log);

    if (rc != NGX_OK) {
        return NGX_INVALID_FILE;
    }

    fd = openat(day, (char *) ngx_http_upload_store_fs_name(path),
                flags|O_NOFOLLOW|O_CLOEXEC);

    err = ngx_errno;
    ngx_http_upload_store_fs_day_close(store, day, 0);
    ngx_set_errno(err);

    return fd;
}


/*
 * a path of the store's for an *at() call: below the root, from the
 * root's descriptor (one lookup less of every name above it); else as it is
 */

static char *
ngx_http_upload_store_fs_at(ngx_http_upload_store_t *store, ngx_str_t *path,
    int *dir)
{
    int  root;

    if (path->len > store->root.len + 1
        && path->data[store->root.len] == '/'
        && ngx_strncmp(path->data, store->root.data, store->root.len) == 0)
    {
        root = ngx_http_upload_store_fs_root(store);

        if (root != -1) {
            *dir = root;
            return (char *) path->data + store->root.len + 1;
        }
    }

    *dir = AT_FDCWD;

    return (char *) path->data;
}


/* the last component of a path */

static u_char *
ngx_http_upload_store_fs_name(ngx_str_t *path)
{
    u_char  *p;

    for (p = path->data + path->len; p > path->data; p--) {
        if (p[-1] == '/') {
            break;
        }
    }

    return p;
}


static ngx_int_t
ngx_http_upload_store_fs_open(ngx_http_upload_store_t *store,
    ngx_http_upload_store_record_t *rec, ngx_file_t *file, ngx_log_t *log)
{
    file->fd = ngx_http_upload_store_fs_openat(store, rec, &rec->path,
                                               O_RDONLY, log);

    if (file->fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      ngx_open_file_n " \"%V\" failed", &rec->path);
        return NGX_ERROR;
    }

    file->name = rec->path;
    file->log = log;

    return NGX_OK;
}


/*
 * the record of rec's customer, category and id, read and checked;
 * NGX_DECLINED: there is none; NGX_ERROR: it cannot be opened (errno
 * set); NGX_ABORT: it cannot be read (errno set) or is invalid (errno 0)
 */

static ngx_int_t
ngx_http_upload_store_fs_load(ngx_http_upload_store_t *store,
    ngx_http_upload_store_record_t *rec, ngx_str_t *raw, ngx_pool_t *pool,
    ngx_log_t *log)
{
    ngx_int_t  rc;

    if (ngx_http_upload_store_record_paths(pool, store, rec) != NGX_OK) {
        ngx_set_errno(NGX_ENOMEM);
        return NGX_ERROR;
    }

    rc = ngx_http_upload_store_fs_read(store, rec, raw, pool, log);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_upload_store_record_parse(pool, raw, rec, log) != NGX_OK) {
        ngx_set_errno(0);
        return NGX_ABORT;
    }

    if (ngx_http_upload_store_audio_path(pool, rec) != NGX_OK) {
        ngx_set_errno(NGX_ENOMEM);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a record file, whole, of a sane size; codes as fs_load()'s */

static ngx_int_t
ngx_http_upload_store_fs_read(ngx_http_upload_store_t *store,
    ngx_http_upload_store_record_t *rec, ngx_str_t *raw, ngx_pool_t *pool,
    ngx_log_t *log)
{
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_err_t         err;
    ngx_str_t        *path;
    ngx_file_info_t   fi;

    path = &rec->record_path;

    fd = ngx_http_upload_store_fs_openat(store, rec, path,
                                         O_RDONLY|O_NONBLOCK, log);

    if (fd == NGX_INVALID_FILE) {
        err = ngx_errno;

        if (err == NGX_ENOENT || err == NGX_ENOTDIR || err == NGX_ELOOP) {
            return NGX_DECLINED;
        }

        ngx_log_error(NGX_LOG_CRIT, log, err,
                      ngx_open_file_n " \"%V\" failed (customer \"%V\")",
                      path, &rec->customer);
        ngx_set_errno(err);
        return NGX_ERROR;
    }

    n = NGX_ERROR;
    err = 0;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        err = ngx_errno;
        ngx_log_error(NGX_LOG_CRIT, log, err,
                      ngx_fd_info_n " \"%V\" failed", path);
        goto close;
    }

    if (!ngx_is_file(&fi) || ngx_file_size(&fi) == 0
        || ngx_file_size(&fi) > 64 * 1024 * 1024)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "upload store: metadata \"%V\" of customer \"%V\" "
                      "is not a file of a sane size", path, &rec->customer);
        err = NGX_EINVAL;
        goto close;
    }

    raw->len = ngx_file_size(&fi);
    raw->data = ngx_pnalloc(pool, raw->len);
    if (raw->data == NULL) {
        err = NGX_ENOMEM;
        goto close;
    }

    n = ngx_read_fd(fd, raw->data, raw->len);

    if (n == -1) {
        err = ngx_errno;
        ngx_log_error(NGX_LOG_CRIT, log, err,
                      ngx_read_fd_n " \"%V\" failed", path);
        n = NGX_ERROR;

    } else if ((size_t) n != raw->len) {
        err = EIO;
        ngx_log_error(NGX_LOG_CRIT, log, 0,
                      ngx_read_fd_n " \"%V\" read only %z of %uz bytes",
                      path, n, raw->len);
        n = NGX_ERROR;
    }

close:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", path);
    }

    if (n == NGX_ERROR) {
        ngx_set_errno(err);
        return NGX_ABORT;
    }

    return NGX_OK;
}


/*
 * the record as it is now, written to a temp name and renamed over
 * {id}.json; NGX_DECLINED: the upload was deleted meanwhile (a DELETE,
 * the cleanup), and it stays deleted
 */

static ngx_int_t
ngx_http_upload_store_fs_save(ngx_http_upload_store_t *store,
    ngx_http_upload_store_record_t *rec, ngx_pool_t *pool, ngx_log_t *log)
{
    int           day, temp_dir;
    char         *record;
    u_char       *name;
    ngx_err_t     err;
    ngx_int_t     rc;
    ngx_str_t     json, temp;
    struct stat   st;

    rc = ngx_http_upload_store_fs_day(store, rec, 0, &day, log);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    name = ngx_http_upload_store_fs_name(&rec->record_path);

    if (rc == NGX_DECLINED
        || (fstatat(day, (char *) name, &st, AT_SYMLINK_NOFOLLOW) == -1
            && ngx_errno == NGX_ENOENT))
    {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "upload store: id %*s of customer \"%V\" was deleted "
                      "during its transcription, \"%V\" not written again",
                      (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, rec->id,
                      &rec->customer, &rec->record_path);

        if (rc == NGX_OK) {
            ngx_http_upload_store_fs_day_close(store, day, 0);
        }

        return NGX_DECLINED;
    }

    if (ngx_http_upload_store_record_dump(pool, rec, &json, log) != NGX_OK
        || ngx_http_upload_store_temp_record(pool, store, rec, &temp)
           != NGX_OK)
    {
        ngx_http_upload_store_fs_day_close(store, day, 0);
        ngx_set_errno(NGX_ENOMEM);
        return NGX_ERROR;
    }

    if (ngx_http_upload_store_write_file(store, &temp, &json, log) != NGX_OK)
    {
        err = ngx_errno;
        ngx_http_upload_store_fs_day_close(store, day, 0);
        ngx_set_errno(err);
        return NGX_ERROR;
    }

    record = ngx_http_upload_store_fs_at(store, &temp, &temp_dir);

    if (renameat(temp_dir, record, day, (char *) name) == -1) {
        err = ngx_errno;
        ngx_log_error(NGX_LOG_CRIT, log, err,
                      "renameat() \"%s\" to \"%s\" failed "
                      "(customer \"%V\")", temp.data, rec->record_path.data,
                      &rec->customer);
        (void) ngx_delete_file(temp.data);
        ngx_http_upload_store_fs_day_close(store, day, 0);
        ngx_set_errno(err);
        return NGX_ERROR;
    }

    ngx_http_upload_store_fs_day_close(store, day, 0);

    ngx_http_upload_store_stats_resized(store,
                                        (off_t) json.len - rec->record_bytes);
    rec->record_bytes = json.len;

    return NGX_OK;
}


/*
 * the audio (AUDIO), or the audio then the record (UPLOAD): a failure
 * leaves the record to try again with; NGX_DECLINED: already gone
 */

static ngx_int_t
ngx_http_upload_store_fs_remove(ngx_http_upload_store_t *store,
    ngx_http_upload_store_record_t *rec, ngx_uint_t what, ngx_log_t *log)
{
    int           day;
    ngx_err_t     err;
    ngx_int_t     rc;
    ngx_str_t    *path;
    struct stat   st;

    rc = ngx_http_upload_store_fs_day(store, rec, 0, &day, log);

    if (rc != NGX_OK) {
        return rc;
    }

    rc = NGX_DECLINED;
    path = &rec->path;

    if (fstatat(day, (char *) ngx_http_upload_store_fs_name(path), &st,
                AT_SYMLINK_NOFOLLOW)
        != -1)
    {
        if (unlinkat(day, (char *) ngx_http_upload_store_fs_name(path), 0)
            == -1)
        {
            err = ngx_errno;

            if (err != NGX_ENOENT) {
                goto failed;
            }

        } else {
            rc = NGX_OK;

            if (S_ISREG(st.st_mode)) {
                ngx_http_upload_store_stats_removed(store, st.st_size, 1);
            }
        }
    }

    if (what == NGX_HTTP_UPLOAD_STORE_AUDIO) {
        ngx_http_upload_store_fs_day_close(store, day, 0);
        return rc;
    }

    path = &rec->record_path;

    if (unlinkat(day, (char *) ngx_http_upload_store_fs_name(path), 0) == -1)
    {
        err = ngx_errno;

        if (err == NGX_ENOENT) {
            /* another DELETE, or the cleanup, was first */
            ngx_http_upload_store_fs_day_close(store, day, 0);
            return NGX_DECLINED;
        }

        goto failed;
    }

    ngx_http_upload_store_fs_day_close(store, day, 0);

    ngx_http_upload_store_stats_removed(store, rec->record_bytes, 0);

    return NGX_OK;

failed:

    ngx_log_error(NGX_LOG_CRIT, log, err,
                  "unlinkat() \"%V\" failed (customer \"%V\")",
                  path, &rec->customer);

    ngx_http_upload_store_fs_day_close(store, day, 0);
    ngx_set_errno(err);

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_upload_store_fs_space(ngx_http_upload_store_t *store, off_t *total,
    off_t *avail)
{
    struct statvfs  fs;

    if (statvfs((char *) store->root.data, &fs) == -1) {
        *total = 0;
        *avail = 0;
        return NGX_ERROR;
    }

    *total = (off_t) fs.f_blocks * fs.f_frsize;
    *avail = (off_t) fs.f_bavail * fs.f_frsize;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_store_write_file(ngx_http_upload_store_t *store,
    ngx_str_t *name, ngx_str_t *data, ngx_log_t *log)
{
    int         dir;
    char       *at;
    ssize_t     n;
    ngx_fd_t    fd;
    ngx_err_t   err;
    ngx_uint_t  made, access;

    access = store->access;
    at = ngx_http_upload_store_fs_at(store, name, &dir);

    /* made now, the mode is what open() gave; one left by a crash: not */

    made = 1;
    fd = openat(dir, at, O_WRONLY|O_CREAT|O_EXCL, (mode_t) access);

    if (fd == NGX_INVALID_FILE && ngx_errno == NGX_EEXIST) {
        made = 0;
        fd = openat(dir, at, O_WRONLY|O_CREAT|O_TRUNC, (mode_t) access);
    }

    if (fd == NGX_INVALID_FILE) {
        err = ngx_errno;
        ngx_log_error(NGX_LOG_CRIT, log, err,
                      ngx_open_file_n " \"%s\" failed", name->data);
        ngx_set_errno(err);
        return NGX_ERROR;
    }

    n = ngx_write_fd(fd, data->data, data->len);
    err = ngx_errno;

    /* the exact mode, whatever the umask (not 0 without "daemon on") */

    if (n == (ssize_t) data->len
        && (!made || ngx_http_upload_store_fs_chmod(access, access))
        && fchmod(fd, access) == -1)
    {
        err = ngx_errno;
        ngx_log_error(NGX_LOG_CRIT, log, err,
                      "fchmod() \"%s\" failed", name->data);
        n = -1;
    }

    if (n != (ssize_t) data->len) {
        if (n != -1) {
            /* a short write to a regular file: the disk is full */
            err = NGX_ENOSPC;
        }

        ngx_log_error(NGX_LOG_CRIT, log, err,
                      ngx_write_fd_n " \"%s\" failed", name->data);
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_close_file_n " \"%s\" failed", name->data);
    }

    if (n != (ssize_t) data->len) {
        (void) ngx_delete_file(name->data);
        ngx_set_errno(err);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * the body's temp file has been renamed into the store: its cleanup must
 * close it but not unlink the old name, which a later upload may reuse
 */

static void
ngx_http_upload_store_keep_temp(ngx_pool_t *pool, ngx_fd_t fd)
{
    ngx_pool_cleanup_t       *c;
    ngx_pool_cleanup_file_t  *cf;

    for (c = pool->cleanup; c; c = c->next) {
        if (c->handler == ngx_pool_delete_file) {
            cf = c->data;

            if (cf->fd == fd) {
                c->handler = ngx_pool_cleanup_file;
                return;
            }
        }
    }
}


/* the worker's umask, to skip an fchmod() that would change nothing */

void
ngx_http_upload_store_fs_init(void)
{
    mode_t  mask;

    mask = umask(0);
    (void) umask(mask);

    ngx_http_upload_store_umask = mask;
}


/* a file just made with the mode "made" needs fchmod() to have "access" */

static ngx_uint_t
ngx_http_upload_store_fs_chmod(ngx_uint_t made, ngx_uint_t access)
{
    return (made & ~ngx_http_upload_store_umask) != access;
}
