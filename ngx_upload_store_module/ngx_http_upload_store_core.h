
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#ifndef _NGX_HTTP_UPLOAD_STORE_CORE_H_INCLUDED_
#define _NGX_HTTP_UPLOAD_STORE_CORE_H_INCLUDED_


/*
 * The store's core: the layout of the store, the upload's record, the
 * statistics and the storage backend.  Nothing here knows of HTTP: the
 * functions take a store, a pool and a log, and return NGX_OK,
 * NGX_DECLINED (not found) or NGX_ERROR with the errno kept; the HTTP
 * files map these to statuses.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif

#include <jansson.h>
#include <curl/curl.h>


/* layout: ids, names */

#define NGX_HTTP_UPLOAD_STORE_ID_LEN      26
#define NGX_HTTP_UPLOAD_STORE_NAME_MAX    64
/* "customer/category/YYYY-MM-DD" and a NUL: 3 names and their ends */
#define NGX_HTTP_UPLOAD_STORE_DAY_MAX     (3 * NGX_HTTP_UPLOAD_STORE_NAME_MAX  \
                                           + 3)
#define NGX_HTTP_UPLOAD_STORE_SUFFIX_MAX  10
#define NGX_HTTP_UPLOAD_STORE_FNAME_MAX   255


/* the levels of the store, as a walk meets them */

typedef enum {
    NGX_HTTP_UPLOAD_STORE_ROOT = 0,
    NGX_HTTP_UPLOAD_STORE_CUSTOMER,
    NGX_HTTP_UPLOAD_STORE_CATEGORY,
    NGX_HTTP_UPLOAD_STORE_DAY,
    NGX_HTTP_UPLOAD_STORE_TEMP,
    NGX_HTTP_UPLOAD_STORE_NLEVEL
} ngx_http_upload_store_level_e;

/* the deepest a walk goes: root, customer, category, day */
#define NGX_HTTP_UPLOAD_STORE_DEPTH  4


/* an array that must have one element per value of an enum */

#define ngx_http_upload_store_sized(name, n)                                 \
    typedef char  name##_sized[                                              \
        (sizeof(name) / sizeof(name[0]) == (n)) ? 1 : -1]


/* a record's states */

typedef enum {
    NGX_HTTP_UPLOAD_STORE_STORED = 0,
    NGX_HTTP_UPLOAD_STORE_TRANSCRIBING,
    NGX_HTTP_UPLOAD_STORE_TRANSCRIBED,
    NGX_HTTP_UPLOAD_STORE_FAILED,
    NGX_HTTP_UPLOAD_STORE_QUEUED,                /* a job, waiting */
    NGX_HTTP_UPLOAD_STORE_NSTATE
} ngx_http_upload_store_state_e;


/* what happens to background jobs, counted */

typedef enum {
    NGX_HTTP_UPLOAD_STORE_JOB_ATTEMPT = 0,
    NGX_HTTP_UPLOAD_STORE_JOB_RETRY,
    NGX_HTTP_UPLOAD_STORE_JOB_TRANSCRIBED,
    NGX_HTTP_UPLOAD_STORE_JOB_FAILED,
    NGX_HTTP_UPLOAD_STORE_JOB_WEBHOOK,           /* delivered */
    NGX_HTTP_UPLOAD_STORE_JOB_WEBHOOK_RETRY,
    NGX_HTTP_UPLOAD_STORE_JOB_WEBHOOK_FAILED,
    NGX_HTTP_UPLOAD_STORE_NJOB
} ngx_http_upload_store_job_event_e;


/* what happens to offloads to the object store, counted */

