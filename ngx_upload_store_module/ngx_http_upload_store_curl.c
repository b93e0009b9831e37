
/*
 * Copyright (C) The ngx_upload_store_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_upload_store_core.h"

#include <openssl/err.h>


/*
 * libcurl's multi interface on nginx's events: one multi handle per
 * worker.  curl says which sockets it waits on (CURLMOPT_SOCKETFUNCTION):
 * each becomes an nginx connection whose events, level-triggered (curl
 * does not read a socket dry), call curl_multi_socket_action(); curl's
 * one timeout (CURLMOPT_TIMERFUNCTION) is an nginx timer.  Nothing here
 * waits: no curl_multi_wait(), no poll().  The timer is not cancelable
 * while transfers run, so that a worker leaving on reload finishes them.
 */


typedef struct {
    CURLM                          *multi;
    ngx_event_t                     timer;
    ngx_log_t                      *log;
    ngx_uint_t                      running;     /* transfers added */
    unsigned                        closing:1;   /* shutdown timed out */
} ngx_http_upload_store_curl_t;


static int ngx_http_upload_store_curl_socket(CURL *easy, curl_socket_t s,
    int what, void *userp, void *socketp);
static int ngx_http_upload_store_curl_timer(CURLM *multi, long timeout_ms,
    void *userp);
static void ngx_http_upload_store_curl_event(ngx_event_t *ev);
static void ngx_http_upload_store_curl_timeout(ngx_event_t *ev);
static void ngx_http_upload_store_curl_action(curl_socket_t s, int flags);
static void ngx_http_upload_store_curl_done(void);


static ngx_http_upload_store_curl_t  *ngx_http_upload_store_curl;


ngx_int_t
ngx_http_upload_store_curl_init(ngx_cycle_t *cycle)
{
    ngx_http_upload_store_curl_t  *uc;

    if (ngx_http_upload_store_curl != NULL) {
        return NGX_OK;
    }

    uc = ngx_pcalloc(cycle->pool, sizeof(ngx_http_upload_store_curl_t));
    if (uc == NULL) {
        return NGX_ERROR;
    }

    uc->multi = curl_multi_init();
    if (uc->multi == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "upload store: curl_multi_init() failed");
        return NGX_ERROR;
    }

    if (curl_multi_setopt(uc->multi, CURLMOPT_SOCKETFUNCTION,
                          ngx_http_upload_store_curl_socket)
        != CURLM_OK
        || curl_multi_setopt(uc->multi, CURLMOPT_SOCKETDATA, uc) != CURLM_OK
        || curl_multi_setopt(uc->multi, CURLMOPT_TIMERFUNCTION,
                             ngx_http_upload_store_curl_timer)
           != CURLM_OK
        || curl_multi_setopt(uc->multi, CURLMOPT_TIMERDATA, uc) != CURLM_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "upload store: curl_multi_setopt() failed");
        curl_multi_cleanup(uc->multi);
        return NGX_ERROR;
    }

    /* a resolver that blocks would block the worker: said, once */

    if (!(curl_version_info(CURLVERSION_NOW)->features
          & CURL_VERSION_ASYNCHDNS))
    {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "upload store: this libcurl resolves names in the "
                      "worker, blocking it: give providers IP addresses");
    }

    uc->log = cycle->log;
    uc->timer.handler = ngx_http_upload_store_curl_timeout;
    uc->timer.data = uc;
    uc->timer.log = cycle->log;

    ngx_http_upload_store_curl = uc;

    return NGX_OK;
}


/* the worker leaves: what still runs is dropped, its callbacks not called */

void
ngx_http_upload_store_curl_exit(void)
{
    ngx_http_upload_store_curl_t  *uc;

    uc = ngx_http_upload_store_curl;

    if (uc == NULL) {
        return;
    }

    if (uc->timer.timer_set) {
        ngx_del_timer(&uc->timer);
    }

    (void) curl_multi_cleanup(uc->multi);
    ERR_clear_error();

    ngx_http_upload_store_curl = NULL;
}


/* a transfer, set up by the caller, started; t->done() is called once */

