
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"
#include "ngx_http_upload_store_directives.h"


/*
 * The configuration of background jobs: the providers the module calls
 * itself (upload_store_provider, _header, _field), the locations that
 * queue jobs (upload_store_transcribe_job), and, once all is read, the
 * names resolved, the queue directories and the zone of concurrency
 * slots added.
 */


#define NGX_HTTP_UPLOAD_STORE_MAX_CONCURRENCY  1024
#define NGX_HTTP_UPLOAD_STORE_MAX_SECRET       4096


static ngx_http_upload_store_remote_t *ngx_http_upload_store_conf_remote(
    ngx_conf_t *cf, ngx_str_t *name);
static ngx_int_t ngx_http_upload_store_init_slots(ngx_shm_zone_t *shm_zone,
    void *data);


/* not the stores' tag: ngx_http_upload_store_each() skips the zone */
static ngx_uint_t  ngx_http_upload_store_slots_tag;


/* upload_store_provider NAME URL [protocol=] [text=] [timeout=] ... */

char *
ngx_http_upload_store_provider_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_upload_store_main_conf_t *usmcf = conf;

    char                            *rv;
    u_char                           c;
    ngx_str_t                       *value, name;
    ngx_uint_t                       i;
    ngx_http_upload_store_remote_t  *remote;

    value = cf->args->elts;

    /* a directory's name: {root}/.jobs/{name} */

    for (i = 0; i < value[1].len; i++) {
        c = ngx_tolower(value[1].data[i]);

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'
              || c == '-')
            || value[1].len > 32)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid provider name \"%V\": 1 to 32 "
                               "letters, digits, \"_\" or \"-\"",
                               &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_upload_store_remote(usmcf, &value[1]) != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate provider \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_strncasecmp(value[2].data, (u_char *) "http://", 7) != 0
        && ngx_strncasecmp(value[2].data, (u_char *) "https://", 8) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid URL \"%V\": http:// or https:// "
                           "expected", &value[2]);
        return NGX_CONF_ERROR;
    }

    remote = ngx_array_push(&usmcf->remotes);
    if (remote == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(remote, sizeof(ngx_http_upload_store_remote_t));

    remote->name = value[1];
    remote->url = value[2];              /* null-terminated by the parser */
    remote->protocol = ngx_http_upload_store_provider(NULL);
    remote->timeout = 120000;
    remote->connect_timeout = 10000;
    remote->concurrency = 8;
    remote->retries = 5;
    remote->backoff = 2000;
    remote->backoff_max = 300000;

    if (ngx_array_init(&remote->headers, cf->pool, 4, sizeof(ngx_str_t))
        != NGX_OK
        || ngx_array_init(&remote->fields, cf->pool, 4, sizeof(ngx_keyval_t))
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    for (i = 3; i < cf->args->nelts; i++) {
        rv = ngx_http_upload_store_remote_param(cf, remote, &value[i]);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (remote->text.len == 0) {
        if (remote->protocol->text.len == 0) {
            name = remote->protocol->name;
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" directive with \"protocol=%V\" "
                               "needs \"text=\"", &cmd->name, &name);
            return NGX_CONF_ERROR;
        }

        remote->text = remote->protocol->text;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_upload_store_remote_param(ngx_conf_t *cf,
    ngx_http_upload_store_remote_t *remote, ngx_str_t *param)
{
    u_char     *dots;
    ngx_str_t   s;
    ngx_int_t   n;
    ngx_msec_t  ms;

    if (ngx_strncmp(param->data, "protocol=", 9) == 0) {
        s.data = param->data + 9;
        s.len = param->len - 9;

        remote->protocol = ngx_http_upload_store_provider(&s);

        if (remote->protocol == NULL) {
            goto invalid;
        }

        return NGX_CONF_OK;
    }

    if (ngx_strncmp(param->data, "text=", 5) == 0) {
        remote->text.data = param->data + 5;
        remote->text.len = param->len - 5;

        if (remote->text.len == 0 || remote->text.data[0] != '/') {
            goto invalid;
        }

        return NGX_CONF_OK;
    }

    if (ngx_strncmp(param->data, "timeout=", 8) == 0
        || ngx_strncmp(param->data, "connect_timeout=", 16) == 0)
    {
        s.data = (u_char *) ngx_strchr(param->data, '=') + 1;
        s.len = param->data + param->len - s.data;

        ms = ngx_parse_time(&s, 0);

        if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
            goto invalid;
        }

        if (param->data[0] == 't') {
            remote->timeout = ms;

        } else {
            remote->connect_timeout = ms;
        }

        return NGX_CONF_OK;
    }

    if (ngx_strncmp(param->data, "concurrency=", 12) == 0) {
        n = ngx_atoi(param->data + 12, param->len - 12);

        if (n < 1 || n > NGX_HTTP_UPLOAD_STORE_MAX_CONCURRENCY) {
            goto invalid;
        }

        remote->concurrency = n;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(param->data, "retries=", 8) == 0) {
        n = ngx_atoi(param->data + 8, param->len - 8);

        if (n < 0 || n > 100) {
            goto invalid;
        }

        remote->retries = n;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(param->data, "backoff=", 8) == 0) {
        s.data = param->data + 8;
        dots = ngx_strlchr(s.data, param->data + param->len, '.');

        if (dots == NULL || dots + 1 >= param->data + param->len
            || dots[1] != '.')
        {
            goto invalid;
        }

        s.len = dots - s.data;
        remote->backoff = ngx_parse_time(&s, 0);

        s.data = dots + 2;
        s.len = param->data + param->len - s.data;
        remote->backoff_max = ngx_parse_time(&s, 0);

        if (remote->backoff == (ngx_msec_t) NGX_ERROR
            || remote->backoff_max == (ngx_msec_t) NGX_ERROR
            || remote->backoff == 0
            || remote->backoff > remote->backoff_max)
        {
            goto invalid;
        }

        return NGX_CONF_OK;
    }

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", param);

    return NGX_CONF_ERROR;
}


/* upload_store_provider_header NAME HEADER VALUE [file=PATH] */

char *
ngx_http_upload_store_provider_header(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    u_char                          *p;
    ngx_str_t                       *value, *h, secret, name;
    ngx_uint_t                       i;
    ngx_http_upload_store_remote_t  *remote;

    value = cf->args->elts;

    remote = ngx_http_upload_store_conf_remote(cf, &value[1]);
    if (remote == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < value[2].len; i++) {
        if (value[2].data[i] <= ' ' || value[2].data[i] == ':'
            || value[2].data[i] >= 0x7f)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid header name \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    ngx_str_null(&secret);

    if (cf->args->nelts == 5) {
        if (ngx_strncmp(value[4].data, "file=", 5) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[4]);
            return NGX_CONF_ERROR;
        }

        name.data = value[4].data + 5;
        name.len = value[4].len - 5;

        if (ngx_http_upload_store_read_secret(cf, &name, &secret)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    h = ngx_array_push(&remote->headers);
    if (h == NULL) {
        return NGX_CONF_ERROR;
    }

    h->len = value[2].len + 2 + value[3].len + secret.len;
    h->data = ngx_pnalloc(cf->pool, h->len + 1);
    if (h->data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_sprintf(h->data, "%V: %V%V%Z", &value[2], &value[3], &secret);

    /* nothing that would end the header line or the string early */

    for (p = h->data; p < h->data + h->len; p++) {
        if (*p == CR || *p == LF || *p == '\0') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the value of header \"%V\" has a line "
                               "break or a NUL", &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* a secret in a file: its content, surrounding white space trimmed */

char *
ngx_http_upload_store_read_secret(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *secret)
{
    u_char     *p, *last;
    ssize_t     n;
    ngx_fd_t    fd;
    ngx_str_t   path;

    path = *name;

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%s\" failed", path.data);
        return NGX_CONF_ERROR;
    }

    p = ngx_pnalloc(cf->pool, NGX_HTTP_UPLOAD_STORE_MAX_SECRET);
    if (p == NULL) {
        (void) ngx_close_file(fd);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_fd(fd, p, NGX_HTTP_UPLOAD_STORE_MAX_SECRET);

    if (n == -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_read_fd_n " \"%s\" failed", path.data);
        (void) ngx_close_file(fd);
        return NGX_CONF_ERROR;
    }

    (void) ngx_close_file(fd);

    if (n == NGX_HTTP_UPLOAD_STORE_MAX_SECRET) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" is longer than %d bytes", path.data,
                           NGX_HTTP_UPLOAD_STORE_MAX_SECRET - 1);
        return NGX_CONF_ERROR;
    }

    last = p + n;

    while (p < last && (*p == ' ' || *p == '\t' || *p == CR || *p == LF)) {
        p++;
    }

    while (last > p
           && (last[-1] == ' ' || last[-1] == '\t' || last[-1] == CR
               || last[-1] == LF))
    {
        last--;
    }

    if (p == last) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%s\" is empty",
                           path.data);
        return NGX_CONF_ERROR;
    }

    secret->data = p;
    secret->len = last - p;

    return NGX_CONF_OK;
}


/* upload_store_provider_field NAME FIELD VALUE */

char *
ngx_http_upload_store_provider_field(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_str_t                       *value;
    ngx_keyval_t                    *kv;
    ngx_http_upload_store_remote_t  *remote;

    value = cf->args->elts;

    remote = ngx_http_upload_store_conf_remote(cf, &value[1]);
    if (remote == NULL) {
        return NGX_CONF_ERROR;
    }

    kv = ngx_array_push(&remote->fields);
    if (kv == NULL) {
        return NGX_CONF_ERROR;
    }

    kv->key = value[2];
    kv->value = value[3];

    /* the answer is then the transcript itself, not JSON */

    if (ngx_strcmp(value[2].data, "response_format") == 0) {
        remote->text_format = (ngx_strcmp(value[3].data, "text") == 0
                               || ngx_strcmp(value[3].data, "srt") == 0
                               || ngx_strcmp(value[3].data, "vtt") == 0);
    }

    return NGX_CONF_OK;
}


/* upload_store_webhook URL [secret=FILE] | off */

char *
ngx_http_upload_store_webhook(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_upload_store_loc_conf_t  *uslcf = conf;

    ngx_str_t  *value, name;

    if (uslcf->webhook.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0 && cf->args->nelts == 2) {
        ngx_str_set(&uslcf->webhook, "");
        return NGX_CONF_OK;
    }

    if (ngx_strncasecmp(value[1].data, (u_char *) "http://", 7) != 0
        && ngx_strncasecmp(value[1].data, (u_char *) "https://", 8) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid URL \"%V\": http:// or https:// "
                           "expected", &value[1]);
        return NGX_CONF_ERROR;
    }

    uslcf->webhook = value[1];

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "secret=", 7) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        name.data = value[2].data + 7;
        name.len = value[2].len - 7;

        return ngx_http_upload_store_read_secret(cf, &name,
                                                 &uslcf->webhook_secret);
    }

    return NGX_CONF_OK;
}


