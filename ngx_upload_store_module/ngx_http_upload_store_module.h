
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#ifndef _NGX_HTTP_UPLOAD_STORE_MODULE_H_INCLUDED_
#define _NGX_HTTP_UPLOAD_STORE_MODULE_H_INCLUDED_


/*
 * The HTTP side of the module: configuration, the request's context, the
 * HTTP helpers and the features' entry points.  The store's core, with no
 * HTTP in it, is in ngx_http_upload_store_core.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/evp.h>

#include "ngx_http_upload_store_core.h"


#define NGX_HTTP_UPLOAD_STORE_CHECKSUM_OFF     0
#define NGX_HTTP_UPLOAD_STORE_CHECKSUM_SHA256  1


typedef struct ngx_http_upload_store_multipart_s
    ngx_http_upload_store_multipart_t;
typedef struct ngx_http_upload_store_transcription_s
    ngx_http_upload_store_transcription_t;
typedef struct ngx_http_upload_store_ctx_s  ngx_http_upload_store_ctx_t;


/* what a provider's request is made of */

typedef struct {
    ngx_chain_t                    *bufs;        /* the body */
    ngx_chain_t                    *audio;       /* its link of the audio */
    ngx_str_t                       content_type;
    ngx_str_t                       args;        /* of the provider's URI */
    ngx_str_t                       boundary;    /* unique to the upload */
} ngx_http_upload_store_provider_body_t;


/*
 * a provider protocol: how the request's body is made around the audio
 * (the buffer of the stored file, as a chain link), where the text is in
 * the answer by default (empty: "text=" is needed), and whether an answer
 * in JSON says that it failed
 */

typedef struct {
    ngx_str_t                       name;
    ngx_str_t                       text;
    ngx_int_t                     (*body)(ngx_http_request_t *r,
                                      ngx_http_upload_store_ctx_t *ctx,
                                      ngx_http_upload_store_provider_body_t
                                          *body);
    ngx_uint_t                    (*failed)(json_t *answer);
} ngx_http_upload_store_provider_t;


typedef struct {
    ngx_str_t                       name;
    ngx_http_complex_value_t        value;
} ngx_http_upload_store_field_t;


typedef struct {
    ngx_str_t                       word;        /* lower-cased */
    ngx_str_t                       replacement;
} ngx_http_upload_store_lexicon_t;


/*
 * a provider the module calls itself, for background jobs: an
 * "upload_store_provider" and its headers and fields
 */

typedef struct {
    ngx_str_t                       name;
    ngx_str_t                       url;         /* null-terminated */
    ngx_http_upload_store_provider_t  *protocol;
    ngx_str_t                       text;        /* a JSON pointer */
    ngx_msec_t                      timeout;
    ngx_msec_t                      connect_timeout;
    ngx_uint_t                      concurrency;
    ngx_uint_t                      retries;
    ngx_msec_t                      backoff;     /* the first wait */
    ngx_msec_t                      backoff_max;
    ngx_array_t                     headers;     /* of ngx_str_t, "N: v" */
    ngx_array_t                     fields;      /* of ngx_keyval_t */
    ngx_uint_t                      slot;        /* its first in the zone */
    ngx_http_upload_store_t        *store;       /* an object store's: the
                                                    store it serves */
    unsigned                        text_format:1;  /* text, srt, vtt */
} ngx_http_upload_store_remote_t;


/* an upload_store_object_store, until its zone is known to be a store */

typedef struct {
    ngx_shm_zone_t                 *zone;
    ngx_http_upload_store_object_t *object;
    ngx_http_upload_store_remote_t  remote;      /* its offloads' queue */
} ngx_http_upload_store_object_ref_t;


typedef struct {
    ngx_array_t                     receivers;   /* of ngx_http_... * */
    ngx_array_t                     endpoints;   /* files and admin */
    ngx_array_t                     remotes;     /* upload_store_provider */
    ngx_array_t                     jobs;        /* locations with jobs */
    ngx_array_t                     objects;     /* of ..._object_ref_t */
    ngx_shm_zone_t                 *slots;       /* the remotes' slots */
    ngx_uint_t                      nslots;
} ngx_http_upload_store_main_conf_t;


