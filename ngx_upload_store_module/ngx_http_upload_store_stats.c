
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_core.h"


/*
 * The store's statistics: one function per event, counters in the shared
 * zone, arrays indexed by enums and sized by them.  The JSON and the
 * Prometheus answers are written from them by the metric table of
 * ngx_http_upload_store_metrics.c.
 */


/* the statuses refusals are counted by; the last slot is "other" */

static ngx_uint_t  ngx_http_upload_store_refusals[] = {
    400, 403, 404, 405, 408, 411, 413, 415, 500, 502, 503, 504, 507
};

ngx_http_upload_store_sized(ngx_http_upload_store_refusals,
                            NGX_HTTP_UPLOAD_STORE_NREFUSAL - 1);


/* upper bounds, ms; the last bucket is +Inf */

static ngx_msec_t  ngx_http_upload_store_buckets[] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000
};

ngx_http_upload_store_sized(ngx_http_upload_store_buckets,
                            NGX_HTTP_UPLOAD_STORE_NBUCKET - 1);


/* the status of refusal slot i; 0 for the last one, "other" */

ngx_uint_t
ngx_http_upload_store_refusal_status(ngx_uint_t i)
{
    return i < NGX_HTTP_UPLOAD_STORE_NREFUSAL - 1
           ? ngx_http_upload_store_refusals[i] : 0;
}


/* the upper bound of latency bucket i, ms; 0 for the last one, +Inf */

ngx_msec_t
ngx_http_upload_store_bucket_bound(ngx_uint_t i)
{
    return i < NGX_HTTP_UPLOAD_STORE_NBUCKET - 1
           ? ngx_http_upload_store_buckets[i] : 0;
}


void
ngx_http_upload_store_stats_refused(ngx_http_upload_store_t *store,
    ngx_uint_t status)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_UPLOAD_STORE_NREFUSAL - 1; i++) {
        if (ngx_http_upload_store_refusals[i] == status) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&store->sh->refused[i], 1);
    (void) ngx_atomic_fetch_add(&store->sh->rejected, 1);
}


void
ngx_http_upload_store_stats_received(ngx_http_upload_store_t *store,
    off_t bytes)
{
    (void) ngx_atomic_fetch_add(&store->sh->received, bytes);
}


void
ngx_http_upload_store_stats_accepted(ngx_http_upload_store_t *store)
{
    (void) ngx_atomic_fetch_add(&store->sh->accepted, 1);
}


/* an upload is in the store: its audio and its record */

void
ngx_http_upload_store_stats_stored(ngx_http_upload_store_t *store,
    off_t bytes)
{
    (void) ngx_atomic_fetch_add(&store->sh->bytes, bytes);
    (void) ngx_atomic_fetch_add(&store->sh->files, 1);
}


/* a record written again, larger or smaller */

void
ngx_http_upload_store_stats_resized(ngx_http_upload_store_t *store,
    off_t delta)
{
    (void) ngx_atomic_fetch_add(&store->sh->bytes, delta);
}


/* files (audio, 1 or 0) and bytes gone from the store, however */

void
ngx_http_upload_store_stats_removed(ngx_http_upload_store_t *store,
    off_t bytes, ngx_uint_t files)
{
    (void) ngx_atomic_fetch_add(&store->sh->bytes, -bytes);

    if (files) {
        (void) ngx_atomic_fetch_add(&store->sh->files,
                                    -(ngx_atomic_int_t) files);
    }
}


/* an upload deleted through the files API */

void
ngx_http_upload_store_stats_deleted(ngx_http_upload_store_t *store)
{
    (void) ngx_atomic_fetch_add(&store->sh->deletes, 1);
}


void
ngx_http_upload_store_stats_customer(ngx_http_upload_store_t *store,
    ngx_int_t n)
{
    if (n < 0 && store->sh->customers == 0) {
        return;
    }

    (void) ngx_atomic_fetch_add(&store->sh->customers, n);
}


/* what the store holds, counted at start */

void
ngx_http_upload_store_stats_sized(ngx_http_upload_store_t *store,
    off_t bytes, ngx_uint_t files, ngx_uint_t customers)
{
    store->sh->bytes = bytes;
    store->sh->files = files;
    store->sh->customers = customers;
}


