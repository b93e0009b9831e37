
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_core.h"


/*
 * The statistics as answers: one table of metrics, from which both the
 * JSON and the Prometheus answers are written.  A new metric is a counter
 * in ngx_http_upload_store_sh_t, its event in ngx_http_upload_store_stats.c,
 * a member of the snapshot here and a line in the table.
 */


typedef enum {
    NGX_HTTP_UPLOAD_STORE_VALUE = 0,
    NGX_HTTP_UPLOAD_STORE_MSEC,          /* seconds in Prometheus */
    NGX_HTTP_UPLOAD_STORE_BOOL,
    NGX_HTTP_UPLOAD_STORE_BY_STATUS,
    NGX_HTTP_UPLOAD_STORE_BY_OUTCOME,
    NGX_HTTP_UPLOAD_STORE_HISTOGRAM,
    NGX_HTTP_UPLOAD_STORE_LAST_RUN
} ngx_http_upload_store_metric_e;


/* the counters as read at once, and what goes with them */

typedef struct {
    ngx_atomic_uint_t               files;
    ngx_atomic_uint_t               bytes;
    ngx_atomic_uint_t               customers;
    ngx_atomic_uint_t               max_size;
    ngx_atomic_uint_t               disk_total;
    ngx_atomic_uint_t               disk_free;
    ngx_atomic_uint_t               min_free;
    ngx_atomic_uint_t               accepted;
    ngx_atomic_uint_t               rejected;
    ngx_atomic_uint_t               received;
    ngx_atomic_uint_t               deletes;
    ngx_atomic_uint_t               transcriptions;
    ngx_atomic_uint_t               runs;
    ngx_atomic_uint_t               running;
    ngx_atomic_uint_t               owner;
    ngx_atomic_uint_t               retention;
    ngx_atomic_uint_t               interval;
    ngx_atomic_uint_t               cleaned;
    ngx_atomic_uint_t               cleaned_bytes;
    ngx_atomic_uint_t               clean_failed;
    ngx_atomic_uint_t               last_deleted;
    ngx_atomic_uint_t               jobs[NGX_HTTP_UPLOAD_STORE_NJOB];
    ngx_atomic_uint_t               jobs_running;
    ngx_atomic_uint_t               jobs_queued;
    ngx_atomic_uint_t               jobs_oldest; /* age, ms */
    ngx_atomic_uint_t               objects[NGX_HTTP_UPLOAD_STORE_NOBJ];
    ngx_atomic_uint_t               offloads_queued;
    ngx_http_upload_store_run_t     last;        /* whole: its owner may be
                                                    writing a new one */
    ngx_http_upload_store_sh_t     *sh;
} ngx_http_upload_store_snapshot_t;


typedef struct {
    char                           *section;     /* in the JSON answer */
    char                           *key;         /* NULL: not in it */
    char                           *name;        /* Prometheus', or NULL */
    char                           *type;
    char                           *help;
    ngx_uint_t                      kind;
    size_t                          offset;      /* in the snapshot */
} ngx_http_upload_store_metric_t;


static void ngx_http_upload_store_snapshot(ngx_http_upload_store_t *store,
    ngx_http_upload_store_snapshot_t *s);
static json_t *ngx_http_upload_store_metric_json(
    ngx_http_upload_store_metric_t *m, ngx_http_upload_store_snapshot_t *s);
static json_t *ngx_http_upload_store_latency_json(
    ngx_http_upload_store_sh_t *sh, ngx_atomic_uint_t count);
static u_char *ngx_http_upload_store_metric_prometheus(u_char *p,
    u_char *last, ngx_str_t *zone, ngx_http_upload_store_metric_t *m,
    ngx_http_upload_store_snapshot_t *s);
static u_char *ngx_http_upload_store_histogram_prometheus(u_char *p,
    u_char *last, ngx_str_t *zone, ngx_http_upload_store_metric_t *m,
    ngx_http_upload_store_sh_t *sh);
static ngx_int_t ngx_http_upload_store_label(ngx_pool_t *pool,
    ngx_str_t *value, ngx_str_t *label);


