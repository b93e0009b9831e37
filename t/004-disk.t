# The disk guard: min_free and max_size refuse an upload before its body
# is read when they can, after it when the size was unknown (chunked).

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use UploadStore;

UploadStore::preamble(
    defaults => {
        no_error_log => "[crit]\n[alert]",
        config       => <<'_EOC_',
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
    }
_EOC_
    },
);

run_tests();

__DATA__

=== TEST 1: less free space than min_free: 507 before the body is read
--- http_config
    upload_store_path html/store zone=audio:1m min_free=1000000g;
--- more_headers
Content-Type: audio/wav
--- request
POST /upload
hello
--- error_code: 507
--- response_headers
Content-Type: application/json
--- response_body
{"error":{"status":507,"code":"insufficient_storage","message":"not enough free disk space","type":"server_error"}}
--- error_log eval
qr/upload store "audio": \d+ bytes free in ".*html\/store", min_free is 1073741824000000, upload of 5 bytes refused/
--- store_files



=== TEST 2: an upload that would take the store over max_size: 507
--- http_config
    upload_store_path html/store zone=audio:1m max_size=300;
--- request eval
["POST /upload\n" . ("a" x 10), "POST /upload\n" . ("b" x 200)]
--- error_code eval
[201, 507]
--- response_body_like eval
['"bytes":10,',
 '^\{"error":\{"status":507,"code":"store_full","message":"the store is full","type":"server_error"\}\}$']
--- store_files
acme/audio/DAY/upload_ID 10
acme/audio/DAY/ID.json



=== TEST 3: a chunked upload found over max_size once read: 507, removed
--- http_config
    upload_store_path html/store zone=audio:1m max_size=100;
--- raw_request eval
"POST /upload HTTP/1.1\r
Host: localhost\r
Transfer-Encoding: chunked\r
Connection: close\r
\r
c8\r
" . ("x" x 200) . "\r
0\r
\r
"
--- error_code: 507
--- response_body
{"error":{"status":507,"code":"store_full","message":"the store is full","type":"server_error"}}
--- store_files



=== TEST 4: what is already stored counts against max_size at start
--- http_config
    upload_store_path html/store zone=audio:1m max_size=1000;
--- user_files eval
[["store/" . UploadStore::layout("old", "audio", "2020-01-01",
                                 id => "01ARZ3NDEKTSV4RRFFQ69G5FAV")->{audio}
  => "z" x 995]]
--- request
POST /upload
0123456789
--- error_code: 507
--- response_body
{"error":{"status":507,"code":"store_full","message":"the store is full","type":"server_error"}}
--- error_log
upload store "audio" is full: 995 of max_size 1000 bytes used, upload of 10 bytes refused
--- store_files
old/audio/2020-01-01/upload_01ARZ3NDEKTSV4RRFFQ69G5FAV 995



=== TEST 5: the record's own bytes count: a body that fits without them, 507
--- http_config
    upload_store_path html/store zone=audio:1m max_size=300;
--- request eval
"POST /upload\n" . ("a" x 250)
--- error_code: 507
--- response_body
{"error":{"status":507,"code":"store_full","message":"the store is full","type":"server_error"}}
--- error_log eval
qr/upload store "audio" is full: 0 of max_size 300 bytes used, upload of (\d{3}) bytes refused/
--- store_files



=== TEST 6: a day's directory removed between two uploads (as a cleanup removes an empty one): the second makes it again
A worker keeps the day directory of its last upload open for the next;
one removed since takes nothing in, and is opened again from the root.
--- http_config
    upload_store_path html/store zone=audio:1m;
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
    }
    location /store/ {
        root html;
        dav_methods DELETE;
    }
--- request eval
["POST /upload\nfirst", "DELETE /store/acme/audio/", "POST /upload\nsecond"]
--- more_headers
Depth: infinity
--- error_code eval
[201, 204, 201]
--- response_body_like eval
['"bytes":5,', '^$', '"bytes":6,']
--- store_files
acme/audio/DAY/upload_ID 6
acme/audio/DAY/ID.json = body
