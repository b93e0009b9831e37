
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_core.h"

#include <pwd.h>


/*
 * The store as a whole: its configuration (upload_store_path), its shared
 * zone, what it holds at start, the space it has for one more upload, and
 * the stores of a cycle.
 */


typedef struct {
    off_t                           bytes;
    ngx_uint_t                      files;
} ngx_http_upload_store_size_t;


static char *ngx_http_upload_store_path_param(ngx_conf_t *cf,
    ngx_http_upload_store_t *store, ngx_str_t *value, ssize_t *size);
static char *ngx_http_upload_store_path_limit(ngx_conf_t *cf,
    ngx_http_upload_store_t *store, ngx_str_t *value);
static char *ngx_http_upload_store_path_zone(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_http_upload_store_t *store, ssize_t size);
static char *ngx_http_upload_store_access(ngx_conf_t *cf, ngx_str_t *value,
    ngx_uint_t *access);
static void ngx_http_upload_store_size(ngx_http_upload_store_t *store,
    ngx_log_t *log);
static ngx_uint_t ngx_http_upload_store_count(
    ngx_http_upload_store_walk_t *walk, ngx_http_upload_store_entry_t *e);


/*
 * upload_store_path DIR zone=NAME:SIZE [retention=TIME] [interval=TIME]
 *     [min_free=SIZE] [max_size=SIZE] [access=user:rw[,group:r[,all:r]]]
 */

char *
ngx_http_upload_store_path(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char                     *rv;
    ssize_t                   size;
    ngx_str_t                *value;
    ngx_uint_t                i;
    ngx_pool_cleanup_t       *cln;
    ngx_http_upload_store_t  *store;

    value = cf->args->elts;

    store = ngx_pcalloc(cf->pool, sizeof(ngx_http_upload_store_t));
    cln = ngx_pool_cleanup_add(cf->pool, 0);

    if (store == NULL || cln == NULL) {
        return NGX_CONF_ERROR;
    }

    /* a worker's descriptor of the root goes with this configuration */

    store->root_fd = -1;
    store->day_fd = -1;
    cln->handler = ngx_http_upload_store_fs_root_close;
    cln->data = store;

    store->root = value[1];

    if (store->root.len > 1 && store->root.data[store->root.len - 1] == '/') {
        store->root.len--;
    }

    if (ngx_conf_full_name(cf->cycle, &store->root, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    store->backend = &ngx_http_upload_store_fs_backend;
    store->retention = 24 * 60 * 60;
    store->interval = 60 * 60;
    store->min_free = 10 * 1024 * 1024;
    store->max_size = 0;
    store->access = 0600;

    size = 0;

    for (i = 2; i < cf->args->nelts; i++) {
        rv = ngx_http_upload_store_path_param(cf, store, &value[i], &size);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (store->name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"zone\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    return ngx_http_upload_store_path_zone(cf, cmd, store, size);
}


/* one NAME=VALUE parameter of upload_store_path */

static char *
ngx_http_upload_store_path_param(ngx_conf_t *cf,
    ngx_http_upload_store_t *store, ngx_str_t *value, ssize_t *size)
{
    u_char     *p;
    ngx_str_t   s;

    if (ngx_strncmp(value->data, "zone=", 5) == 0) {

        store->name.data = value->data + 5;

        p = (u_char *) ngx_strchr(store->name.data, ':');

        if (p == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid zone size \"%V\"", value);
            return NGX_CONF_ERROR;
        }

        store->name.len = p - store->name.data;

        s.data = p + 1;
        s.len = value->data + value->len - s.data;

        *size = ngx_parse_size(&s);

        if (*size == NGX_ERROR || store->name.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid zone \"%V\"", value);
            return NGX_CONF_ERROR;
        }

        if (*size < (ssize_t) (8 * ngx_pagesize)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "zone \"%V\" is too small", value);
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "thread_pool=", 12) == 0) {

#if (NGX_THREADS)
        s.data = value->data + 12;
        s.len = value->len - 12;

        if (s.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid thread pool \"%V\"", value);
            return NGX_CONF_ERROR;
        }

        store->thread_pool = ngx_thread_pool_add(cf, &s);
        if (store->thread_pool == NULL) {
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
#else
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs nginx built with "
                           "--with-threads", value);
        return NGX_CONF_ERROR;
#endif
    }

    if (ngx_strncmp(value->data, "access=", 7) == 0) {

        s.data = value->data + 7;
        s.len = value->len - 7;

        if (ngx_http_upload_store_access(cf, &s, &store->access)
            != NGX_CONF_OK)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid access \"%V\"", value);
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    return ngx_http_upload_store_path_limit(cf, store, value);
}


/* retention=, interval=, min_free=, max_size= */

