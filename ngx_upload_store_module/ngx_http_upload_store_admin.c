
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"

#include <sys/statvfs.h>


/*
 * upload_store_admin: the store's counters from the shared zone as JSON
 * or Prometheus text, its health, and a cleanup run on demand
 */


#define NGX_HTTP_UPLOAD_STORE_WAIT_POLL  10        /* ms */
#define NGX_HTTP_UPLOAD_STORE_WAIT_MAX   600000    /* ms */


typedef struct {
    ngx_http_request_t             *request;
    ngx_event_t                     event;
    ngx_atomic_uint_t               seq;         /* the run waited for */
    ngx_msec_t                      start;
} ngx_http_upload_store_wait_t;


typedef struct {
    off_t                           total;
    off_t                           free;
    ngx_err_t                       err;
} ngx_http_upload_store_disk_t;


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
static json_t *ngx_http_upload_store_run_json(
    ngx_http_upload_store_run_t *run);
static void ngx_http_upload_store_disk(ngx_http_upload_store_t *store,
    ngx_http_upload_store_disk_t *disk);
static u_char *ngx_http_upload_store_prom(u_char *p, u_char *last,
    char *name, char *type, char *help);


static ngx_uint_t  ngx_http_upload_store_status_codes[] = {
    400, 403, 404, 405, 408, 411, 413, 415, 500, 502, 503, 504, 507
};


static char  *ngx_http_upload_store_outcomes[] = {
    "transcribed",
    "provider_auth",
    "provider_rate_limited",
    "provider_error",
    "provider_timeout",
    "provider_bad_response",
    "provider_response_too_large",
    "client_closed",
    "other"
};


/* upper bounds, ms; the last bucket is +Inf */

static ngx_msec_t  ngx_http_upload_store_buckets[] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000
};


void
ngx_http_upload_store_count_status(ngx_http_upload_store_t *store,
    ngx_uint_t status)
{
    ngx_uint_t  i, n;

    n = sizeof(ngx_http_upload_store_status_codes) / sizeof(ngx_uint_t);

    for (i = 0; i < n; i++) {
        if (ngx_http_upload_store_status_codes[i] == status) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&store->sh->status[i], 1);
    (void) ngx_atomic_fetch_add(&store->sh->rejected, 1);
}


/* a transcription is over: its outcome and latency */