typedef enum {
    NGX_HTTP_UPLOAD_STORE_OBJ_OFFLOADED = 0,     /* uploads confirmed */
    NGX_HTTP_UPLOAD_STORE_OBJ_RETRY,
    NGX_HTTP_UPLOAD_STORE_OBJ_FAILED,            /* retries exhausted */
    NGX_HTTP_UPLOAD_STORE_OBJ_BYTES,             /* of audio sent */
    NGX_HTTP_UPLOAD_STORE_OBJ_MS,                /* their time, summed */
    NGX_HTTP_UPLOAD_STORE_OBJ_DELETED,           /* objects */
    NGX_HTTP_UPLOAD_STORE_OBJ_EVICTED,           /* local copies removed */
    NGX_HTTP_UPLOAD_STORE_OBJ_READS,             /* served from the bucket */
    NGX_HTTP_UPLOAD_STORE_NOBJ
} ngx_http_upload_store_object_event_e;


/* a job's webhook */

#define NGX_HTTP_UPLOAD_STORE_WEBHOOK_NONE       0
#define NGX_HTTP_UPLOAD_STORE_WEBHOOK_PENDING    1
#define NGX_HTTP_UPLOAD_STORE_WEBHOOK_DELIVERED  2
#define NGX_HTTP_UPLOAD_STORE_WEBHOOK_FAILED     3


/* how a transcription ended: the record's "error", the counters' key */

typedef enum {
    NGX_HTTP_UPLOAD_STORE_OUTCOME_TRANSCRIBED = 0,
    NGX_HTTP_UPLOAD_STORE_OUTCOME_AUTH,
    NGX_HTTP_UPLOAD_STORE_OUTCOME_RATE_LIMITED,
    NGX_HTTP_UPLOAD_STORE_OUTCOME_ERROR,
    NGX_HTTP_UPLOAD_STORE_OUTCOME_TIMEOUT,
    NGX_HTTP_UPLOAD_STORE_OUTCOME_BAD_RESPONSE,
    NGX_HTTP_UPLOAD_STORE_OUTCOME_TOO_LARGE,
    NGX_HTTP_UPLOAD_STORE_OUTCOME_CLIENT_CLOSED,
    NGX_HTTP_UPLOAD_STORE_OUTCOME_REFUSED,
    NGX_HTTP_UPLOAD_STORE_OUTCOME_OTHER,
    NGX_HTTP_UPLOAD_STORE_NOUTCOME
} ngx_http_upload_store_outcome_e;


/* refusals are counted by status: 400, 403, ... and one "other" slot */

#define NGX_HTTP_UPLOAD_STORE_NREFUSAL  14

/* transcription latency buckets, upper bounds in ms, and +Inf */

#define NGX_HTTP_UPLOAD_STORE_NBUCKET   11

/* a cleanup run keeps its first few errors */

#define NGX_HTTP_UPLOAD_STORE_NERR      3
#define NGX_HTTP_UPLOAD_STORE_ERRLEN    200


/* what ngx_http_upload_store_space() refuses an upload for */

#define NGX_HTTP_UPLOAD_STORE_FULL      1        /* max_size */
#define NGX_HTTP_UPLOAD_STORE_LOW       2        /* min_free */


/* what ngx_http_upload_store_backend_t.remove() removes */

#define NGX_HTTP_UPLOAD_STORE_AUDIO     0        /* the record stays */
#define NGX_HTTP_UPLOAD_STORE_UPLOAD    1        /* audio and record */


typedef struct ngx_http_upload_store_s  ngx_http_upload_store_t;
typedef struct ngx_http_upload_store_walk_s  ngx_http_upload_store_walk_t;


/* one cleanup run's result, written by the worker that ran it */

