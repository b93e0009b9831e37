
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"
#include "ngx_http_upload_store_store.h"


static ngx_int_t ngx_http_upload_store_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_upload_store_init(ngx_conf_t *cf);
static void *ngx_http_upload_store_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_upload_store_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_upload_store_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_upload_store_path(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_upload_store_access(ngx_conf_t *cf, ngx_str_t *value,
    ngx_uint_t *access);
static char *ngx_http_upload_store_receive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_upload_store_endpoint(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_upload_store_types(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_upload_store_init_process(ngx_cycle_t *cycle);
static void ngx_http_upload_store_exit_process(ngx_cycle_t *cycle);
static char *ngx_http_upload_store_prefix_check(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_upload_store_form_limits(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_upload_store_transcribe_conf(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_upload_store_transcribe_field(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_upload_store_transcribe_pass(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_upload_store_lexicon(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_upload_store_stt_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static ngx_int_t ngx_http_upload_store_str_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_upload_store_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_upload_store_bytes_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_int_t ngx_http_upload_store_sha256_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);


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


static ngx_http_variable_t  ngx_http_upload_store_vars[] = {

    { ngx_string("upload_store_id"), NULL,
      ngx_http_upload_store_id_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upload_store_path"), NULL,
      ngx_http_upload_store_str_variable,
      offsetof(ngx_http_upload_store_ctx_t, path),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upload_store_customer"), NULL,
      ngx_http_upload_store_str_variable,
      offsetof(ngx_http_upload_store_ctx_t, customer),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upload_store_category"), NULL,
      ngx_http_upload_store_str_variable,
      offsetof(ngx_http_upload_store_ctx_t, category),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upload_store_bytes"), NULL,
      ngx_http_upload_store_bytes_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upload_store_filename"), NULL,
      ngx_http_upload_store_str_variable,
      offsetof(ngx_http_upload_store_ctx_t, filename),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upload_store_content_type"), NULL,
      ngx_http_upload_store_str_variable,
      offsetof(ngx_http_upload_store_ctx_t, content_type),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upload_store_sha256"), NULL,
      ngx_http_upload_store_sha256_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upload_store_transcribe_status"), NULL,
      ngx_http_upload_store_stt_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upload_store_transcribe_time"), NULL,
      ngx_http_upload_store_stt_variable, 1,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_upload_store_default_category =
    ngx_string("audio");


ngx_http_upload_store_ctx_t *
ngx_http_upload_store_get_ctx(ngx_http_request_t *r)
{
    ngx_http_upload_store_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upload_store_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_upload_store_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_upload_store_module);
    }

    return ctx;
}


static ngx_int_t
ngx_http_upload_store_str_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                    *s;
    ngx_http_upload_store_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upload_store_module);

    if (ctx == NULL || !ctx->stored) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ngx_str_t *) ((char *) ctx + data);

    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = s->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_store_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_upload_store_ctx_t  *ctx;

    /* the upload's, in the provider's location (a subrequest) too */

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_upload_store_module);

    if (ctx == NULL || !ctx->stored) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = NGX_HTTP_UPLOAD_STORE_ID_LEN;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = ctx->id;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_store_bytes_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                       *p;
    ngx_http_upload_store_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upload_store_module);

    if (ctx == NULL || !ctx->stored) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_OFF_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%O", ctx->bytes) - p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_store_sha256_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_upload_store_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upload_store_module);

    if (ctx == NULL || !ctx->stored || !ctx->hashed) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = sizeof(ctx->sha256);
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = ctx->sha256;

    return NGX_OK;
}


/* the provider's HTTP status (data 0), or the time it took in ms (1) */

static ngx_int_t
ngx_http_upload_store_stt_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                       *p;
    ngx_http_upload_store_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upload_store_module);

    if (ctx == NULL || ctx->stt == NULL
        || (data == 0 && ngx_http_upload_store_stt_status(ctx) == 0))
    {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = (data == 0)
             ? ngx_sprintf(p, "%ui", ngx_http_upload_store_stt_status(ctx)) - p
             : ngx_sprintf(p, "%M", ngx_http_upload_store_stt_time(ctx)) - p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_store_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_upload_store_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


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

    if (conf->transcribe == NGX_CONF_UNSET_PTR) {
        conf->transcribe = (prev->transcribe == NGX_CONF_UNSET_PTR)
                           ? NULL : prev->transcribe;
        conf->transcribe_protocol = prev->transcribe_protocol;
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


/*
 * upload_store_path DIR zone=NAME:SIZE [retention=TIME] [interval=TIME]
 *     [min_free=SIZE] [max_size=SIZE] [access=user:rw[,group:r[,all:r]]]
 */

static char *
ngx_http_upload_store_path(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    u_char                   *p;
    time_t                    t;
    off_t                     o;
    ssize_t                   size;
    ngx_str_t                *value, s;
    ngx_uint_t                i;
    ngx_http_upload_store_t  *store;

    value = cf->args->elts;

    store = ngx_pcalloc(cf->pool, sizeof(ngx_http_upload_store_t));
    if (store == NULL) {
        return NGX_CONF_ERROR;
    }

    store->root = value[1];

    if (store->root.len > 1 && store->root.data[store->root.len - 1] == '/') {
        store->root.len--;
    }

    if (ngx_conf_full_name(cf->cycle, &store->root, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    store->retention = 24 * 60 * 60;
    store->interval = 60 * 60;
    store->min_free = 10 * 1024 * 1024;
    store->max_size = 0;
    store->access = 0600;

    size = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {

            store->name.data = value[i].data + 5;

            p = (u_char *) ngx_strchr(store->name.data, ':');

            if (p == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            store->name.len = p - store->name.data;

            s.data = p + 1;
            s.len = value[i].data + value[i].len - s.data;

            size = ngx_parse_size(&s);

            if (size == NGX_ERROR || store->name.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            if (size < (ssize_t) (8 * ngx_pagesize)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "zone \"%V\" is too small", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "retention=", 10) == 0) {

            s.data = value[i].data + 10;
            s.len = value[i].len - 10;

            t = ngx_parse_time(&s, 1);
            if (t == (time_t) NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid retention \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            store->retention = t;

            continue;
        }

        if (ngx_strncmp(value[i].data, "interval=", 9) == 0) {

            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            t = ngx_parse_time(&s, 1);
            if (t == (time_t) NGX_ERROR || t == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid interval \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            store->interval = t;

            continue;
        }

        if (ngx_strncmp(value[i].data, "min_free=", 9) == 0) {

            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            o = ngx_parse_offset(&s);
            if (o == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid min_free \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            store->min_free = o;

            continue;
        }

        if (ngx_strncmp(value[i].data, "max_size=", 9) == 0) {

            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            o = ngx_parse_offset(&s);
            if (o == NGX_ERROR || o == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid max_size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            store->max_size = o;

            continue;
        }

        if (ngx_strncmp(value[i].data, "thread_pool=", 12) == 0) {

#if (NGX_THREADS)
            s.data = value[i].data + 12;
            s.len = value[i].len - 12;

            if (s.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid thread pool \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            store->thread_pool = ngx_thread_pool_add(cf, &s);
            if (store->thread_pool == NULL) {
                return NGX_CONF_ERROR;
            }

            continue;
#else
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" needs nginx built with "
                               "--with-threads", &value[i]);
            return NGX_CONF_ERROR;
#endif
        }

        if (ngx_strncmp(value[i].data, "access=", 7) == 0) {

            s.data = value[i].data + 7;
            s.len = value[i].len - 7;

            if (ngx_http_upload_store_access(cf, &s, &store->access)
                != NGX_CONF_OK)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid access \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (store->name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"zone\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    store->shm_zone = ngx_shared_memory_add(cf, &store->name, size,
                                            &ngx_http_upload_store_module);
    if (store->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (store->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", &store->name);
        return NGX_CONF_ERROR;
    }

    store->shm_zone->init = ngx_http_upload_store_init_zone;
    store->shm_zone->data = store;

    /* nginx creates both at start, owned by the worker user */

    store->root_path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
    store->temp_path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
    if (store->root_path == NULL || store->temp_path == NULL) {
        return NGX_CONF_ERROR;
    }

    store->root_path->name = store->root;
    store->root_path->conf_file = cf->conf_file->file.name.data;
    store->root_path->line = cf->conf_file->line;

    s.len = store->root.len + sizeof("/.tmp") - 1;
    s.data = ngx_pnalloc(cf->pool, s.len + 1);
    if (s.data == NULL) {
        return NGX_CONF_ERROR;
    }

    (void) ngx_sprintf(s.data, "%V/.tmp%Z", &store->root);

    store->temp_path->name = s;
    store->temp_path->conf_file = store->root_path->conf_file;
    store->temp_path->line = store->root_path->line;

    if (ngx_add_path(cf, &store->root_path) != NGX_OK
        || ngx_add_path(cf, &store->temp_path) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* "user:rw,group:r,all:r", as the values of nginx's *_access directives */

static char *
ngx_http_upload_store_access(ngx_conf_t *cf, ngx_str_t *value,
    ngx_uint_t *access)
{
    u_char      *p, *last, *end;
    ngx_uint_t   right, shift, user;

    *access = 0;
    user = 0600;

    p = value->data;
    last = value->data + value->len;

    if (p == last) {
        return NGX_CONF_ERROR;
    }

    while (p < last) {

        end = ngx_strlchr(p, last, ',');
        if (end == NULL) {
            end = last;
        }

        if (end - p > 5 && ngx_strncmp(p, "user:", 5) == 0) {
            shift = 6;
            p += 5;
            user = 0;

        } else if (end - p > 6 && ngx_strncmp(p, "group:", 6) == 0) {
            shift = 3;
            p += 6;

        } else if (end - p > 4 && ngx_strncmp(p, "all:", 4) == 0) {
            shift = 0;
            p += 4;

        } else {
            return NGX_CONF_ERROR;
        }

        if (end - p == 2 && p[0] == 'r' && p[1] == 'w') {
            right = 6;

        } else if (end - p == 1 && p[0] == 'r') {
            right = 4;

        } else {
            return NGX_CONF_ERROR;
        }

        *access |= right << shift;

        p = (end == last) ? last : end + 1;
    }

    *access |= user;

    return NGX_CONF_OK;
}


static char *
ngx_http_upload_store_receive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_upload_store_loc_conf_t  *uslcf = conf;

    ngx_str_t                           *value;
    ngx_http_core_loc_conf_t            *clcf;
    ngx_http_upload_store_loc_conf_t   **p;
    ngx_http_upload_store_main_conf_t   *usmcf;

    if (uslcf->receive != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    uslcf->receive = ngx_shared_memory_add(cf, &value[1], 0,
                                           &ngx_http_upload_store_module);
    if (uslcf->receive == NULL) {
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler != NULL) {
        return "conflicts with another content handler in this location";
    }

    clcf->handler = ngx_http_upload_store_handler;
    uslcf->clcf = clcf;

    usmcf = ngx_http_conf_get_module_main_conf(cf,
                                               ngx_http_upload_store_module);

    p = ngx_array_push(&usmcf->receivers);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    *p = uslcf;

    return NGX_CONF_OK;
}


/* upload_store_files ZONE, upload_store_admin ZONE */

static char *
ngx_http_upload_store_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t                           *value;
    ngx_shm_zone_t                     **zone;
    ngx_http_core_loc_conf_t            *clcf;
    ngx_http_upload_store_loc_conf_t   **e;
    ngx_http_upload_store_main_conf_t   *usmcf;

    zone = (ngx_shm_zone_t **) (p + cmd->offset);

    if (*zone != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    *zone = ngx_shared_memory_add(cf, &value[1], 0,
                                  &ngx_http_upload_store_module);
    if (*zone == NULL) {
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler != NULL) {
        return "conflicts with another content handler in this location";
    }

    clcf->handler = (ngx_http_handler_pt) cmd->post;

    usmcf = ngx_http_conf_get_module_main_conf(cf,
                                               ngx_http_upload_store_module);

    e = ngx_array_push(&usmcf->endpoints);
    if (e == NULL) {
        return NGX_CONF_ERROR;
    }

    *e = conf;

    return NGX_CONF_OK;
}


/* exact types, "type/" followed by "*" as a wildcard, and "*" */

static char *
ngx_http_upload_store_types(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upload_store_loc_conf_t  *uslcf = conf;

    u_char      *p, *slash;
    ngx_str_t   *value, *type;
    ngx_uint_t   i;

    if (uslcf->types != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    uslcf->types = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                    sizeof(ngx_str_t));
    if (uslcf->types == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        slash = NULL;

        for (p = value[i].data; p < value[i].data + value[i].len; p++) {
            if (*p == '/') {
                if (slash != NULL) {
                    break;
                }

                slash = p;
                continue;
            }

            if (*p <= ' ' || *p == ';' || *p == ',' || *p >= 0x7f) {
                break;
            }
        }

        if (p != value[i].data + value[i].len
            || (slash == NULL
                && !(value[i].len == 1 && value[i].data[0] == '*'))
            || (slash != NULL
                && (slash == value[i].data
                    || slash == value[i].data + value[i].len - 1)))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid MIME type \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        type = ngx_array_push(uslcf->types);
        if (type == NULL) {
            return NGX_CONF_ERROR;
        }

        type->len = value[i].len;
        type->data = value[i].data;
        ngx_strlow(type->data, type->data, type->len);
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_upload_store_prefix_check(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *prefix = data;

    u_char  *p;

    if (prefix->len > NGX_HTTP_UPLOAD_STORE_NAME_MAX) {
        return "is too long";
    }

    for (p = prefix->data; p < prefix->data + prefix->len; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
            || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'
            || (*p == '.' && p != prefix->data))
        {
            continue;
        }

        return "must be letters, digits, \"_\", \"-\" and \".\"";
    }

    return NGX_CONF_OK;
}


/*
 * upload_store_form_limits [fields=N] [name=SIZE] [value=SIZE]
 *     [headers=SIZE]
 */

static char *
ngx_http_upload_store_form_limits(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_upload_store_loc_conf_t  *uslcf = conf;

    size_t       *sp;
    ssize_t       size;
    ngx_int_t     n;
    ngx_str_t    *value, s;
    ngx_uint_t    i;

    if (uslcf->form_fields != NGX_CONF_UNSET_UINT
        || uslcf->form_name != NGX_CONF_UNSET_SIZE
        || uslcf->form_value != NGX_CONF_UNSET_SIZE
        || uslcf->form_headers != NGX_CONF_UNSET_SIZE)
    {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "fields=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;

            n = ngx_atoi(s.data, s.len);
            if (n == NGX_ERROR || n > 1000) {
                goto invalid;
            }

            uslcf->form_fields = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "name=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;
            sp = &uslcf->form_name;

        } else if (ngx_strncmp(value[i].data, "value=", 6) == 0) {
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;
            sp = &uslcf->form_value;

        } else if (ngx_strncmp(value[i].data, "headers=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;
            sp = &uslcf->form_headers;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        size = ngx_parse_size(&s);

        if (size == NGX_ERROR || size == 0 || size > 16 * 1024 * 1024) {
            goto invalid;
        }

        *sp = size;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid value \"%V\"",
                       &value[i]);

    return NGX_CONF_ERROR;
}


/*
 * upload_store_transcribe URI [protocol=openai|raw] [text=JSON_POINTER];
 * upload_store_transcribe off;
 */

static char *
ngx_http_upload_store_transcribe_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_upload_store_loc_conf_t  *uslcf = conf;

    ngx_str_t                         *value;
    ngx_uint_t                         i;
    ngx_http_compile_complex_value_t   ccv;

    if (uslcf->transcribe != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0 && cf->args->nelts == 2) {
        uslcf->transcribe = NULL;
        return NGX_CONF_OK;
    }

    uslcf->transcribe = ngx_palloc(cf->pool,
                                   sizeof(ngx_http_complex_value_t));
    if (uslcf->transcribe == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = uslcf->transcribe;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    uslcf->transcribe_protocol = NGX_HTTP_UPLOAD_STORE_STT_OPENAI;
    ngx_str_null(&uslcf->transcribe_text);

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "protocol=openai") == 0) {
            uslcf->transcribe_protocol = NGX_HTTP_UPLOAD_STORE_STT_OPENAI;
            continue;
        }

        if (ngx_strcmp(value[i].data, "protocol=raw") == 0) {
            uslcf->transcribe_protocol = NGX_HTTP_UPLOAD_STORE_STT_RAW;
            continue;
        }

        if (ngx_strncmp(value[i].data, "text=", 5) == 0) {
            uslcf->transcribe_text.data = value[i].data + 5;
            uslcf->transcribe_text.len = value[i].len - 5;

            if (uslcf->transcribe_text.len == 0
                || uslcf->transcribe_text.data[0] != '/')
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid JSON pointer \"%V\"",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (uslcf->transcribe_text.len == 0) {
        if (uslcf->transcribe_protocol == NGX_HTTP_UPLOAD_STORE_STT_RAW) {
            return "with \"protocol=raw\" needs \"text=\"";
        }

        ngx_str_set(&uslcf->transcribe_text, "/text");
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_upload_store_transcribe_field(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_upload_store_loc_conf_t  *uslcf = conf;

    u_char                             *p;
    ngx_str_t                          *value;
    ngx_http_upload_store_stt_field_t  *f;
    ngx_http_compile_complex_value_t    ccv;

    value = cf->args->elts;

    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid field name \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    if (uslcf->transcribe_fields == NGX_CONF_UNSET_PTR) {
        uslcf->transcribe_fields = ngx_array_create(cf->pool, 4,
                                   sizeof(ngx_http_upload_store_stt_field_t));
        if (uslcf->transcribe_fields == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    f = ngx_array_push(uslcf->transcribe_fields);
    if (f == NULL) {
        return NGX_CONF_ERROR;
    }

    f->name = value[1];

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[2];
    ccv.complex_value = &f->value;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_upload_store_transcribe_pass(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_upload_store_loc_conf_t  *uslcf = conf;

    u_char      *p;
    ngx_str_t   *value, *name;
    ngx_uint_t   i;

    if (uslcf->transcribe_pass != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    uslcf->transcribe_pass = ngx_array_create(cf->pool, cf->args->nelts,
                                              sizeof(ngx_str_t));
    if (uslcf->transcribe_pass == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        for (p = value[i].data; p < value[i].data + value[i].len; p++) {
            if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\') {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid field name \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }
        }

        name = ngx_array_push(uslcf->transcribe_pass);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }

        *name = value[i];
    }

    return NGX_CONF_OK;
}


/*
 * upload_store_lexicon FILE: a JSON object of whole-word replacements,
 * {"open-ai": "OpenAI", "whisperr": "Whisper"}, read once, here
 */

static char *
ngx_http_upload_store_lexicon(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_upload_store_loc_conf_t  *uslcf = conf;

    u_char                           *p;
    json_t                           *root, *v;
    size_t                            len;
    ngx_str_t                        *value, name;
    const char                       *key;
    json_error_t                      err;
    ngx_http_upload_store_lexicon_t  *lx;

    if (uslcf->lexicon != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    name = value[1];

    if (ngx_strcmp(name.data, "off") == 0) {
        uslcf->lexicon = NULL;
        return NGX_CONF_OK;
    }

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    root = json_load_file((char *) name.data, 0, &err);

    if (root == NULL || !json_is_object(root)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid lexicon \"%V\": %s (line %d)", &name,
                           root == NULL ? err.text : "not a JSON object",
                           root == NULL ? err.line : 0);
        json_decref(root);
        return NGX_CONF_ERROR;
    }

    uslcf->lexicon = ngx_array_create(cf->pool, json_object_size(root) + 1,
                                 sizeof(ngx_http_upload_store_lexicon_t));
    if (uslcf->lexicon == NULL) {
        json_decref(root);
        return NGX_CONF_ERROR;
    }

    json_object_foreach(root, key, v) {

        len = ngx_strlen(key);

        for (p = (u_char *) key; *p; p++) {
            if (*p <= ' ' || ngx_strchr(".,;:!?\"()[]{}", *p) != NULL) {
                break;
            }
        }

        if (len == 0 || *p != '\0' || !json_is_string(v)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid lexicon \"%V\": \"%s\" must be one "
                               "word mapped to a string", &name, key);
            json_decref(root);
            return NGX_CONF_ERROR;
        }

        lx = ngx_array_push(uslcf->lexicon);
        if (lx == NULL) {
            json_decref(root);
            return NGX_CONF_ERROR;
        }

        lx->word.len = len;
        lx->word.data = ngx_pnalloc(cf->pool, len);
        lx->replacement.len = json_string_length(v);
        lx->replacement.data = ngx_pnalloc(cf->pool,
                                           lx->replacement.len + 1);

        if (lx->word.data == NULL || lx->replacement.data == NULL) {
            json_decref(root);
            return NGX_CONF_ERROR;
        }

        ngx_strlow(lx->word.data, (u_char *) key, len);
        ngx_memcpy(lx->replacement.data, json_string_value(v),
                   lx->replacement.len);
    }

    json_decref(root);

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

    if (ngx_http_upload_store_init_body_filter(cf) != NGX_OK
        || ngx_http_upload_store_init_filters(cf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_upload_store_init_stt_filters(cf);
}


static ngx_int_t
ngx_http_upload_store_init_process(ngx_cycle_t *cycle)
{
    return ngx_http_upload_store_cleanup_init(cycle);
}


static void
ngx_http_upload_store_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_upload_store_cleanup_exit(cycle);
}
