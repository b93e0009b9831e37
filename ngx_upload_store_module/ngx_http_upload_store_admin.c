
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"


/*
 * upload_store_admin: the store's statistics as JSON or Prometheus text
 * (both written from the table in ngx_http_upload_store_metrics.c), its
 * health, and a cleanup run on demand
 */


/* a run in this worker wakes its waiters; one in another is seen so */
#define NGX_HTTP_UPLOAD_STORE_WAIT_POLL  100       /* ms */
#define NGX_HTTP_UPLOAD_STORE_WAIT_MAX   600000    /* ms */


typedef struct {
    ngx_http_request_t             *request;
    ngx_event_t                     event;
    ngx_http_upload_store_waiter_t  waiter;
    ngx_atomic_uint_t               seq;         /* the run waited for */
    ngx_msec_t                      start;
} ngx_http_upload_store_wait_t;


static ngx_int_t ngx_http_upload_store_admin_arg(ngx_http_request_t *r,
    char *name, ngx_str_t *value);
static ngx_int_t ngx_http_upload_store_admin_cleanup(ngx_http_request_t *r,
    ngx_http_upload_store_t *store);
static void ngx_http_upload_store_admin_poll(ngx_event_t *ev);
static void ngx_http_upload_store_admin_wait_cleanup(void *data);
static ngx_int_t ngx_http_upload_store_admin_health(ngx_http_request_t *r,
    ngx_http_upload_store_t *store);
static ngx_int_t ngx_http_upload_store_admin_json(ngx_http_request_t *r,
    ngx_http_upload_store_t *store);
static ngx_int_t ngx_http_upload_store_admin_prometheus(
    ngx_http_request_t *r, ngx_http_upload_store_t *store);


ngx_int_t
ngx_http_upload_store_admin_handler(ngx_http_request_t *r)
{
    ngx_int_t                          rc;
    ngx_str_t                          value;
    ngx_table_elt_t                   *h;
    ngx_http_upload_store_t           *store;
    ngx_http_upload_store_loc_conf_t  *uslcf;

    uslcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_store_module);
    store = uslcf->admin->data;

    if (r->method & NGX_HTTP_POST) {
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_upload_store_admin_cleanup(r, store);
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_upload_store_not_allowed(r, "GET, HEAD, POST");
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    /* a run changes the store: not on a safe method, which a page can
     * make a browser send */

    if (ngx_http_upload_store_admin_arg(r, "cleanup", &value) == NGX_OK) {
        return ngx_http_upload_store_not_allowed(r, "POST");
    }

    if (ngx_http_upload_store_admin_arg(r, "health", &value) == NGX_OK) {
        return ngx_http_upload_store_admin_health(r, store);
    }

    if (ngx_http_upload_store_admin_arg(r, "format", &value) == NGX_OK) {

        if (value.len == 10 && ngx_strncmp(value.data, "prometheus", 10) == 0)
        {
            return ngx_http_upload_store_admin_prometheus(r, store);
        }

        if (value.len == 4 && ngx_strncmp(value.data, "json", 4) == 0) {
            return ngx_http_upload_store_admin_json(r, store);
        }

        return ngx_http_upload_store_set_error(r, NGX_HTTP_BAD_REQUEST,
                                               "bad_request",
                                               "use format=json or "
                                               "format=prometheus");
    }

    /* what a Prometheus server asks for */

    h = ngx_http_upload_store_header(&r->headers_in.headers, "Accept");

    if (h != NULL
        && ngx_strlcasestrn(h->value.data, h->value.data + h->value.len,
                            (u_char *) "text/plain", 10 - 1)
           != NULL
        && ngx_strlcasestrn(h->value.data, h->value.data + h->value.len,
                            (u_char *) "application/json", 16 - 1)
           == NULL)
    {
        return ngx_http_upload_store_admin_prometheus(r, store);
    }

    return ngx_http_upload_store_admin_json(r, store);
}


/* "name" or "name=value" among the arguments */

static ngx_int_t
ngx_http_upload_store_admin_arg(ngx_http_request_t *r, char *name,
    ngx_str_t *value)
{
    u_char  *p, *last, *end, *eq;
    size_t   len;

    len = ngx_strlen(name);

    p = r->args.data;
    last = p + r->args.len;

    while (p < last) {
        end = ngx_strlchr(p, last, '&');
        if (end == NULL) {
            end = last;
        }

        eq = ngx_strlchr(p, end, '=');

        if ((size_t) ((eq ? eq : end) - p) == len
            && ngx_strncmp(p, name, len) == 0)
        {
            value->data = eq ? eq + 1 : end;
            value->len = end - value->data;
            return NGX_OK;
        }

        p = end + 1;
    }

    return NGX_DECLINED;
}


/* a run that starts after the request, answered when it is over */