static char *
ngx_http_upload_store_path_limit(ngx_conf_t *cf,
    ngx_http_upload_store_t *store, ngx_str_t *value)
{
    off_t      o;
    time_t     t;
    ngx_str_t  s;

    if (ngx_strncmp(value->data, "retention=", 10) == 0) {

        s.data = value->data + 10;
        s.len = value->len - 10;

        t = ngx_parse_time(&s, 1);
        if (t == (time_t) NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid retention \"%V\"", value);
            return NGX_CONF_ERROR;
        }

        store->retention = t;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "interval=", 9) == 0) {

        s.data = value->data + 9;
        s.len = value->len - 9;

        t = ngx_parse_time(&s, 1);
        if (t == (time_t) NGX_ERROR || t == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid interval \"%V\"", value);
            return NGX_CONF_ERROR;
        }

        store->interval = t;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "min_free=", 9) == 0) {

        s.data = value->data + 9;
        s.len = value->len - 9;

        o = ngx_parse_offset(&s);
        if (o == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid min_free \"%V\"", value);
            return NGX_CONF_ERROR;
        }

        store->min_free = o;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "max_size=", 9) == 0) {

        s.data = value->data + 9;
        s.len = value->len - 9;

        o = ngx_parse_offset(&s);
        if (o == NGX_ERROR || o == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid max_size \"%V\"", value);
            return NGX_CONF_ERROR;
        }

        store->max_size = o;
        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", value);
    return NGX_CONF_ERROR;
}


/* the store's zone, its root and {root}/.tmp, made by nginx at start */

static char *
ngx_http_upload_store_path_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_http_upload_store_t *store, ssize_t size)
{
    store->shm_zone = ngx_shared_memory_add(cf, &store->name, size,
                                            &ngx_http_upload_store_module);
    if (store->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (store->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", &store->name);
        return NGX_CONF_ERROR;
    }

    store->shm_zone->init = ngx_http_upload_store_init_zone;
    store->shm_zone->data = store;

    /* nginx creates both at start, owned by the worker user */

    store->root_path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
    store->temp_path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
    if (store->root_path == NULL || store->temp_path == NULL) {
        return NGX_CONF_ERROR;
    }

    store->root_path->name = store->root;
    store->root_path->conf_file = cf->conf_file->file.name.data;
    store->root_path->line = cf->conf_file->line;

    if (ngx_http_upload_store_temp_dir(cf->pool, &store->root,
                                       &store->temp_path->name)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    store->temp_path->conf_file = store->root_path->conf_file;
    store->temp_path->line = store->root_path->line;

    if (ngx_add_path(cf, &store->root_path) != NGX_OK
        || ngx_add_path(cf, &store->temp_path) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* "user:rw,group:r,all:r", as the values of nginx's *_access directives */

static char *
ngx_http_upload_store_access(ngx_conf_t *cf, ngx_str_t *value,
    ngx_uint_t *access)
{
    u_char      *p, *last, *end;
    ngx_uint_t   right, shift, user;

    *access = 0;
    user = 0600;

    p = value->data;
    last = value->data + value->len;

    if (p == last) {
        return NGX_CONF_ERROR;
    }

    while (p < last) {

        end = ngx_strlchr(p, last, ',');
        if (end == NULL) {
            end = last;
        }

        if (end - p > 5 && ngx_strncmp(p, "user:", 5) == 0) {
            shift = 6;
            p += 5;
            user = 0;

        } else if (end - p > 6 && ngx_strncmp(p, "group:", 6) == 0) {
            shift = 3;
            p += 6;

        } else if (end - p > 4 && ngx_strncmp(p, "all:", 4) == 0) {
            shift = 0;
            p += 4;

        } else {
            return NGX_CONF_ERROR;
        }

        if (end - p == 2 && p[0] == 'r' && p[1] == 'w') {
            right = 6;

        } else if (end - p == 1 && p[0] == 'r') {
            right = 4;

        } else {
            return NGX_CONF_ERROR;
        }

        *access |= right << shift;

        p = (end == last) ? last : end + 1;
    }

    *access |= user;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_upload_store_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_upload_store_t  *ostore = data;

    ngx_slab_pool_t          *shpool;
    ngx_http_upload_store_t  *store;

    store = shm_zone->data;

    if (ostore != NULL && ostore->root.len == store->root.len
        && ngx_strcmp(ostore->root.data, store->root.data) == 0)
    {
        /* reload: the counters stay */
        store->sh = ostore->sh;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (ostore != NULL) {
        store->sh = ostore->sh;

    } else if (shm_zone->shm.exists) {
        store->sh = shpool->data;
        return NGX_OK;

    } else {
        store->sh = ngx_slab_calloc(shpool,
                                    sizeof(ngx_http_upload_store_sh_t));
        if (store->sh == NULL) {
            return NGX_ERROR;
        }

        shpool->data = store->sh;
    }

    /* what is already stored counts against max_size */

    ngx_http_upload_store_size(store, shm_zone->shm.log);

    return NGX_OK;
}


/*
 * at start (zone init, in the master): what the store holds, as the
 * cleanup sees it, with the same walk; synchronous, as nginx's own
 * temp path checks are
 */

static void
ngx_http_upload_store_size(ngx_http_upload_store_t *store, ngx_log_t *log)
{
    ngx_http_upload_store_walk_t  walk;
    ngx_http_upload_store_size_t  size;

    ngx_memzero(&walk, sizeof(ngx_http_upload_store_walk_t));
    ngx_memzero(&size, sizeof(ngx_http_upload_store_size_t));

    walk.store = store;
    walk.log = log;
    walk.sizing = 1;
    walk.expired = ngx_http_upload_store_count;
    walk.data = &size;

    if (store->backend->walk_open(&walk) != NGX_OK) {
        /* not there yet: nginx creates it later */
        store->backend->walk_close(&walk);
        return;
    }

    while (store->backend->walk(&walk, NGX_MAX_UINT32_VALUE,
                                NGX_MAX_INT32_VALUE)
           == NGX_AGAIN)
    {
        /* void */
    }

    store->backend->walk_close(&walk);

    if (walk.run.failed) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "upload store \"%V\": %uA entries could not be "
                      "read to size the store, the first: %s",
                      &store->name, walk.run.failed, walk.run.errors[0]);
    }

    ngx_http_upload_store_stats_sized(store, size.bytes, size.files,
                                      walk.customers);
}


static ngx_uint_t
ngx_http_upload_store_count(ngx_http_upload_store_walk_t *walk,
    ngx_http_upload_store_entry_t *e)
{
    ngx_http_upload_store_size_t  *size = walk->data;

    if (!e->link) {
        size->bytes += e->size;

        if (!e->record) {
            size->files++;
        }
    }

    return 0;
}


/*
 * max_size: NGX_OK, or NGX_HTTP_UPLOAD_STORE_FULL (logged) when "need"
 * more bytes would not fit
 */

ngx_int_t
ngx_http_upload_store_size_check(ngx_http_upload_store_t *store, off_t need,
    ngx_log_t *log)
{
    off_t  size;

    if (store->max_size == 0) {
        return NGX_OK;
    }

    size = ngx_http_upload_store_stats_bytes(store)
           + ngx_http_upload_store_stats_reserved(store);

    if (size + need <= store->max_size) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "upload store \"%V\" is full: %O of max_size %O "
                  "bytes used, upload of %O bytes refused",
                  &store->name, size, store->max_size, need);

    return NGX_HTTP_UPLOAD_STORE_FULL;
}


/*
 * room for an upload of "need" bytes: NGX_OK, or why not (logged),
 * NGX_HTTP_UPLOAD_STORE_FULL or NGX_HTTP_UPLOAD_STORE_LOW
 */

ngx_int_t
ngx_http_upload_store_space(ngx_http_upload_store_t *store, off_t need,
    ngx_log_t *log)
{
    off_t      avail;
    ngx_int_t  rc;

    if (need < 0) {
        need = 0;
    }

    rc = ngx_http_upload_store_size_check(store, need, log);
    if (rc != NGX_OK) {
        return rc;
    }

    if (store->avail_time != ngx_time()) {
        store->avail = ngx_http_upload_store_available(store);
        store->avail_time = ngx_time();
    }

    /* what the uploads in flight will take is not free */

    avail = store->avail - ngx_http_upload_store_stats_reserved(store);

    if (avail - need < store->min_free) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "upload store \"%V\": %O bytes free in \"%s\", "
                      "min_free is %O, upload of %O bytes refused",
                      &store->name, avail, store->root.data,
                      store->min_free, need);

        return NGX_HTTP_UPLOAD_STORE_LOW;
    }

    return NGX_OK;
}


