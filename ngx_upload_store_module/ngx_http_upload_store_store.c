
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"
#include "ngx_http_upload_store_store.h"
#include "ngx_http_upload_store_multipart.h"

#if (NGX_HTTP_UPLOAD_STORE_HAVE_GETRANDOM)
#include <sys/random.h>
#endif


typedef struct {
    ngx_str_t                       type;
    ngx_str_t                       suffix;
} ngx_http_upload_store_type_suffix_t;


static ngx_int_t ngx_http_upload_store_random(u_char *buf, size_t len,
    ngx_log_t *log);
static ngx_int_t ngx_http_upload_store_write_file(ngx_str_t *name,
    ngx_str_t *data, ngx_uint_t access, ngx_log_t *log);
static void ngx_http_upload_store_customer_dir(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx);
static void ngx_http_upload_store_keep_temp(ngx_http_request_t *r,
    ngx_fd_t fd);
static ngx_int_t ngx_http_upload_store_meta_temp(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *temp);
static json_t *ngx_http_upload_store_meta_json(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx);


static u_char  ngx_http_upload_store_base32[] =
    "0123456789ABCDEFGHJKMNPQRSTVWXYZ";


static ngx_http_upload_store_type_suffix_t  ngx_http_upload_store_suffixes[] =
{
    { ngx_string("audio/wav"), ngx_string("wav") },
    { ngx_string("audio/x-wav"), ngx_string("wav") },
    { ngx_string("audio/wave"), ngx_string("wav") },
    { ngx_string("audio/vnd.wave"), ngx_string("wav") },
    { ngx_string("audio/mpeg"), ngx_string("mp3") },
    { ngx_string("audio/mp3"), ngx_string("mp3") },
    { ngx_string("audio/mp4"), ngx_string("m4a") },
    { ngx_string("audio/m4a"), ngx_string("m4a") },
    { ngx_string("audio/x-m4a"), ngx_string("m4a") },
    { ngx_string("audio/aac"), ngx_string("aac") },
    { ngx_string("audio/ogg"), ngx_string("ogg") },
    { ngx_string("audio/opus"), ngx_string("opus") },
    { ngx_string("audio/webm"), ngx_string("webm") },
    { ngx_string("audio/flac"), ngx_string("flac") },
    { ngx_string("audio/x-flac"), ngx_string("flac") },
    { ngx_string("audio/x-caf"), ngx_string("caf") },
    { ngx_string("audio/amr"), ngx_string("amr") },
    { ngx_string("audio/3gpp"), ngx_string("3gp") },
    { ngx_string("video/mp4"), ngx_string("mp4") },
    { ngx_string("video/webm"), ngx_string("webm") },
    { ngx_string("video/mpeg"), ngx_string("mpeg") },
    { ngx_null_string, ngx_null_string }
};


ngx_int_t
ngx_http_upload_store_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_upload_store_t  *ostore = data;

    ngx_slab_pool_t          *shpool;
    ngx_http_upload_store_t  *store;

    store = shm_zone->data;

    if (ostore != NULL && ostore->root.len == store->root.len
        && ngx_strcmp(ostore->root.data, store->root.data) == 0)
    {
        /* reload: the counters stay */
        store->sh = ostore->sh;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (ostore != NULL) {
        store->sh = ostore->sh;

    } else if (shm_zone->shm.exists) {
        store->sh = shpool->data;
        return NGX_OK;

    } else {
        store->sh = ngx_slab_calloc(shpool,
                                    sizeof(ngx_http_upload_store_sh_t));
        if (store->sh == NULL) {
            return NGX_ERROR;
        }

        shpool->data = store->sh;
    }

    /* what is already stored counts against max_size */

    (void) ngx_http_upload_store_cleanup_count(store, shm_zone->shm.log);

    return NGX_OK;
}


/*
 * customer and category come from variables, that is, from the client:
 * [A-Za-z0-9._-]{1,64}, not starting with a dot
 */