typedef struct {
    ngx_shm_zone_t                 *receive;     /* upload_store_receive */
    ngx_shm_zone_t                 *files;       /* upload_store_files */
    ngx_shm_zone_t                 *admin;       /* upload_store_admin */
    ngx_http_core_loc_conf_t       *clcf;        /* the location's own */

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
    size_t                          body_buffer; /* at least, for a body */

    ngx_http_complex_value_t       *transcribe;  /* NULL: off */
    ngx_http_upload_store_provider_t  *provider;
    ngx_str_t                       transcribe_text;  /* a JSON pointer */
    ngx_array_t                    *transcribe_fields;
    ngx_array_t                    *transcribe_pass;  /* of ngx_str_t */
    size_t                          transcribe_buffer;
    ngx_array_t                    *lexicon;     /* of ..._lexicon_t */
    ngx_flag_t                      keep;

    ngx_str_t                       job_name;    /* a remote's */
    ngx_http_upload_store_remote_t *job;         /* upload_store_transcribe
                                                    _job */
    ngx_str_t                       files_uri;   /* for Location: */
    ngx_str_t                       webhook;     /* a URL, null-terminated */
    ngx_str_t                       webhook_secret;
    ngx_str_t                       webhook_field;  /* the client's URL */
    ngx_array_t                    *webhook_hosts;  /* of ngx_str_t */
} ngx_http_upload_store_loc_conf_t;


/* per request */

struct ngx_http_upload_store_ctx_s {
    ngx_http_upload_store_t        *store;
    ngx_http_upload_store_record_t  record;
    ngx_str_t                       file_field;

    ngx_http_upload_store_multipart_t      *multipart;
    ngx_http_upload_store_transcription_t  *transcription;
    void                           *admin;       /* a wait for a cleanup */
    void                           *object_read; /* from the bucket */

    EVP_MD_CTX                     *sha;

    off_t                           reserved;    /* in the zone, while read */
    off_t                           streamed;    /* a body of no length */
    off_t                           next_check;

    /* the JSON error body, set by ngx_http_upload_store_set_error() */
    ngx_str_t                       error_code;
    ngx_str_t                       error_message;
    ngx_buf_t                      *error_body;

    unsigned                        stored:1;
    unsigned                        reading:1;
    unsigned                        error_sent:1;
    unsigned                        linger:1;    /* refused mid-body */
    unsigned                        body_locked:1;
    unsigned                        sniff:1;     /* type from the bytes */
    unsigned                        unbounded:1; /* a body of no length */
};


/*
 * a transcription under way, in the main request's context: its
 * subrequest has no context of this module, so that no filter can take
 * one for the other; it is known by its pointer
 */

struct ngx_http_upload_store_transcription_s {
    ngx_uint_t                      status;      /* the provider's */
    ngx_str_t                       retry_after;
    ngx_buf_t                      *body;        /* its answer */
    size_t                          max;
    ngx_msec_t                      start;
    ngx_msec_t                      time;
    ngx_file_t                      file;        /* the stored audio */
    off_t                           length;      /* of the body sent */
    ngx_http_request_t             *subrequest;  /* to the provider */
    ngx_str_t                       content_type;   /* of its answer */

    unsigned                        too_big:1;
    unsigned                        complete:1;  /* its end was seen */
    unsigned                        text_format:1;  /* text, srt, vtt */
    unsigned                        done:1;
    unsigned                        finished:1;  /* record written */
};


/* a request waiting for the end of a cleanup run, woken by the run */

typedef struct {
    ngx_queue_t                     queue;       /* next NULL: not queued */
    ngx_event_t                    *event;
} ngx_http_upload_store_waiter_t;


/* HTTP helpers */

ngx_http_upload_store_ctx_t *ngx_http_upload_store_get_ctx(
    ngx_http_request_t *r);
ngx_int_t ngx_http_upload_store_send(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *type, ngx_str_t *body);
ngx_int_t ngx_http_upload_store_send_json(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *json);
ngx_int_t ngx_http_upload_store_send_object(ngx_http_request_t *r,
    ngx_uint_t status, json_t *json);
ngx_table_elt_t *ngx_http_upload_store_header(ngx_list_t *headers,
    char *name);
ngx_int_t ngx_http_upload_store_add_header(ngx_http_request_t *r,
    char *name, ngx_str_t *value);
ngx_int_t ngx_http_upload_store_utf8(u_char *p, size_t len,
    ngx_uint_t controls);
ngx_str_t *ngx_http_upload_store_log_safe(ngx_pool_t *pool, ngx_str_t *in);
ngx_int_t ngx_http_upload_store_set_error(ngx_http_request_t *r,
    ngx_uint_t status, char *code, const char *fmt, ...);
ngx_int_t ngx_http_upload_store_not_allowed(ngx_http_request_t *r,
    char *methods);
ngx_int_t ngx_http_upload_store_init_error_filter(ngx_conf_t *cf);

/* what the client says of its upload */

ngx_int_t ngx_http_upload_store_set_customer(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx);
ngx_int_t ngx_http_upload_store_check_customer(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx);
ngx_int_t ngx_http_upload_store_set_type(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *value);
ngx_int_t ngx_http_upload_store_set_filename(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, u_char *name, size_t len);
ngx_int_t ngx_http_upload_store_set_raw(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx);
ngx_int_t ngx_http_upload_store_sniff(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, u_char *p, size_t len);