typedef struct {
    ngx_atomic_t                    seq;         /* 1, 2...: runs started */
    ngx_atomic_t                    pid;
    ngx_atomic_t                    start;       /* ms since the epoch */
    ngx_atomic_t                    duration;    /* ms */
    ngx_atomic_t                    scanned;
    ngx_atomic_t                    deleted;
    ngx_atomic_t                    freed;       /* bytes */
    ngx_atomic_t                    temp;        /* orphans in .tmp */
    ngx_atomic_t                    dirs;        /* empty ones removed */
    ngx_atomic_t                    failed;
    ngx_atomic_t                    skipped;     /* symlinks, strangers */
    ngx_atomic_t                    slice;       /* longest slice, ms */
    ngx_atomic_t                    nerrors;

    /* the first errors: for the log, with their paths; for the admin
     * endpoint, only the call and its errno */
    u_char                          errors[NGX_HTTP_UPLOAD_STORE_NERR]
                                          [NGX_HTTP_UPLOAD_STORE_ERRLEN];
    u_char                          error_op[NGX_HTTP_UPLOAD_STORE_NERR]
                                            [16];
    ngx_atomic_t                    error_no[NGX_HTTP_UPLOAD_STORE_NERR];
} ngx_http_upload_store_run_t;


/* counters shared by all workers, in the store's zone */

typedef struct {
    ngx_atomic_t                    bytes;       /* bytes stored */
    ngx_atomic_t                    files;       /* uploads stored */
    ngx_atomic_t                    customers;   /* customer directories */
    ngx_atomic_t                    accepted;    /* uploads since start */
    ngx_atomic_t                    rejected;    /* refused uploads */
    ngx_atomic_t                    received;    /* body bytes received */
    ngx_atomic_t                    deletes;     /* by the files API */
    ngx_atomic_t                    reserved;    /* uploads in flight */
    ngx_atomic_t                    refused[NGX_HTTP_UPLOAD_STORE_NREFUSAL];

    ngx_atomic_t                    outcomes[NGX_HTTP_UPLOAD_STORE_NOUTCOME];
    ngx_atomic_t                    transcriptions;
    ngx_atomic_t                    latency_ms;  /* sum of latencies */
    ngx_atomic_t                    latency[NGX_HTTP_UPLOAD_STORE_NBUCKET];

    /* background jobs: events, and the queue as last seen by a worker */
    ngx_atomic_t                    jobs[NGX_HTTP_UPLOAD_STORE_NJOB];
    ngx_atomic_t                    jobs_running;
    ngx_atomic_t                    jobs_queued;
    ngx_atomic_t                    jobs_oldest; /* ms since the epoch */

    /* the object store */
    ngx_atomic_t                    objects[NGX_HTTP_UPLOAD_STORE_NOBJ];
    ngx_atomic_t                    offloads_queued;

    /* cleanup: the worker at work, and when the next run is due */
    ngx_atomic_t                    owner;       /* pid, 0: none */
    ngx_atomic_t                    heartbeat;   /* sec, the owner's */
    ngx_atomic_t                    next_run;    /* sec */
    ngx_atomic_t                    force;       /* run now */
    ngx_atomic_t                    seq;         /* runs started */
    ngx_atomic_t                    runs;        /* runs finished */
    ngx_atomic_t                    cleaned;     /* files, all runs */
    ngx_atomic_t                    cleaned_bytes;
    ngx_atomic_t                    clean_failed;
    ngx_http_upload_store_run_t     last;        /* the last finished run */
} ngx_http_upload_store_sh_t;


/*
 * an upload's copies in the object store: the audio's key once its
 * object is confirmed, and the attempts of its offload
 */

typedef struct {
    ngx_str_t                       key;         /* the audio's */
    ngx_str_t                       etag;
    uint64_t                        stored;      /* ms since the epoch */
    ngx_uint_t                      attempts;
    ngx_str_t                       error;       /* the last failure */
} ngx_http_upload_store_object_note_t;


/* an upload's record: {id}.json beside its audio */