/* upload_store_webhook_client FIELD HOST ... */

char *
ngx_http_upload_store_webhook_client(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_upload_store_loc_conf_t  *uslcf = conf;

    ngx_str_t   *value, *host;
    ngx_uint_t   i;

    if (uslcf->webhook_field.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    uslcf->webhook_field = value[1];

    uslcf->webhook_hosts = ngx_array_create(cf->pool, cf->args->nelts - 2,
                                            sizeof(ngx_str_t));
    if (uslcf->webhook_hosts == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {
        host = ngx_array_push(uslcf->webhook_hosts);
        if (host == NULL) {
            return NGX_CONF_ERROR;
        }

        *host = value[i];
    }

    return NGX_CONF_OK;
}


/* upload_store_transcribe_job NAME: resolved once everything is read */

char *
ngx_http_upload_store_transcribe_job(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_upload_store_loc_conf_t  *uslcf = conf;

    ngx_str_t                           *value;
    ngx_http_upload_store_loc_conf_t   **p;
    ngx_http_upload_store_main_conf_t   *usmcf;

    if (uslcf->job_name.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    uslcf->job_name = value[1];

    usmcf = ngx_http_conf_get_module_main_conf(cf,
                                               ngx_http_upload_store_module);

    p = ngx_array_push(&usmcf->jobs);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    *p = uslcf;

    return NGX_CONF_OK;
}


ngx_http_upload_store_remote_t *
ngx_http_upload_store_remote(ngx_http_upload_store_main_conf_t *usmcf,
    ngx_str_t *name)
{
    ngx_uint_t                       i;
    ngx_http_upload_store_remote_t  *remote;

    remote = usmcf->remotes.elts;

    for (i = 0; i < usmcf->remotes.nelts; i++) {
        if (remote[i].name.len == name->len
            && ngx_strncmp(remote[i].name.data, name->data, name->len) == 0)
        {
            return &remote[i];
        }
    }

    return NULL;
}


static ngx_http_upload_store_remote_t *
ngx_http_upload_store_conf_remote(ngx_conf_t *cf, ngx_str_t *name)
{
    ngx_http_upload_store_remote_t     *remote;
    ngx_http_upload_store_main_conf_t  *usmcf;

    usmcf = ngx_http_conf_get_module_main_conf(cf,
                                               ngx_http_upload_store_module);

    remote = ngx_http_upload_store_remote(usmcf, name);

    if (remote == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown provider \"%V\", define it first with "
                           "\"upload_store_provider\"", name);
    }

    return remote;
}


/*
 * once all is read: each job location's provider and store, the store's
 * queue directory, the files API's URI for Location:, and the zone that
 * counts the providers' requests in flight across workers
 */

ngx_int_t
ngx_http_upload_store_jobs_conf(ngx_conf_t *cf,
    ngx_http_upload_store_main_conf_t *usmcf)
{
    size_t                               size;
    ngx_str_t                            name;
    ngx_uint_t                           i, j, slots;
    ngx_shm_zone_t                      *zone;
    ngx_http_upload_store_t             *store;
    ngx_http_upload_store_remote_t      *remote;
    ngx_http_upload_store_loc_conf_t   **jobs, **endpoints, *uslcf;

    jobs = usmcf->jobs.elts;

    for (i = 0; i < usmcf->jobs.nelts; i++) {
        uslcf = jobs[i];

        zone = uslcf->receive ? uslcf->receive : uslcf->files;

        if (zone == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"upload_store_transcribe_job %V\" is only "
                          "allowed with \"upload_store_receive\" or "
                          "\"upload_store_files\"", &uslcf->job_name);
            return NGX_ERROR;
        }

        uslcf->job = ngx_http_upload_store_remote(usmcf, &uslcf->job_name);

        if (uslcf->job == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"upload_store_transcribe_job\" names unknown "
                          "provider \"%V\", define it with "
                          "\"upload_store_provider\"", &uslcf->job_name);
            return NGX_ERROR;
        }

        store = zone->data;

        /* a job finds its location again by zone and name: one each */

        for (j = 0; j < i; j++) {
            if (jobs[j] != uslcf && jobs[j]->clcf && uslcf->clcf
                && jobs[j]->clcf->name.len == uslcf->clcf->name.len
                && ngx_strncmp(jobs[j]->clcf->name.data,
                               uslcf->clcf->name.data,
                               uslcf->clcf->name.len) == 0
                && (jobs[j]->receive ? jobs[j]->receive : jobs[j]->files)
                   == zone)
            {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "two locations \"%V\" queue jobs in zone "
                              "\"%V\": give them different names",
                              &uslcf->clcf->name, &zone->shm.name);
                return NGX_ERROR;
            }
        }

        if (store != NULL
            && ngx_http_upload_store_jobs_path(cf, store, &uslcf->job->name)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        /* the first files API on the same store gives the Location */

        endpoints = usmcf->endpoints.elts;

        for (j = 0; uslcf->receive && j < usmcf->endpoints.nelts; j++) {
            name = endpoints[j]->clcf->name;

            if (endpoints[j]->files == uslcf->receive
                && name.len && name.data[name.len - 1] == '/')
            {
                uslcf->files_uri = endpoints[j]->clcf->name;
                break;
            }
        }
    }

    if (usmcf->remotes.nelts == 0) {
        return NGX_OK;
    }

    remote = usmcf->remotes.elts;

    /* slot 0 is the number of slots */

    slots = 1;

    for (i = 0; i < usmcf->remotes.nelts; i++) {
        remote[i].slot = slots;
        slots += remote[i].concurrency;
    }

    usmcf->nslots = slots - 1;

    size = ngx_align(slots * sizeof(ngx_atomic_t), ngx_pagesize)
           + 8 * ngx_pagesize;

    ngx_str_set(&name, "upload_store_providers");

    usmcf->slots = ngx_shared_memory_add(cf, &name, size,
                                         &ngx_http_upload_store_slots_tag);
    if (usmcf->slots == NULL) {
        return NGX_ERROR;
    }

    usmcf->slots->init = ngx_http_upload_store_init_slots;
    usmcf->slots->data = usmcf;

    return NGX_OK;
}


