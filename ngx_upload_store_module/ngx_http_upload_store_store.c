
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_core.h"


/*
 * The store as a whole: its shared zone, what it holds at start, the
 * space it has for one more upload, and the stores of a cycle.
 */


typedef struct {
    off_t                           bytes;
    ngx_uint_t                      files;
} ngx_http_upload_store_size_t;


static void ngx_http_upload_store_size(ngx_http_upload_store_t *store,
    ngx_log_t *log);
static ngx_uint_t ngx_http_upload_store_count(
    ngx_http_upload_store_walk_t *walk, ngx_http_upload_store_entry_t *e);


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

    size = ngx_http_upload_store_stats_bytes(store);

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

    avail = store->avail;

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


/* a monotonic clock, cheap enough to read for every entry (vDSO) */

ngx_msec_t
ngx_http_upload_store_msec(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (ngx_msec_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