/* features */

ngx_int_t ngx_http_upload_store_receive_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_upload_store_init_body_filter(ngx_conf_t *cf);
ngx_int_t ngx_http_upload_store_files_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_upload_store_admin_handler(ngx_http_request_t *r);

ngx_int_t ngx_http_upload_store_multipart_init(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx);
ngx_int_t ngx_http_upload_store_multipart_filter(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_chain_t *in, ngx_chain_t **out);
void ngx_http_upload_store_multipart_sent(ngx_http_upload_store_ctx_t *ctx,
    ngx_chain_t *out);
ngx_int_t ngx_http_upload_store_multipart_field(
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *name, ngx_str_t *value);

ngx_int_t ngx_http_upload_store_transcribe(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx);
ngx_uint_t ngx_http_upload_store_transcription_status(
    ngx_http_upload_store_ctx_t *ctx);
ngx_msec_t ngx_http_upload_store_transcription_time(
    ngx_http_upload_store_ctx_t *ctx);
ngx_int_t ngx_http_upload_store_init_capture(ngx_conf_t *cf);

ngx_http_upload_store_provider_t *ngx_http_upload_store_provider(
    ngx_str_t *name);
ngx_int_t ngx_http_upload_store_provider_members(json_t *answer);
char *ngx_http_upload_store_provider_message(ngx_pool_t *pool,
    ngx_buf_t *body);

ngx_array_t *ngx_http_upload_store_lexicon_load(ngx_conf_t *cf,
    ngx_str_t *name);
ngx_int_t ngx_http_upload_store_lexicon_apply(ngx_pool_t *pool,
    ngx_array_t *lexicon, ngx_str_t *text, ngx_str_t *out);

ngx_int_t ngx_http_upload_store_cleanup_init(ngx_cycle_t *cycle);
void ngx_http_upload_store_cleanup_exit(ngx_cycle_t *cycle);
ngx_atomic_uint_t ngx_http_upload_store_cleanup_now(
    ngx_http_upload_store_t *store);
void ngx_http_upload_store_cleanup_wait(ngx_http_upload_store_t *store,
    ngx_http_upload_store_waiter_t *waiter);
void ngx_http_upload_store_cleanup_unwait(
    ngx_http_upload_store_waiter_t *waiter);

ngx_int_t ngx_http_upload_store_add_variables(ngx_conf_t *cf);

typedef ngx_int_t (*ngx_http_upload_store_found_pt)(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_uint_t what, ngx_str_t *remote);

ngx_uint_t ngx_http_upload_store_offload_deleted(
    ngx_http_upload_store_t *store, u_char *id, ngx_pool_t *pool);
ngx_int_t ngx_http_upload_store_object_record(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_uint_t what,
    ngx_http_upload_store_found_pt found);
ngx_int_t ngx_http_upload_store_object_read(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *type);
ngx_int_t ngx_http_upload_store_offload_queue(ngx_http_upload_store_t *store,
    ngx_http_upload_store_record_t *rec, ngx_uint_t remove, ngx_pool_t *pool,
    ngx_log_t *log);
ngx_int_t ngx_http_upload_store_job_queue(ngx_http_upload_store_t *store,
    ngx_http_upload_store_record_t *rec, ngx_http_upload_store_loc_conf_t
    *uslcf, ngx_pool_t *pool, ngx_log_t *log);
ngx_int_t ngx_http_upload_store_webhook_url(
    ngx_http_upload_store_loc_conf_t *uslcf,
    ngx_http_upload_store_record_t *rec, ngx_pool_t *pool, ngx_str_t *url);
ngx_int_t ngx_http_upload_store_job_cancel(ngx_http_upload_store_t *store,
    ngx_http_upload_store_record_t *rec, ngx_pool_t *pool, ngx_log_t *log);
ngx_int_t ngx_http_upload_store_jobs_init(ngx_cycle_t *cycle);
void ngx_http_upload_store_jobs_exit(ngx_cycle_t *cycle);
ngx_int_t ngx_http_upload_store_objects_conf(ngx_conf_t *cf,
    ngx_http_upload_store_main_conf_t *usmcf);
ngx_int_t ngx_http_upload_store_jobs_conf(ngx_conf_t *cf,
    ngx_http_upload_store_main_conf_t *usmcf);
ngx_http_upload_store_remote_t *ngx_http_upload_store_remote(
    ngx_http_upload_store_main_conf_t *usmcf, ngx_str_t *name);


#endif /* _NGX_HTTP_UPLOAD_STORE_MODULE_H_INCLUDED_ */