typedef struct {
    u_char                          id[NGX_HTTP_UPLOAD_STORE_ID_LEN];
    ngx_str_t                       customer;
    ngx_str_t                       category;
    ngx_str_t                       filename;    /* original, may be empty */
    ngx_str_t                       content_type;
    ngx_str_t                       suffix;
    ngx_str_t                       file;        /* the audio's name */
    off_t                           bytes;
    uint64_t                        created;     /* ms since the epoch */
    ngx_uint_t                      state;       /* ..._state_e */

    u_char                          sha256[64];
    ngx_array_t                    *fields;      /* of ngx_keyval_t, NULL:
                                                    not a form */

    /* once a transcription was tried */
    ngx_str_t                       text;        /* the provider's */
    ngx_str_t                       processed;   /* after the lexicon,
                                                    NULL data: none */
    ngx_uint_t                      provider_status;
    ngx_msec_t                      transcribe_ms;
    ngx_uint_t                      outcome;     /* ..._outcome_e */

    /* a background job's */
    ngx_uint_t                      attempts;
    ngx_str_t                       last_error;
    uint64_t                        next_attempt;   /* ms, 0: none */
    ngx_uint_t                      webhook;     /* ..._WEBHOOK_* */
    ngx_uint_t                      webhook_attempts;

    ngx_http_upload_store_object_note_t  object;

    /* where it is, from the layout */
    ngx_str_t                       path;        /* the audio */
    ngx_str_t                       record_path; /* {id}.json */
    off_t                           record_bytes;   /* as written */

    unsigned                        hashed:1;
    unsigned                        transcription:1;
    unsigned                        job:1;
} ngx_http_upload_store_record_t;


/* a file or link a walk met in a day or the temp directory */

typedef struct {
    ngx_uint_t                      level;       /* DAY or TEMP */
    u_char                         *name;
    size_t                          len;
    off_t                           size;        /* 0 for a link */
    time_t                          mtime;
    unsigned                        link:1;
    unsigned                        record:1;    /* an {id}.json */
} ngx_http_upload_store_entry_t;


/* 1: the entry goes */
typedef ngx_uint_t (*ngx_http_upload_store_expired_pt)(
    ngx_http_upload_store_walk_t *walk, ngx_http_upload_store_entry_t *e);


/* an upload's record removed by a walk: "{customer}/{category}/{day}/{id}" */
typedef void (*ngx_http_upload_store_removed_pt)(
    ngx_http_upload_store_walk_t *walk, u_char *upload, size_t len);


/*
 * a walk over the store, a slice at a time: the backend's cursor is kept
 * between slices
 */

struct ngx_http_upload_store_walk_s {
    ngx_http_upload_store_t        *store;
    ngx_log_t                      *log;
    void                           *cursor;      /* the backend's */

    ngx_http_upload_store_expired_pt  expired;
    ngx_http_upload_store_removed_pt  removed;   /* NULL: not told */
    void                           *data;

    ngx_http_upload_store_run_t     run;         /* what it did */
    ngx_uint_t                      customers;   /* directories entered */

    unsigned                        sizing:1;    /* removes nothing */
};


/*
 * a storage backend: where uploads and records are kept; the POSIX
 * filesystem is the one there is
 */