/* free space, read now; as much as can be when it cannot be read */

off_t
ngx_http_upload_store_available(ngx_http_upload_store_t *store)
{
    off_t  total, avail;

    if (store->backend->space(store, &total, &avail) != NGX_OK) {
        return NGX_MAX_OFF_T_VALUE;
    }

    return avail;
}


/* the stores of the cycle: the zones of upload_store_path */

ngx_int_t
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
 * in a worker, as its user: a store it cannot write is said at once, with
 * the path and the user, rather than by the first upload's 500
 */

ngx_int_t
ngx_http_upload_store_check_access(ngx_cycle_t *cycle,
    ngx_http_upload_store_t *store)
{
    char           *path;
    ngx_err_t       err;
    struct passwd  *pw;

    path = (char *) store->root.data;

    if (access(path, W_OK|X_OK) == 0) {
        path = (char *) store->temp_path->name.data;

        if (access(path, W_OK|X_OK) == 0) {
            return NGX_OK;
        }
    }

    err = ngx_errno;
    pw = getpwuid(geteuid());

    ngx_log_error(NGX_LOG_CRIT, cycle->log, err,
                  "upload store \"%V\": \"%s\" is not writable by the "
                  "workers' user \"%s\": uploads will fail",
                  &store->name, path, pw ? pw->pw_name : "?");

    return NGX_OK;
}
