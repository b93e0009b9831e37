
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_core.h"

#if (NGX_HTTP_UPLOAD_STORE_HAVE_GETRANDOM)
#include <sys/random.h>
#endif


/*
 * The layout of a store: the one place that knows it.
 *
 *     {root}/{customer}/{category}/{YYYY-MM-DD}/{prefix}{id}[.{suffix}]
 *     {root}/{customer}/{category}/{YYYY-MM-DD}/{id}.json
 *     {root}/.tmp/                                 bodies and records
 *                                                  in flight
 *
 * The day is the UTC day of the id, so that an id alone finds its
 * directory; ids are ULIDs.
 */


typedef struct {
    ngx_str_t                       type;
    ngx_str_t                       suffix;
} ngx_http_upload_store_type_suffix_t;


static ngx_int_t ngx_http_upload_store_random(u_char *buf, size_t len,
    ngx_log_t *log);
static void ngx_http_upload_store_extension(ngx_str_t *filename,
    ngx_str_t *ext);
static ngx_int_t ngx_http_upload_store_day_path(ngx_pool_t *pool,
    ngx_http_upload_store_t *store, ngx_http_upload_store_record_t *rec,
    ngx_str_t *name, ngx_str_t *path);


static u_char  ngx_http_upload_store_base32[] =
    "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static ngx_str_t  ngx_http_upload_store_temp_name = ngx_string(".tmp");
