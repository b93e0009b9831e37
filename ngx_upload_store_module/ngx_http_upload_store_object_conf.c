
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"
#include "ngx_http_upload_store_directives.h"


/*
 * upload_store_object_store ZONE URL region= credentials= [prefix=]
 * [keep_local=] [part_size=] [ca=] and a remote's concurrency=, retries=,
 * backoff=, timeout=, connect_timeout=: an S3-compatible bucket behind a
 * store, its offloads queued as jobs of their own ({root}/.jobs/.offload)
 */


#define NGX_HTTP_UPLOAD_STORE_MIN_PART  (5 * 1024 * 1024)   /* S3's */
#define NGX_HTTP_UPLOAD_STORE_MAX_PART  (5LL * 1024 * 1024 * 1024)


static char *ngx_http_upload_store_object_param(ngx_conf_t *cf,
    ngx_http_upload_store_object_t *os, ngx_str_t *param, ngx_str_t *region);
static char *ngx_http_upload_store_credentials(ngx_conf_t *cf,
    ngx_http_upload_store_object_t *os, ngx_str_t *file);
static char *ngx_http_upload_store_object_parts(ngx_conf_t *cf,
    ngx_http_upload_store_object_t *os, ngx_str_t *region);


static ngx_str_t  ngx_http_upload_store_offload_name =
    ngx_string(".offload");