off_t
ngx_http_upload_store_stats_bytes(ngx_http_upload_store_t *store)
{
    return (off_t) ngx_http_upload_store_gauge(&store->sh->bytes);
}


/*
 * the bytes of the uploads in flight, by their Content-Length: counted
 * against min_free and max_size, so that two uploads cannot both take the
 * last of the space; given back (negative) when the body is read
 */

void
ngx_http_upload_store_stats_reserve(ngx_http_upload_store_t *store,
    off_t bytes)
{
    (void) ngx_atomic_fetch_add(&store->sh->reserved, bytes);
}


off_t
ngx_http_upload_store_stats_reserved(ngx_http_upload_store_t *store)
{
    return (off_t) ngx_http_upload_store_gauge(&store->sh->reserved);
}


/* a transcription is over: its outcome and latency */

void
ngx_http_upload_store_stats_transcription(ngx_http_upload_store_t *store,
    ngx_uint_t outcome, ngx_msec_t ms)
{
    ngx_uint_t                   i;
    ngx_http_upload_store_sh_t  *sh;

    sh = store->sh;

    if (outcome >= NGX_HTTP_UPLOAD_STORE_NOUTCOME) {
        outcome = NGX_HTTP_UPLOAD_STORE_OUTCOME_OTHER;
    }

    (void) ngx_atomic_fetch_add(&sh->outcomes[outcome], 1);

    for (i = 0; i < NGX_HTTP_UPLOAD_STORE_NBUCKET - 1; i++) {
        if (ms <= ngx_http_upload_store_buckets[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&sh->latency[i], 1);
    (void) ngx_atomic_fetch_add(&sh->latency_ms, ms);
    (void) ngx_atomic_fetch_add(&sh->transcriptions, 1);
}


/*
 * a cleanup run ends, finished or given up: what it deleted is deleted,
 * the totals say so; a finished one is the last run
 */

void
ngx_http_upload_store_stats_cleanup(ngx_http_upload_store_t *store,
    ngx_http_upload_store_run_t *run, ngx_uint_t finished)
{
    ngx_http_upload_store_sh_t  *sh;

    sh = store->sh;

    if (finished) {
        ngx_memcpy(&sh->last, run, sizeof(ngx_http_upload_store_run_t));
    }

    (void) ngx_atomic_fetch_add(&sh->cleaned, run->deleted + run->temp);
    (void) ngx_atomic_fetch_add(&sh->cleaned_bytes, run->freed);
    (void) ngx_atomic_fetch_add(&sh->clean_failed, run->failed);

    if (finished) {
        (void) ngx_atomic_fetch_add(&sh->runs, 1);
    }
}


/* background jobs */

void
ngx_http_upload_store_stats_job(ngx_http_upload_store_t *store,
    ngx_uint_t event)
{
    if (event < NGX_HTTP_UPLOAD_STORE_NJOB) {
        (void) ngx_atomic_fetch_add(&store->sh->jobs[event], 1);
    }
}


void
ngx_http_upload_store_stats_job_running(ngx_http_upload_store_t *store,
    ngx_int_t n)
{
    (void) ngx_atomic_fetch_add(&store->sh->jobs_running, n);
}


/* the queue as a worker's look saw it: its length, its oldest job */

void
ngx_http_upload_store_stats_queue(ngx_http_upload_store_t *store,
    ngx_uint_t queued, uint64_t oldest)
{
    store->sh->jobs_queued = queued;
    store->sh->jobs_oldest = (ngx_atomic_uint_t) oldest;
}


/* the object store: offloads, bytes, their time, deletes, reads */

void
ngx_http_upload_store_stats_object(ngx_http_upload_store_t *store,
    ngx_uint_t event, off_t n)
{
    if (event < NGX_HTTP_UPLOAD_STORE_NOBJ) {
        (void) ngx_atomic_fetch_add(&store->sh->objects[event],
                                    (ngx_atomic_int_t) n);
    }
}


void
ngx_http_upload_store_stats_offloads(ngx_http_upload_store_t *store,
    ngx_uint_t queued)
{
    store->sh->offloads_queued = queued;
}