typedef struct {
    char                           *name;

    /* a complete temp file and the record's JSON, made visible */
    ngx_int_t                     (*commit)(ngx_http_upload_store_t *store,
                                      ngx_http_upload_store_record_t *rec,
                                      ngx_temp_file_t *tf, ngx_str_t *json,
                                      ngx_log_t *log);

    /* the audio, for reading */
    ngx_int_t                     (*open)(ngx_http_upload_store_t *store,
                                      ngx_http_upload_store_record_t *rec,
                                      ngx_file_t *file, ngx_log_t *log);

    /*
     * by customer, category and id; raw: its JSON as stored; NGX_DECLINED:
     * none, NGX_ERROR: it cannot be opened, NGX_ABORT: it cannot be read
     * (errno set) or is invalid (errno 0)
     */
    ngx_int_t                     (*load)(ngx_http_upload_store_t *store,
                                      ngx_http_upload_store_record_t *rec,
                                      ngx_str_t *raw, ngx_pool_t *pool,
                                      ngx_log_t *log);

    /* the record as it is now, replacing the stored one */
    ngx_int_t                     (*save)(ngx_http_upload_store_t *store,
                                      ngx_http_upload_store_record_t *rec,
                                      ngx_pool_t *pool, ngx_log_t *log);

    ngx_int_t                     (*remove)(ngx_http_upload_store_t *store,
                                      ngx_http_upload_store_record_t *rec,
                                      ngx_uint_t what, ngx_log_t *log);

    ngx_int_t                     (*walk_open)(
                                      ngx_http_upload_store_walk_t *walk);
    ngx_int_t                     (*walk)(ngx_http_upload_store_walk_t *walk,
                                      ngx_uint_t entries, ngx_msec_t msec);
    void                          (*walk_close)(
                                      ngx_http_upload_store_walk_t *walk);

    ngx_int_t                     (*space)(ngx_http_upload_store_t *store,
                                      off_t *total, off_t *avail);
} ngx_http_upload_store_backend_t;


/*
 * an S3-compatible bucket behind a store (upload_store_object_store):
 * objects keyed {prefix}{customer}/{category}/{day}/{name}, as on disk
 */

typedef struct {
    ngx_str_t                       url;         /* the bucket's, no "/" at
                                                    the end */
    ngx_str_t                       sigv4;       /* "aws:amz:REGION:s3" */
    ngx_str_t                       userpwd;     /* "KEY:SECRET" */
    ngx_str_t                       prefix;
    ngx_str_t                       ca;          /* a CA file, or empty */
    off_t                           part_size;
    ngx_flag_t                      keep_local;  /* on, off */
    time_t                          keep_time;   /* a TIME: so long */
    ngx_msec_t                      timeout;
    ngx_msec_t                      connect_timeout;
    void                           *remote;      /* its queue of offloads */

    /* redirect=presigned: reads answered by a 302 to a presigned URL */
    time_t                          expires;     /* 0: no redirect */
    ngx_str_t                       scheme;      /* all null-terminated */
    ngx_str_t                       host;
    ngx_str_t                       path;        /* the bucket's, or "" */
    ngx_str_t                       key_id;
    ngx_str_t                       secret;
    ngx_str_t                       region;
} ngx_http_upload_store_object_t;


/* one store, from an "upload_store_path" directive */

struct ngx_http_upload_store_s {
    ngx_str_t                       name;        /* zone name */
    ngx_str_t                       root;        /* null-terminated */
    ngx_path_t                     *root_path;
    ngx_path_t                     *temp_path;   /* {root}/.tmp */
    ngx_path_t                     *jobs_path;   /* {root}/.jobs, NULL:
                                                    no jobs */

    time_t                          retention;
    time_t                          interval;
    off_t                           min_free;
    off_t                           max_size;    /* 0: no limit */
    ngx_uint_t                      access;

    ngx_http_upload_store_backend_t  *backend;
    ngx_http_upload_store_object_t   *object;     /* NULL: none */

    ngx_shm_zone_t                 *shm_zone;
    ngx_http_upload_store_sh_t     *sh;

    /* per worker: free space, read from the filesystem once a second */
    time_t                          avail_time;
    off_t                           avail;

    /* per worker: the root's descriptor, opened again once a second */
    int                             root_fd;
    ngx_msec_t                      root_time;
    unsigned                        root_open:1;

    /* per worker: the last day directory an upload went to, as long */
    unsigned                        day_open:1;
    int                             day_fd;
    size_t                          day_len;
    u_char                          day_name[NGX_HTTP_UPLOAD_STORE_DAY_MAX];

    void                           *cleanup;     /* this worker's sweep */

#if (NGX_THREADS)
    ngx_thread_pool_t              *thread_pool; /* thread_pool= */
#endif
};


/* layout */