/* the JSON sections, in the order of the answer */

static char  *ngx_http_upload_store_sections[] = {
    "store", "disk", "uploads", "transcriptions", "jobs", "objects", "cleanup",
    NULL
};


#define ngx_us_at(field)  offsetof(ngx_http_upload_store_snapshot_t, field)
#define ngx_us_run(field)                                                     \
    (offsetof(ngx_http_upload_store_snapshot_t, last)                         \
     + offsetof(ngx_http_upload_store_run_t, field))


static ngx_http_upload_store_metric_t  ngx_http_upload_store_metrics[] = {

    { "store", "files", "upload_store_files", "gauge",
      "Uploads in the store.",
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_at(files) },

    { "store", "bytes", "upload_store_bytes", "gauge",
      "Bytes in the store, audio and metadata.",
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_at(bytes) },

    { "store", "customers", "upload_store_customers", "gauge",
      "Customer directories.",
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_at(customers) },

    { "uploads", "accepted", "upload_store_uploads_accepted_total",
      "counter", "Uploads stored.",
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_at(accepted) },

    { "uploads", "rejected", NULL, NULL, NULL,
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_at(rejected) },

    { "uploads", "rejected_by_status", "upload_store_uploads_rejected_total",
      "counter", "Uploads refused, by status.",
      NGX_HTTP_UPLOAD_STORE_BY_STATUS, 0 },

    { "uploads", "received_bytes", "upload_store_received_bytes_total",
      "counter", "Request body bytes received.",
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_at(received) },

    { "uploads", "deleted", "upload_store_deleted_total", "counter",
      "Uploads deleted through the files API.",
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_at(deletes) },

    { "transcriptions", "count", NULL, NULL, NULL,
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_at(transcriptions) },

    { "transcriptions", "outcomes", "upload_store_transcriptions_total",
      "counter", "Transcriptions, by outcome.",
      NGX_HTTP_UPLOAD_STORE_BY_OUTCOME, 0 },

    { "transcriptions", "latency", "upload_store_transcription_seconds",
      "histogram", "Time from the request to the provider to its answer.",
      NGX_HTTP_UPLOAD_STORE_HISTOGRAM, ngx_us_at(transcriptions) },

    { "jobs", "queued", "upload_store_jobs_queued", "gauge",
      "Jobs in the queue (waiting, running, or their webhook).",
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_at(jobs_queued) },

    { "jobs", "oldest_ms", "upload_store_jobs_oldest_age_seconds", "gauge",
      "Age of the oldest job in the queue.",
      NGX_HTTP_UPLOAD_STORE_MSEC, ngx_us_at(jobs_oldest) },

    { "jobs", "running", "upload_store_jobs_running", "gauge",
      "Requests of jobs in flight, all workers.",
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_at(jobs_running) },

    { "jobs", "attempts", "upload_store_job_attempts_total", "counter",
      "Requests of jobs to their providers.",
      NGX_HTTP_UPLOAD_STORE_VALUE,
      ngx_us_at(jobs[NGX_HTTP_UPLOAD_STORE_JOB_ATTEMPT]) },

    { "jobs", "retries", "upload_store_job_retries_total", "counter",
      "Failed attempts queued again.",
      NGX_HTTP_UPLOAD_STORE_VALUE,
      ngx_us_at(jobs[NGX_HTTP_UPLOAD_STORE_JOB_RETRY]) },

    { "jobs", "transcribed", "upload_store_jobs_transcribed_total",
      "counter", "Jobs ended transcribed.",
      NGX_HTTP_UPLOAD_STORE_VALUE,
      ngx_us_at(jobs[NGX_HTTP_UPLOAD_STORE_JOB_TRANSCRIBED]) },

    { "jobs", "failed", "upload_store_jobs_failed_total", "counter",
      "Jobs ended failed.",
      NGX_HTTP_UPLOAD_STORE_VALUE,
      ngx_us_at(jobs[NGX_HTTP_UPLOAD_STORE_JOB_FAILED]) },

    { "jobs", "webhooks_delivered", "upload_store_webhooks_delivered_total",
      "counter", "Webhooks delivered.",
      NGX_HTTP_UPLOAD_STORE_VALUE,
      ngx_us_at(jobs[NGX_HTTP_UPLOAD_STORE_JOB_WEBHOOK]) },

    { "jobs", "webhook_retries", "upload_store_webhook_retries_total",
      "counter", "Webhook deliveries that failed and were tried again.",
      NGX_HTTP_UPLOAD_STORE_VALUE,
      ngx_us_at(jobs[NGX_HTTP_UPLOAD_STORE_JOB_WEBHOOK_RETRY]) },

    { "jobs", "webhooks_failed", "upload_store_webhooks_failed_total",
      "counter", "Webhooks given up.",
      NGX_HTTP_UPLOAD_STORE_VALUE,
      ngx_us_at(jobs[NGX_HTTP_UPLOAD_STORE_JOB_WEBHOOK_FAILED]) },

    { "objects", "queued", "upload_store_offloads_queued", "gauge",
      "Uploads waiting for their offload to the object store, or for the "
      "eviction of their local copy.",
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_at(offloads_queued) },

    { "objects", "offloaded", "upload_store_offloads_total", "counter",
      "Uploads whose copy in the object store was confirmed.",
      NGX_HTTP_UPLOAD_STORE_VALUE,
      ngx_us_at(objects[NGX_HTTP_UPLOAD_STORE_OBJ_OFFLOADED]) },

    { "objects", "retries", "upload_store_offload_retries_total", "counter",
      "Offloads that failed and were queued again.",
      NGX_HTTP_UPLOAD_STORE_VALUE,
      ngx_us_at(objects[NGX_HTTP_UPLOAD_STORE_OBJ_RETRY]) },

    { "objects", "failed", "upload_store_offloads_failed_total", "counter",
      "Offloads given up after their retries.",
      NGX_HTTP_UPLOAD_STORE_VALUE,
      ngx_us_at(objects[NGX_HTTP_UPLOAD_STORE_OBJ_FAILED]) },

    { "objects", "bytes", "upload_store_offload_bytes_total", "counter",
      "Audio bytes sent to the object store.",
      NGX_HTTP_UPLOAD_STORE_VALUE,
      ngx_us_at(objects[NGX_HTTP_UPLOAD_STORE_OBJ_BYTES]) },

    { "objects", "offload_ms", "upload_store_offload_seconds_total", "counter",
      "Time spent sending audio to the object store, summed.",
      NGX_HTTP_UPLOAD_STORE_MSEC,
      ngx_us_at(objects[NGX_HTTP_UPLOAD_STORE_OBJ_MS]) },

    { "objects", "deleted", "upload_store_objects_deleted_total", "counter",
      "Objects deleted from the object store.",
      NGX_HTTP_UPLOAD_STORE_VALUE,
      ngx_us_at(objects[NGX_HTTP_UPLOAD_STORE_OBJ_DELETED]) },

    { "objects", "evicted", "upload_store_local_evicted_total", "counter",
      "Local copies of audio removed once offloaded (keep_local).",
      NGX_HTTP_UPLOAD_STORE_VALUE,
      ngx_us_at(objects[NGX_HTTP_UPLOAD_STORE_OBJ_EVICTED]) },

    { "objects", "reads", "upload_store_object_reads_total", "counter",
      "Uploads served from the object store.",
      NGX_HTTP_UPLOAD_STORE_VALUE,
      ngx_us_at(objects[NGX_HTTP_UPLOAD_STORE_OBJ_READS]) },

    { "cleanup", "runs", "upload_store_cleanup_runs_total", "counter",
      "Cleanup runs finished.",
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_at(runs) },

    { "cleanup", "running", "upload_store_cleanup_running", "gauge",
      "1 while a cleanup runs.",
      NGX_HTTP_UPLOAD_STORE_BOOL, ngx_us_at(running) },

    { "cleanup", "worker", NULL, NULL, NULL,
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_at(owner) },

    { "cleanup", "retention", NULL, NULL, NULL,
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_at(retention) },

    { "cleanup", "interval", NULL, NULL, NULL,
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_at(interval) },

    { "cleanup", "deleted", "upload_store_cleanup_deleted_total", "counter",
      "Files deleted by the cleanup.",
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_at(cleaned) },

    { NULL, NULL, "upload_store_cleanup_freed_bytes_total", "counter",
      "Bytes freed by the cleanup.",
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_at(cleaned_bytes) },

    { "cleanup", "failed", "upload_store_cleanup_failed_total", "counter",
      "Entries the cleanup could not remove.",
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_at(clean_failed) },

    { NULL, NULL, "upload_store_cleanup_last_start_seconds", "gauge",
      "When the last cleanup run started, since the epoch.",
      NGX_HTTP_UPLOAD_STORE_MSEC, ngx_us_run(start) },

    { NULL, NULL, "upload_store_cleanup_last_duration_seconds", "gauge",
      "How long the last run took.",
      NGX_HTTP_UPLOAD_STORE_MSEC, ngx_us_run(duration) },

    { NULL, NULL, "upload_store_cleanup_last_scanned", "gauge",
      "Entries the last run looked at.",
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_run(scanned) },

    { NULL, NULL, "upload_store_cleanup_last_deleted", "gauge",
      "Files the last run deleted.",
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_at(last_deleted) },

    { NULL, NULL, "upload_store_cleanup_last_failed", "gauge",
      "Entries the last run could not remove.",
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_run(failed) },

    { NULL, NULL, "upload_store_cleanup_longest_slice_seconds", "gauge",
      "The longest the last run held the event loop at once.",
      NGX_HTTP_UPLOAD_STORE_MSEC, ngx_us_run(slice) },

    { "cleanup", "last", NULL, NULL, NULL,
      NGX_HTTP_UPLOAD_STORE_LAST_RUN, 0 },

    { "disk", "total", "upload_store_disk_total_bytes", "gauge",
      "Size of the store's filesystem.",
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_at(disk_total) },

    { "disk", "free", "upload_store_disk_free_bytes", "gauge",
      "Space free for nginx on the store's filesystem.",
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_at(disk_free) },

    { "disk", "min_free", "upload_store_min_free_bytes", "gauge",
      "The store's min_free.",
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_at(min_free) },

    { "store", "max_size", "upload_store_max_size_bytes", "gauge",
      "The store's max_size, 0: no limit.",
      NGX_HTTP_UPLOAD_STORE_VALUE, ngx_us_at(max_size) },

    { NULL, NULL, NULL, NULL, NULL, 0, 0 }
};