static ngx_int_t
ngx_http_upload_store_admin_cleanup(ngx_http_request_t *r,
    ngx_http_upload_store_t *store)
{
    ngx_pool_cleanup_t            *cln;
    ngx_http_upload_store_ctx_t   *ctx;
    ngx_http_upload_store_wait_t  *wait;

    if (r != r->main) {
        return ngx_http_upload_store_not_allowed(r, "GET, HEAD");
    }

    if (ngx_exiting) {
        return ngx_http_upload_store_set_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                               "service_unavailable",
                                               "this worker is shutting down, "
                                               "try again");
    }

    ctx = ngx_http_upload_store_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->store = store;

    wait = ngx_pcalloc(r->pool, sizeof(ngx_http_upload_store_wait_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (wait == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->admin = wait;

    wait->request = r;
    wait->start = ngx_current_msec;
    wait->seq = ngx_http_upload_store_cleanup_now(store);

    wait->event.handler = ngx_http_upload_store_admin_poll;
    wait->event.data = r->connection;
    wait->event.log = r->connection->log;

    cln->handler = ngx_http_upload_store_admin_wait_cleanup;
    cln->data = wait;

    wait->waiter.event = &wait->event;
    ngx_http_upload_store_cleanup_wait(store, &wait->waiter);

    ngx_add_timer(&wait->event, NGX_HTTP_UPLOAD_STORE_WAIT_POLL);

    /* a client that goes away ends the wait */

    r->read_event_handler = ngx_http_test_reading;

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_upload_store_admin_poll(ngx_event_t *ev)
{
    json_t                        *json;
    ngx_int_t                      rc;
    ngx_connection_t              *c;
    ngx_http_request_t            *r;
    ngx_http_upload_store_sh_t    *sh;
    ngx_http_upload_store_ctx_t   *ctx;
    ngx_http_upload_store_run_t    run;
    ngx_http_upload_store_wait_t  *wait;

    wait = (ngx_http_upload_store_wait_t *)
               ((u_char *) ev - offsetof(ngx_http_upload_store_wait_t, event));

    r = wait->request;
    c = r->connection;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upload_store_module);
    sh = ctx->store->sh;

    if (sh->last.seq < wait->seq) {

        if (ngx_exiting && sh->owner == 0) {

            /* no run is coming: every worker of this cycle is leaving */

            rc = ngx_http_upload_store_set_error(r,
                                                NGX_HTTP_SERVICE_UNAVAILABLE,
                                                "service_unavailable",
                                                "nginx is shutting down, "
                                                "try again");
            goto done;
        }

        if (ngx_current_msec - wait->start < NGX_HTTP_UPLOAD_STORE_WAIT_MAX) {
            ngx_http_upload_store_cleanup_wait(ctx->store, &wait->waiter);
            ngx_add_timer(ev, NGX_HTTP_UPLOAD_STORE_WAIT_POLL);
            return;
        }

        rc = ngx_http_upload_store_set_error(r, NGX_HTTP_GATEWAY_TIME_OUT,
                                             "cleanup_timeout",
                                             "the cleanup run is not over yet");
        goto done;
    }

    ngx_memcpy(&run, &sh->last, sizeof(ngx_http_upload_store_run_t));

    json = json_pack("{s:o}", "cleanup", ngx_http_upload_store_run_json(&run));

    if (json == NULL) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    rc = ngx_http_upload_store_send_object(r, NGX_HTTP_OK, json);

done:

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_upload_store_admin_wait_cleanup(void *data)
{
    ngx_http_upload_store_wait_t  *wait = data;

    ngx_http_upload_store_cleanup_unwait(&wait->waiter);

    if (wait->event.timer_set) {
        ngx_del_timer(&wait->event);
    }

    if (wait->event.posted) {
        ngx_delete_posted_event(&wait->event);
    }
}


/* 200 when an upload could be stored now, else 503 and the reason */

static ngx_int_t
ngx_http_upload_store_admin_health(ngx_http_request_t *r,
    ngx_http_upload_store_t *store)
{
    off_t    bytes, total, avail;
    json_t  *json;

    if (store->backend->space(store, &total, &avail) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                      "upload store \"%V\": statvfs(\"%s\") failed",
                      &store->name, store->root.data);

        return ngx_http_upload_store_set_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                               "store_unavailable",
                                               "the store's filesystem cannot "
                                               "be read");
    }

    if (access((char *) store->root.data, W_OK|X_OK) == -1
        || access((char *) store->temp_path->name.data, W_OK|X_OK) == -1)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                      "upload store \"%V\": \"%s\" is not writable",
                      &store->name, store->root.data);

        return ngx_http_upload_store_set_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                               "store_not_writable",
                                               "the store is not writable");
    }

    if (avail < store->min_free) {
        return ngx_http_upload_store_set_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                               "insufficient_storage",
                                               "%O bytes free, min_free is %O",
                                               avail, store->min_free);
    }

    bytes = ngx_http_upload_store_stats_bytes(store);

    if (store->max_size && bytes >= store->max_size) {
        return ngx_http_upload_store_set_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                           "store_full",
                                           "%O bytes stored, max_size is %O",
                                           bytes, store->max_size);
    }

    json = json_pack("{s:s,s:I,s:I,s:I}",
                     "status", "ok",
                     "disk_free", (json_int_t) avail,
                     "min_free", (json_int_t) store->min_free,
                     "bytes", (json_int_t) bytes);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_upload_store_send_object(r, NGX_HTTP_OK, json);
}


static ngx_int_t
ngx_http_upload_store_admin_json(ngx_http_request_t *r,
    ngx_http_upload_store_t *store)
{
    json_t  *json;

    json = ngx_http_upload_store_stats_json(store);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_upload_store_send_object(r, NGX_HTTP_OK, json);
}


static ngx_int_t
ngx_http_upload_store_admin_prometheus(ngx_http_request_t *r,
    ngx_http_upload_store_t *store)
{
    ngx_str_t  out;

    static ngx_str_t  type =
        ngx_string("text/plain; version=0.0.4; charset=utf-8");

    if (ngx_http_upload_store_stats_prometheus(store, r->pool, &out,
                                               r->connection->log)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_upload_store_send(r, NGX_HTTP_OK, &type, &out);
}