ngx_int_t ngx_http_upload_store_valid_name(ngx_str_t *name);
ngx_int_t ngx_http_upload_store_make_id(u_char *id, uint64_t ms,
    ngx_log_t *log);
ngx_int_t ngx_http_upload_store_parse_id(u_char *id, size_t len,
    uint64_t *ms);
void ngx_http_upload_store_suffix(ngx_str_t *filename,
    ngx_str_t *content_type, ngx_str_t *suffix);
void ngx_http_upload_store_type_of(ngx_str_t *filename, ngx_str_t *type);
void ngx_http_upload_store_type_of_bytes(u_char *p, size_t len,
    ngx_str_t *type);
ngx_int_t ngx_http_upload_store_file_name(ngx_pool_t *pool,
    ngx_http_upload_store_record_t *rec, ngx_str_t *prefix);
ngx_int_t ngx_http_upload_store_valid_file(ngx_str_t *name);
ngx_int_t ngx_http_upload_store_record_paths(ngx_pool_t *pool,
    ngx_http_upload_store_t *store, ngx_http_upload_store_record_t *rec);
ngx_int_t ngx_http_upload_store_audio_path(ngx_pool_t *pool,
    ngx_http_upload_store_record_t *rec);
ngx_int_t ngx_http_upload_store_temp_record(ngx_pool_t *pool,
    ngx_http_upload_store_t *store, ngx_http_upload_store_record_t *rec,
    ngx_str_t *temp);
u_char *ngx_http_upload_store_jobs_name(u_char *buf, size_t size,
    ngx_str_t *root, ngx_str_t *provider, u_char *id);
ngx_int_t ngx_http_upload_store_jobs_dir(ngx_pool_t *pool, ngx_str_t *root,
    ngx_str_t *provider, ngx_str_t *dir);
ngx_int_t ngx_http_upload_store_job_paths(ngx_pool_t *pool,
    ngx_http_upload_store_t *store, ngx_str_t *provider, u_char *id,
    ngx_str_t *entry, ngx_str_t *temp);
ngx_int_t ngx_http_upload_store_temp_dir(ngx_pool_t *pool, ngx_str_t *root,
    ngx_str_t *dir);
ngx_int_t ngx_http_upload_store_level(ngx_uint_t parent, u_char *name,
    size_t len, ngx_uint_t dir);
ngx_uint_t ngx_http_upload_store_is_record(u_char *name, size_t len);

/* record */

json_t *ngx_http_upload_store_record_json(ngx_pool_t *pool,
    ngx_http_upload_store_record_t *rec, ngx_log_t *log);
ngx_int_t ngx_http_upload_store_record_dump(ngx_pool_t *pool,
    ngx_http_upload_store_record_t *rec, ngx_str_t *out, ngx_log_t *log);
ngx_int_t ngx_http_upload_store_record_parse(ngx_pool_t *pool,
    ngx_str_t *raw, ngx_http_upload_store_record_t *rec, ngx_log_t *log);
char *ngx_http_upload_store_state_name(ngx_uint_t state);
ngx_int_t ngx_http_upload_store_record_set_state(
    ngx_http_upload_store_record_t *rec, ngx_uint_t state);
json_t *ngx_http_upload_store_json_str(ngx_str_t *s);
u_char *ngx_http_upload_store_iso_time(u_char *buf, uint64_t ms);
json_t *ngx_http_upload_store_json_pointer(json_t *root,
    ngx_str_t *pointer);
ngx_int_t ngx_http_upload_store_json_dump(ngx_pool_t *pool, json_t *json,
    ngx_str_t *out);
uint64_t ngx_http_upload_store_parse_iso(u_char *p, size_t len);

/* stats */

void ngx_http_upload_store_stats_refused(ngx_http_upload_store_t *store,
    ngx_uint_t status);
void ngx_http_upload_store_stats_received(ngx_http_upload_store_t *store,
    off_t bytes);