#define ngx_us_value(s, m)                                                    \
    (*(ngx_atomic_uint_t *) ((u_char *) (s) + (m)->offset))


static void
ngx_http_upload_store_snapshot(ngx_http_upload_store_t *store,
    ngx_http_upload_store_snapshot_t *s)
{
    off_t                        total, avail;
    uint64_t                     now;
    ngx_uint_t                   i;
    ngx_http_upload_store_sh_t  *sh;

    sh = store->sh;

    ngx_memzero(s, sizeof(ngx_http_upload_store_snapshot_t));

    s->sh = sh;

    ngx_memcpy(&s->last, &sh->last, sizeof(ngx_http_upload_store_run_t));

    if (store->backend->space(store, &total, &avail) == NGX_OK) {
        s->disk_total = total;
        s->disk_free = avail;
    }

    s->files = ngx_http_upload_store_gauge(&sh->files);
    s->bytes = ngx_http_upload_store_gauge(&sh->bytes);
    s->customers = ngx_http_upload_store_gauge(&sh->customers);
    s->max_size = store->max_size;
    s->min_free = store->min_free;
    s->accepted = sh->accepted;
    s->rejected = sh->rejected;
    s->received = sh->received;
    s->deletes = sh->deletes;
    s->transcriptions = sh->transcriptions;
    s->runs = sh->runs;
    s->owner = sh->owner;
    s->running = (s->owner != 0);
    s->retention = store->retention;
    s->interval = store->interval;
    s->cleaned = sh->cleaned;
    s->cleaned_bytes = sh->cleaned_bytes;
    s->clean_failed = sh->clean_failed;
    s->last_deleted = s->last.deleted + s->last.temp;

    for (i = 0; i < NGX_HTTP_UPLOAD_STORE_NJOB; i++) {
        s->jobs[i] = sh->jobs[i];
    }

    for (i = 0; i < NGX_HTTP_UPLOAD_STORE_NOBJ; i++) {
        s->objects[i] = sh->objects[i];
    }

    s->offloads_queued = sh->offloads_queued;
    s->jobs_running = ngx_http_upload_store_gauge(&sh->jobs_running);
    s->jobs_queued = sh->jobs_queued;

    now = ngx_http_upload_store_now();

    s->jobs_oldest = (sh->jobs_oldest && sh->jobs_oldest < now)
                     ? now - sh->jobs_oldest : 0;
}


