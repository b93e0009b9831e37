
/*
 * util/sigv4/test.c: the presigned URL's signer against AWS's published
 * example ("Authenticating Requests: Using Query Parameters", Amazon S3
 * API reference: a GET of examplebucket/test.txt on 2013-05-24 with the
 * documentation's example keys, valid for a day), apart from nginx.
 * Built and run by "make test" before the suite.
 */


#include <stdio.h>
#include <string.h>

#include "ngx_http_upload_store_sigv4.h"


int
main(void)
{
    int                            failed;
    char                           url[1024];
    size_t                         n;
    ngx_http_upload_store_sigv4_t  req;

    static const char  expected[] =
        "https://examplebucket.s3.amazonaws.com/test.txt"
        "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1"
        "%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
        "&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature="
        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

    failed = 0;

    req.method = "GET";
    req.scheme = "https";
    req.host = "examplebucket.s3.amazonaws.com";
    req.path = "/test.txt";
    req.key_id = "AKIAIOSFODNN7EXAMPLE";
    req.secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    req.region = "us-east-1";
    req.now = 1369353600;                    /* 2013-05-24T00:00:00Z */
    req.expires = 86400;

    printf("1..3\n");

    n = ngx_http_upload_store_sigv4_presign(url, sizeof(url), &req);

    if (n == strlen(expected) && strcmp(url, expected) == 0) {
        printf("ok 1 - AWS's presigned URL example\n");

    } else {
        printf("not ok 1 - AWS's presigned URL example\n# got:  %s\n"
               "# want: %s\n", url, expected);
        failed = 1;
    }

    /* a secret off by one character: another signature */

    req.secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEz";
    n = ngx_http_upload_store_sigv4_presign(url, sizeof(url), &req);

    if (n && strcmp(url, expected) != 0) {
        printf("ok 2 - another secret, another signature\n");

    } else {
        printf("not ok 2 - another secret, another signature\n");
        failed = 1;
    }

    /* too small a buffer: nothing, not a URL cut short */

    req.secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    if (ngx_http_upload_store_sigv4_presign(url, 64, &req) == 0) {
        printf("ok 3 - a buffer too small is refused\n");

    } else {
        printf("not ok 3 - a buffer too small is refused\n");
        failed = 1;
    }

    return failed;
}