void ngx_http_upload_store_stats_accepted(ngx_http_upload_store_t *store);
void ngx_http_upload_store_stats_stored(ngx_http_upload_store_t *store,
    off_t bytes);
void ngx_http_upload_store_stats_resized(ngx_http_upload_store_t *store,
    off_t delta);
void ngx_http_upload_store_stats_removed(ngx_http_upload_store_t *store,
    off_t bytes, ngx_uint_t files);
void ngx_http_upload_store_stats_deleted(ngx_http_upload_store_t *store);
void ngx_http_upload_store_stats_customer(ngx_http_upload_store_t *store,
    ngx_int_t n);
void ngx_http_upload_store_stats_sized(ngx_http_upload_store_t *store,
    off_t bytes, ngx_uint_t files, ngx_uint_t customers);
void ngx_http_upload_store_stats_transcription(
    ngx_http_upload_store_t *store, ngx_uint_t outcome, ngx_msec_t ms);
void ngx_http_upload_store_stats_cleanup(ngx_http_upload_store_t *store,
    ngx_http_upload_store_run_t *run, ngx_uint_t finished);
off_t ngx_http_upload_store_stats_bytes(ngx_http_upload_store_t *store);
void ngx_http_upload_store_stats_reserve(ngx_http_upload_store_t *store,
    off_t bytes);
off_t ngx_http_upload_store_stats_reserved(ngx_http_upload_store_t *store);
void ngx_http_upload_store_stats_job(ngx_http_upload_store_t *store,
    ngx_uint_t event);
void ngx_http_upload_store_stats_job_running(ngx_http_upload_store_t *store,
    ngx_int_t n);
void ngx_http_upload_store_stats_queue(ngx_http_upload_store_t *store,
    ngx_uint_t queued, uint64_t oldest);
void ngx_http_upload_store_stats_object(ngx_http_upload_store_t *store,
    ngx_uint_t event, off_t n);
void ngx_http_upload_store_stats_offloads(ngx_http_upload_store_t *store,
    ngx_uint_t queued);
ngx_uint_t ngx_http_upload_store_refusal_status(ngx_uint_t i);
ngx_msec_t ngx_http_upload_store_bucket_bound(ngx_uint_t i);
char *ngx_http_upload_store_outcome_name(ngx_uint_t outcome);

/* the object store's requests */

ngx_int_t ngx_http_upload_store_object_key(ngx_pool_t *pool,
    ngx_http_upload_store_t *store, ngx_str_t *path, ngx_str_t *key);
CURL *ngx_http_upload_store_object_easy(ngx_http_upload_store_object_t *os,
    ngx_str_t *key, char *query, struct curl_slist **headers,
    ngx_pool_t *pool);
void ngx_http_upload_store_object_code(u_char *body, size_t len,
    ngx_str_t *code);
u_char *ngx_http_upload_store_object_escape(u_char *dst, ngx_str_t *key);
ngx_int_t ngx_http_upload_store_object_no_body(struct curl_slist **headers);

/* metrics */

json_t *ngx_http_upload_store_stats_json(ngx_http_upload_store_t *store);
ngx_int_t ngx_http_upload_store_stats_prometheus(
    ngx_http_upload_store_t *store, ngx_pool_t *pool, ngx_str_t *out,
    ngx_log_t *log);
json_t *ngx_http_upload_store_run_json(ngx_http_upload_store_run_t *run);

/* the store */

