
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"
#include "ngx_http_upload_store_jobs.h"


/*
 * An offload: a job of the object store's queue ({root}/.jobs/.offload).
 * The audio goes first, streamed from its file: a HEAD finds it already
 * there (an offload that died after its PUT), a PUT sends it whole, or,
 * over part_size, an S3 multipart upload sends it a part at a time, each
 * part tried again alone, the upload aborted when it fails.  Then the
 * record notes the object and goes itself; the local audio is removed
 * when keep_local says so.  An entry with "delete" removes both objects.
 * One libcurl request at a time, each its own handle, on the worker's
 * multi handle; the job's entry stays locked throughout.
 */


static void ngx_http_upload_store_offload_done(
    ngx_http_upload_store_transfer_t *t);
static ngx_int_t ngx_http_upload_store_offload_next(
    ngx_http_upload_store_job_t *job, ngx_uint_t status, ngx_uint_t ok);
static ngx_int_t ngx_http_upload_store_offload_parts(
    ngx_http_upload_store_job_t *job);
static ngx_int_t ngx_http_upload_store_offload_complete(
    ngx_http_upload_store_job_t *job);
static ngx_int_t ngx_http_upload_store_offload_noted(
    ngx_http_upload_store_job_t *job);
static void ngx_http_upload_store_offload_finish(
    ngx_http_upload_store_job_t *job);
static void ngx_http_upload_store_offload_failed(
    ngx_http_upload_store_job_t *job, ngx_uint_t status);
static void ngx_http_upload_store_offload_again(ngx_event_t *ev);
static ngx_int_t ngx_http_upload_store_offload_save(
    ngx_http_upload_store_job_t *job, ngx_uint_t save);


void
ngx_http_upload_store_offload_run(ngx_http_upload_store_job_t *job)
{
    ngx_int_t                         rc;
    ngx_str_t                         raw;
    ngx_file_t                        file;
    ngx_file_info_t                   fi;
    ngx_http_upload_store_t          *store;
    ngx_http_upload_store_record_t   *rec;
    ngx_http_upload_store_offload_t  *off;

    store = job->store;
    rec = &job->record;

    off = ngx_pcalloc(job->pool, sizeof(ngx_http_upload_store_offload_t));
    if (off == NULL) {
        ngx_http_upload_store_job_end(job, 0);
        return;
    }

    job->offload = off;
    job->wait.handler = ngx_http_upload_store_offload_again;
    job->wait.data = job;
    job->wait.log = job->log;
    job->transfer.done = ngx_http_upload_store_offload_done;

    if (job->remove) {
        /*
         * the upload was deleted: its objects go, named by its entry, or
         * (the cleanup's, which does not read records) by its record in
         * the bucket
         */

        if (ngx_http_upload_store_record_paths(job->pool, store, rec)
            != NGX_OK)
        {
            ngx_http_upload_store_job_end(job, 1);
            return;
        }

        off->step = rec->file.len ? ngx_us_delete_audio : ngx_us_find;
        goto keys;
    }

    rc = store->backend->load(store, rec, &raw, job->pool, job->log);

    if (rc == NGX_DECLINED || (rc != NGX_OK && ngx_errno == 0)) {
        /* deleted, or not a record of the store's (logged) */
        ngx_http_upload_store_job_end(job, 1);
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_upload_store_job_postpone(job, "the record cannot be read");
        return;
    }

    /* the attempts of this offload: counted again after a success */

    if (rec->object.key.len && rec->object.etag.len) {
        rec->object.attempts = 0;
    }

    rec->object.attempts++;

    if (rec->object.key.len && rec->object.etag.len) {
        /* the audio is there: the record is brought up to date */

        if (ngx_http_upload_store_record_dump(job->pool, rec, &off->body,
                                              job->log)
            != NGX_OK)
        {
            ngx_http_upload_store_job_end(job, 0);
            return;
        }

        off->step = ngx_us_record;
        goto keys;
    }

    if (store->backend->open(store, rec, &file, job->log) != NGX_OK) {
        ngx_str_set(&off->error, "the audio cannot be opened");
        ngx_http_upload_store_offload_failed(job, 0);
        return;
    }

    job->audio = file.fd;

    if (ngx_fd_info(job->audio, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, job->log, ngx_errno,
                      ngx_fd_info_n " \"%V\" failed", &rec->path);
        ngx_str_set(&off->error, "the audio cannot be read");
        ngx_http_upload_store_offload_failed(job, 0);
        return;
    }

    job->size = ngx_file_size(&fi);

    /*
     * a first attempt sends at once; a later one may find what an
     * attempt that did not live to note it sent
     */

    off->step = (rec->object.attempts > 1) ? ngx_us_head
                : (job->size > store->object->part_size) ? ngx_us_create
                : ngx_us_put;

keys:

    if ((rec->path.len
         && ngx_http_upload_store_object_key(job->pool, store, &rec->path,
                                             &off->key)
            != NGX_OK)
        || ngx_http_upload_store_object_key(job->pool, store,
                                            &rec->record_path,
                                            &off->record_key)
           != NGX_OK)
    {
        ngx_http_upload_store_job_end(job, 0);
        return;
    }

    /* the clock, not the loop's cached time: it may be a request old */

    off->start = ngx_http_upload_store_msec();

    if (ngx_http_upload_store_offload_send(job) != NGX_OK) {
        ngx_str_set(&off->error, "the request cannot be made");
        ngx_http_upload_store_offload_failed(job, 0);
    }
}


