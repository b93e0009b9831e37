
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include "ngx_http_upload_store_module.h"


/*
 * upload_store_lexicon: whole-word replacements on a transcript, from a
 * JSON object read once, at configuration time
 */


static size_t ngx_http_upload_store_lexicon_run(ngx_array_t *lexicon,
    ngx_str_t *text, u_char *d);


/*
 * whole words, case-insensitively: a word is a run of letters, digits,
 * "'", "-" and "_" (and of any byte of a UTF-8 sequence); *out is empty
 * when nothing was replaced
 */

ngx_int_t
ngx_http_upload_store_lexicon_apply(ngx_pool_t *pool, ngx_array_t *lexicon,
    ngx_str_t *text, ngx_str_t *out)
{
    size_t  size;

    /* once to measure, once to write */

    size = ngx_http_upload_store_lexicon_run(lexicon, text, NULL);

    if (size == 0) {
        ngx_str_null(out);
        return NGX_OK;
    }

    out->data = ngx_pnalloc(pool, size);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    out->len = ngx_http_upload_store_lexicon_run(lexicon, text, out->data)
               - 1;

    return NGX_OK;
}


/* 1 + the length of the result, or 0 when no word is replaced */

static size_t
ngx_http_upload_store_lexicon_run(ngx_array_t *lexicon, ngx_str_t *text,
    u_char *d)
{
    u_char                           *p, *last, *w;
    size_t                            n, len;
    ngx_uint_t                        i, changed;
    ngx_http_upload_store_lexicon_t  *lx;

    lx = lexicon->elts;
    changed = 0;
    len = 0;

    p = text->data;
    last = text->data + text->len;

    while (p < last) {

        w = p;

        while (p < last
               && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                   || (*p >= '0' && *p <= '9') || *p >= 0x80
                   || *p == '\'' || *p == '-' || *p == '_'))
        {
            p++;
        }

        if (p == w) {
            p++;
            n = 1;

        } else {
            n = p - w;

            for (i = 0; i < lexicon->nelts; i++) {
                if (lx[i].word.len == n
                    && ngx_strncasecmp(lx[i].word.data, w, n) == 0)
                {
                    break;
                }
            }

            if (i < lexicon->nelts) {
                w = lx[i].replacement.data;
                n = lx[i].replacement.len;
                changed = 1;
            }
        }

        if (d != NULL) {
            d = ngx_cpymem(d, w, n);
        }

        len += n;
    }

    return changed ? len + 1 : 0;
}


/*
 * {"open-ai": "OpenAI", "whisperr": "Whisper"}: NULL, with the reason
 * logged, when the file is not such an object
 */

ngx_array_t *
ngx_http_upload_store_lexicon_load(ngx_conf_t *cf, ngx_str_t *name)
{
    u_char                           *p;
    json_t                           *root, *v;
    size_t                            len;
    const char                       *key;
    ngx_array_t                      *lexicon;
    json_error_t                      err;
    ngx_http_upload_store_lexicon_t  *lx;

    root = json_load_file((char *) name->data, 0, &err);

    if (root == NULL || !json_is_object(root)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid lexicon \"%V\": %s (line %d)", name,
                           root == NULL ? err.text : "not a JSON object",
                           root == NULL ? err.line : 0);
        json_decref(root);
        return NULL;
    }

    lexicon = ngx_array_create(cf->pool, json_object_size(root) + 1,
                               sizeof(ngx_http_upload_store_lexicon_t));
    if (lexicon == NULL) {
        json_decref(root);
        return NULL;
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
                               "word mapped to a string", name, key);
            json_decref(root);
            return NULL;
        }

        lx = ngx_array_push(lexicon);
        if (lx == NULL) {
            json_decref(root);
            return NULL;
        }

        lx->word.len = len;
        lx->word.data = ngx_pnalloc(cf->pool, len);
        lx->replacement.len = json_string_length(v);
        lx->replacement.data = ngx_pnalloc(cf->pool,
                                           lx->replacement.len + 1);

        if (lx->word.data == NULL || lx->replacement.data == NULL) {
            json_decref(root);
            return NULL;
        }

        ngx_strlow(lx->word.data, (u_char *) key, len);
        ngx_memcpy(lx->replacement.data, json_string_value(v),
                   lx->replacement.len);
    }

    json_decref(root);

    return lexicon;
}