void
ngx_http_upload_store_count_stt(ngx_http_upload_store_ctx_t *ctx)
{
    ngx_str_t                    outcome;
    ngx_uint_t                   i;
    ngx_msec_t                   ms;
    ngx_http_upload_store_sh_t  *sh;

    sh = ctx->store->sh;

    outcome = ctx->stt_error.len ? ctx->stt_error : ctx->status;

    for (i = 0; i < NGX_HTTP_UPLOAD_STORE_NOUTCOME - 1; i++) {
        if (outcome.len == ngx_strlen(ngx_http_upload_store_outcomes[i])
            && ngx_strncmp(outcome.data, ngx_http_upload_store_outcomes[i],
                           outcome.len)
               == 0)
        {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&sh->stt[i], 1);

    ms = ngx_http_upload_store_stt_time(ctx);

    for (i = 0; i < NGX_HTTP_UPLOAD_STORE_NBUCKET - 1; i++) {
        if (ms <= ngx_http_upload_store_buckets[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&sh->stt_bucket[i], 1);
    (void) ngx_atomic_fetch_add(&sh->stt_ms, ms);
    (void) ngx_atomic_fetch_add(&sh->stt_count, 1);
}


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

    if (ngx_http_upload_store_admin_arg(r, "cleanup", &value) == NGX_OK) {

        if (value.len != 3 || ngx_strncmp(value.data, "now", 3) != 0) {
            return ngx_http_upload_store_error(r, NGX_HTTP_BAD_REQUEST,
                                               "bad_request",
                                               "use cleanup=now");
        }

        return ngx_http_upload_store_admin_cleanup(r, store);
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

        return ngx_http_upload_store_error(r, NGX_HTTP_BAD_REQUEST,
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
        return ngx_http_upload_store_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
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

            rc = ngx_http_upload_store_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                             "service_unavailable",
                                             "nginx is shutting down, "
                                             "try again");
            goto done;
        }

        if (ngx_current_msec - wait->start < NGX_HTTP_UPLOAD_STORE_WAIT_MAX) {
            ngx_add_timer(ev, NGX_HTTP_UPLOAD_STORE_WAIT_POLL);
            return;
        }

        rc = ngx_http_upload_store_error(r, NGX_HTTP_GATEWAY_TIME_OUT,
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

    if (wait->event.timer_set) {
        ngx_del_timer(&wait->event);
    }
}


/* 200 when an upload could be stored now, else 503 and the reason */

static ngx_int_t
ngx_http_upload_store_admin_health(ngx_http_request_t *r,
    ngx_http_upload_store_t *store)
{
    off_t                          bytes;
    json_t                        *json;
    ngx_http_upload_store_disk_t   disk;

    ngx_http_upload_store_disk(store, &disk);

    if (disk.err) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, disk.err,
                      "upload store \"%V\": statvfs(\"%s\") failed",
                      &store->name, store->root.data);

        return ngx_http_upload_store_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
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

        return ngx_http_upload_store_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                           "store_not_writable",
                                           "the store is not writable");
    }

    if (disk.free < store->min_free) {
        return ngx_http_upload_store_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                           "insufficient_storage",
                                           "%O bytes free, min_free is %O",
                                           disk.free, store->min_free);
    }

    bytes = (off_t) ngx_http_upload_store_gauge(&store->sh->bytes);

    if (store->max_size && bytes >= store->max_size) {
        return ngx_http_upload_store_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                           "store_full",
                                           "%O bytes stored, max_size is %O",
                                           bytes, store->max_size);
    }

    json = json_pack("{s:s,s:I,s:I,s:I}",
                     "status", "ok",
                     "disk_free", (json_int_t) disk.free,
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
    char                          buf[NGX_INT_T_LEN + 1];
    json_t                        *json, *rejected, *outcomes, *buckets, *b;
    ngx_uint_t                     i, n;
    ngx_http_upload_store_sh_t    *sh;
    ngx_http_upload_store_run_t    run;
    ngx_http_upload_store_disk_t   disk;

    sh = store->sh;

    /* the last run, whole: its owner may be writing a new one */

    ngx_memcpy(&run, &sh->last, sizeof(ngx_http_upload_store_run_t));

    ngx_http_upload_store_disk(store, &disk);

    rejected = json_object();
    outcomes = json_object();
    buckets = json_array();

    if (rejected == NULL || outcomes == NULL || buckets == NULL) {
        goto failed;
    }

    n = sizeof(ngx_http_upload_store_status_codes) / sizeof(ngx_uint_t);

    for (i = 0; i <= n; i++) {
        if (i < n) {
            (void) ngx_sprintf((u_char *) buf, "%ui%Z",
                               ngx_http_upload_store_status_codes[i]);

        } else {
            ngx_memcpy(buf, "other", sizeof("other"));
        }

        if (json_object_set_new(rejected, buf,
                                json_integer((json_int_t) sh->status[i]))
            != 0)
        {
            goto failed;
        }
    }

    for (i = 0; i < NGX_HTTP_UPLOAD_STORE_NOUTCOME; i++) {
        if (json_object_set_new(outcomes, ngx_http_upload_store_outcomes[i],
                                json_integer((json_int_t) sh->stt[i]))
            != 0)
        {
            goto failed;
        }
    }

    for (i = 0; i < NGX_HTTP_UPLOAD_STORE_NBUCKET; i++) {
        if (i < NGX_HTTP_UPLOAD_STORE_NBUCKET - 1) {
            b = json_pack("{s:I,s:I}",
                          "le_ms",
                          (json_int_t) ngx_http_upload_store_buckets[i],
                          "count", (json_int_t) sh->stt_bucket[i]);

        } else {
            b = json_pack("{s:s,s:I}", "le_ms", "+Inf",
                          "count", (json_int_t) sh->stt_bucket[i]);
        }

        if (json_array_append_new(buckets, b) != 0) {
            goto failed;
        }
    }

    json = json_pack("{s:s%,s:s,"
                     "s:{s:I,s:I,s:I,s:I},"
                     "s:{s:I,s:I,s:I},"
                     "s:{s:I,s:I,s:o,s:I,s:I},"
                     "s:{s:I,s:o,s:{s:I,s:I,s:o}},"
                     "s:{s:I,s:b,s:I,s:I,s:I,s:I,s:I,s:o*}}",
                     "zone", store->name.data, store->name.len,
                     "root", store->root.data,

                     "store",
                     "files",
                     (json_int_t) ngx_http_upload_store_gauge(&sh->files),
                     "bytes",
                     (json_int_t) ngx_http_upload_store_gauge(&sh->bytes),
                     "customers",
                     (json_int_t) ngx_http_upload_store_gauge(&sh->customers),
                     "max_size", (json_int_t) store->max_size,

                     "disk",
                     "total", (json_int_t) disk.total,
                     "free", (json_int_t) disk.free,
                     "min_free", (json_int_t) store->min_free,

                     "uploads",
                     "accepted", (json_int_t) sh->accepted,
                     "rejected", (json_int_t) sh->rejected,
                     "rejected_by_status", rejected,
                     "received_bytes", (json_int_t) sh->received,
                     "deleted", (json_int_t) sh->deletes,

                     "transcriptions",
                     "count", (json_int_t) sh->stt_count,
                     "outcomes", outcomes,
                     "latency",
                     "count", (json_int_t) sh->stt_count,
                     "sum_ms", (json_int_t) sh->stt_ms,
                     "buckets", buckets,

                     "cleanup",
                     "runs", (json_int_t) sh->runs,
                     "running", sh->owner != 0,
                     "worker", (json_int_t) sh->owner,
                     "retention", (json_int_t) store->retention,
                     "interval", (json_int_t) store->interval,
                     "deleted", (json_int_t) sh->cleaned,
                     "failed", (json_int_t) sh->clean_failed,
                     "last", run.seq
                             ? ngx_http_upload_store_run_json(&run)
                             : NULL);

    /* json_pack() took the references, even on failure */

    rejected = NULL;
    outcomes = NULL;
    buckets = NULL;

    if (json == NULL) {
        goto failed;
    }

    return ngx_http_upload_store_send_object(r, NGX_HTTP_OK, json);

failed:

    json_decref(rejected);
    json_decref(outcomes);
    json_decref(buckets);

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static json_t *
ngx_http_upload_store_run_json(ngx_http_upload_store_run_t *run)
{
    json_t      *errors;
    ngx_uint_t   i;

    errors = json_array();
    if (errors == NULL) {
        return NULL;
    }

    /* a copy of the shared run: its strings can be terminated here */

    for (i = 0; i < run->nerrors && i < NGX_HTTP_UPLOAD_STORE_NERR; i++) {
        run->errors[i][NGX_HTTP_UPLOAD_STORE_ERRLEN - 1] = '\0';

        /* a name that is not UTF-8 makes jansson refuse the string */

        if (json_array_append_new(errors,
                         json_string((char *) run->errors[i])) != 0)
        {
            (void) json_array_append_new(errors,
                                         json_string("(not UTF-8)"));
        }
    }

    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
                     "s:o}",
                     "run", (json_int_t) run->seq,
                     "worker", (json_int_t) run->pid,
                     "start_ms", (json_int_t) run->start,
                     "duration_ms", (json_int_t) run->duration,
                     "scanned", (json_int_t) run->scanned,
                     "deleted", (json_int_t) run->deleted,
                     "bytes_freed", (json_int_t) run->freed,
                     "temp_deleted", (json_int_t) run->temp,
                     "dirs_removed", (json_int_t) run->dirs,
                     "failed", (json_int_t) run->failed,
                     "skipped", (json_int_t) run->skipped,
                     "longest_slice_ms", (json_int_t) run->slice,
                     "errors", errors);
}