ngx_int_t
ngx_http_upload_store_valid_name(ngx_str_t *name)
{
    u_char      ch;
    ngx_uint_t  i;

    if (name->len == 0 || name->len > NGX_HTTP_UPLOAD_STORE_NAME_MAX
        || name->data[0] == '.')
    {
        return NGX_DECLINED;
    }

    for (i = 0; i < name->len; i++) {
        ch = name->data[i];

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || (ch >= '0' && ch <= '9')
            || ch == '.' || ch == '_' || ch == '-')
        {
            continue;
        }

        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * a ULID: 48 bits of milliseconds and 80 random bits,
 * 26 characters of Crockford's base32, sortable by time
 */

ngx_int_t
ngx_http_upload_store_make_id(u_char *id, ngx_msec_t ms, ngx_log_t *log)
{
    u_char      rnd[10];
    uint64_t    hi, lo, x;
    ngx_uint_t  i, s;

    if (ngx_http_upload_store_random(rnd, sizeof(rnd), log) != NGX_OK) {
        return NGX_ERROR;
    }

    hi = ((uint64_t) ms & 0xffffffffffffULL) << 16
         | (uint64_t) rnd[0] << 8 | rnd[1];

    lo = 0;
    for (i = 2; i < 10; i++) {
        lo = lo << 8 | rnd[i];
    }

    for (i = 0; i < NGX_HTTP_UPLOAD_STORE_ID_LEN; i++) {
        s = 125 - 5 * i;

        if (s >= 64) {
            x = hi >> (s - 64);

        } else if (s == 0) {
            x = lo;

        } else {
            x = (lo >> s) | (hi << (64 - s));
        }

        id[i] = ngx_http_upload_store_base32[x & 31];
    }

    return NGX_OK;
}


/*
 * an id as make_id() writes them: 26 characters of Crockford's base32,
 * upper case, 128 bits; *sec is the second it was made in
 */

ngx_int_t
ngx_http_upload_store_parse_id(u_char *id, size_t len, time_t *sec)
{
    u_char      *c;
    uint64_t     ms;
    ngx_uint_t   i;

    if (len != NGX_HTTP_UPLOAD_STORE_ID_LEN || id[0] > '7') {
        return NGX_ERROR;
    }

    ms = 0;

    for (i = 0; i < NGX_HTTP_UPLOAD_STORE_ID_LEN; i++) {
        c = ngx_strlchr(ngx_http_upload_store_base32,
                        ngx_http_upload_store_base32 + 32, id[i]);
        if (c == NULL) {
            return NGX_ERROR;
        }

        if (i < 10) {
            ms = ms << 5 | (c - ngx_http_upload_store_base32);
        }
    }

    *sec = (time_t) (ms / 1000);

    return NGX_OK;
}


/*
 * random bytes from the kernel's CSPRNG, taken 4k at a time: one system
 * call for hundreds of ids; filled on first use, so only in the process
 * that uses it, never before a fork()
 */

static ngx_int_t
ngx_http_upload_store_random(u_char *buf, size_t len, ngx_log_t *log)
{
    ssize_t          n;
    ngx_fd_t         fd;

    static u_char    pool[4096];
    static size_t    left;

    if (left < len) {

#if (NGX_HTTP_UPLOAD_STORE_HAVE_GETRANDOM)

        n = getrandom(pool, sizeof(pool), 0);

        if (n == -1) {
            ngx_log_error(NGX_LOG_CRIT, log, ngx_errno, "getrandom() failed");
        }

        if (n != (ssize_t) sizeof(pool))

#endif
        {
            fd = ngx_open_file("/dev/urandom", NGX_FILE_RDONLY,
                               NGX_FILE_OPEN, 0);
            if (fd == NGX_INVALID_FILE) {
                ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                              ngx_open_file_n " \"/dev/urandom\" failed");
                return NGX_ERROR;
            }

            n = read(fd, pool, sizeof(pool));

            if (n != (ssize_t) sizeof(pool)) {
                ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                              "read() \"/dev/urandom\" failed");
            }

            if (ngx_close_file(fd) == NGX_FILE_ERROR) {
                ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                              ngx_close_file_n " \"/dev/urandom\" failed");
            }

            if (n != (ssize_t) sizeof(pool)) {
                return NGX_ERROR;
            }
        }

        left = sizeof(pool);
    }

    /* used bytes are wiped: they are not kept for anyone to find */

    ngx_memcpy(buf, pool + sizeof(pool) - left, len);
    ngx_memzero(pool + sizeof(pool) - left, len);
    left -= len;

    return NGX_OK;
}


/*
 * the suffix of the stored name: the original file's extension,
 * lower-cased, [a-z0-9]{1,10}; else one derived from the content type
 */

