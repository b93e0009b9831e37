
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#ifndef _NGX_HTTP_UPLOAD_STORE_JOBS_H_INCLUDED_
#define _NGX_HTTP_UPLOAD_STORE_JOBS_H_INCLUDED_


#include "ngx_http_upload_store_module.h"


#define NGX_HTTP_UPLOAD_STORE_SCAN       1000    /* ms between looks */
#define NGX_HTTP_UPLOAD_STORE_ENTRY_MAX  4096
#define NGX_HTTP_UPLOAD_STORE_RETRY_MAX  86400000   /* Retry-After, ms */


/* an entry due that a worker saw and did not take yet */

#define NGX_HTTP_UPLOAD_STORE_READY  64

typedef struct {
    ngx_http_upload_store_t           *store;
    ngx_http_upload_store_remote_t    *remote;
    u_char                             name[NGX_HTTP_UPLOAD_STORE_ID_LEN];
} ngx_http_upload_store_ready_t;


/* a job a worker runs: its entry locked, its request on curl */

typedef struct {
    ngx_http_upload_store_transfer_t   transfer;    /* first */

    ngx_queue_t                        queue;
    ngx_pool_t                        *pool;
    ngx_log_t                         *log;
    ngx_http_upload_store_t           *store;
    ngx_http_upload_store_remote_t    *remote;
    ngx_http_upload_store_loc_conf_t  *uslcf;       /* NULL: none now */
    ngx_http_upload_store_record_t     record;

    ngx_fd_t                           entry;       /* locked */
    ngx_str_t                          entry_path;
    ngx_fd_t                           audio;
    off_t                              size;
    off_t                              offset;      /* of what is read */
    off_t                              end;         /* what is sent ends */
    ngx_uint_t                         slot;

    curl_mime                         *mime;
    struct curl_slist                 *headers;
    char                              *url;

    u_char                            *answer;
    size_t                             len;
    size_t                             cap;
    size_t                             max;
    ngx_str_t                          retry_after;
    ngx_str_t                          content_type;
    ngx_msec_t                         start;

    void                              *offload;     /* an object store's */
    ngx_event_t                        wait;        /* a part again */

    time_t                             sent;        /* a webhook's */
    ngx_str_t                          webhook;     /* its URL */

    unsigned                           too_big:1;
    unsigned                           remove:1;    /* its objects go */
    ngx_uint_t                         attempts;    /* a delete's, from
                                                       its entry */
    unsigned                           started:1;   /* counted running */
} ngx_http_upload_store_job_t;


/* an offload to the object store (ngx_http_upload_store_offload.c) */

#define NGX_HTTP_UPLOAD_STORE_ANSWER_MAX  65536
#define NGX_HTTP_UPLOAD_STORE_RECORD_MAX  (8 * 1024 * 1024)


typedef enum {
    ngx_us_head = 0,             /* the audio already there? */
    ngx_us_put,
    ngx_us_create,               /* CreateMultipartUpload */
    ngx_us_part,
    ngx_us_complete,
    ngx_us_head_done,            /* the ETag of the completed upload */
    ngx_us_abort,
    ngx_us_record,
    ngx_us_find,                 /* the record, for its audio's name */
    ngx_us_delete_audio,
    ngx_us_delete_record
} ngx_http_upload_store_offload_step_e;


typedef struct {
    ngx_uint_t                      step;
    ngx_str_t                       key;         /* the audio's */
    ngx_str_t                       record_key;
    ngx_str_t                       upload_id;
    ngx_uint_t                      part;        /* 1, 2... */
    ngx_uint_t                      parts;
    ngx_uint_t                      tries;       /* of this part */
    ngx_str_t                      *etags;       /* the parts' */
    ngx_str_t                       etag;        /* of the last answer */
    ngx_str_t                       body;        /* sent from memory */
    ngx_msec_t                      start;
    ngx_str_t                       error;       /* why it failed */
    unsigned                        sent:1;      /* the audio, this run */
} ngx_http_upload_store_offload_t;