ngx_int_t
ngx_http_upload_store_curl_start(ngx_http_upload_store_transfer_t *t)
{
    CURLMcode                      rc;
    ngx_http_upload_store_curl_t  *uc;

    uc = ngx_http_upload_store_curl;

    if (uc == NULL) {
        return NGX_ERROR;
    }

    if (curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t) != CURLE_OK
        || curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK)
    {
        return NGX_ERROR;
    }

    /* counted first: the timer curl arms now is not cancelable */

    uc->running++;

    rc = curl_multi_add_handle(uc->multi, t->easy);

    if (rc != CURLM_OK) {
        uc->running--;
        ngx_log_error(NGX_LOG_ALERT, uc->log, 0,
                      "upload store: curl_multi_add_handle() failed: %s",
                      curl_multi_strerror(rc));
        return NGX_ERROR;
    }

    t->running = 1;

    return NGX_OK;
}


/* a transfer stopped before its end; t->done() is not called */

void
ngx_http_upload_store_curl_stop(ngx_http_upload_store_transfer_t *t)
{
    ngx_http_upload_store_curl_t  *uc;

    uc = ngx_http_upload_store_curl;

    if (uc == NULL || !t->running) {
        return;
    }

    (void) curl_multi_remove_handle(uc->multi, t->easy);
    ERR_clear_error();

    t->running = 0;
    uc->running--;

    /* nothing runs: a worker leaving need not wait for curl's timer */

    if (uc->running == 0) {
        uc->timer.cancelable = 1;
    }
}


/* after a call into libcurl out of curl.c: its OpenSSL errors cleared */

void
ngx_http_upload_store_curl_clear(void)
{
    ERR_clear_error();
}


/* a request header added to a list libcurl sends */

ngx_int_t
ngx_http_upload_store_curl_header(struct curl_slist **headers, char *line)
{
    struct curl_slist  *list;

    list = curl_slist_append(*headers, line);
    if (list == NULL) {
        return NGX_ERROR;
    }

    *headers = list;

    return NGX_OK;
}


/*
 * a line of an answer's headers, as libcurl's header callback has it:
 * whether it is the header "name" (given with its colon), and its value,
 * blanks and the CRLF trimmed, pointing into the line
 */

ngx_uint_t
ngx_http_upload_store_curl_value(u_char *line, size_t len, char *name,
    ngx_str_t *value)
{
    u_char  *p, *last;
    size_t   n;

    n = ngx_strlen(name);

    if (len <= n || ngx_strncasecmp(line, (u_char *) name, n) != 0) {
        return 0;
    }

    p = line + n;
    last = line + len;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    while (last > p && (last[-1] == CR || last[-1] == LF || last[-1] == ' '))
    {
        last--;
    }

    value->data = p;
    value->len = last - p;

    return 1;
}


/* a transfer's handle and its headers given back, stopped if it runs */

void
ngx_http_upload_store_curl_free(ngx_http_upload_store_transfer_t *t,
    struct curl_slist **headers)
{
    if (t->easy != NULL) {
        ngx_http_upload_store_curl_stop(t);
        curl_easy_cleanup(t->easy);
        t->easy = NULL;
        ERR_clear_error();
    }

    if (*headers != NULL) {
        curl_slist_free_all(*headers);
        *headers = NULL;
    }
}


/*
 * an answer kept as it comes, in a buffer of the pool that doubles up
 * to max: NGX_OK, NGX_DECLINED when it would be larger (what fits is
 * kept), NGX_ERROR
 */

ngx_int_t
ngx_http_upload_store_curl_keep(ngx_pool_t *pool, u_char **buf, size_t *len,
    size_t *cap, size_t max, char *data, size_t n)
{
    u_char  *p;
    size_t   size;

    if (*len + n > *cap && *cap < max) {
        size = ngx_max(*cap * 2, 4096);

        while (size < *len + n && size < max) {
            size *= 2;
        }

        size = ngx_min(size, max);

        p = ngx_pnalloc(pool, size);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (*len) {
            ngx_memcpy(p, *buf, *len);
        }

        *buf = p;
        *cap = size;
    }

    size = ngx_min(n, *cap - *len);

    ngx_memcpy(*buf + *len, data, size);
    *len += size;

    return (size == n) ? NGX_OK : NGX_DECLINED;
}


ngx_uint_t
ngx_http_upload_store_curl_running(void)
{
    return ngx_http_upload_store_curl ? ngx_http_upload_store_curl->running
                                      : 0;
}


/* curl's sockets as nginx connections, level-triggered */

