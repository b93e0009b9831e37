
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_core.h"


/*
 * An upload's record: the C struct, its JSON form both ways (jansson),
 * and the moves between its states.  A new record field is a member of
 * ngx_http_upload_store_record_t, a line in record_json() and, when it
 * is read back, one in record_parse().
 */


static ngx_int_t ngx_http_upload_store_record_fields(ngx_pool_t *pool,
    ngx_http_upload_store_record_t *rec, json_t *json);
static ngx_int_t ngx_http_upload_store_record_transcription(
    ngx_http_upload_store_record_t *rec, json_t *json);
static ngx_int_t ngx_http_upload_store_record_string(ngx_pool_t *pool,
    json_t *json, char *key, ngx_str_t *value);
static ngx_int_t ngx_http_upload_store_record_same(json_t *json, char *key,
    u_char *data, size_t len);
static ngx_int_t ngx_http_upload_store_record_kept(ngx_pool_t *pool,
    json_t *json, ngx_http_upload_store_record_t *rec);
static ngx_int_t ngx_http_upload_store_record_object(
    ngx_http_upload_store_record_t *rec, json_t *json);
static ngx_int_t ngx_http_upload_store_record_job(
    ngx_http_upload_store_record_t *rec, json_t *json);
static ngx_int_t ngx_http_upload_store_record_note(ngx_pool_t *pool,
    json_t *o, ngx_http_upload_store_object_note_t *note);
static ngx_uint_t ngx_http_upload_store_record_name(json_t *json, char *key,
    char **names, ngx_uint_t n);


static char  *ngx_http_upload_store_webhooks[] = {
    "none",
    "pending",
    "delivered",
    "failed"
};


static char  *ngx_http_upload_store_states[] = {
    "stored",
    "transcribing",
    "transcribed",
    "failed",
    "queued"
};

ngx_http_upload_store_sized(ngx_http_upload_store_states,
                            NGX_HTTP_UPLOAD_STORE_NSTATE);


/* the values of a record's "error", and the counters' outcome labels */

static char  *ngx_http_upload_store_outcomes[] = {
    "transcribed",
    "provider_auth",
    "provider_rate_limited",
    "provider_error",
    "provider_timeout",
    "provider_bad_response",
    "provider_response_too_large",
    "client_closed",
    "provider_refused",
    "other"
};

ngx_http_upload_store_sized(ngx_http_upload_store_outcomes,
                            NGX_HTTP_UPLOAD_STORE_NOUTCOME);


char *
ngx_http_upload_store_outcome_name(ngx_uint_t outcome)
{
    if (outcome >= NGX_HTTP_UPLOAD_STORE_NOUTCOME) {
        outcome = NGX_HTTP_UPLOAD_STORE_OUTCOME_OTHER;
    }

    return ngx_http_upload_store_outcomes[outcome];
}


char *
ngx_http_upload_store_state_name(ngx_uint_t state)
{
    return ngx_http_upload_store_states[state < NGX_HTTP_UPLOAD_STORE_NSTATE
                                        ? state
                                        : NGX_HTTP_UPLOAD_STORE_STORED];
}


/*
 * stored -> transcribing -> transcribed | failed; a job: stored ->
 * queued -> transcribing -> queued again (a retry) | transcribed | failed,
 * and a failed record can be queued again; a transcribed one stays so
 */

ngx_int_t
ngx_http_upload_store_record_set_state(ngx_http_upload_store_record_t *rec,
    ngx_uint_t state)
{
    switch (rec->state) {

    case NGX_HTTP_UPLOAD_STORE_STORED:
        break;

    case NGX_HTTP_UPLOAD_STORE_QUEUED:
        if (state != NGX_HTTP_UPLOAD_STORE_TRANSCRIBING
            && state != NGX_HTTP_UPLOAD_STORE_FAILED)
        {
            return NGX_ERROR;
        }

        break;

    case NGX_HTTP_UPLOAD_STORE_TRANSCRIBING:
        if (state == NGX_HTTP_UPLOAD_STORE_STORED
            || state == NGX_HTTP_UPLOAD_STORE_TRANSCRIBING)
        {
            return NGX_ERROR;
        }

        break;

    case NGX_HTTP_UPLOAD_STORE_FAILED:
        if (state != NGX_HTTP_UPLOAD_STORE_QUEUED) {
            return NGX_ERROR;
        }

        break;

    default:
        return NGX_ERROR;
    }

    rec->state = state;

    return NGX_OK;
}


