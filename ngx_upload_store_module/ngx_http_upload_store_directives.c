
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"
#include "ngx_http_upload_store_directives.h"


/* the directives' handlers, for the table in ngx_http_upload_store_module.c */


static char *ngx_http_upload_store_field_name(ngx_conf_t *cf,
    ngx_str_t *name);


char *
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

    clcf->handler = ngx_http_upload_store_receive_handler;
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

char *
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
    ((ngx_http_upload_store_loc_conf_t *) conf)->clcf = clcf;

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

char *
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


char *
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

char *
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

char *
ngx_http_upload_store_transcribe_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_upload_store_loc_conf_t  *uslcf = conf;

    ngx_str_t                         *value, name;
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

    uslcf->provider = ngx_http_upload_store_provider(NULL);
    ngx_str_null(&uslcf->transcribe_text);

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "protocol=", 9) == 0) {
            name.data = value[i].data + 9;
            name.len = value[i].len - 9;

            uslcf->provider = ngx_http_upload_store_provider(&name);

            if (uslcf->provider == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid parameter \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

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
        if (uslcf->provider->text.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" directive with \"protocol=%V\" "
                               "needs \"text=\"", &cmd->name,
                               &uslcf->provider->name);
            return NGX_CONF_ERROR;
        }

        uslcf->transcribe_text = uslcf->provider->text;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_upload_store_transcribe_field(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_upload_store_loc_conf_t  *uslcf = conf;

    ngx_str_t                         *value;
    ngx_http_upload_store_field_t     *f;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    if (ngx_http_upload_store_field_name(cf, &value[1]) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (uslcf->transcribe_fields == NGX_CONF_UNSET_PTR) {
        uslcf->transcribe_fields = ngx_array_create(cf->pool, 4,
                                   sizeof(ngx_http_upload_store_field_t));
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


char *
ngx_http_upload_store_transcribe_pass(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_upload_store_loc_conf_t  *uslcf = conf;

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

        if (ngx_http_upload_store_field_name(cf, &value[i]) != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
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

char *
ngx_http_upload_store_lexicon(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upload_store_loc_conf_t  *uslcf = conf;

    ngx_str_t  *value, name;

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

    uslcf->lexicon = ngx_http_upload_store_lexicon_load(cf, &name);
    if (uslcf->lexicon == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* a form field's name, as it goes into the provider's form */

static char *
ngx_http_upload_store_field_name(ngx_conf_t *cf, ngx_str_t *name)
{
    u_char  *p;

    for (p = name->data; p < name->data + name->len; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid field name \"%V\"", name);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}