ngx_int_t
ngx_http_upload_store_suffix(ngx_pool_t *pool, ngx_str_t *filename,
    ngx_str_t *content_type, ngx_str_t *suffix)
{
    u_char                               *p, *dot, *last;
    ngx_uint_t                            i;
    ngx_http_upload_store_type_suffix_t  *ts;

    ngx_str_null(suffix);

    if (filename->len) {
        last = filename->data + filename->len;
        dot = NULL;

        for (p = filename->data; p < last; p++) {
            if (*p == '.') {
                dot = p;
            }
        }

        if (dot != NULL && dot != filename->data
            && last - dot - 1 >= 1
            && last - dot - 1 <= NGX_HTTP_UPLOAD_STORE_SUFFIX_MAX)
        {
            for (p = dot + 1; p < last; p++) {
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                      || (*p >= '0' && *p <= '9')))
                {
                    break;
                }
            }

            if (p == last) {
                suffix->len = last - dot - 1;
                suffix->data = ngx_pnalloc(pool, suffix->len);
                if (suffix->data == NULL) {
                    return NGX_ERROR;
                }

                ngx_strlow(suffix->data, dot + 1, suffix->len);
                return NGX_OK;
            }
        }
    }

    ts = ngx_http_upload_store_suffixes;

    for (i = 0; ts[i].type.len; i++) {
        if (ts[i].type.len == content_type->len
            && ngx_strncmp(ts[i].type.data, content_type->data,
                           content_type->len)
               == 0)
        {
            *suffix = ts[i].suffix;
            return NGX_OK;
        }
    }

    return NGX_OK;
}


/* the type of a known extension of the file name; left alone otherwise */

void
ngx_http_upload_store_type_of(ngx_str_t *filename, ngx_str_t *type)
{
    u_char                               *dot;
    size_t                                len;
    ngx_uint_t                            i;
    ngx_http_upload_store_type_suffix_t  *ts;

    for (dot = filename->data + filename->len; dot > filename->data; dot--)
    {
        if (dot[-1] == '.') {
            break;
        }
    }

    if (dot == filename->data) {
        return;
    }

    len = filename->data + filename->len - dot;

    ts = ngx_http_upload_store_suffixes;

    for (i = 0; ts[i].type.len; i++) {
        if (ts[i].suffix.len == len
            && ngx_strncasecmp(ts[i].suffix.data, dot, len) == 0)
        {
            *type = ts[i].type;
            return;
        }
    }
}


/* max_size: NGX_OK, or 507 with the reason set in the JSON error */

ngx_int_t
ngx_http_upload_store_check_size(ngx_http_request_t *r,
    ngx_http_upload_store_t *store, off_t need)
{
    off_t  size;

    if (store->max_size == 0) {
        return NGX_OK;
    }

    size = (off_t) ngx_http_upload_store_gauge(&store->sh->bytes);

    if (size + need <= store->max_size) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "upload store \"%V\" is full: %O of max_size %O "
                  "bytes used, upload of %O bytes refused",
                  &store->name, size, store->max_size, need);

    return ngx_http_upload_store_error(r, NGX_HTTP_INSUFFICIENT_STORAGE,
                                       "store_full", "the store is full");
}


/*
 * NGX_OK, or the status to refuse the upload with (507) once the reason
 * is set in the request's JSON error
 */