/* the worker's */

typedef struct {
    ngx_event_t                         scan;
    ngx_queue_t                         running;
    ngx_cycle_t                        *cycle;
    ngx_http_upload_store_main_conf_t  *usmcf;
    ngx_atomic_t                       *slots;
    ngx_msec_t                          next;        /* the next look */

    /* entries due, taken when a slot frees, without a look at all */
    ngx_event_t                         more;
    ngx_uint_t                          nready;
    ngx_uint_t                          first;       /* a ring: FIFO */
    ngx_http_upload_store_ready_t       ready[NGX_HTTP_UPLOAD_STORE_READY];
    u_char                             *overflow;    /* by provider: more
                                                        were due */
    unsigned                            taking:1;    /* in the more event */
} ngx_http_upload_store_jobs_t;


ngx_int_t ngx_http_upload_store_job_request(
    ngx_http_upload_store_job_t *job);
void ngx_http_upload_store_job_transcribed(
    ngx_http_upload_store_job_t *job, ngx_str_t *text);
void ngx_http_upload_store_job_retry(ngx_http_upload_store_job_t *job,
    ngx_uint_t status);
void ngx_http_upload_store_job_failed(ngx_http_upload_store_job_t *job,
    ngx_uint_t outcome, ngx_uint_t status);
void ngx_http_upload_store_job_error(ngx_http_upload_store_job_t *job,
    const char *fmt, ...);
void ngx_http_upload_store_job_end(ngx_http_upload_store_job_t *job,
    ngx_uint_t done);
ngx_int_t ngx_http_upload_store_slot_take(
    ngx_http_upload_store_remote_t *remote, ngx_uint_t *slot);
void ngx_http_upload_store_slot_give(ngx_uint_t slot);
ngx_uint_t ngx_http_upload_store_slots_free(
    ngx_http_upload_store_remote_t *remote);
ngx_msec_t ngx_http_upload_store_job_backoff(
    ngx_http_upload_store_remote_t *remote, ngx_uint_t attempts);
void ngx_http_upload_store_job_later(ngx_http_upload_store_job_t *job,
    uint64_t ms);
void ngx_http_upload_store_jobs_ready(ngx_http_upload_store_t *store,
    ngx_http_upload_store_remote_t *remote, u_char *id);
ngx_int_t ngx_http_upload_store_job_webhook(ngx_http_upload_store_job_t *job);
void ngx_http_upload_store_job_webhook_or_end(
    ngx_http_upload_store_job_t *job);
void ngx_http_upload_store_job_postpone(ngx_http_upload_store_job_t *job,
    char *why);
void ngx_http_upload_store_job_webhook_wanted(
    ngx_http_upload_store_job_t *job);
void ngx_http_upload_store_job_unlink(ngx_http_upload_store_job_t *job);
void ngx_http_upload_store_job_release(ngx_http_upload_store_job_t *job);
void ngx_http_upload_store_jobs_post(void);
size_t ngx_http_upload_store_job_read_audio(char *buf, size_t size, size_t n,
    void *data);
int ngx_http_upload_store_job_seek(void *data, curl_off_t offset,
    int origin);
void ngx_http_upload_store_offload_run(ngx_http_upload_store_job_t *job);
ngx_int_t ngx_http_upload_store_job_entry_attempts(
    ngx_http_upload_store_job_t *job, ngx_uint_t attempts);
ngx_int_t ngx_http_upload_store_offload_send(ngx_http_upload_store_job_t *job);
void ngx_http_upload_store_offload_reset(ngx_http_upload_store_job_t *job);


extern ngx_http_upload_store_jobs_t  *ngx_http_upload_store_jobs;


#endif /* _NGX_HTTP_UPLOAD_STORE_JOBS_H_INCLUDED_ */