/* the record as JSON; NULL on failure (logged) */

json_t *
ngx_http_upload_store_record_json(ngx_pool_t *pool,
    ngx_http_upload_store_record_t *rec, ngx_log_t *log)
{
    u_char      created[sizeof("1970-01-01T00:00:00.000Z") - 1];
    json_t     *json;
    ngx_str_t   id, at;

    at.data = created;
    at.len = ngx_http_upload_store_iso_time(created, rec->created) - created;

    id.data = rec->id;
    id.len = NGX_HTTP_UPLOAD_STORE_ID_LEN;

    json = json_object();
    if (json == NULL) {
        return NULL;
    }

    if (json_object_set_new(json, "id", ngx_http_upload_store_json_str(&id))
        || json_object_set_new(json, "customer",
                               ngx_http_upload_store_json_str(&rec->customer))
        || json_object_set_new(json, "category",
                               ngx_http_upload_store_json_str(&rec->category))
        || json_object_set_new(json, "filename",
                               ngx_http_upload_store_json_str(&rec->filename))
        || json_object_set_new(json, "content_type",
                           ngx_http_upload_store_json_str(&rec->content_type))
        || json_object_set_new(json, "bytes",
                               json_integer((json_int_t) rec->bytes))
        || json_object_set_new(json, "created_at",
                               ngx_http_upload_store_json_str(&at))
        || json_object_set_new(json, "file",
                               ngx_http_upload_store_json_str(&rec->file))
        || json_object_set_new(json, "status",
                               json_string(ngx_http_upload_store_states[
                                                              rec->state]))
        || (rec->hashed
            && json_object_set_new(json, "sha256",
                                   json_stringn((char *) rec->sha256, 64)))
        || (rec->fields != NULL
            && ngx_http_upload_store_record_fields(pool, rec, json)
               != NGX_OK)
        || (rec->transcription
            && ngx_http_upload_store_record_transcription(rec, json)
               != NGX_OK)
        || (rec->job
            && ngx_http_upload_store_record_job(rec, json) != NGX_OK)
        || ((rec->object.attempts || rec->object.key.len)
            && ngx_http_upload_store_record_object(rec, json) != NGX_OK))
    {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "upload store: metadata for customer \"%V\" "
                      "id %V failed", &rec->customer, &id);
        json_decref(json);
        return NULL;
    }

    return json;
}