ngx_int_t
ngx_http_upload_store_check_space(ngx_http_request_t *r,
    ngx_http_upload_store_t *store, off_t need)
{
    off_t      avail;
    ngx_int_t  rc;

    if (need < 0) {
        need = 0;
    }

    rc = ngx_http_upload_store_check_size(r, store, need);
    if (rc != NGX_OK) {
        return rc;
    }

    if (store->avail_time != ngx_time()) {
        store->avail = ngx_fs_available(store->root.data);
        store->avail_time = ngx_time();
    }

    avail = store->avail;

    if (avail - need < store->min_free) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "upload store \"%V\": %O bytes free in \"%s\", "
                      "min_free is %O, upload of %O bytes refused",
                      &store->name, avail, store->root.data,
                      store->min_free, need);

        return ngx_http_upload_store_error(r, NGX_HTTP_INSUFFICIENT_STORAGE,
                                           "insufficient_storage",
                                           "not enough free disk space");
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_upload_store_metadata(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *json)
{
    json_t     *meta;
    ngx_int_t   rc;

    meta = ngx_http_upload_store_meta_json(r, ctx);
    if (meta == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_upload_store_json_dump(r->pool, meta, json);

    json_decref(meta);

    return rc;
}


/*
 * the metadata as it is now, written to a temp name and renamed over
 * {id}.json; the object is given back for the answer (json_decref() it)
 */

ngx_int_t
ngx_http_upload_store_metadata_save(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, json_t **meta)
{
    ngx_err_t         err;
    ngx_str_t         json, temp;
    ngx_file_info_t   fi;

    *meta = ngx_http_upload_store_meta_json(r, ctx);
    if (*meta == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * deleted while the provider worked (a DELETE, the cleanup): it
     * stays deleted, and the answer is still given
     */

    if (ngx_file_info(ctx->meta_path.data, &fi) == NGX_FILE_ERROR
        && ngx_errno == NGX_ENOENT)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "upload store: id %*s of customer \"%V\" was deleted "
                      "during its transcription, \"%V\" not written again",
                      (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, ctx->id,
                      &ctx->customer, &ctx->meta_path);
        return NGX_OK;
    }

    if (ngx_http_upload_store_json_dump(r->pool, *meta, &json) != NGX_OK
        || ngx_http_upload_store_meta_temp(r, ctx, &temp) != NGX_OK)
    {
        goto failed;
    }

    if (ngx_http_upload_store_write_file(&temp, &json, ctx->store->access,
                                         r->connection->log)
        != NGX_OK)
    {
        goto failed;
    }

    if (ngx_rename_file(temp.data, ctx->meta_path.data) == NGX_FILE_ERROR) {
        err = ngx_errno;
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, err,
                      ngx_rename_file_n " \"%s\" to \"%s\" failed "
                      "(customer \"%V\")", temp.data, ctx->meta_path.data,
                      &ctx->customer);
        (void) ngx_delete_file(temp.data);
        goto failed;
    }

    (void) ngx_atomic_fetch_add(&ctx->store->sh->bytes,
                                (off_t) json.len - ctx->meta_bytes);
    ctx->meta_bytes = json.len;

    return NGX_OK;

failed:

    json_decref(*meta);
    *meta = NULL;

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/* upload_store_keep off: the audio goes, its metadata stays */

void
ngx_http_upload_store_delete_audio(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx)
{
    ngx_err_t   err;
    ngx_uint_t  level;

    if (ngx_delete_file(ctx->path.data) == NGX_FILE_ERROR) {
        err = ngx_errno;

        /* ENOENT: a DELETE was first */

        level = (err == NGX_ENOENT) ? NGX_LOG_INFO : NGX_LOG_CRIT;

        ngx_log_error(level, r->connection->log, err,
                      ngx_delete_file_n " \"%V\" failed (customer \"%V\")",
                      &ctx->path, &ctx->customer);
        return;
    }

    (void) ngx_atomic_fetch_add(&ctx->store->sh->bytes, -ctx->bytes);
    (void) ngx_atomic_fetch_add(&ctx->store->sh->files, -1);
}


static ngx_int_t
ngx_http_upload_store_meta_temp(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *temp)
{
    ngx_http_upload_store_t  *store;

    store = ctx->store;

    temp->len = store->temp_path->name.len + 1
                + NGX_HTTP_UPLOAD_STORE_ID_LEN + sizeof(".json") - 1;

    temp->data = ngx_pnalloc(r->pool, temp->len + 1);
    if (temp->data == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_sprintf(temp->data, "%V/%*s.json%Z", &store->temp_path->name,
                       (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, ctx->id);

    return NGX_OK;
}


static json_t *
ngx_http_upload_store_meta_json(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx)
{
    u_char      created[sizeof("1970-01-01T00:00:00.000Z") - 1];
    json_t     *meta;
    ngx_tm_t    tm;
    ngx_str_t   id, at, status;

    ngx_gmtime(ctx->created_sec, &tm);

    at.data = created;
    at.len = ngx_sprintf(created, "%4d-%02d-%02dT%02d:%02d:%02d.%03MZ",
                         tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                         tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                         ctx->created % 1000)
             - created;

    id.data = ctx->id;
    id.len = NGX_HTTP_UPLOAD_STORE_ID_LEN;

    status = ctx->status;
    if (status.len == 0) {
        ngx_str_set(&status, "stored");
    }

    meta = json_object();
    if (meta == NULL) {
        return NULL;
    }

    if (json_object_set_new(meta, "id", ngx_http_upload_store_json_str(&id))
        || json_object_set_new(meta, "customer",
                               ngx_http_upload_store_json_str(&ctx->customer))
        || json_object_set_new(meta, "category",
                               ngx_http_upload_store_json_str(&ctx->category))
        || json_object_set_new(meta, "filename",
                               ngx_http_upload_store_json_str(&ctx->filename))
        || json_object_set_new(meta, "content_type",
                           ngx_http_upload_store_json_str(&ctx->content_type))
        || json_object_set_new(meta, "bytes",
                               json_integer((json_int_t) ctx->bytes))
        || json_object_set_new(meta, "created_at",
                               ngx_http_upload_store_json_str(&at))
        || json_object_set_new(meta, "file",
                               ngx_http_upload_store_json_str(&ctx->file))
        || json_object_set_new(meta, "status",
                               ngx_http_upload_store_json_str(&status))
        || (ctx->hashed
            && json_object_set_new(meta, "sha256",
                                   json_stringn((char *) ctx->sha256, 64)))
        || (ctx->multipart
            && ngx_http_upload_store_multipart_fields(r, ctx, meta)
               != NGX_OK)
        || (ctx->stt
            && (json_object_set_new(meta, "text",
                    ngx_http_upload_store_json_str(&ctx->stt_text))
                || (ctx->stt_processed.data != NULL
                    && json_object_set_new(meta, "processed_text",
                           ngx_http_upload_store_json_str(
                                                    &ctx->stt_processed)))
                || json_object_set_new(meta, "provider_status",
                       json_integer((json_int_t)
                                    ngx_http_upload_store_stt_status(ctx)))
                || json_object_set_new(meta, "transcribe_ms",
                       json_integer((json_int_t)
                                    ngx_http_upload_store_stt_time(ctx)))
                || (ctx->stt_error.len
                    && json_object_set_new(meta, "error",
                           ngx_http_upload_store_json_str(&ctx->stt_error))))))
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "upload store: metadata for customer \"%V\" "
                      "id %V failed", &ctx->customer, &id);
        json_decref(meta);
        return NULL;
    }

    return meta;
}


/* an empty string is null; NULL (an error) when it is not UTF-8 */

json_t *
ngx_http_upload_store_json_str(ngx_str_t *s)
{
    if (s->len == 0) {
        return json_null();
    }

    return json_stringn((const char *) s->data, s->len);
}


ngx_int_t
ngx_http_upload_store_json_dump(ngx_pool_t *pool, json_t *json,
    ngx_str_t *out)
{
    size_t   len;
    u_char  *p;

    len = json_dumpb(json, NULL, 0, JSON_COMPACT);
    if (len == 0) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(pool, len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (json_dumpb(json, (char *) p, len, JSON_COMPACT) != len) {
        return NGX_ERROR;
    }

    p[len] = '\n';

    out->data = p;
    out->len = len + 1;

    return NGX_OK;
}


/*
 * moves the body from {root}/.tmp into place and its metadata beside it:
 * both are complete before they become visible
 */

ngx_int_t
ngx_http_upload_store_commit(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx, ngx_str_t *temp, ngx_str_t *json)
{
    ngx_err_t                 err;
    ngx_uint_t                n;
    ngx_str_t                 meta_temp;
    ngx_http_upload_store_t  *store;
    ngx_ext_rename_file_t     ext;

    store = ctx->store;

    if (ngx_http_upload_store_meta_temp(r, ctx, &meta_temp) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_upload_store_write_file(&meta_temp, json, store->access,
                                         r->connection->log)
        != NGX_OK)
    {
        err = ngx_errno;
        goto failed;
    }

    ext.access = store->access;
    ext.path_access = store->access;
    ext.time = -1;
    ext.create_path = 1;
    ext.delete_file = 0;
    ext.log = r->connection->log;

    ngx_http_upload_store_customer_dir(r, ctx);

    /* a cleanup run may remove the directories just made: made again */

    for (n = 0; ngx_ext_rename_file(temp, &ctx->path, &ext) != NGX_OK; n++) {
        err = ngx_errno;

        if (err != NGX_ENOENT || n == 2) {
            (void) ngx_delete_file(meta_temp.data);
            goto failed;
        }
    }

    ngx_http_upload_store_keep_temp(r, r->request_body->temp_file->file.fd);

    if (ngx_rename_file(meta_temp.data, ctx->meta_path.data)
        == NGX_FILE_ERROR)
    {
        err = ngx_errno;

        ngx_log_error(NGX_LOG_CRIT, r->connection->log, err,
                      ngx_rename_file_n " \"%s\" to \"%s\" failed "
                      "(customer \"%V\", id %*s)",
                      meta_temp.data, ctx->meta_path.data, &ctx->customer,
                      (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, ctx->id);

        (void) ngx_delete_file(meta_temp.data);

        if (ngx_delete_file(ctx->path.data) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_CRIT, r->connection->log, ngx_errno,
                          ngx_delete_file_n " \"%s\" failed",
                          ctx->path.data);
        }

        goto failed;
    }

    (void) ngx_atomic_fetch_add(&store->sh->bytes,
                                ctx->bytes + (off_t) json->len);
    (void) ngx_atomic_fetch_add(&store->sh->files, 1);

    ctx->meta_bytes = json->len;

    store->avail -= ctx->bytes + (off_t) json->len;

    return NGX_OK;

failed:

    if (err == NGX_ENOSPC
#ifdef EDQUOT
        || err == EDQUOT
#endif
       )
    {
        return ngx_http_upload_store_error(r, NGX_HTTP_INSUFFICIENT_STORAGE,
                                           "insufficient_storage",
                                           "no space left in the store");
    }

    return ngx_http_upload_store_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                       "store_failed",
                                       "the upload could not be stored");
}


static ngx_int_t
ngx_http_upload_store_write_file(ngx_str_t *name, ngx_str_t *data,
    ngx_uint_t access, ngx_log_t *log)
{
    ssize_t    n;
    ngx_fd_t   fd;
    ngx_err_t  err;

    fd = ngx_open_file(name->data, NGX_FILE_WRONLY,
                       NGX_FILE_CREATE_OR_OPEN|NGX_FILE_TRUNCATE, access);

    if (fd == NGX_INVALID_FILE) {
        err = ngx_errno;
        ngx_log_error(NGX_LOG_CRIT, log, err,
                      ngx_open_file_n " \"%s\" failed", name->data);
        ngx_set_errno(err);
        return NGX_ERROR;
    }

    n = ngx_write_fd(fd, data->data, data->len);
    err = ngx_errno;

    /* the exact mode, whatever the umask (not 0 without "daemon on") */

    if (n == (ssize_t) data->len && fchmod(fd, access) == -1) {
        err = ngx_errno;
        ngx_log_error(NGX_LOG_CRIT, log, err,
                      "fchmod() \"%s\" failed", name->data);
        n = -1;
    }

    if (n != (ssize_t) data->len) {
        if (n != -1) {
            /* a short write to a regular file: the disk is full */
            err = NGX_ENOSPC;
        }

        ngx_log_error(NGX_LOG_CRIT, log, err,
                      ngx_write_fd_n " \"%s\" failed", name->data);
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_close_file_n " \"%s\" failed", name->data);
    }

    if (n != (ssize_t) data->len) {
        (void) ngx_delete_file(name->data);
        ngx_set_errno(err);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * the body's temp file has been renamed into the store: its cleanup must
 * close it but not unlink the old name, which a later upload may reuse
 */

static void
ngx_http_upload_store_keep_temp(ngx_http_request_t *r, ngx_fd_t fd)
{
    ngx_pool_cleanup_t       *c;
    ngx_pool_cleanup_file_t  *cf;

    for (c = r->pool->cleanup; c; c = c->next) {
        if (c->handler == ngx_pool_delete_file) {
            cf = c->data;

            if (cf->fd == fd) {
                c->handler = ngx_pool_cleanup_file;
                return;
            }
        }
    }
}


/* the worker that makes a customer's directory counts the customer */

static void
ngx_http_upload_store_customer_dir(ngx_http_request_t *r,
    ngx_http_upload_store_ctx_t *ctx)
{
    u_char                   *p, c;
    ngx_http_upload_store_t  *store;

    store = ctx->store;

    p = ctx->path.data + store->root.len + 1 + ctx->customer.len;
    c = *p;
    *p = '\0';

    if (ngx_create_dir(ctx->path.data, ngx_dir_access(store->access))
        != NGX_FILE_ERROR)
    {
        (void) ngx_atomic_fetch_add(&store->sh->customers, 1);
    }

    /* EEXIST, or an error that the rename will meet and report */

    *p = c;
}