char *
ngx_http_upload_store_object_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_upload_store_main_conf_t *usmcf = conf;

    char                               *rv;
    ngx_str_t                          *value, region;
    ngx_uint_t                          i;
    ngx_http_upload_store_object_t     *os;
    ngx_http_upload_store_object_ref_t *ref;

    value = cf->args->elts;

    ref = usmcf->objects.elts;

    for (i = 0; i < usmcf->objects.nelts; i++) {
        if (ref[i].zone->shm.name.len == value[1].len
            && ngx_strncmp(ref[i].zone->shm.name.data, value[1].data,
                           value[1].len) == 0)
        {
            return "is duplicate for this zone";
        }
    }

    if (ngx_strncasecmp(value[2].data, (u_char *) "http://", 7) != 0
        && ngx_strncasecmp(value[2].data, (u_char *) "https://", 8) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid URL \"%V\": http:// or https:// "
                           "expected", &value[2]);
        return NGX_CONF_ERROR;
    }

    os = ngx_pcalloc(cf->pool, sizeof(ngx_http_upload_store_object_t));
    if (os == NULL) {
        return NGX_CONF_ERROR;
    }

    ref = ngx_array_push(&usmcf->objects);
    if (ref == NULL) {
        return NGX_CONF_ERROR;
    }

    ref->zone = ngx_shared_memory_add(cf, &value[1], 0,
                                      &ngx_http_upload_store_module);
    if (ref->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    ref->object = os;

    /* the bucket's URL, its "/" at the end dropped: keys are added */

    os->url = value[2];

    while (os->url.len && os->url.data[os->url.len - 1] == '/') {
        os->url.data[--os->url.len] = '\0';
    }

    os->part_size = 16 * 1024 * 1024;
    os->keep_local = 1;
    os->timeout = 60000;
    os->connect_timeout = 10000;

    ref->remote.name = ngx_http_upload_store_offload_name;
    ref->remote.url = os->url;
    ref->remote.timeout = os->timeout;
    ref->remote.connect_timeout = os->connect_timeout;
    ref->remote.concurrency = 8;
    ref->remote.retries = 5;
    ref->remote.backoff = 2000;
    ref->remote.backoff_max = 300000;

    ngx_str_null(&region);

    for (i = 3; i < cf->args->nelts; i++) {
        rv = ngx_http_upload_store_object_param(cf, os, &value[i], &region);

        if (rv == NGX_CONF_OK) {
            continue;
        }

        if (rv != NGX_CONF_ERROR
            || ngx_http_upload_store_remote_param(cf, &ref->remote,
                                                  &value[i])
               != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    os->timeout = ref->remote.timeout;
    os->connect_timeout = ref->remote.connect_timeout;

    if (region.len == 0 || os->userpwd.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs \"region=\" and \"credentials=\"",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    os->sigv4.len = sizeof("aws:amz::s3") - 1 + region.len;
    os->sigv4.data = ngx_pnalloc(cf->pool, os->sigv4.len + 1);
    if (os->sigv4.data == NULL) {
        return NGX_CONF_ERROR;
    }

    (void) ngx_sprintf(os->sigv4.data, "aws:amz:%V:s3%Z", &region);

    return ngx_http_upload_store_object_parts(cf, os, &region);
}


/*
 * what a presigned URL is made of: the URL's scheme, host and path, the
 * credentials and the region apart, each null-terminated
 */

static char *
ngx_http_upload_store_object_parts(ngx_conf_t *cf,
    ngx_http_upload_store_object_t *os, ngx_str_t *region)
{
    u_char  *p, *host, *slash, *colon;

    p = (u_char *) ngx_strstr(os->url.data, "://");
    host = p + 3;
    slash = ngx_strlchr(host, os->url.data + os->url.len, '/');

    if (slash == NULL) {
        slash = os->url.data + os->url.len;
    }

    if (slash == host || ngx_strlchr(host, slash, '@') != NULL
        || ngx_strlchr(os->url.data, os->url.data + os->url.len, '?') != NULL
        || ngx_strlchr(os->url.data, os->url.data + os->url.len, '#') != NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid URL \"%V\": a bucket's URL has a host, "
                           "no user, query or fragment", &os->url);
        return NGX_CONF_ERROR;
    }

    os->scheme.len = p - os->url.data;
    os->host.len = slash - host;
    os->path.len = os->url.data + os->url.len - slash;

    colon = ngx_strlchr(os->userpwd.data,
                        os->userpwd.data + os->userpwd.len, ':');

    os->key_id.len = colon - os->userpwd.data;
    os->secret.len = os->userpwd.data + os->userpwd.len - colon - 1;
    os->region.len = region->len;

    os->scheme.data = ngx_pnalloc(cf->pool, os->url.len + os->userpwd.len
                                            + region->len + 6);
    if (os->scheme.data == NULL) {
        return NGX_CONF_ERROR;
    }

    os->host.data = ngx_cpymem(os->scheme.data, os->url.data,
                               os->scheme.len) + 1;
    os->path.data = ngx_cpymem(os->host.data, host, os->host.len) + 1;
    os->key_id.data = ngx_cpymem(os->path.data, slash, os->path.len) + 1;
    os->secret.data = ngx_cpymem(os->key_id.data, os->userpwd.data,
                                 os->key_id.len) + 1;
    os->region.data = ngx_cpymem(os->secret.data, colon + 1,
                                 os->secret.len) + 1;
    p = ngx_cpymem(os->region.data, region->data, region->len);

    os->host.data[-1] = '\0';
    os->path.data[-1] = '\0';
    os->key_id.data[-1] = '\0';
    os->secret.data[-1] = '\0';
    os->region.data[-1] = '\0';
    *p = '\0';

    return NGX_CONF_OK;
}


/* the object store's own parameters; NGX_CONF_ERROR: not one of them */

static char *
ngx_http_upload_store_object_param(ngx_conf_t *cf,
    ngx_http_upload_store_object_t *os, ngx_str_t *param, ngx_str_t *region)
{
    u_char     *p;
    off_t       size;
    time_t      t;
    ngx_str_t   s;
    ngx_uint_t  i;

    if (ngx_strncmp(param->data, "region=", 7) == 0) {
        region->data = param->data + 7;
        region->len = param->len - 7;

        for (i = 0; i < region->len; i++) {
            p = &region->data[i];

            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
                  || *p == '-'))
            {
                goto invalid;
            }
        }

        if (region->len == 0) {
            goto invalid;
        }

        return NGX_CONF_OK;
    }

    if (ngx_strncmp(param->data, "credentials=", 12) == 0) {
        s.data = param->data + 12;
        s.len = param->len - 12;

        return ngx_http_upload_store_credentials(cf, os, &s) == NGX_CONF_OK
               ? NGX_CONF_OK : "";
    }

    if (ngx_strncmp(param->data, "prefix=", 7) == 0) {
        os->prefix.data = param->data + 7;
        os->prefix.len = param->len - 7;

        /* a key is a path in URLs and signatures: no escapes needed */

        for (i = 0; i < os->prefix.len; i++) {
            p = &os->prefix.data[i];

            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                  || (*p >= '0' && *p <= '9')
                  || *p == '-' || *p == '_' || *p == '.' || *p == '/')
                || (*p == '/' && (i == 0 || p[-1] == '/'))
                || (*p == '.' && (i == 0 || p[-1] == '/')))
            {
                goto invalid;
            }
        }

        return NGX_CONF_OK;
    }

    if (ngx_strncmp(param->data, "part_size=", 10) == 0) {
        s.data = param->data + 10;
        s.len = param->len - 10;

        size = ngx_parse_offset(&s);

        if (size < NGX_HTTP_UPLOAD_STORE_MIN_PART
            || size > NGX_HTTP_UPLOAD_STORE_MAX_PART)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\": from 5m to 5g",
                               param);
            return "";
        }

        os->part_size = size;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(param->data, "keep_local=", 11) == 0) {
        s.data = param->data + 11;
        s.len = param->len - 11;

        if (s.len == 2 && ngx_strncmp(s.data, "on", 2) == 0) {
            os->keep_local = 1;
            return NGX_CONF_OK;
        }

        if (s.len == 3 && ngx_strncmp(s.data, "off", 3) == 0) {
            os->keep_local = 0;
            return NGX_CONF_OK;
        }

        t = ngx_parse_time(&s, 1);

        if (t == (time_t) NGX_ERROR || t == 0) {
            goto invalid;
        }

        os->keep_local = 0;
        os->keep_time = t;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(param->data, "redirect=", 9) == 0) {
        if (param->len != 18
            || ngx_strncmp(param->data + 9, "presigned", 9) != 0)
        {
            goto invalid;
        }

        if (os->expires == 0) {
            os->expires = 300;
        }

        return NGX_CONF_OK;
    }

    if (ngx_strncmp(param->data, "expires=", 8) == 0) {
        s.data = param->data + 8;
        s.len = param->len - 8;

        t = ngx_parse_time(&s, 1);

        /* SigV4's limit: 7 days */

        if (t == (time_t) NGX_ERROR || t == 0 || t > 604800) {
            goto invalid;
        }

        os->expires = t;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(param->data, "ca=", 3) == 0) {
        os->ca.data = param->data + 3;
        os->ca.len = param->len - 3;

        if (os->ca.len == 0
            || ngx_conf_full_name(cf->cycle, &os->ca, 1) != NGX_OK)
        {
            goto invalid;
        }

        return NGX_CONF_OK;
    }

    return NGX_CONF_ERROR;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", param);

    return "";
}