char *ngx_http_upload_store_path(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_upload_store_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
ngx_int_t ngx_http_upload_store_space(ngx_http_upload_store_t *store,
    off_t need, ngx_log_t *log);
ngx_int_t ngx_http_upload_store_size_check(ngx_http_upload_store_t *store,
    off_t need, ngx_log_t *log);
off_t ngx_http_upload_store_available(ngx_http_upload_store_t *store);
ngx_int_t ngx_http_upload_store_check_access(ngx_cycle_t *cycle,
    ngx_http_upload_store_t *store);
ngx_int_t ngx_http_upload_store_each(ngx_cycle_t *cycle,
    ngx_int_t (*handler)(ngx_cycle_t *cycle, ngx_http_upload_store_t *store));

/* the filesystem backend's day directories (ngx_http_upload_store_fs_day.c) */

void ngx_http_upload_store_fs_init(void);
void ngx_http_upload_store_fs_root_close(void *data);
int ngx_http_upload_store_fs_root(ngx_http_upload_store_t *store);
ngx_int_t ngx_http_upload_store_fs_day(ngx_http_upload_store_t *store,
    ngx_http_upload_store_record_t *rec, ngx_uint_t create, int *day,
    ngx_log_t *log);
void ngx_http_upload_store_fs_day_close(ngx_http_upload_store_t *store,
    int day, ngx_uint_t stale);

/* the filesystem backend's walk */

ngx_int_t ngx_http_upload_store_fs_walk_open(
    ngx_http_upload_store_walk_t *walk);
ngx_int_t ngx_http_upload_store_fs_walk(ngx_http_upload_store_walk_t *walk,
    ngx_uint_t entries, ngx_msec_t msec);
void ngx_http_upload_store_fs_walk_close(ngx_http_upload_store_walk_t *walk);


/*
 * a counter that is only ever a size (bytes, files): never below zero when
 * read, whatever the drift of concurrent updates
 */

static ngx_inline ngx_atomic_int_t
ngx_http_upload_store_gauge(ngx_atomic_t *counter)
{
    ngx_atomic_int_t  v;

    v = (ngx_atomic_int_t) *counter;

    return v < 0 ? 0 : v;
}


/* a monotonic clock, cheap enough to read for every entry (vDSO) */

static ngx_inline ngx_msec_t
ngx_http_upload_store_msec(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (ngx_msec_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/*
 * a libcurl transfer on the worker's multi handle: the caller sets easy
 * and done; done() is called once, with result set, unless stopped
 */

typedef struct ngx_http_upload_store_transfer_s
    ngx_http_upload_store_transfer_t;

struct ngx_http_upload_store_transfer_s {
    CURL                           *easy;
    void                          (*done)(ngx_http_upload_store_transfer_t
                                          *t);
    CURLcode                        result;
    unsigned                        running:1;
};


/* the SHA-256 of no bytes: the payload of a request without a body */
#define NGX_HTTP_UPLOAD_STORE_EMPTY_SHA256                                   \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


ngx_int_t ngx_http_upload_store_curl_init(ngx_cycle_t *cycle);
void ngx_http_upload_store_curl_exit(void);
ngx_int_t ngx_http_upload_store_curl_start(
    ngx_http_upload_store_transfer_t *t);
void ngx_http_upload_store_curl_stop(ngx_http_upload_store_transfer_t *t);
ngx_uint_t ngx_http_upload_store_curl_running(void);
void ngx_http_upload_store_curl_free(ngx_http_upload_store_transfer_t *t,
    struct curl_slist **headers);
void ngx_http_upload_store_curl_clear(void);
ngx_int_t ngx_http_upload_store_curl_header(struct curl_slist **headers,
    char *line);
ngx_uint_t ngx_http_upload_store_curl_value(u_char *line, size_t len,
    char *name, ngx_str_t *value);
ngx_int_t ngx_http_upload_store_curl_keep(ngx_pool_t *pool, u_char **buf,
    size_t *len, size_t *cap, size_t max, char *data, size_t n);


/* the cached wall clock, ms since the epoch: records, runs, jobs */

static ngx_inline uint64_t
ngx_http_upload_store_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}


extern ngx_http_upload_store_backend_t  ngx_http_upload_store_fs_backend;
extern ngx_module_t  ngx_http_upload_store_module;


#endif /* _NGX_HTTP_UPLOAD_STORE_CORE_H_INCLUDED_ */