static int
ngx_http_upload_store_curl_socket(CURL *easy, curl_socket_t s, int what,
    void *userp, void *socketp)
{
    ngx_http_upload_store_curl_t *uc = userp;

    ngx_connection_t  *c;

    c = socketp;

    if (what == CURL_POLL_REMOVE) {

        if (c == NULL) {
            return 0;
        }

        /* the socket is still open: curl closes it after this */

        if (c->read->active) {
            (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
        }

        if (c->write->active) {
            (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
        }

        if (c->read->posted) {
            ngx_delete_posted_event(c->read);
        }

        if (c->write->posted) {
            ngx_delete_posted_event(c->write);
        }

        (void) curl_multi_assign(uc->multi, s, NULL);

        /* as ngx_close_connection(): freed with its fd, which curl closes */

        ngx_free_connection(c);
        c->fd = (ngx_socket_t) -1;

        return 0;
    }

    if (c == NULL) {
        c = ngx_get_connection(s, uc->log);
        if (c == NULL) {
            return -1;
        }

        c->data = uc;
        c->read->handler = ngx_http_upload_store_curl_event;
        c->write->handler = ngx_http_upload_store_curl_event;
        c->read->log = uc->log;
        c->write->log = uc->log;

        if (curl_multi_assign(uc->multi, s, c) != CURLM_OK) {
            ngx_free_connection(c);
            c->fd = (ngx_socket_t) -1;
            return -1;
        }
    }

    if ((what & CURL_POLL_IN) && !c->read->active) {
        if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            return -1;
        }

    } else if (!(what & CURL_POLL_IN) && c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }

    if ((what & CURL_POLL_OUT) && !c->write->active) {
        if (ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            return -1;
        }

    } else if (!(what & CURL_POLL_OUT) && c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }

    return 0;
}


/* curl's one timeout: -1 none, 0 now (at the next turn of the loop) */

static int
ngx_http_upload_store_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    ngx_http_upload_store_curl_t *uc = userp;

    if (timeout_ms < 0) {
        if (uc->timer.timer_set) {
            ngx_del_timer(&uc->timer);
        }

        return 0;
    }

    /* a worker leaving on reload waits for the transfers under way */

    uc->timer.cancelable = (uc->running == 0 || uc->closing);

    ngx_add_timer(&uc->timer, (ngx_msec_t) timeout_ms);

    return 0;
}


static void
ngx_http_upload_store_curl_event(ngx_event_t *ev)
{
    ngx_connection_t  *c;

    c = ev->data;

    /*
     * worker_shutdown_timeout: nginx closes what is left; the transfers
     * are left to another worker, this one need not wait for them
     */

    if (c->close) {
        ngx_http_upload_store_curl->closing = 1;
        ngx_http_upload_store_curl->timer.cancelable = 1;
        return;
    }

    /* the connection may be freed by curl's call back: the socket is kept */

    ngx_http_upload_store_curl_action(c->fd, ev->write ? CURL_CSELECT_OUT
                                                       : CURL_CSELECT_IN);
}


static void
ngx_http_upload_store_curl_timeout(ngx_event_t *ev)
{
    ngx_http_upload_store_curl_action(CURL_SOCKET_TIMEOUT, 0);
}


static void
ngx_http_upload_store_curl_action(curl_socket_t s, int flags)
{
    int                            running;
    CURLMcode                      rc;
    ngx_http_upload_store_curl_t  *uc;

    uc = ngx_http_upload_store_curl;

    if (uc == NULL) {
        return;
    }

    rc = curl_multi_socket_action(uc->multi, s, flags, &running);

    /*
     * libcurl's TLS shares the thread's OpenSSL error queue with nginx's:
     * what a failed handshake of curl's leaves there, nginx would find at
     * its next TLS call as a "stale global SSL error" (an alert, on some
     * client's connection)
     */

    ERR_clear_error();

    if (rc != CURLM_OK) {
        ngx_log_error(NGX_LOG_ALERT, uc->log, 0,
                      "upload store: curl_multi_socket_action() failed: %s",
                      curl_multi_strerror(rc));
    }

    ngx_http_upload_store_curl_done();
}


/* transfers that ended, to their owners */

static void
ngx_http_upload_store_curl_done(void)
{
    int                                left;
    CURLMsg                           *msg;
    ngx_http_upload_store_curl_t      *uc;
    ngx_http_upload_store_transfer_t  *t;

    uc = ngx_http_upload_store_curl;

    while (uc != NULL
           && (msg = curl_multi_info_read(uc->multi, &left)) != NULL)
    {
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }

        t = NULL;
        (void) curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);

        if (t == NULL) {
            continue;
        }

        t->result = msg->data.result;

        ngx_http_upload_store_curl_stop(t);

        t->done(t);

        uc = ngx_http_upload_store_curl;
    }
}