/* the access key id on the file's first line, the secret on its second */

static char *
ngx_http_upload_store_credentials(ngx_conf_t *cf,
    ngx_http_upload_store_object_t *os, ngx_str_t *file)
{
    u_char     *p, *last, *nl, *key_end;
    ngx_str_t   content;

    if (ngx_http_upload_store_read_secret(cf, file, &content)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    p = content.data;
    last = p + content.len;

    nl = ngx_strlchr(p, last, LF);
    if (nl == NULL) {
        goto invalid;
    }

    key_end = (nl > p && nl[-1] == CR) ? nl - 1 : nl;

    for (nl++; nl < last && (*nl == CR || *nl == LF); nl++) {
        /* void */
    }

    if (key_end == p || nl == last
        || ngx_strlchr(nl, last, LF) != NULL
        || ngx_strlchr(p, key_end, ':') != NULL)
    {
        goto invalid;
    }

    os->userpwd.len = (key_end - p) + 1 + (last - nl);
    os->userpwd.data = ngx_pnalloc(cf->pool, os->userpwd.len + 1);
    if (os->userpwd.data == NULL) {
        return NGX_CONF_ERROR;
    }

    (void) ngx_sprintf(os->userpwd.data, "%*s:%*s%Z",
                       (size_t) (key_end - p), p, (size_t) (last - nl), nl);

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" must hold the access key id on its first "
                       "line and the secret on its second", file);

    return NGX_CONF_ERROR;
}


/*
 * once all is read: each object store's zone is a store; its queue of
 * offloads is a remote of the store's, added before the providers'
 * remotes are pointed at
 */

ngx_int_t
ngx_http_upload_store_objects_conf(ngx_conf_t *cf,
    ngx_http_upload_store_main_conf_t *usmcf)
{
    ngx_uint_t                           i;
    ngx_http_upload_store_t             *store;
    ngx_http_upload_store_remote_t      *remote;
    ngx_http_upload_store_object_ref_t  *ref;

    ref = usmcf->objects.elts;

    for (i = 0; i < usmcf->objects.nelts; i++) {
        store = ref[i].zone->data;

        if (store == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"upload_store_object_store\" names unknown "
                          "zone \"%V\", define it with "
                          "\"upload_store_path\"", &ref[i].zone->shm.name);
            return NGX_ERROR;
        }

        remote = ngx_array_push(&usmcf->remotes);
        if (remote == NULL) {
            return NGX_ERROR;
        }

        *remote = ref[i].remote;
        remote->store = store;

        if (ngx_array_init(&remote->headers, cf->pool, 1, sizeof(ngx_str_t))
            != NGX_OK
            || ngx_array_init(&remote->fields, cf->pool, 1,
                              sizeof(ngx_keyval_t))
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        store->object = ref[i].object;
    }

    /* the array is final: its elements' addresses are */

    remote = usmcf->remotes.elts;

    for (i = 0; i < usmcf->remotes.nelts; i++) {
        if (remote[i].store != NULL) {
            remote[i].store->object->remote = &remote[i];

            if (ngx_http_upload_store_jobs_path(cf, remote[i].store,
                                                &remote[i].name)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}