/* the statistics as a JSON object, NULL on failure */

json_t *
ngx_http_upload_store_stats_json(ngx_http_upload_store_t *store)
{
    char                              **name;
    json_t                             *json, *section, *v;
    ngx_http_upload_store_metric_t     *m;
    ngx_http_upload_store_snapshot_t    s;

    ngx_http_upload_store_snapshot(store, &s);

    json = json_pack("{s:s%,s:s}",
                     "zone", store->name.data, store->name.len,
                     "root", store->root.data);
    if (json == NULL) {
        return NULL;
    }

    for (name = ngx_http_upload_store_sections; *name; name++) {
        if (json_object_set_new(json, *name, json_object()) != 0) {
            goto failed;
        }
    }

    for (m = ngx_http_upload_store_metrics; m->key || m->name; m++) {

        if (m->key == NULL
            || (m->kind == NGX_HTTP_UPLOAD_STORE_LAST_RUN && s.last.seq == 0))
        {
            /* not in JSON; no run yet */
            continue;
        }

        section = json_object_get(json, m->section);

        v = ngx_http_upload_store_metric_json(m, &s);

        if (v == NULL || json_object_set_new(section, m->key, v) != 0) {
            goto failed;
        }
    }

    return json;

failed:

    json_decref(json);

    return NULL;
}