/* the Prometheus text exposition format, version 0.0.4 */

static ngx_int_t
ngx_http_upload_store_admin_prometheus(ngx_http_request_t *r,
    ngx_http_upload_store_t *store)
{
    u_char                        *p, *last, *z;
    size_t                         size;
    ngx_str_t                      out, zone;
    ngx_uint_t                     i, n;
    ngx_atomic_uint_t              cum;
    ngx_http_upload_store_sh_t    *sh;
    ngx_http_upload_store_run_t   *run, copy;
    ngx_http_upload_store_disk_t   disk;

    static ngx_str_t  type =
        ngx_string("text/plain; version=0.0.4; charset=utf-8");

    sh = store->sh;

    ngx_memcpy(&copy, &sh->last, sizeof(ngx_http_upload_store_run_t));
    run = &copy;

    ngx_http_upload_store_disk(store, &disk);

    /* the zone's name as a label value: \, " and newline escaped */

    zone.data = ngx_pnalloc(r->pool, store->name.len * 2);
    if (zone.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    z = zone.data;

    for (i = 0; i < store->name.len; i++) {
        switch (store->name.data[i]) {
        case '\\':
        case '"':
            *z++ = '\\';
            *z++ = store->name.data[i];
            break;
        case '\n':
            *z++ = '\\';
            *z++ = 'n';
            break;
        default:
            *z++ = store->name.data[i];
        }
    }

    zone.len = z - zone.data;

    size = 16384 + 80 * (zone.len + 64);

    out.data = ngx_pnalloc(r->pool, size);
    if (out.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = out.data;
    last = out.data + size;

#define ngx_us_prom_value(name, value)                                        \
    p = ngx_slprintf(p, last, name "{zone=\"%V\"} %uA\n", &zone,             \
                     (ngx_atomic_uint_t) (value))

#define ngx_us_prom_seconds(name, ms)                                         \
    p = ngx_slprintf(p, last, name "{zone=\"%V\"} %uA.%03uA\n", &zone,       \
                     (ngx_atomic_uint_t) (ms) / 1000,                         \
                     (ngx_atomic_uint_t) (ms) % 1000)

    p = ngx_http_upload_store_prom(p, last, "upload_store_files", "gauge",
                                   "Uploads in the store.");
    ngx_us_prom_value("upload_store_files",
                      ngx_http_upload_store_gauge(&sh->files));

    p = ngx_http_upload_store_prom(p, last, "upload_store_bytes", "gauge",
                                   "Bytes in the store, audio and "
                                   "metadata.");
    ngx_us_prom_value("upload_store_bytes",
                      ngx_http_upload_store_gauge(&sh->bytes));

    p = ngx_http_upload_store_prom(p, last, "upload_store_customers",
                                   "gauge", "Customer directories.");
    ngx_us_prom_value("upload_store_customers",
                      ngx_http_upload_store_gauge(&sh->customers));

    p = ngx_http_upload_store_prom(p, last,
                                   "upload_store_uploads_accepted_total",
                                   "counter", "Uploads stored.");
    ngx_us_prom_value("upload_store_uploads_accepted_total", sh->accepted);

    p = ngx_http_upload_store_prom(p, last,
                                   "upload_store_uploads_rejected_total",
                                   "counter", "Uploads refused, by status.");

    n = sizeof(ngx_http_upload_store_status_codes) / sizeof(ngx_uint_t);

    for (i = 0; i <= n; i++) {
        p = ngx_slprintf(p, last, "upload_store_uploads_rejected_total"
                         "{zone=\"%V\",status=\"", &zone);

        if (i < n) {
            p = ngx_slprintf(p, last, "%ui",
                             ngx_http_upload_store_status_codes[i]);
        } else {
            p = ngx_slprintf(p, last, "other");
        }

        p = ngx_slprintf(p, last, "\"} %uA\n", sh->status[i]);
    }

    p = ngx_http_upload_store_prom(p, last,
                                   "upload_store_received_bytes_total",
                                   "counter", "Request body bytes received.");
    ngx_us_prom_value("upload_store_received_bytes_total", sh->received);

    p = ngx_http_upload_store_prom(p, last,
                                   "upload_store_deleted_total", "counter",
                                   "Uploads deleted through the files API.");
    ngx_us_prom_value("upload_store_deleted_total", sh->deletes);

    p = ngx_http_upload_store_prom(p, last,
                                   "upload_store_transcriptions_total",
                                   "counter",
                                   "Transcriptions, by outcome.");

    for (i = 0; i < NGX_HTTP_UPLOAD_STORE_NOUTCOME; i++) {
        p = ngx_slprintf(p, last, "upload_store_transcriptions_total"
                         "{zone=\"%V\",outcome=\"%s\"} %uA\n", &zone,
                         ngx_http_upload_store_outcomes[i], sh->stt[i]);
    }

    p = ngx_http_upload_store_prom(p, last,
                                   "upload_store_transcription_seconds",
                                   "histogram",
                                   "Time from the request to the "
                                   "provider to its answer.");

    cum = 0;

    for (i = 0; i < NGX_HTTP_UPLOAD_STORE_NBUCKET; i++) {
        cum += sh->stt_bucket[i];

        p = ngx_slprintf(p, last, "upload_store_transcription_seconds_bucket"
                         "{zone=\"%V\",le=\"", &zone);

        if (i < NGX_HTTP_UPLOAD_STORE_NBUCKET - 1) {
            p = ngx_slprintf(p, last, "%M.%03M",
                             ngx_http_upload_store_buckets[i] / 1000,
                             ngx_http_upload_store_buckets[i] % 1000);
        } else {
            p = ngx_slprintf(p, last, "+Inf");
        }

        p = ngx_slprintf(p, last, "\"} %uA\n", cum);
    }

    ngx_us_prom_seconds("upload_store_transcription_seconds_sum",
                        sh->stt_ms);
    ngx_us_prom_value("upload_store_transcription_seconds_count", cum);

    p = ngx_http_upload_store_prom(p, last, "upload_store_cleanup_runs_total",
                                   "counter", "Cleanup runs finished.");
    ngx_us_prom_value("upload_store_cleanup_runs_total", sh->runs);

    p = ngx_http_upload_store_prom(p, last,
                                   "upload_store_cleanup_deleted_total",
                                   "counter",
                                   "Files deleted by the cleanup.");
    ngx_us_prom_value("upload_store_cleanup_deleted_total", sh->cleaned);

    p = ngx_http_upload_store_prom(p, last,
                                   "upload_store_cleanup_freed_bytes_total",
                                   "counter", "Bytes freed by the cleanup.");
    ngx_us_prom_value("upload_store_cleanup_freed_bytes_total",
                      sh->cleaned_bytes);

    p = ngx_http_upload_store_prom(p, last,
                                   "upload_store_cleanup_failed_total",
                                   "counter",
                                   "Entries the cleanup could not remove.");
    ngx_us_prom_value("upload_store_cleanup_failed_total",
                      sh->clean_failed);

    p = ngx_http_upload_store_prom(p, last, "upload_store_cleanup_running",
                                   "gauge", "1 while a cleanup runs.");
    ngx_us_prom_value("upload_store_cleanup_running", sh->owner != 0);

    p = ngx_http_upload_store_prom(p, last,
                                   "upload_store_cleanup_last_start_seconds",
                                   "gauge",
                                   "When the last cleanup run started, "
                                   "since the epoch.");
    ngx_us_prom_seconds("upload_store_cleanup_last_start_seconds",
                        run->start);

    p = ngx_http_upload_store_prom(p, last,
                              "upload_store_cleanup_last_duration_seconds",
                              "gauge", "How long the last run took.");
    ngx_us_prom_seconds("upload_store_cleanup_last_duration_seconds",
                        run->duration);

    p = ngx_http_upload_store_prom(p, last,
                                   "upload_store_cleanup_last_scanned",
                                   "gauge",
                                   "Entries the last run looked at.");
    ngx_us_prom_value("upload_store_cleanup_last_scanned", run->scanned);

    p = ngx_http_upload_store_prom(p, last,
                                   "upload_store_cleanup_last_deleted",
                                   "gauge", "Files the last run deleted.");
    ngx_us_prom_value("upload_store_cleanup_last_deleted",
                      run->deleted + run->temp);

    p = ngx_http_upload_store_prom(p, last,
                                   "upload_store_cleanup_last_failed",
                                   "gauge",
                                   "Entries the last run could not remove.");
    ngx_us_prom_value("upload_store_cleanup_last_failed", run->failed);

    p = ngx_http_upload_store_prom(p, last,
                            "upload_store_cleanup_longest_slice_seconds",
                            "gauge", "The longest the last run held the "
                            "event loop at once.");
    ngx_us_prom_seconds("upload_store_cleanup_longest_slice_seconds",
                        run->slice);

    p = ngx_http_upload_store_prom(p, last, "upload_store_disk_total_bytes",
                                   "gauge",
                                   "Size of the store's filesystem.");
    ngx_us_prom_value("upload_store_disk_total_bytes", disk.total);

    p = ngx_http_upload_store_prom(p, last, "upload_store_disk_free_bytes",
                                   "gauge",
                                   "Space free for nginx on the store's "
                                   "filesystem.");
    ngx_us_prom_value("upload_store_disk_free_bytes", disk.free);

    p = ngx_http_upload_store_prom(p, last, "upload_store_min_free_bytes",
                                   "gauge", "The store's min_free.");
    ngx_us_prom_value("upload_store_min_free_bytes", store->min_free);

    p = ngx_http_upload_store_prom(p, last, "upload_store_max_size_bytes",
                                   "gauge",
                                   "The store's max_size, 0: no limit.");
    ngx_us_prom_value("upload_store_max_size_bytes", store->max_size);

#undef ngx_us_prom_value
#undef ngx_us_prom_seconds

    if (p == last) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "upload store \"%V\": metrics truncated", &store->name);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    out.len = p - out.data;

    return ngx_http_upload_store_send(r, NGX_HTTP_OK, &type, &out);
}


static u_char *
ngx_http_upload_store_prom(u_char *p, u_char *last, char *name, char *type,
    char *help)
{
    return ngx_slprintf(p, last, "# HELP %s %s\n# TYPE %s %s\n",
                        name, help, name, type);
}


static void
ngx_http_upload_store_disk(ngx_http_upload_store_t *store,
    ngx_http_upload_store_disk_t *disk)
{
    struct statvfs  fs;

    if (statvfs((char *) store->root.data, &fs) == -1) {
        disk->err = ngx_errno;
        disk->total = 0;
        disk->free = 0;
        return;
    }

    disk->err = 0;
    disk->total = (off_t) fs.f_blocks * fs.f_frsize;
    disk->free = (off_t) fs.f_bavail * fs.f_frsize;
}
