
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"
#include "ngx_http_upload_store_directives.h"


/*
 * The module: its directives (handled in
 * ngx_http_upload_store_directives.c), its configuration, and where its
 * parts are registered with nginx.  It may call everything; nothing calls
 * it.
 */


static ngx_int_t ngx_http_upload_store_init(ngx_conf_t *cf);
static void *ngx_http_upload_store_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_upload_store_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_upload_store_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_int_t ngx_http_upload_store_init_process(ngx_cycle_t *cycle);
static void ngx_http_upload_store_exit_process(ngx_cycle_t *cycle);


static ngx_conf_post_handler_pt  ngx_http_upload_store_prefix_post =
    ngx_http_upload_store_prefix_check;


static ngx_conf_enum_t  ngx_http_upload_store_checksums[] = {
    { ngx_string("off"), NGX_HTTP_UPLOAD_STORE_CHECKSUM_OFF },
    { ngx_string("sha256"), NGX_HTTP_UPLOAD_STORE_CHECKSUM_SHA256 },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_upload_store_commands[] = {

    { ngx_string("upload_store_path"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_upload_store_path,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_store_receive"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_upload_store_receive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_store_files"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_upload_store_endpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_store_loc_conf_t, files),
      ngx_http_upload_store_files_handler },

    { ngx_string("upload_store_admin"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_upload_store_endpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_store_loc_conf_t, admin),
      ngx_http_upload_store_admin_handler },

    { ngx_string("upload_store_customer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_store_loc_conf_t, customer),
      NULL },

    { ngx_string("upload_store_category"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_store_loc_conf_t, category),
      NULL },

    { ngx_string("upload_store_prefix"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_store_loc_conf_t, prefix),
      &ngx_http_upload_store_prefix_post },

    { ngx_string("upload_store_types"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_upload_store_types,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_store_field"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_store_loc_conf_t, field),
      NULL },

    { ngx_string("upload_store_form_limits"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_upload_store_form_limits,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_store_transcribe"),
      NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_upload_store_transcribe_conf,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_store_transcribe_job"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_upload_store_transcribe_job,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_store_webhook"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_upload_store_webhook,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_store_webhook_client"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_2MORE,
      ngx_http_upload_store_webhook_client,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_store_object_store"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_upload_store_object_conf,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_store_provider"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_upload_store_provider_conf,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_store_provider_header"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE3|NGX_CONF_TAKE4,
      ngx_http_upload_store_provider_header,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_store_provider_field"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE3,
      ngx_http_upload_store_provider_field,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_store_transcribe_field"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_upload_store_transcribe_field,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_store_transcribe_pass"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_upload_store_transcribe_pass,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_store_body_buffer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_store_loc_conf_t, body_buffer),
      NULL },

    { ngx_string("upload_store_transcribe_buffer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_store_loc_conf_t, transcribe_buffer),
      NULL },

    { ngx_string("upload_store_lexicon"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_upload_store_lexicon,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_store_keep"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_store_loc_conf_t, keep),
      NULL },

    { ngx_string("upload_store_checksum"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_store_loc_conf_t, checksum),
      &ngx_http_upload_store_checksums },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_upload_store_module_ctx = {
    ngx_http_upload_store_add_variables,   /* preconfiguration */
    ngx_http_upload_store_init,            /* postconfiguration */

    ngx_http_upload_store_create_main_conf, /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_upload_store_create_loc_conf, /* create location configuration */
    ngx_http_upload_store_merge_loc_conf   /* merge location configuration */
};


ngx_module_t  ngx_http_upload_store_module = {
    NGX_MODULE_V1,
    &ngx_http_upload_store_module_ctx,     /* module context */
    ngx_http_upload_store_commands,        /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_upload_store_init_process,    /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_upload_store_exit_process,    /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_upload_store_default_category =
    ngx_string("audio");


static void *
ngx_http_upload_store_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_upload_store_main_conf_t  *usmcf;

    usmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_upload_store_main_conf_t));
    if (usmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&usmcf->receivers, cf->pool, 4,
                       sizeof(ngx_http_upload_store_loc_conf_t *))
        != NGX_OK
        || ngx_array_init(&usmcf->endpoints, cf->pool, 4,
                          sizeof(ngx_http_upload_store_loc_conf_t *))
           != NGX_OK
        || ngx_array_init(&usmcf->remotes, cf->pool, 2,
                          sizeof(ngx_http_upload_store_remote_t))
           != NGX_OK
        || ngx_array_init(&usmcf->jobs, cf->pool, 2,
                          sizeof(ngx_http_upload_store_loc_conf_t *))
           != NGX_OK
        || ngx_array_init(&usmcf->objects, cf->pool, 1,
                          sizeof(ngx_http_upload_store_object_ref_t))
           != NGX_OK)
    {
        return NULL;
    }

    return usmcf;
}


static void *
ngx_http_upload_store_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_upload_store_loc_conf_t  *uslcf;

    uslcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_upload_store_loc_conf_t));
    if (uslcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     uslcf->receive = NULL;
     *     uslcf->clcf = NULL;
     *     uslcf->prefix = { 0, NULL };
     *     uslcf->field = { 0, NULL };
     */

    uslcf->customer = NGX_CONF_UNSET_PTR;
    uslcf->category = NGX_CONF_UNSET_PTR;
    uslcf->types = NGX_CONF_UNSET_PTR;
    uslcf->form_fields = NGX_CONF_UNSET_UINT;
    uslcf->form_name = NGX_CONF_UNSET_SIZE;
    uslcf->form_value = NGX_CONF_UNSET_SIZE;
    uslcf->form_headers = NGX_CONF_UNSET_SIZE;
    uslcf->checksum = NGX_CONF_UNSET_UINT;
    uslcf->body_buffer = NGX_CONF_UNSET_SIZE;
    uslcf->transcribe = NGX_CONF_UNSET_PTR;
    uslcf->transcribe_fields = NGX_CONF_UNSET_PTR;
    uslcf->transcribe_pass = NGX_CONF_UNSET_PTR;
    uslcf->lexicon = NGX_CONF_UNSET_PTR;
    uslcf->transcribe_buffer = NGX_CONF_UNSET_SIZE;
    uslcf->keep = NGX_CONF_UNSET;

    return uslcf;
}


static char *
ngx_http_upload_store_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_upload_store_loc_conf_t  *prev = parent;
    ngx_http_upload_store_loc_conf_t  *conf = child;

    ngx_http_complex_value_t           *cv;

    ngx_http_core_loc_conf_t           *clcf;
    ngx_http_upload_store_loc_conf_t  **p;
    ngx_http_upload_store_main_conf_t  *usmcf;

    /*
     * an "if" (or "limit_except") block inside a store location keeps its
     * content handler: it stores too, with its own body temp path set in
     * postconfiguration
     */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (conf->receive == NULL && prev->receive != NULL && clcf->noname) {
        conf->receive = prev->receive;
        conf->clcf = clcf;

        usmcf = ngx_http_conf_get_module_main_conf(cf,
                                                ngx_http_upload_store_module);

        p = ngx_array_push(&usmcf->receivers);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        *p = conf;
    }

    if (clcf->noname) {
        if (conf->files == NULL) {
            conf->files = prev->files;
        }

        if (conf->admin == NULL) {
            conf->admin = prev->admin;
        }
    }

    ngx_conf_merge_ptr_value(conf->customer, prev->customer, NULL);
    ngx_conf_merge_ptr_value(conf->types, prev->types, NULL);
    ngx_conf_merge_str_value(conf->prefix, prev->prefix, "upload_");
    ngx_conf_merge_str_value(conf->field, prev->field, "file");
    ngx_conf_merge_uint_value(conf->form_fields, prev->form_fields, 32);
    ngx_conf_merge_size_value(conf->form_name, prev->form_name, 64);
    ngx_conf_merge_size_value(conf->form_value, prev->form_value,
                              16 * 1024);
    ngx_conf_merge_size_value(conf->form_headers, prev->form_headers, 4096);
    ngx_conf_merge_uint_value(conf->checksum, prev->checksum,
                              NGX_HTTP_UPLOAD_STORE_CHECKSUM_OFF);
    ngx_conf_merge_size_value(conf->body_buffer, prev->body_buffer,
                              64 * 1024);

    if (conf->transcribe == NGX_CONF_UNSET_PTR) {
        conf->transcribe = (prev->transcribe == NGX_CONF_UNSET_PTR)
                           ? NULL : prev->transcribe;
        conf->provider = prev->provider;
        conf->transcribe_text = prev->transcribe_text;
    }

    ngx_conf_merge_ptr_value(conf->transcribe_fields,
                             prev->transcribe_fields, NULL);
    ngx_conf_merge_ptr_value(conf->transcribe_pass, prev->transcribe_pass,
                             NULL);
    ngx_conf_merge_size_value(conf->transcribe_buffer,
                              prev->transcribe_buffer, 1024 * 1024);
    ngx_conf_merge_ptr_value(conf->lexicon, prev->lexicon, NULL);
    ngx_conf_merge_value(conf->keep, prev->keep, 1);

    if (conf->webhook.data == NULL) {
        conf->webhook = prev->webhook;
        conf->webhook_secret = prev->webhook_secret;
    }

    if (conf->webhook_field.data == NULL) {
        conf->webhook_field = prev->webhook_field;
        conf->webhook_hosts = prev->webhook_hosts;
    }

    if (conf->category == NGX_CONF_UNSET_PTR) {

        if (prev->category == NGX_CONF_UNSET_PTR) {
            cv = ngx_pcalloc(cf->pool, sizeof(ngx_http_complex_value_t));
            if (cv == NULL) {
                return NGX_CONF_ERROR;
            }

            cv->value = ngx_http_upload_store_default_category;
            prev->category = cv;
        }

        conf->category = prev->category;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_upload_store_init(ngx_conf_t *cf)
{
    ngx_uint_t                           i;
    ngx_shm_zone_t                      *zone;
    ngx_http_upload_store_t             *store;
    ngx_http_upload_store_loc_conf_t   **receivers, **endpoints, *uslcf;
    ngx_http_upload_store_main_conf_t   *usmcf;

    usmcf = ngx_http_conf_get_module_main_conf(cf,
                                               ngx_http_upload_store_module);

    receivers = usmcf->receivers.elts;

    for (i = 0; i < usmcf->receivers.nelts; i++) {
        uslcf = receivers[i];

        store = uslcf->receive->data;

        if (store == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"upload_store_receive\" names unknown zone "
                          "\"%V\", define it with \"upload_store_path\"",
                          &uslcf->receive->shm.name);
            return NGX_ERROR;
        }

        if (uslcf->customer == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"upload_store_receive %V\" needs "
                          "\"upload_store_customer\"",
                          &store->name);
            return NGX_ERROR;
        }

        /* the body is spooled inside the store: rename() never copies */

        uslcf->clcf->client_body_temp_path = store->temp_path;

        /*
         * the body only goes to its file: read and written in large
         * pieces (nginx gives a body of known length a buffer its size
         * when that is at most a quarter more than this)
         */

        if (uslcf->clcf->client_body_buffer_size < uslcf->body_buffer) {
            uslcf->clcf->client_body_buffer_size = uslcf->body_buffer;
        }
    }

    endpoints = usmcf->endpoints.elts;

    for (i = 0; i < usmcf->endpoints.nelts; i++) {
        uslcf = endpoints[i];

        zone = uslcf->files ? uslcf->files : uslcf->admin;

        if (zone->data == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"upload_store_%s\" names unknown zone "
                          "\"%V\", define it with \"upload_store_path\"",
                          uslcf->files ? "files" : "admin", &zone->shm.name);
            return NGX_ERROR;
        }

        if (uslcf->files && uslcf->customer == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"upload_store_files %V\" needs "
                          "\"upload_store_customer\"", &zone->shm.name);
            return NGX_ERROR;
        }
    }

    if (ngx_http_upload_store_objects_conf(cf, usmcf) != NGX_OK
        || ngx_http_upload_store_jobs_conf(cf, usmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_upload_store_init_body_filter(cf) != NGX_OK
        || ngx_http_upload_store_init_error_filter(cf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_upload_store_init_capture(cf);
}


static ngx_int_t
ngx_http_upload_store_init_process(ngx_cycle_t *cycle)
{
    ngx_http_upload_store_fs_init();

    if (ngx_process == NGX_PROCESS_WORKER
        || ngx_process == NGX_PROCESS_SINGLE)
    {
        (void) ngx_http_upload_store_each(cycle,
                                    ngx_http_upload_store_check_access);
    }

    if (ngx_http_upload_store_jobs_init(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_upload_store_cleanup_init(cycle);
}


static void
ngx_http_upload_store_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_upload_store_jobs_exit(cycle);
    ngx_http_upload_store_cleanup_exit(cycle);
}