static json_t *
ngx_http_upload_store_metric_json(ngx_http_upload_store_metric_t *m,
    ngx_http_upload_store_snapshot_t *s)
{
    char         key[NGX_INT_T_LEN + 1];
    json_t      *json;
    ngx_uint_t   i;

    switch (m->kind) {

    case NGX_HTTP_UPLOAD_STORE_BOOL:
        return json_boolean(ngx_us_value(s, m));

    case NGX_HTTP_UPLOAD_STORE_LAST_RUN:
        return ngx_http_upload_store_run_json(&s->last);

    case NGX_HTTP_UPLOAD_STORE_HISTOGRAM:
        return ngx_http_upload_store_latency_json(s->sh,
                                                  ngx_us_value(s, m));

    case NGX_HTTP_UPLOAD_STORE_BY_STATUS:
    case NGX_HTTP_UPLOAD_STORE_BY_OUTCOME:

        json = json_object();
        if (json == NULL) {
            return NULL;
        }

        if (m->kind == NGX_HTTP_UPLOAD_STORE_BY_OUTCOME) {
            for (i = 0; i < NGX_HTTP_UPLOAD_STORE_NOUTCOME; i++) {
                if (json_object_set_new(json,
                                  ngx_http_upload_store_outcome_name(i),
                                  json_integer((json_int_t)
                                               s->sh->outcomes[i]))
                    != 0)
                {
                    goto failed;
                }
            }

            return json;
        }

        for (i = 0; i < NGX_HTTP_UPLOAD_STORE_NREFUSAL; i++) {
            if (i < NGX_HTTP_UPLOAD_STORE_NREFUSAL - 1) {
                (void) ngx_sprintf((u_char *) key, "%ui%Z",
                                   ngx_http_upload_store_refusal_status(i));

            } else {
                ngx_memcpy(key, "other", sizeof("other"));
            }

            if (json_object_set_new(json, key,
                                json_integer((json_int_t) s->sh->refused[i]))
                != 0)
            {
                goto failed;
            }
        }

        return json;

    default: /* VALUE, MSEC */
        return json_integer((json_int_t) ngx_us_value(s, m));
    }

failed:

    json_decref(json);

    return NULL;
}


