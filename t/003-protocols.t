# Bodies as clients send them: chunked, HTTP/1.0, HTTP/2, large ones in
# many buffers, and clients that give up halfway.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use UploadStore;

our $Big = join '', map { pack 'N', $_ * 2654435761 % 4294967296 }
                    1 .. 786432;    # 3 MiB
our $BigSum = UploadStore::sha256($Big);

# HTTP/2 goes to a second listener, with curl (see UploadStore.pm)
UploadStore::preamble(
    checks   => [qw(http2 files)],
    defaults => {
        http_config  => "upload_store_path html/store zone=audio:1m;",
        no_error_log => "[error]\n[crit]\n[alert]",
        config       => <<'_EOC_',
    location = /upload {
        client_max_body_size 10m;
        client_body_buffer_size 1k;
        upload_store_receive audio;
        upload_store_customer acme;
    }
_EOC_
    },
);

run_tests();

__DATA__

=== TEST 1: a chunked body
--- raw_request eval
"POST /upload HTTP/1.1\r
Host: localhost\r
Content-Type: audio/wav\r
Transfer-Encoding: chunked\r
Connection: close\r
\r
5\r
hello\r
6\r
 world\r
0\r
\r
"
--- error_code: 201
--- response_body_like chomp
"bytes":11,
--- store_files
acme/audio/DAY/upload_ID.wav 11 sha256:b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9
acme/audio/DAY/ID.json = body



=== TEST 2: a chunked body sent in pieces, over several buffers
--- raw_request eval
["POST /upload HTTP/1.1\r
Host: localhost\r
Content-Type: audio/wav\r
Transfer-Encoding: chunked\r
Connection: close\r
\r
", "800\r\n" . ("a" x 2048) . "\r\n", "800\r\n" . ("b" x 2048) . "\r\n",
"1\r\nc\r\n0\r\n\r\n"]
--- raw_request_middle_delay: 0.05
--- error_code: 201
--- response_body_like chomp
"bytes":4097,
--- store_files eval
"acme/audio/DAY/upload_ID.wav sha256:"
. UploadStore::sha256(("a" x 2048) . ("b" x 2048) . "c") . "
acme/audio/DAY/ID.json = body"



=== TEST 3: HTTP/1.0
--- request
POST /upload HTTP/1.0
hello
--- error_code: 201
--- response_body_like chomp
"bytes":5,
--- store_files
acme/audio/DAY/upload_ID 5
acme/audio/DAY/ID.json = body



=== TEST 4: 3 MiB through a 1k body buffer, byte for byte
--- more_headers
Content-Type: audio/flac
--- request eval
"POST /upload\n" . $::Big
--- error_code: 201
--- response_body_like chomp
"bytes":3145728,
--- store_files eval
"acme/audio/DAY/upload_ID.flac sha256:$::BigSum
acme/audio/DAY/ID.json = body"



=== TEST 5: HTTP/2
--- http_config
    upload_store_path html/store zone=audio:1m;

    server {
        listen 127.0.0.1:$TEST_NGINX_H2_PORT http2;

        location = /upload {
            client_max_body_size 10m;
            client_body_buffer_size 1k;
            upload_store_receive audio;
            upload_store_customer acme;
        }
    }
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
--- http2_upload eval
["/upload", "audio/wav", $::Big]
--- store_files eval
"acme/audio/DAY/upload_ID.wav sha256:$::BigSum
acme/audio/DAY/ID.json"



=== TEST 6: a client that goes away halfway leaves nothing behind
--- raw_request eval
["POST /upload HTTP/1.1\r
Host: localhost\r
Content-Type: audio/wav\r
Content-Length: 100000\r
\r
", "x" x 30000]
--- raw_request_middle_delay: 0.05
--- timeout: 0.5
--- abort
--- error_code chomp
--- store_files
--- no_error_log
[crit]
[alert]



=== TEST 7: a client that sends nothing after the headers
--- config
    client_body_timeout 200ms;

    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
    }
--- raw_request eval
"POST /upload HTTP/1.1\r
Host: localhost\r
Content-Type: audio/wav\r
Content-Length: 100000\r
\r
"
--- timeout: 1
--- abort
--- error_code chomp
--- store_files
--- error_log
http finalize request: 408
--- no_error_log
[crit]
[alert]



=== TEST 8: Expect: 100-continue is answered before the body
--- raw_request eval
"POST /upload HTTP/1.1\r
Host: localhost\r
Content-Type: audio/wav\r
Content-Length: 5\r
Expect: 100-continue\r
Connection: close\r
\r
hello"
--- error_code: 100
--- store_files
acme/audio/DAY/upload_ID.wav 5
acme/audio/DAY/ID.json



=== TEST 9: Expect: 100-continue on a refused upload: 415, no 100
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_types audio/*;
    }
--- raw_request eval
["POST /upload HTTP/1.1\r
Host: localhost\r
Content-Type: text/plain\r
Content-Length: 5\r
Expect: 100-continue\r
Connection: close\r
\r
", "hello"]
--- raw_request_middle_delay: 0.2
--- error_code: 415
--- store_files



=== TEST 10: HTTP/2, a POST with no DATA at all: 400 empty_body, in JSON
--- http_config
    upload_store_path html/store zone=audio:1m;

    server {
        listen 127.0.0.1:$TEST_NGINX_H2_PORT http2;

        location = /upload {
            upload_store_receive audio;
            upload_store_customer acme;
        }
    }
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
--- http2_upload eval
["/upload", "audio/wav", undef,
 qr/^\{"error":\{"status":400,"code":"empty_body","message":"the request body is empty","type":"invalid_request_error"\}\}\n\n2 400$/s]
--- store_files
--- no_error_log
[error]
[crit]
[alert]