/* a step's answer: the next step, a part again, or the offload failed */

static void
ngx_http_upload_store_offload_done(ngx_http_upload_store_transfer_t *t)
{
    ngx_http_upload_store_job_t *job = (ngx_http_upload_store_job_t *) t;

    long                              code;
    ngx_str_t                         s3;
    ngx_uint_t                        status, ok;
    ngx_http_upload_store_offload_t  *off;

    off = job->offload;

    code = 0;
    (void) curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
    status = (code > 0 && code < 1000) ? (ngx_uint_t) code : 0;

    ok = (t->result == CURLE_OK && status >= 200 && status < 300);

    /* S3 may answer a completion 200 with an error in its body */

    if (ok && off->step == ngx_us_complete && job->len
        && ngx_strlcasestrn(job->answer, job->answer + job->len,
                            (u_char *) "<Error>", 7 - 1)
           != NULL)
    {
        ok = 0;
    }

    if (!ok && off->step != ngx_us_abort) {
        ngx_http_upload_store_object_code(job->answer, job->len, &s3);

        if (t->result != CURLE_OK) {
            ngx_http_upload_store_job_error(job, "%s",
                                            curl_easy_strerror(t->result));
        } else {
            ngx_http_upload_store_job_error(job, "HTTP %ui%s%V", status,
                                            s3.len ? " " : "", &s3);
        }

        off->error = job->record.last_error;
    }

    if (ngx_http_upload_store_offload_next(job, status, ok) != NGX_OK) {
        if (off->error.len == 0) {
            ngx_str_set(&off->error, "the request cannot be made");
        }

        ngx_http_upload_store_offload_failed(job, status);
    }
}


/* NGX_ERROR: the offload failed, off->error says why */