static json_t *
ngx_http_upload_store_latency_json(ngx_http_upload_store_sh_t *sh,
    ngx_atomic_uint_t count)
{
    json_t      *buckets, *b;
    ngx_uint_t   i;

    buckets = json_array();
    if (buckets == NULL) {
        return NULL;
    }

    for (i = 0; i < NGX_HTTP_UPLOAD_STORE_NBUCKET; i++) {
        if (i < NGX_HTTP_UPLOAD_STORE_NBUCKET - 1) {
            b = json_pack("{s:I,s:I}",
                          "le_ms",
                          (json_int_t) ngx_http_upload_store_bucket_bound(i),
                          "count", (json_int_t) sh->latency[i]);

        } else {
            b = json_pack("{s:s,s:I}", "le_ms", "+Inf",
                          "count", (json_int_t) sh->latency[i]);
        }

        if (json_array_append_new(buckets, b) != 0) {
            json_decref(buckets);
            return NULL;
        }
    }

    /* json_pack() takes the reference to buckets, even on failure */

    return json_pack("{s:I,s:I,s:o}",
                     "count", (json_int_t) count,
                     "sum_ms", (json_int_t) sh->latency_ms,
                     "buckets", buckets);
}


json_t *
ngx_http_upload_store_run_json(ngx_http_upload_store_run_t *run)
{
    u_char      *p, text[NGX_MAX_ERROR_STR];
    json_t      *errors;
    ngx_uint_t   i;

    errors = json_array();
    if (errors == NULL) {
        return NULL;
    }

    /*
     * the calls that failed and their errnos, not the paths (customers'
     * names): those are in the error log; a copy of the shared run, whose
     * strings can be terminated here
     */

    for (i = 0; i < run->nerrors && i < NGX_HTTP_UPLOAD_STORE_NERR; i++) {
        run->error_op[i][sizeof(run->error_op[0]) - 1] = '\0';

        p = ngx_strerror((ngx_err_t) run->error_no[i], text, sizeof(text));

        if (json_array_append_new(errors,
                json_pack("{s:s,s:I,s:s%}",
                          "op", (char *) run->error_op[i],
                          "errno", (json_int_t) run->error_no[i],
                          "error", text, (size_t) (p - text)))
            != 0)
        {
            json_decref(errors);
            return NULL;
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

ngx_int_t
ngx_http_upload_store_stats_prometheus(ngx_http_upload_store_t *store,
    ngx_pool_t *pool, ngx_str_t *out, ngx_log_t *log)
{
    u_char                            *p, *last;
    size_t                             size;
    ngx_str_t                          zone;
    ngx_http_upload_store_metric_t    *m;
    ngx_http_upload_store_snapshot_t   s;

    ngx_http_upload_store_snapshot(store, &s);

    if (ngx_http_upload_store_label(pool, &store->name, &zone) != NGX_OK) {
        return NGX_ERROR;
    }

    size = 16384 + 80 * (zone.len + 64);

    out->data = ngx_pnalloc(pool, size);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    p = out->data;
    last = out->data + size;

    for (m = ngx_http_upload_store_metrics; m->key || m->name; m++) {
        if (m->name != NULL) {
            p = ngx_http_upload_store_metric_prometheus(p, last, &zone, m,
                                                        &s);
        }
    }

    if (p == last) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "upload store \"%V\": metrics truncated", &store->name);
        return NGX_ERROR;
    }

    out->len = p - out->data;

    return NGX_OK;
}


static u_char *
ngx_http_upload_store_metric_prometheus(u_char *p, u_char *last,
    ngx_str_t *zone, ngx_http_upload_store_metric_t *m,
    ngx_http_upload_store_snapshot_t *s)
{
    ngx_uint_t         i;
    ngx_atomic_uint_t  v;

    p = ngx_slprintf(p, last, "# HELP %s %s\n# TYPE %s %s\n",
                     m->name, m->help, m->name, m->type);

    switch (m->kind) {

    case NGX_HTTP_UPLOAD_STORE_HISTOGRAM:
        return ngx_http_upload_store_histogram_prometheus(p, last, zone, m,
                                                          s->sh);

    case NGX_HTTP_UPLOAD_STORE_BY_OUTCOME:

        for (i = 0; i < NGX_HTTP_UPLOAD_STORE_NOUTCOME; i++) {
            p = ngx_slprintf(p, last, "%s{zone=\"%V\",outcome=\"%s\"} %uA\n",
                             m->name, zone,
                             ngx_http_upload_store_outcome_name(i),
                             s->sh->outcomes[i]);
        }

        return p;

    case NGX_HTTP_UPLOAD_STORE_BY_STATUS:

        for (i = 0; i < NGX_HTTP_UPLOAD_STORE_NREFUSAL; i++) {
            p = ngx_slprintf(p, last, "%s{zone=\"%V\",status=\"", m->name,
                             zone);

            if (i < NGX_HTTP_UPLOAD_STORE_NREFUSAL - 1) {
                p = ngx_slprintf(p, last, "%ui",
                                 ngx_http_upload_store_refusal_status(i));
            } else {
                p = ngx_slprintf(p, last, "other");
            }

            p = ngx_slprintf(p, last, "\"} %uA\n", s->sh->refused[i]);
        }

        return p;

    case NGX_HTTP_UPLOAD_STORE_MSEC:
        v = ngx_us_value(s, m);
        return ngx_slprintf(p, last, "%s{zone=\"%V\"} %uA.%03uA\n", m->name,
                            zone, v / 1000, v % 1000);

    default: /* VALUE, BOOL */
        return ngx_slprintf(p, last, "%s{zone=\"%V\"} %uA\n", m->name, zone,
                            ngx_us_value(s, m));
    }
}


static u_char *
ngx_http_upload_store_histogram_prometheus(u_char *p, u_char *last,
    ngx_str_t *zone, ngx_http_upload_store_metric_t *m,
    ngx_http_upload_store_sh_t *sh)
{
    ngx_uint_t         i;
    ngx_atomic_uint_t  cum, ms;

    cum = 0;

    for (i = 0; i < NGX_HTTP_UPLOAD_STORE_NBUCKET; i++) {
        cum += sh->latency[i];

        p = ngx_slprintf(p, last, "%s_bucket{zone=\"%V\",le=\"", m->name,
                         zone);

        if (i < NGX_HTTP_UPLOAD_STORE_NBUCKET - 1) {
            p = ngx_slprintf(p, last, "%M.%03M",
                             ngx_http_upload_store_bucket_bound(i) / 1000,
                             ngx_http_upload_store_bucket_bound(i) % 1000);
        } else {
            p = ngx_slprintf(p, last, "+Inf");
        }

        p = ngx_slprintf(p, last, "\"} %uA\n", cum);
    }

    ms = sh->latency_ms;

    p = ngx_slprintf(p, last, "%s_sum{zone=\"%V\"} %uA.%03uA\n", m->name,
                     zone, ms / 1000, ms % 1000);

    return ngx_slprintf(p, last, "%s_count{zone=\"%V\"} %uA\n", m->name,
                        zone, cum);
}


/* a label value: \, " and newline escaped */

static ngx_int_t
ngx_http_upload_store_label(ngx_pool_t *pool, ngx_str_t *value,
    ngx_str_t *label)
{
    u_char      *z;
    ngx_uint_t   i;

    label->data = ngx_pnalloc(pool, value->len * 2);
    if (label->data == NULL) {
        return NGX_ERROR;
    }

    z = label->data;

    for (i = 0; i < value->len; i++) {
        switch (value->data[i]) {
        case '\\':
        case '"':
            *z++ = '\\';
            *z++ = value->data[i];
            break;
        case '\n':
            *z++ = '\\';
            *z++ = 'n';
            break;
        default:
            *z++ = value->data[i];
        }
    }

    label->len = z - label->data;

    return NGX_OK;
}