static ngx_str_t  ngx_http_upload_store_jobs_dir_name = ngx_string(".jobs");
static ngx_str_t  ngx_http_upload_store_record_ext = ngx_string(".json");


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
ngx_http_upload_store_make_id(u_char *id, uint64_t ms, ngx_log_t *log)
{
    u_char      rnd[10];
    uint64_t    hi, lo, x;
    ngx_uint_t  i, s;

    if (ngx_http_upload_store_random(rnd, sizeof(rnd), log) != NGX_OK) {
        return NGX_ERROR;
    }

    hi = (ms & 0xffffffffffffULL) << 16
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
 * upper case, 128 bits; *msec is when it was made, ms since the epoch
 */

ngx_int_t
ngx_http_upload_store_parse_id(u_char *id, size_t len, uint64_t *msec)
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

    *msec = ms;

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
    ssize_t   n;
    ngx_fd_t  fd;

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
 * the suffix of the stored name comes from the type, never from the client
 * alone: the table's suffix for the type, or the file name's extension
 * when the table gives it for that type too (x.WAV, audio/wav: "wav");
 * none for a type the table does not know, so that no x.php or x.html is
 * ever stored as such
 */

void
ngx_http_upload_store_suffix(ngx_str_t *filename, ngx_str_t *content_type,
    ngx_str_t *suffix)
{
    ngx_str_t                             ext;
    ngx_uint_t                            i;
    ngx_http_upload_store_type_suffix_t  *ts;

    ngx_str_null(suffix);
    ngx_http_upload_store_extension(filename, &ext);

    ts = ngx_http_upload_store_suffixes;

    for (i = 0; ts[i].type.len; i++) {
        if (ts[i].type.len != content_type->len
            || ngx_strncmp(ts[i].type.data, content_type->data,
                           content_type->len)
               != 0)
        {
            continue;
        }

        if (suffix->len == 0) {
            *suffix = ts[i].suffix;
        }

        if (ext.len == ts[i].suffix.len
            && ngx_strncasecmp(ext.data, ts[i].suffix.data, ext.len) == 0)
        {
            *suffix = ts[i].suffix;
            return;
        }
    }
}


/* the type of a known extension of the file name; left alone otherwise */

void
ngx_http_upload_store_type_of(ngx_str_t *filename, ngx_str_t *type)
{
    ngx_str_t                             ext;
    ngx_uint_t                            i;
    ngx_http_upload_store_type_suffix_t  *ts;

    ngx_http_upload_store_extension(filename, &ext);

    if (ext.len == 0) {
        return;
    }

    ts = ngx_http_upload_store_suffixes;

    for (i = 0; ts[i].type.len; i++) {
        if (ts[i].suffix.len == ext.len
            && ngx_strncasecmp(ts[i].suffix.data, ext.data, ext.len) == 0)
        {
            *type = ts[i].type;
            return;
        }
    }
}


/*
 * the type of the common audio containers, from their first bytes; left
 * alone for anything else
 */

void
ngx_http_upload_store_type_of_bytes(u_char *p, size_t len, ngx_str_t *type)
{
    if (len >= 12 && ngx_strncmp(p, "RIFF", 4) == 0
        && ngx_strncmp(p + 8, "WAVE", 4) == 0)
    {
        ngx_str_set(type, "audio/wav");

    } else if (len >= 4 && ngx_strncmp(p, "OggS", 4) == 0) {
        ngx_str_set(type, "audio/ogg");

    } else if (len >= 4 && ngx_strncmp(p, "fLaC", 4) == 0) {
        ngx_str_set(type, "audio/flac");

    } else if (len >= 12 && ngx_strncmp(p + 4, "ftyp", 4) == 0) {

        /* an MPEG-4 file: audio when its brand says so */

        if (ngx_strncmp(p + 8, "M4A", 3) == 0
            || ngx_strncmp(p + 8, "M4B", 3) == 0)
        {
            ngx_str_set(type, "audio/mp4");

        } else {
            ngx_str_set(type, "video/mp4");
        }

    } else if (len >= 4 && p[0] == 0x1a && p[1] == 0x45 && p[2] == 0xdf
               && p[3] == 0xa3)
    {
        ngx_str_set(type, "audio/webm");           /* EBML: WebM, MKV */

    } else if (len >= 3 && ngx_strncmp(p, "ID3", 3) == 0) {
        ngx_str_set(type, "audio/mpeg");

    } else if (len >= 2 && p[0] == 0xff && (p[1] & 0xf6) == 0xf0) {
        ngx_str_set(type, "audio/aac");            /* ADTS */

    } else if (len >= 2 && p[0] == 0xff && (p[1] & 0xe0) == 0xe0) {
        ngx_str_set(type, "audio/mpeg");           /* an MPEG frame */

    } else if (len >= 5 && ngx_strncmp(p, "#!AMR", 5) == 0) {
        ngx_str_set(type, "audio/amr");

    } else if (len >= 4 && ngx_strncmp(p, "caff", 4) == 0) {
        ngx_str_set(type, "audio/x-caf");
    }
}


/* what follows the file name's last dot, empty when there is none */

static void
ngx_http_upload_store_extension(ngx_str_t *filename, ngx_str_t *ext)
{
    u_char  *p;

    for (p = filename->data + filename->len; p > filename->data; p--) {
        if (p[-1] == '.') {
            ext->data = p;
            ext->len = filename->data + filename->len - p;
            return;
        }
    }

    ngx_str_null(ext);
}


/* the audio's name: {prefix}{id}[.{suffix}] */

ngx_int_t
ngx_http_upload_store_file_name(ngx_pool_t *pool,
    ngx_http_upload_store_record_t *rec, ngx_str_t *prefix)
{
    u_char  *p;

    p = ngx_pnalloc(pool, prefix->len + NGX_HTTP_UPLOAD_STORE_ID_LEN + 1
                          + rec->suffix.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    rec->file.data = p;

    p = ngx_cpymem(p, prefix->data, prefix->len);
    p = ngx_cpymem(p, rec->id, NGX_HTTP_UPLOAD_STORE_ID_LEN);

    if (rec->suffix.len) {
        *p++ = '.';
        p = ngx_cpymem(p, rec->suffix.data, rec->suffix.len);
    }

    rec->file.len = p - rec->file.data;

    return NGX_OK;
}


/*
 * a name read back from a record that can be a file's in a day
 * directory: no "/", no NUL, not "." or "..", not hidden
 */

ngx_int_t
ngx_http_upload_store_valid_file(ngx_str_t *name)
{
    if (name->len == 0 || name->len > NGX_HTTP_UPLOAD_STORE_FNAME_MAX
        || name->data[0] == '.'
        || ngx_strlchr(name->data, name->data + name->len, '/') != NULL
        || ngx_strlchr(name->data, name->data + name->len, '\0') != NULL)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * rec->record_path, and rec->path once rec->file is known: from the
 * customer, the category and the day of the id
 */

ngx_int_t
ngx_http_upload_store_record_paths(ngx_pool_t *pool,
    ngx_http_upload_store_t *store, ngx_http_upload_store_record_t *rec)
{
    u_char     name[NGX_HTTP_UPLOAD_STORE_ID_LEN + sizeof(".json") - 1];
    ngx_str_t  s;

    s.data = name;
    s.len = ngx_cpymem(ngx_cpymem(name, rec->id,
                                  NGX_HTTP_UPLOAD_STORE_ID_LEN),
                       ngx_http_upload_store_record_ext.data,
                       ngx_http_upload_store_record_ext.len)
            - name;

    if (ngx_http_upload_store_day_path(pool, store, rec, &s,
                                       &rec->record_path)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (rec->file.len == 0) {
        ngx_str_null(&rec->path);
        return NGX_OK;
    }

    return ngx_http_upload_store_audio_path(pool, rec);
}


/* the audio beside its record */

ngx_int_t
ngx_http_upload_store_audio_path(ngx_pool_t *pool,
    ngx_http_upload_store_record_t *rec)
{
    u_char  *p;
    size_t   dir;

    dir = rec->record_path.len - NGX_HTTP_UPLOAD_STORE_ID_LEN
          - ngx_http_upload_store_record_ext.len;

    rec->path.len = dir + rec->file.len;
    rec->path.data = ngx_pnalloc(pool, rec->path.len + 1);
    if (rec->path.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(rec->path.data, rec->record_path.data, dir);
    p = ngx_cpymem(p, rec->file.data, rec->file.len);
    *p = '\0';

    return NGX_OK;
}


/* {root}/{customer}/{category}/{YYYY-MM-DD}/{name}, null-terminated */

static ngx_int_t
ngx_http_upload_store_day_path(ngx_pool_t *pool,
    ngx_http_upload_store_t *store, ngx_http_upload_store_record_t *rec,
    ngx_str_t *name, ngx_str_t *path)
{
    ngx_tm_t  tm;

    ngx_gmtime((time_t) (rec->created / 1000), &tm);

    path->len = store->root.len + 1 + rec->customer.len + 1
                + rec->category.len + sizeof("/YYYY-MM-DD/") - 1 + name->len;

    path->data = ngx_pnalloc(pool, path->len + 1);
    if (path->data == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_sprintf(path->data, "%V/%V/%V/%4d-%02d-%02d/%V%Z",
                       &store->root, &rec->customer, &rec->category,
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday, name);

    return NGX_OK;
}


/* where a record is written before it is renamed into place */

ngx_int_t
ngx_http_upload_store_temp_record(ngx_pool_t *pool,
    ngx_http_upload_store_t *store, ngx_http_upload_store_record_t *rec,
    ngx_str_t *temp)
{
    temp->len = store->temp_path->name.len + 1
                + NGX_HTTP_UPLOAD_STORE_ID_LEN
                + ngx_http_upload_store_record_ext.len;

    temp->data = ngx_pnalloc(pool, temp->len + 1);
    if (temp->data == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_sprintf(temp->data, "%V/%*s%V%Z", &store->temp_path->name,
                       (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, rec->id,
                       &ngx_http_upload_store_record_ext);

    return NGX_OK;
}


/* {root}/.tmp: bodies in flight, on the store's filesystem */

ngx_int_t
ngx_http_upload_store_temp_dir(ngx_pool_t *pool, ngx_str_t *root,
    ngx_str_t *dir)
{
    dir->len = root->len + 1 + ngx_http_upload_store_temp_name.len;
    dir->data = ngx_pnalloc(pool, dir->len + 1);
    if (dir->data == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_sprintf(dir->data, "%V/%V%Z", root,
                       &ngx_http_upload_store_temp_name);

    return NGX_OK;
}


/*
 * {root}/.jobs: the queues of background jobs, {root}/.jobs/{provider}
 * the one of a provider (a name of the configuration), and
 * {root}/.jobs/{provider}/{id} an upload's entry; into buf, of size
 * bytes, null-terminated: its end, or NULL when it does not fit
 */

u_char *
ngx_http_upload_store_jobs_name(u_char *buf, size_t size, ngx_str_t *root,
    ngx_str_t *provider, u_char *id)
{
    size_t  len;

    len = root->len + 1 + ngx_http_upload_store_jobs_dir_name.len
          + (provider ? 1 + provider->len : 0)
          + (id ? 1 + NGX_HTTP_UPLOAD_STORE_ID_LEN : 0);

    if (len + 1 > size) {
        return NULL;
    }

    buf = ngx_sprintf(buf, "%V/%V", root,
                      &ngx_http_upload_store_jobs_dir_name);

    if (provider) {
        buf = ngx_sprintf(buf, "/%V", provider);
    }

    if (id) {
        buf = ngx_sprintf(buf, "/%*s", (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN,
                          id);
    }

    *buf = '\0';

    return buf;
}


/* the same, from the pool */

ngx_int_t
ngx_http_upload_store_jobs_dir(ngx_pool_t *pool, ngx_str_t *root,
    ngx_str_t *provider, ngx_str_t *dir)
{
    size_t  size;

    size = root->len + 1 + ngx_http_upload_store_jobs_dir_name.len
           + (provider ? 1 + provider->len : 0) + 1;

    dir->data = ngx_pnalloc(pool, size);
    if (dir->data == NULL) {
        return NGX_ERROR;
    }

    dir->len = ngx_http_upload_store_jobs_name(dir->data, size, root,
                                               provider, NULL)
               - dir->data;

    return NGX_OK;
}


/*
 * a job's entry, {root}/.jobs/{provider}/{id}, and the temp name it is
 * written to first, {root}/.tmp/{id}.{pid}.job
 */

ngx_int_t
ngx_http_upload_store_job_paths(ngx_pool_t *pool,
    ngx_http_upload_store_t *store, ngx_str_t *provider, u_char *id,
    ngx_str_t *entry, ngx_str_t *temp)
{
    size_t  size;

    size = store->root.len + 1 + ngx_http_upload_store_jobs_dir_name.len
           + 1 + provider->len + 1 + NGX_HTTP_UPLOAD_STORE_ID_LEN + 1;
    temp->len = store->temp_path->name.len + 1
                + NGX_HTTP_UPLOAD_STORE_ID_LEN + 1 + NGX_INT64_LEN
                + sizeof(".job") - 1;

    entry->data = ngx_pnalloc(pool, size);
    temp->data = ngx_pnalloc(pool, temp->len + 1);
    if (entry->data == NULL || temp->data == NULL) {
        return NGX_ERROR;
    }

    entry->len = ngx_http_upload_store_jobs_name(entry->data, size,
                                                 &store->root, provider, id)
                 - entry->data;

    /* the writer's pid: two writers of one upload's entry never share it */

    temp->len = ngx_sprintf(temp->data, "%V/%*s.%P.job%Z",
                            &store->temp_path->name,
                            (size_t) NGX_HTTP_UPLOAD_STORE_ID_LEN, id, ngx_pid)
                - temp->data - 1;

    return NGX_OK;
}


/*
 * the level of an entry met under a directory of the given level: a
 * directory to descend into, or the DAY or TEMP level itself for its
 * files; NGX_DECLINED: not the store's; NGX_DONE: the store's, not
 * walked (the job queue)
 */

ngx_int_t
ngx_http_upload_store_level(ngx_uint_t parent, u_char *name, size_t len,
    ngx_uint_t dir)
{
    ngx_str_t  s;

    switch (parent) {

    case NGX_HTTP_UPLOAD_STORE_ROOT:

        if (!dir) {
            return NGX_DECLINED;
        }

        if (len == ngx_http_upload_store_temp_name.len
            && ngx_strncmp(name, ngx_http_upload_store_temp_name.data, len)
               == 0)
        {
            return NGX_HTTP_UPLOAD_STORE_TEMP;
        }

        if (len == ngx_http_upload_store_jobs_dir_name.len
            && ngx_strncmp(name, ngx_http_upload_store_jobs_dir_name.data,
                           len)
               == 0)
        {
            return NGX_DONE;
        }

        s.data = name;
        s.len = len;

        if (ngx_http_upload_store_valid_name(&s) != NGX_OK) {
            return NGX_DECLINED;
        }

        return NGX_HTTP_UPLOAD_STORE_CUSTOMER;

    case NGX_HTTP_UPLOAD_STORE_CUSTOMER:
    case NGX_HTTP_UPLOAD_STORE_CATEGORY:

        return dir ? (ngx_int_t) parent + 1 : NGX_DECLINED;

    default: /* DAY, TEMP: files */

        return dir ? NGX_DECLINED : (ngx_int_t) parent;
    }
}


ngx_uint_t
ngx_http_upload_store_is_record(u_char *name, size_t len)
{
    size_t  n;

    n = ngx_http_upload_store_record_ext.len;

    return len >= n
           && ngx_strncmp(name + len - n, ngx_http_upload_store_record_ext.data,
                          n)
              == 0;
}
