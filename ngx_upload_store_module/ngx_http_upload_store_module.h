
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#ifndef _NGX_HTTP_UPLOAD_STORE_MODULE_H_INCLUDED_
#define _NGX_HTTP_UPLOAD_STORE_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>
#include <openssl/evp.h>


#define NGX_HTTP_UPLOAD_STORE_ID_LEN     26
#define NGX_HTTP_UPLOAD_STORE_NAME_MAX   64
#define NGX_HTTP_UPLOAD_STORE_SUFFIX_MAX 10
#define NGX_HTTP_UPLOAD_STORE_FNAME_MAX  255

#define NGX_HTTP_UPLOAD_STORE_CHECKSUM_OFF     0
#define NGX_HTTP_UPLOAD_STORE_CHECKSUM_SHA256  1


#define NGX_HTTP_UPLOAD_STORE_STT_OPENAI  0
#define NGX_HTTP_UPLOAD_STORE_STT_RAW     1


typedef struct ngx_http_upload_store_multipart_s
    ngx_http_upload_store_multipart_t;
typedef struct ngx_http_upload_store_stt_s  ngx_http_upload_store_stt_t;


typedef struct {
    ngx_str_t                       name;
    ngx_http_complex_value_t        value;
} ngx_http_upload_store_stt_field_t;


typedef struct {
    ngx_str_t                       word;        /* lower-cased */
    ngx_str_t                       replacement;
} ngx_http_upload_store_lexicon_t;


/* refusals are counted by status: 400, 403, ... and one "other" slot */

#define NGX_HTTP_UPLOAD_STORE_NSTATUS  14

/* transcription outcomes: "transcribed", the error codes, "other" */

#define NGX_HTTP_UPLOAD_STORE_NOUTCOME  9

/* transcription latency buckets, upper bounds in ms, and +Inf */

#define NGX_HTTP_UPLOAD_STORE_NBUCKET  11

#define NGX_HTTP_UPLOAD_STORE_NERR  3
#define NGX_HTTP_UPLOAD_STORE_ERRLEN  200


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
    u_char                          errors[NGX_HTTP_UPLOAD_STORE_NERR]
                                          [NGX_HTTP_UPLOAD_STORE_ERRLEN];
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
    ngx_atomic_t                    status[NGX_HTTP_UPLOAD_STORE_NSTATUS];

    ngx_atomic_t                    stt[NGX_HTTP_UPLOAD_STORE_NOUTCOME];
    ngx_atomic_t                    stt_count;
    ngx_atomic_t                    stt_ms;      /* sum of latencies */
    ngx_atomic_t                    stt_bucket[NGX_HTTP_UPLOAD_STORE_NBUCKET];

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


/* one store, from an "upload_store_path" directive */

typedef struct {
    ngx_str_t                       name;        /* zone name */
    ngx_str_t                       root;        /* null-terminated */
    ngx_path_t                     *root_path;
    ngx_path_t                     *temp_path;   /* {root}/.tmp */

    time_t                          retention;
    time_t                          interval;
    off_t                           min_free;
    off_t                           max_size;    /* 0: no limit */
    ngx_uint_t                      access;

    ngx_shm_zone_t                 *shm_zone;
    ngx_http_upload_store_sh_t     *sh;

    /* per worker: free space, read from the filesystem once a second */
    time_t                          avail_time;
    off_t                           avail;

    void                           *cleanup;     /* this worker's sweep */

#if (NGX_THREADS)
    ngx_thread_pool_t              *thread_pool; /* thread_pool= */
#endif
} ngx_http_upload_store_t;


typedef struct {
    ngx_array_t                     receivers;   /* of ngx_http_... * */
    ngx_array_t                     endpoints;   /* files and admin */
} ngx_http_upload_store_main_conf_t;


typedef struct {
    ngx_shm_zone_t                 *receive;     /* upload_store_receive */
    ngx_shm_zone_t                 *files;       /* upload_store_files */
    ngx_shm_zone_t                 *admin;       /* upload_store_admin */
    ngx_http_core_loc_conf_t       *clcf;        /* the receive location */

    ngx_http_complex_value_t       *customer;
    ngx_http_complex_value_t       *category;
    ngx_str_t                       prefix;
    ngx_array_t                    *types;       /* of ngx_str_t */

    ngx_str_t                       field;       /* the file's form field */
    ngx_uint_t                      form_fields; /* upload_store_form_limits */
    size_t                          form_name;
    size_t                          form_value;
    size_t                          form_headers;
    ngx_uint_t                      checksum;

    ngx_http_complex_value_t       *transcribe;  /* NULL: off */
    ngx_uint_t                      transcribe_protocol;
    ngx_str_t                       transcribe_text;  /* a JSON pointer */
    ngx_array_t                    *transcribe_fields;
    ngx_array_t                    *transcribe_pass;  /* of ngx_str_t */
    size_t                          transcribe_buffer;
    ngx_array_t                    *lexicon;     /* of ..._lexicon_t */
    ngx_flag_t                      keep;
} ngx_http_upload_store_loc_conf_t;