static ngx_int_t
ngx_http_upload_store_record_transcription(
    ngx_http_upload_store_record_t *rec, json_t *json)
{
    if (json_object_set_new(json, "text",
                            ngx_http_upload_store_json_str(&rec->text))
        || (rec->processed.data != NULL
            && json_object_set_new(json, "processed_text",
                       ngx_http_upload_store_json_str(&rec->processed)))
        || json_object_set_new(json, "provider_status",
                       json_integer((json_int_t) rec->provider_status))
        || json_object_set_new(json, "transcribe_ms",
                       json_integer((json_int_t) rec->transcribe_ms))
        || (rec->state == NGX_HTTP_UPLOAD_STORE_FAILED
            && json_object_set_new(json, "error",
                       json_string(ngx_http_upload_store_outcome_name(
                                                          rec->outcome)))))
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a background job's attempts: how many, the last error, the next one */

static ngx_int_t
ngx_http_upload_store_record_job(ngx_http_upload_store_record_t *rec,
    json_t *json)
{
    u_char     next[sizeof("1970-01-01T00:00:00.000Z") - 1];
    ngx_str_t  at;

    if (json_object_set_new(json, "attempts",
                            json_integer((json_int_t) rec->attempts))
        || (rec->last_error.len
            && json_object_set_new(json, "last_error",
                       ngx_http_upload_store_json_str(&rec->last_error))))
    {
        return NGX_ERROR;
    }

    if (rec->webhook != NGX_HTTP_UPLOAD_STORE_WEBHOOK_NONE
        && json_object_set_new(json, "webhook",
               json_pack("{s:s,s:i}", "status",
                         ngx_http_upload_store_webhooks[rec->webhook & 3],
                         "attempts", (int) rec->webhook_attempts)))
    {
        return NGX_ERROR;
    }

    if (rec->next_attempt == 0 || rec->state != NGX_HTTP_UPLOAD_STORE_QUEUED)
    {
        return NGX_OK;
    }

    at.data = next;
    at.len = ngx_http_upload_store_iso_time(next, rec->next_attempt) - next;

    if (json_object_set_new(json, "next_attempt_at",
                            ngx_http_upload_store_json_str(&at)))
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* its copy in the object store: "object": {key, etag, stored_at...} */

static ngx_int_t
ngx_http_upload_store_record_object(ngx_http_upload_store_record_t *rec,
    json_t *json)
{
    u_char                                stored[sizeof("1970-01-01T00:00:00"
                                                        ".000Z") - 1];
    json_t                               *o;
    ngx_str_t                             at;
    ngx_http_upload_store_object_note_t  *note;

    note = &rec->object;

    o = json_object();

    if (json_object_set_new(json, "object", o)
        || json_object_set_new(o, "attempts",
                               json_integer((json_int_t) note->attempts)))
    {
        return NGX_ERROR;
    }

    if (note->key.len) {
        at.data = stored;
        at.len = ngx_http_upload_store_iso_time(stored, note->stored)
                 - stored;

        if (json_object_set_new(o, "key",
                                ngx_http_upload_store_json_str(&note->key))
            || json_object_set_new(o, "etag",
                                ngx_http_upload_store_json_str(&note->etag))
            || json_object_set_new(o, "stored_at",
                                   ngx_http_upload_store_json_str(&at)))
        {
            return NGX_ERROR;
        }
    }

    if (note->error.len
        && json_object_set_new(o, "last_error",
                               ngx_http_upload_store_json_str(&note->error)))
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* ms since the epoch as ISO 8601 in UTC, with ms */

u_char *
ngx_http_upload_store_iso_time(u_char *buf, uint64_t ms)
{
    ngx_tm_t  tm;

    ngx_gmtime((time_t) (ms / 1000), &tm);

    return ngx_sprintf(buf, "%4d-%02d-%02dT%02d:%02d:%02d.%03MZ",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                       (ngx_msec_t) (ms % 1000));
}


/* the form's fields: a name given twice makes an array */

static ngx_int_t
ngx_http_upload_store_record_fields(ngx_pool_t *pool,
    ngx_http_upload_store_record_t *rec, json_t *json)
{
    u_char        *key;
    json_t        *fields, *old, *v, *a;
    ngx_uint_t     i;
    ngx_keyval_t  *f;

    fields = json_object();
    if (fields == NULL) {
        return NGX_ERROR;
    }

    if (json_object_set_new(json, "fields", fields) != 0) {
        return NGX_ERROR;
    }

    f = rec->fields->elts;

    for (i = 0; i < rec->fields->nelts; i++) {

        key = ngx_pnalloc(pool, f[i].key.len + 1);
        if (key == NULL) {
            return NGX_ERROR;
        }

        (void) ngx_cpystrn(key, f[i].key.data, f[i].key.len + 1);

        v = json_stringn((char *) f[i].value.data, f[i].value.len);
        if (v == NULL) {
            return NGX_ERROR;
        }

        old = json_object_get(fields, (char *) key);

        if (old == NULL) {
            if (json_object_set_new(fields, (char *) key, v) != 0) {
                return NGX_ERROR;
            }

            continue;
        }

        if (json_is_array(old)) {
            if (json_array_append_new(old, v) != 0) {
                return NGX_ERROR;
            }

            continue;
        }

        a = json_array();
        if (a == NULL) {
            json_decref(v);
            return NGX_ERROR;
        }

        /* the *_new() calls release their argument even when they fail */

        if (json_array_append(a, old) != 0) {
            json_decref(v);
            json_decref(a);
            return NGX_ERROR;
        }

        if (json_array_append_new(a, v) != 0) {
            json_decref(a);
            return NGX_ERROR;
        }

        if (json_object_set_new(fields, (char *) key, a) != 0) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* the record as its file holds it: compact JSON and a newline */

ngx_int_t
ngx_http_upload_store_record_dump(ngx_pool_t *pool,
    ngx_http_upload_store_record_t *rec, ngx_str_t *out, ngx_log_t *log)
{
    json_t     *json;
    ngx_int_t   rc;

    json = ngx_http_upload_store_record_json(pool, rec, log);
    if (json == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_upload_store_json_dump(pool, json, out);

    json_decref(json);

    return rc;
}


/*
 * a stored record read back: it must say what its path says (id,
 * customer, category, set in rec by the caller), and name a file that
 * can be in its directory; NGX_DECLINED (logged) when it does not
 */

ngx_int_t
ngx_http_upload_store_record_parse(ngx_pool_t *pool, ngx_str_t *raw,
    ngx_http_upload_store_record_t *rec, ngx_log_t *log)
{
    json_t        *json, *v;
    ngx_int_t      rc;
    ngx_uint_t     i;
    json_error_t   error;

    json = json_loadb((char *) raw->data, raw->len, 0, &error);

    rc = NGX_DECLINED;

    if (json == NULL
        || !json_is_object(json)
        || ngx_http_upload_store_record_same(json, "id", rec->id,
                                             NGX_HTTP_UPLOAD_STORE_ID_LEN)
           != NGX_OK
        || ngx_http_upload_store_record_same(json, "customer",
                                             rec->customer.data,
                                             rec->customer.len)
           != NGX_OK
        || ngx_http_upload_store_record_same(json, "category",
                                             rec->category.data,
                                             rec->category.len)
           != NGX_OK)
    {
        goto invalid;
    }

    rc = ngx_http_upload_store_record_string(pool, json, "file", &rec->file);
    if (rc != NGX_OK) {
        goto invalid;
    }

    rc = NGX_DECLINED;

    if (ngx_http_upload_store_valid_file(&rec->file) != NGX_OK) {
        goto invalid;
    }

    rec->record_bytes = raw->len;

    v = json_object_get(json, "bytes");
    rec->bytes = json_is_integer(v) ? (off_t) json_integer_value(v) : 0;

    i = ngx_http_upload_store_record_name(json, "status",
                                          ngx_http_upload_store_states,
                                          NGX_HTTP_UPLOAD_STORE_NSTATE);
    if (i != NGX_HTTP_UPLOAD_STORE_NSTATE) {
        rec->state = i;
    }

    ngx_str_null(&rec->processed);

    if (ngx_http_upload_store_record_string(pool, json, "filename",
                                            &rec->filename)
        == NGX_ERROR
        || ngx_http_upload_store_record_string(pool, json, "content_type",
                                               &rec->content_type)
           == NGX_ERROR
        || ngx_http_upload_store_record_string(pool, json, "text",
                                               &rec->text)
           == NGX_ERROR
        || ngx_http_upload_store_record_string(pool, json, "processed_text",
                                               &rec->processed)
           == NGX_ERROR)
    {
        json_decref(json);
        return NGX_ERROR;
    }

    rec->transcription = json_is_string(json_object_get(json, "text"))
                         || rec->processed.data != NULL;

    /* what a rewrite of the record must keep */

    if (ngx_http_upload_store_record_kept(pool, json, rec) != NGX_OK) {
        json_decref(json);
        return NGX_ERROR;
    }

    v = json_object_get(json, "attempts");

    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        rec->job = 1;
        rec->attempts = (ngx_uint_t) json_integer_value(v);

        if (ngx_http_upload_store_record_string(pool, json, "last_error",
                                                &rec->last_error)
            == NGX_ERROR)
        {
            json_decref(json);
            return NGX_ERROR;
        }

        v = json_object_get(json, "webhook");

        i = ngx_http_upload_store_record_name(v, "status",
                                              ngx_http_upload_store_webhooks,
                                              4);
        rec->webhook = (i < 4) ? i : NGX_HTTP_UPLOAD_STORE_WEBHOOK_NONE;

        v = json_object_get(v, "attempts");
        rec->webhook_attempts = json_is_integer(v) && json_integer_value(v) > 0
                                ? (ngx_uint_t) json_integer_value(v) : 0;
    }

    i = ngx_http_upload_store_record_name(json, "error",
                                          ngx_http_upload_store_outcomes,
                                          NGX_HTTP_UPLOAD_STORE_NOUTCOME);

    rec->outcome = (i != NGX_HTTP_UPLOAD_STORE_NOUTCOME)
                   ? i : NGX_HTTP_UPLOAD_STORE_OUTCOME_OTHER;

    json_decref(json);

    return NGX_OK;

invalid:

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "upload store: metadata \"%V\" of customer \"%V\" "
                  "is invalid%s%s", &rec->record_path, &rec->customer,
                  json ? "" : ": ", json ? "" : error.text);

    json_decref(json);

    return rc;
}


/*
 * a string member, copied: NGX_OK, NGX_DECLINED when it is not a string
 * (value left alone), NGX_ERROR; the copy is never NULL, even empty
 */

static ngx_int_t
ngx_http_upload_store_record_string(ngx_pool_t *pool, json_t *json,
    char *key, ngx_str_t *value)
{
    json_t  *v;

    v = json_object_get(json, key);

    if (!json_is_string(v)) {
        return NGX_DECLINED;
    }

    value->len = json_string_length(v);
    value->data = ngx_pnalloc(pool, value->len + 1);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(value->data, json_string_value(v), value->len);
    value->data[value->len] = '\0';

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_store_record_same(json_t *json, char *key, u_char *data,
    size_t len)
{
    json_t  *v;

    v = json_object_get(json, key);

    if (!json_is_string(v)
        || json_string_length(v) != len
        || ngx_strncmp(json_string_value(v), data, len) != 0)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * the members a record read back keeps when it is written again: the
 * checksum, the form's fields, the provider's status and time
 */

static ngx_int_t
ngx_http_upload_store_record_kept(ngx_pool_t *pool, json_t *json,
    ngx_http_upload_store_record_t *rec)
{
    size_t         i, n;
    json_t        *fields, *v, *e;
    const char    *key;
    ngx_keyval_t  *kv;

    v = json_object_get(json, "sha256");

    if (json_is_string(v) && json_string_length(v) == 64) {
        ngx_memcpy(rec->sha256, json_string_value(v), 64);
        rec->hashed = 1;
    }

    v = json_object_get(json, "provider_status");
    rec->provider_status = json_is_integer(v) && json_integer_value(v) > 0
                           ? (ngx_uint_t) json_integer_value(v) : 0;

    v = json_object_get(json, "transcribe_ms");
    rec->transcribe_ms = json_is_integer(v) && json_integer_value(v) > 0
                         ? (ngx_msec_t) json_integer_value(v) : 0;

    if (ngx_http_upload_store_record_note(pool, json_object_get(json,
                                                                "object"),
                                          &rec->object)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    fields = json_object_get(json, "fields");

    if (!json_is_object(fields)) {
        return NGX_OK;
    }

    rec->fields = ngx_array_create(pool, json_object_size(fields) + 1,
                                   sizeof(ngx_keyval_t));
    if (rec->fields == NULL) {
        return NGX_ERROR;
    }

    json_object_foreach(fields, key, v) {

        n = json_is_array(v) ? json_array_size(v) : 1;

        for (i = 0; i < n; i++) {
            e = json_is_array(v) ? json_array_get(v, i) : v;

            if (!json_is_string(e)) {
                continue;
            }

            kv = ngx_array_push(rec->fields);
            if (kv == NULL) {
                return NGX_ERROR;
            }

            kv->key.len = ngx_strlen(key);
            kv->key.data = ngx_pnalloc(pool, kv->key.len);
            kv->value.len = json_string_length(e);
            kv->value.data = ngx_pnalloc(pool, kv->value.len + 1);

            if (kv->key.data == NULL || kv->value.data == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(kv->key.data, key, kv->key.len);
            ngx_memcpy(kv->value.data, json_string_value(e), kv->value.len);
        }
    }

    return NGX_OK;
}


/* the object's note read back; its stored_at is the id's time if bad */

static ngx_int_t
ngx_http_upload_store_record_note(ngx_pool_t *pool, json_t *o,
    ngx_http_upload_store_object_note_t *note)
{
    json_t  *v;

    ngx_memzero(note, sizeof(ngx_http_upload_store_object_note_t));

    if (!json_is_object(o)) {
        return NGX_OK;
    }

    v = json_object_get(o, "attempts");
    note->attempts = json_is_integer(v) && json_integer_value(v) > 0
                     ? (ngx_uint_t) json_integer_value(v) : 0;

    if (ngx_http_upload_store_record_string(pool, o, "key", &note->key)
        == NGX_ERROR
        || ngx_http_upload_store_record_string(pool, o, "etag", &note->etag)
           == NGX_ERROR
        || ngx_http_upload_store_record_string(pool, o, "last_error",
                                               &note->error)
           == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    v = json_object_get(o, "stored_at");

    if (note->key.len && json_is_string(v)) {
        note->stored = ngx_http_upload_store_parse_iso(
                                          (u_char *) json_string_value(v),
                                          json_string_length(v));
    }

    return NGX_OK;
}


/* the index of a string member among names, or n */

static ngx_uint_t
ngx_http_upload_store_record_name(json_t *json, char *key, char **names,
    ngx_uint_t n)
{
    json_t      *v;
    ngx_uint_t   i;

    v = json_object_get(json, key);

    for (i = 0; json_is_string(v) && i < n; i++) {
        if (ngx_strcmp(json_string_value(v), names[i]) == 0) {
            return i;
        }
    }

    return n;
}