/* {root}/.jobs and {root}/.jobs/{provider}, made by nginx at start */

ngx_int_t
ngx_http_upload_store_jobs_path(ngx_conf_t *cf, ngx_http_upload_store_t *store,
    ngx_str_t *provider)
{
    ngx_path_t  *path;

    if (store->jobs_path == NULL) {
        store->jobs_path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
        if (store->jobs_path == NULL) {
            return NGX_ERROR;
        }

        if (ngx_http_upload_store_jobs_dir(cf->pool, &store->root, NULL,
                                           &store->jobs_path->name)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        store->jobs_path->conf_file = store->root_path->conf_file;
        store->jobs_path->line = store->root_path->line;

        if (ngx_add_path(cf, &store->jobs_path) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    /* the same directory added again is one (ngx_add_path() sees it) */

    path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
    if (path == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_upload_store_jobs_dir(cf->pool, &store->root, provider,
                                       &path->name)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    path->conf_file = store->root_path->conf_file;
    path->line = store->root_path->line;

    return ngx_add_path(cf, &path);
}


/*
 * a slot holds the pid of the worker whose request it is, 0: free; the
 * slots are allocated in the zone's slab pool (nginx's master treats
 * every zone as one), the first element their number; kept across
 * reloads when there are as many
 */

static ngx_int_t
ngx_http_upload_store_init_slots(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_atomic_t                       *slots;
    ngx_slab_pool_t                    *sp;
    ngx_http_upload_store_main_conf_t  *usmcf;

    usmcf = shm_zone->data;
    sp = (ngx_slab_pool_t *) shm_zone->shm.addr;

    slots = data ? data : (shm_zone->shm.exists ? sp->data : NULL);

    if (slots != NULL && slots[0] >= usmcf->nslots) {
        shm_zone->data = (void *) slots;
        return NGX_OK;
    }

    slots = ngx_slab_calloc(sp, (usmcf->nslots + 1) * sizeof(ngx_atomic_t));
    if (slots == NULL) {
        return NGX_ERROR;
    }

    slots[0] = usmcf->nslots;

    sp->data = (void *) slots;
    shm_zone->data = (void *) slots;

    return NGX_OK;
}
