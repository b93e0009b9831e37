
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#ifndef _NGX_HTTP_UPLOAD_STORE_DIRECTIVES_H_INCLUDED_
#define _NGX_HTTP_UPLOAD_STORE_DIRECTIVES_H_INCLUDED_


#include "ngx_http_upload_store_module.h"


char *ngx_http_upload_store_receive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_upload_store_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_upload_store_types(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_upload_store_prefix_check(ngx_conf_t *cf, void *post,
    void *data);
char *ngx_http_upload_store_form_limits(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_upload_store_transcribe_conf(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_upload_store_transcribe_field(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_upload_store_transcribe_pass(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_upload_store_lexicon(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_upload_store_provider_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_upload_store_provider_header(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_upload_store_provider_field(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_upload_store_transcribe_job(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_upload_store_webhook(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_upload_store_webhook_client(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);


char *ngx_http_upload_store_object_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_upload_store_remote_param(ngx_conf_t *cf,
    ngx_http_upload_store_remote_t *remote, ngx_str_t *param);
char *ngx_http_upload_store_read_secret(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *secret);
ngx_int_t ngx_http_upload_store_jobs_path(ngx_conf_t *cf,
    ngx_http_upload_store_t *store, ngx_str_t *provider);


#endif /* _NGX_HTTP_UPLOAD_STORE_DIRECTIVES_H_INCLUDED_ */