static ngx_int_t
ngx_http_upload_store_offload_next(ngx_http_upload_store_job_t *job,
    ngx_uint_t status, ngx_uint_t ok)
{
    u_char                           *p, *last;
    ngx_str_t                         raw;
    curl_off_t                        length;
    ngx_msec_t                        delay;
    ngx_http_upload_store_offload_t  *off;

    off = job->offload;

    switch (off->step) {

    case ngx_us_head:
        length = -1;
        (void) curl_easy_getinfo(job->transfer.easy,
                                 CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);

        if (ok && off->etag.len && length == (curl_off_t) job->size) {
            /* sent by an offload that did not live to note it */
            return ngx_http_upload_store_offload_noted(job);
        }

        /* not there, or the HEAD failed: the PUT's answer says why */

        ngx_str_null(&off->error);

        off->step = (job->size > job->store->object->part_size)
                    ? ngx_us_create : ngx_us_put;
        break;

    case ngx_us_put:
        if (!ok || off->etag.len == 0) {
            return NGX_ERROR;
        }

        off->sent = 1;
        return ngx_http_upload_store_offload_noted(job);

    case ngx_us_create:
        p = ok ? ngx_strlcasestrn(job->answer, job->answer + job->len,
                                  (u_char *) "<UploadId>", 10 - 1)
               : NULL;
        last = p ? ngx_strlchr(p + 10, job->answer + job->len, '<') : NULL;

        if (last == NULL || last == p + 10) {
            return NGX_ERROR;
        }

        /* the answer's buffer is the next request's: copied */

        off->upload_id.len = last - (p + 10);
        off->upload_id.data = ngx_pstrdup(job->pool, &(ngx_str_t) {
                                              off->upload_id.len, p + 10 });
        if (off->upload_id.data == NULL) {
            return NGX_ERROR;
        }

        if (ngx_http_upload_store_offload_parts(job) != NGX_OK) {
            return NGX_ERROR;
        }

        off->step = ngx_us_part;
        break;

    case ngx_us_part:
        if (ok && off->etag.len) {
            off->etags[off->part - 1] = off->etag;
            off->tries = 0;

            if (++off->part <= off->parts) {
                break;
            }

            if (ngx_http_upload_store_offload_complete(job) != NGX_OK) {
                return NGX_ERROR;
            }

            off->step = ngx_us_complete;
            break;
        }

        /* a part is tried again alone; then the upload is aborted */

        if (++off->tries <= job->remote->retries) {
            delay = ngx_http_upload_store_job_backoff(job->remote,
                                                      off->tries);
            ngx_log_error(NGX_LOG_WARN, job->log, 0,
                          "upload store: offload of customer \"%V\", id "
                          "%*s, part %ui: %V, again in %M ms",
                          &job->record.customer,
                          (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN,
                          job->record.id, off->part, &off->error, delay);
            ngx_http_upload_store_offload_reset(job);
            ngx_add_timer(&job->wait, delay);
            return NGX_OK;
        }

        off->step = ngx_us_abort;
        break;

    case ngx_us_complete:
        if (!ok) {
            off->step = ngx_us_abort;
            break;
        }

        /* some gateways answer an empty ETag: a HEAD gives it */

        off->step = ngx_us_head_done;
        break;

    case ngx_us_head_done:
        if (!ok || off->etag.len == 0) {
            return NGX_ERROR;
        }

        off->sent = 1;
        return ngx_http_upload_store_offload_noted(job);

    case ngx_us_abort:
        /* the parts are not left billed: whatever the answer, it failed */
        return NGX_ERROR;

    case ngx_us_record:
        if (!ok) {
            return NGX_ERROR;
        }

        ngx_http_upload_store_offload_finish(job);
        return NGX_OK;

    case ngx_us_find:
        if (!ok && status == NGX_HTTP_NOT_FOUND) {
            /* no record there: nothing of it to find, or to delete */
            ngx_http_upload_store_job_end(job, 1);
            return NGX_OK;
        }

        if (!ok) {
            return NGX_ERROR;
        }

        raw.data = job->answer;
        raw.len = job->len;

        if (ngx_http_upload_store_record_parse(job->pool, &raw,
                                               &job->record, job->log)
            != NGX_OK
            || ngx_http_upload_store_audio_path(job->pool, &job->record)
               != NGX_OK
            || ngx_http_upload_store_object_key(job->pool, job->store,
                                                &job->record.path,
                                                &off->key)
               != NGX_OK)
        {
            /* not a record of this module's: left alone (logged) */
            ngx_http_upload_store_job_end(job, 1);
            return NGX_OK;
        }

        off->step = ngx_us_delete_audio;
        break;

    case ngx_us_delete_audio:
        if (!ok && status != NGX_HTTP_NOT_FOUND) {
            return NGX_ERROR;
        }

        ngx_http_upload_store_stats_object(job->store,
                                         NGX_HTTP_UPLOAD_STORE_OBJ_DELETED,
                                         ok);
        off->step = ngx_us_delete_record;
        break;

    default: /* ngx_us_delete_record */
        if (!ok && status != NGX_HTTP_NOT_FOUND) {
            return NGX_ERROR;
        }

        ngx_http_upload_store_stats_object(job->store,
                                         NGX_HTTP_UPLOAD_STORE_OBJ_DELETED,
                                         ok);

        ngx_log_error(NGX_LOG_INFO, job->log, 0,
                      "upload store: objects of customer \"%V\", id %*s "
                      "deleted, key \"%V\"", &job->record.customer,
                      (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, job->record.id,
                      &off->key);

        ngx_http_upload_store_job_end(job, 1);
        return NGX_OK;
    }

    return ngx_http_upload_store_offload_send(job);
}


/* the parts: as many as part_size makes, their ETags to come */

static ngx_int_t
ngx_http_upload_store_offload_parts(ngx_http_upload_store_job_t *job)
{
    off_t                             size;
    ngx_http_upload_store_offload_t  *off;

    off = job->offload;
    size = job->store->object->part_size;

    off->parts = (ngx_uint_t) ((job->size + size - 1) / size);
    off->part = 1;
    off->tries = 0;

    /* S3 takes at most 10000 parts */

    if (off->parts > 10000) {
        ngx_str_set(&off->error, "more than 10000 parts: raise part_size");
        return NGX_ERROR;
    }

    off->etags = ngx_pcalloc(job->pool, off->parts * sizeof(ngx_str_t));

    return off->etags ? NGX_OK : NGX_ERROR;
}


/* CompleteMultipartUpload's body: the parts and their ETags, in order */

static ngx_int_t
ngx_http_upload_store_offload_complete(ngx_http_upload_store_job_t *job)
{
    u_char                           *p;
    size_t                            len;
    ngx_uint_t                        i;
    ngx_http_upload_store_offload_t  *off;

    off = job->offload;

    len = sizeof("<CompleteMultipartUpload></CompleteMultipartUpload>");

    for (i = 0; i < off->parts; i++) {
        len += sizeof("<Part><PartNumber></PartNumber><ETag></ETag></Part>")
               + NGX_INT_T_LEN + off->etags[i].len;
    }

    p = ngx_pnalloc(job->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    off->body.data = p;

    p = ngx_cpymem(p, "<CompleteMultipartUpload>",
                   sizeof("<CompleteMultipartUpload>") - 1);

    for (i = 0; i < off->parts; i++) {
        p = ngx_sprintf(p, "<Part><PartNumber>%ui</PartNumber><ETag>%V"
                        "</ETag></Part>", i + 1, &off->etags[i]);
    }

    p = ngx_cpymem(p, "</CompleteMultipartUpload>",
                   sizeof("</CompleteMultipartUpload>") - 1);

    off->body.len = p - off->body.data;

    return NGX_OK;
}


/*
 * the audio is in the bucket: the record notes it and is saved, then
 * sent; an upload deleted meanwhile has its objects deleted instead
 */

static ngx_int_t
ngx_http_upload_store_offload_noted(ngx_http_upload_store_job_t *job)
{
    ngx_int_t                             rc;
    ngx_http_upload_store_record_t       *rec;
    ngx_msec_t                            ms;
    ngx_http_upload_store_offload_t      *off;
    ngx_http_upload_store_object_note_t  *note;

    off = job->offload;
    ms = ngx_http_upload_store_msec() - off->start;
    rec = &job->record;
    note = &rec->object;

    /* ETag: "..." as the gateway quotes it, kept without the quotes */

    note->etag = off->etag;

    if (note->etag.len >= 2 && note->etag.data[0] == '"'
        && note->etag.data[note->etag.len - 1] == '"')
    {
        note->etag.data++;
        note->etag.len -= 2;
    }

    note->key = off->key;
    note->stored = ngx_http_upload_store_now();
    ngx_str_null(&note->error);

    if (off->sent) {
        ngx_http_upload_store_stats_object(job->store,
                                         NGX_HTTP_UPLOAD_STORE_OBJ_BYTES,
                                         job->size);
        ngx_http_upload_store_stats_object(job->store,
                                         NGX_HTTP_UPLOAD_STORE_OBJ_MS,
                                         ms);
    }

    ngx_http_upload_store_stats_object(job->store,
                                       NGX_HTTP_UPLOAD_STORE_OBJ_OFFLOADED,
                                       1);

    ngx_log_error(NGX_LOG_INFO, job->log, 0,
                  "upload store: offload of customer \"%V\", id %*s: "
                  "%O bytes %s key \"%V\" in %M ms", &rec->customer,
                  (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, rec->id, job->size,
                  off->sent ? "sent to" : "found at", &off->key,
                  ms);

    rc = ngx_http_upload_store_offload_save(job, 1);

    if (rc == NGX_DECLINED) {
        /* deleted meanwhile: what was sent goes too */
        job->remove = 1;
        off->step = ngx_us_delete_audio;
        return ngx_http_upload_store_offload_send(job);
    }

    if (rc != NGX_OK
        || ngx_http_upload_store_record_dump(job->pool, &job->record,
                                             &off->body, job->log)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    off->step = ngx_us_record;

    return ngx_http_upload_store_offload_send(job);
}


/*
 * both objects are there: the local audio goes when keep_local says so,
 * not before its transcription (queued or under way) is over
 */

static void
ngx_http_upload_store_offload_finish(ngx_http_upload_store_job_t *job)
{
    uint64_t                          until;
    ngx_http_upload_store_object_t   *os;
    ngx_http_upload_store_record_t   *rec;
    ngx_http_upload_store_offload_t  *off;

    os = job->store->object;
    rec = &job->record;
    off = job->offload;

    /* as the record is now: deleted, or queued again, meanwhile */

    switch (ngx_http_upload_store_offload_save(job, 0)) {

    case NGX_DECLINED:
        /* deleted while its record was sent: both objects go */
        job->remove = 1;
        off->step = ngx_us_delete_audio;

        if (ngx_http_upload_store_offload_send(job) != NGX_OK) {
            ngx_http_upload_store_offload_failed(job, 0);
        }

        return;

    case NGX_OK:
        break;

    default:
        ngx_http_upload_store_job_end(job, 1);
        return;
    }

    if (os->keep_local
        || rec->state == NGX_HTTP_UPLOAD_STORE_QUEUED
        || rec->state == NGX_HTTP_UPLOAD_STORE_TRANSCRIBING
        || rec->webhook == NGX_HTTP_UPLOAD_STORE_WEBHOOK_PENDING)
    {
        ngx_http_upload_store_job_end(job, 1);
        return;
    }

    until = rec->object.stored + (uint64_t) os->keep_time * 1000;

    if (until > ngx_http_upload_store_now()) {
        /* kept as a cache so long: this entry comes back for it */
        ngx_http_upload_store_job_later(job, until);
        ngx_http_upload_store_job_end(job, 0);
        return;
    }

    if (job->store->backend->remove(job->store, rec,
                                    NGX_HTTP_UPLOAD_STORE_AUDIO, job->log)
        == NGX_OK)
    {
        ngx_http_upload_store_stats_object(job->store,
                                         NGX_HTTP_UPLOAD_STORE_OBJ_EVICTED,
                                         1);
    }

    ngx_http_upload_store_job_end(job, 1);
}


/*
 * the offload failed: tried again after a backoff, or given up after
 * its retries; the record says why, the local copy stays
 */

static void
ngx_http_upload_store_offload_failed(ngx_http_upload_store_job_t *job,
    ngx_uint_t status)
{
    ngx_msec_t                        delay;
    ngx_uint_t                        attempts, level;
    ngx_http_upload_store_record_t   *rec;
    ngx_http_upload_store_offload_t  *off;

    off = job->offload;
    rec = &job->record;

    ngx_http_upload_store_offload_reset(job);

    if (off->upload_id.len && off->step != ngx_us_abort) {
        /* its parts are not left billed */
        off->step = ngx_us_abort;

        if (ngx_http_upload_store_offload_send(job) == NGX_OK) {
            return;
        }
    }

    attempts = job->remove ? job->attempts + 1 : rec->object.attempts;

    if (!job->remove) {
        rec->object.error = off->error;
    }

    if (!job->remove && attempts > job->remote->retries) {
        ngx_log_error(NGX_LOG_ERR, job->log, 0,
                      "upload store: offload of customer \"%V\", id %*s, "
                      "path \"%V\" failed after %ui attempts: %V",
                      &rec->customer, (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN,
                      rec->id, &rec->path, attempts, &off->error);

        ngx_http_upload_store_stats_object(job->store,
                                           NGX_HTTP_UPLOAD_STORE_OBJ_FAILED,
                                           1);
        (void) ngx_http_upload_store_offload_save(job, 1);
        ngx_http_upload_store_job_end(job, 1);
        return;
    }

    /* a delete is tried until it is done */

    delay = ngx_http_upload_store_job_backoff(job->remote, attempts);

    level = job->remove ? NGX_LOG_ERR : NGX_LOG_WARN;

    ngx_log_error(level, job->log, 0,
                  "upload store: %s of customer \"%V\", id %*s: %V, "
                  "again in %M ms", job->remove ? "object delete" : "offload",
                  &rec->customer, (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN,
                  rec->id, &off->error, delay);

    ngx_http_upload_store_stats_object(job->store,
                                       NGX_HTTP_UPLOAD_STORE_OBJ_RETRY, 1);

    ngx_http_upload_store_job_later(job, ngx_http_upload_store_now() + delay);

    if (job->remove) {
        /* its attempts in its entry: the backoff grows as for the rest */
        (void) ngx_http_upload_store_job_entry_attempts(job, attempts);

    } else {
        (void) ngx_http_upload_store_offload_save(job, 1);
    }

    ngx_http_upload_store_job_end(job, 0);
}


/*
 * the record as it is now, reloaded: other writers (a transcription, a
 * POST .../transcript) may have saved it since the offload loaded it;
 * save: with this offload's note, the only member the offload owns
 */

static ngx_int_t
ngx_http_upload_store_offload_save(ngx_http_upload_store_job_t *job,
    ngx_uint_t save)
{
    ngx_int_t                        rc;
    ngx_str_t                        raw;
    ngx_http_upload_store_t         *store;
    ngx_http_upload_store_record_t   now;

    store = job->store;

    ngx_memzero(&now, sizeof(ngx_http_upload_store_record_t));
    ngx_memcpy(now.id, job->record.id, NGX_HTTP_UPLOAD_STORE_ID_LEN);
    now.customer = job->record.customer;
    now.category = job->record.category;
    now.created = job->record.created;

    rc = store->backend->load(store, &now, &raw, job->pool, job->log);

    if (rc != NGX_OK) {
        return (rc == NGX_DECLINED) ? NGX_DECLINED : NGX_ERROR;
    }

    now.object = job->record.object;

    if (save) {
        rc = store->backend->save(store, &now, job->pool, job->log);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    job->record = now;

    return NGX_OK;
}


/* a part's wait is over */

static void
ngx_http_upload_store_offload_again(ngx_event_t *ev)
{
    ngx_http_upload_store_job_t *job = ev->data;

    ngx_http_upload_store_offload_t  *off;

    off = job->offload;

    if (ngx_http_upload_store_offload_send(job) != NGX_OK) {
        if (off->error.len == 0) {
            ngx_str_set(&off->error, "the request cannot be made");
        }

        ngx_http_upload_store_offload_failed(job, 0);
    }
}