/* per request */

typedef struct {
    ngx_http_upload_store_t        *store;

    ngx_str_t                       customer;
    ngx_str_t                       category;
    ngx_str_t                       filename;    /* original, may be empty */
    ngx_str_t                       content_type;
    ngx_str_t                       suffix;
    ngx_str_t                       file_field;

    ngx_http_upload_store_multipart_t  *multipart;
    void                           *admin;       /* a wait for a cleanup */
    ngx_http_upload_store_stt_t    *stt;
    ngx_str_t                       status;      /* empty: "stored" */
    ngx_str_t                       stt_text;    /* the provider's */
    ngx_str_t                       stt_processed;  /* after the lexicon */
    ngx_str_t                       stt_error;

    EVP_MD_CTX                     *sha;
    u_char                          sha256[64];

    u_char                          id[NGX_HTTP_UPLOAD_STORE_ID_LEN];
    ngx_str_t                       path;        /* the stored file */
    ngx_str_t                       file;        /* its name in path */
    ngx_str_t                       meta_path;   /* its {id}.json */
    off_t                           bytes;
    off_t                           meta_bytes;  /* {id}.json as written */
    ngx_msec_t                      created;     /* ms since the epoch */
    time_t                          created_sec;

    /* the JSON error body, set by ngx_http_upload_store_error() */
    ngx_str_t                       error_code;
    ngx_str_t                       error_message;
    ngx_buf_t                      *error_body;

    unsigned                        stored:1;
    unsigned                        reading:1;
    unsigned                        error_sent:1;
    unsigned                        hashed:1;
    unsigned                        linger:1;    /* refused mid-body */
} ngx_http_upload_store_ctx_t;


ngx_int_t ngx_http_upload_store_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_upload_store_files_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_upload_store_admin_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_upload_store_cleanup_init(ngx_cycle_t *cycle);
void ngx_http_upload_store_cleanup_exit(ngx_cycle_t *cycle);
ngx_int_t ngx_http_upload_store_cleanup_count(ngx_http_upload_store_t *store,
    ngx_log_t *log);
ngx_atomic_uint_t ngx_http_upload_store_cleanup_now(
    ngx_http_upload_store_t *store);
void ngx_http_upload_store_count_status(ngx_http_upload_store_t *store,
    ngx_uint_t status);
void ngx_http_upload_store_count_stt(ngx_http_upload_store_ctx_t *ctx);
ngx_int_t ngx_http_upload_store_send_json(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *json);
ngx_int_t ngx_http_upload_store_send_object(ngx_http_request_t *r,
    ngx_uint_t status, json_t *json);
ngx_int_t ngx_http_upload_store_send(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *type, ngx_str_t *body);
ngx_int_t ngx_http_upload_store_transcribe(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx);
ngx_uint_t ngx_http_upload_store_stt_status(ngx_http_upload_store_ctx_t *ctx);
ngx_msec_t ngx_http_upload_store_stt_time(ngx_http_upload_store_ctx_t *ctx);
ngx_int_t ngx_http_upload_store_init_stt_filters(ngx_conf_t *cf);
ngx_int_t ngx_http_upload_store_set_type(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *value);
ngx_int_t ngx_http_upload_store_set_filename(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, u_char *name, size_t len);
ngx_table_elt_t *ngx_http_upload_store_header(ngx_list_t *headers,
    char *name);
ngx_int_t ngx_http_upload_store_utf8(u_char *p, size_t len,
    ngx_uint_t controls);
ngx_int_t ngx_http_upload_store_error(ngx_http_request_t *r,
    ngx_uint_t status, char *code, const char *fmt, ...);
ngx_int_t ngx_http_upload_store_not_allowed(ngx_http_request_t *r,
    char *methods);
ngx_int_t ngx_http_upload_store_init_filters(ngx_conf_t *cf);
ngx_int_t ngx_http_upload_store_init_body_filter(ngx_conf_t *cf);
ngx_http_upload_store_ctx_t *ngx_http_upload_store_get_ctx(
    ngx_http_request_t *r);
json_t *ngx_http_upload_store_json_str(ngx_str_t *s);
ngx_int_t ngx_http_upload_store_json_dump(ngx_pool_t *pool, json_t *json,
    ngx_str_t *out);


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


extern ngx_module_t  ngx_http_upload_store_module;


#endif /* _NGX_HTTP_UPLOAD_STORE_MODULE_H_INCLUDED_ */
