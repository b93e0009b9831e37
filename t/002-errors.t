# Every refusal is JSON in one shape, with a stable code, and leaves
# nothing on disk: not in the store, not in .tmp.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use UploadStore;

UploadStore::preamble(
    defaults => {
        http_config  => "upload_store_path html/store zone=audio:1m;",
        store_files  => "",
        no_error_log => "[crit]\n[alert]",
        config       => <<'_EOC_',
    location = /upload {
        client_max_body_size 100;
        upload_store_receive audio;
        upload_store_customer $http_x_customer;
        upload_store_types audio/* video/mp4;
    }

    location = /by-category {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_category $http_x_category;
    }

    location ~ ^/by-path/(.*)$ {
        upload_store_receive audio;
        upload_store_customer $1;
    }

    location = /by-arg {
        upload_store_receive audio;
        upload_store_customer $arg_c;
    }
_EOC_
    },
);

run_tests();

__DATA__

=== TEST 1: no customer: 403
--- more_headers
Content-Type: audio/wav
--- request
POST /upload
abc
--- error_code: 403
--- response_headers
Content-Type: application/json
--- response_body
{"error":{"status":403,"code":"customer_missing","message":"no customer","type":"authentication_error"}}
--- error_log
no customer



=== TEST 2: customer "..": 400
--- more_headers
X-Customer: ..
Content-Type: audio/wav
--- request
POST /upload
abc
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"customer_invalid","message":"invalid customer","type":"invalid_request_error"}}
--- error_log
invalid customer ".."



=== TEST 3: customer with a slash: 400
--- more_headers
X-Customer: acme/../../etc
Content-Type: audio/wav
--- request
POST /upload
abc
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"customer_invalid","message":"invalid customer","type":"invalid_request_error"}}



=== TEST 4: customer with a leading dot: 400
--- more_headers
X-Customer: .tmp
Content-Type: audio/wav
--- request
POST /upload
abc
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"customer_invalid","message":"invalid customer","type":"invalid_request_error"}}



=== TEST 5: customer of 65 characters: 400
--- more_headers eval
"X-Customer: " . ("a" x 65) . "\nContent-Type: audio/wav"
--- request
POST /upload
abc
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"customer_invalid","message":"invalid customer","type":"invalid_request_error"}}



=== TEST 6: customer of 64 characters is fine
--- more_headers eval
"X-Customer: " . ("a" x 64) . "\nContent-Type: audio/wav"
--- request
POST /upload
abc
--- error_code: 201
--- store_files eval
("a" x 64) . "/audio/DAY/upload_ID.wav 3\n"
. ("a" x 64) . "/audio/DAY/ID.json = body"



=== TEST 7: a percent-encoded slash decoded by nginx into a capture: 400
--- more_headers
Content-Type: audio/wav
--- request
POST /by-path/acme%2Fother
abc
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"customer_invalid","message":"invalid customer","type":"invalid_request_error"}}



=== TEST 8: a percent-encoded NUL never gets that far: nginx refuses the URI
--- more_headers
Content-Type: audio/wav
--- request
POST /by-path/acme%00x
abc
--- error_code: 400
--- response_body_like chomp
400 Bad Request
--- error_log
client sent invalid request



=== TEST 9: percent-encoded dots left encoded in an argument: 400
--- request
POST /by-arg?c=%2e%2e
abc
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"customer_invalid","message":"invalid customer","type":"invalid_request_error"}}



=== TEST 10: invalid category: 400
--- more_headers
X-Category: ../../etc
--- request
POST /by-category
abc
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"category_invalid","message":"invalid category","type":"invalid_request_error"}}
--- error_log
invalid category "../../etc" for customer "acme"



=== TEST 11: empty category: 400
--- request
POST /by-category
abc
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"category_invalid","message":"invalid category","type":"invalid_request_error"}}



=== TEST 12: GET: 405 with Allow
--- more_headers
X-Customer: acme
--- request
GET /upload
--- error_code: 405
--- response_headers
Allow: POST, PUT
Content-Type: application/json
--- response_body
{"error":{"status":405,"code":"method_not_allowed","message":"method GET is not allowed, use POST, PUT","type":"invalid_request_error"}}



=== TEST 13: DELETE: 405 with Allow
--- more_headers
X-Customer: acme
--- request
DELETE /upload
--- error_code: 405
--- response_headers
Allow: POST, PUT
--- response_body
{"error":{"status":405,"code":"method_not_allowed","message":"method DELETE is not allowed, use POST, PUT","type":"invalid_request_error"}}



=== TEST 14: HEAD: 405, headers only
--- more_headers
X-Customer: acme
--- request
HEAD /upload
--- error_code: 405
--- response_headers
Allow: POST, PUT
Content-Type: application/json
--- response_body



=== TEST 15: a type that is not allowed: 415
--- more_headers
X-Customer: acme
Content-Type: text/plain
--- request
POST /upload
abc
--- error_code: 415
--- response_body
{"error":{"status":415,"code":"type_not_allowed","message":"content type \"text/plain\" is not allowed","type":"invalid_request_error"}}
--- error_log
content type "text/plain" from customer "acme" is not allowed



=== TEST 16: no type where types are required: 415
--- more_headers
X-Customer: acme
--- request
POST /upload
abc
--- error_code: 415
--- response_body
{"error":{"status":415,"code":"type_not_allowed","message":"a valid Content-Type is required","type":"invalid_request_error"}}



=== TEST 17: exact types and wildcards match case-insensitively
--- more_headers
X-Customer: acme
Content-Type: Video/MP4; codecs="avc1"
--- request
POST /upload
abc
--- error_code: 201
--- response_body_like chomp
"content_type":"video/mp4",.*"file":"upload_[0-9A-Z]{26}\.mp4"
--- store_files
acme/audio/DAY/upload_ID.mp4 3
acme/audio/DAY/ID.json = body



=== TEST 18: a wildcard does not match a longer major type
--- more_headers
X-Customer: acme
Content-Type: audiox/wav
--- request
POST /upload
abc
--- error_code: 415



=== TEST 19: Content-Length: 0: 400
--- more_headers
X-Customer: acme
Content-Type: audio/wav
Content-Length: 0
--- request
POST /upload
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"empty_body","message":"the request body is empty","type":"invalid_request_error"}}



=== TEST 20: an empty chunked body: 400, and no temp file left
--- raw_request eval
"POST /upload HTTP/1.1\r
Host: localhost\r
X-Customer: acme\r
Content-Type: audio/wav\r
Transfer-Encoding: chunked\r
Connection: close\r
\r
0\r
\r
"
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"empty_body","message":"the request body is empty","type":"invalid_request_error"}}



=== TEST 21: over client_max_body_size by Content-Length: 413, JSON
--- more_headers
X-Customer: acme
Content-Type: audio/wav
--- request eval
"POST /upload\n" . ("x" x 101)
--- error_code: 413
--- response_headers
Content-Type: application/json
--- response_body
{"error":{"status":413,"code":"payload_too_large","message":"upload exceeds client_max_body_size of 100 bytes","type":"invalid_request_error"}}
--- error_log
client intended to send too large body



=== TEST 22: over client_max_body_size while chunked: 413, JSON
--- raw_request eval
"POST /upload HTTP/1.1\r
Host: localhost\r
X-Customer: acme\r
Content-Type: audio/wav\r
Transfer-Encoding: chunked\r
Connection: close\r
\r
50\r
" . ("x" x 80) . "\r
50\r
" . ("y" x 80) . "\r
0\r
\r
"
--- error_code: 413
--- response_body
{"error":{"status":413,"code":"payload_too_large","message":"upload exceeds client_max_body_size of 100 bytes","type":"invalid_request_error"}}
--- error_log
client intended to send too large chunked body



=== TEST 23: a broken chunked body: 400, JSON
--- raw_request eval
"POST /upload HTTP/1.1\r
Host: localhost\r
X-Customer: acme\r
Content-Type: audio/wav\r
Transfer-Encoding: chunked\r
Connection: close\r
\r
zz\r
abc\r
0\r
\r
"
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body
{"error":{"status":400,"code":"bad_request","message":"bad request","type":"invalid_request_error"}}
--- error_log
client sent invalid chunked body



=== TEST 24: a control character in the file name: 400
--- more_headers
X-Customer: acme
Content-Type: audio/wav
Content-Disposition: attachment; filename*=UTF-8''a%0Ab.wav
--- request
POST /upload
abc
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"filename_invalid","message":"invalid file name","type":"invalid_request_error"}}



=== TEST 25: a file name that is not UTF-8: 400
--- more_headers
X-Customer: acme
Content-Type: audio/wav
Content-Disposition: attachment; filename*=UTF-8''a%FF%FEb.wav
--- request
POST /upload
abc
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"filename_invalid","message":"invalid file name","type":"invalid_request_error"}}



=== TEST 26: an unterminated quoted file name: 400
--- more_headers
X-Customer: acme
Content-Type: audio/wav
Content-Disposition: attachment; filename="abc.wav
--- request
POST /upload
abc
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"filename_invalid","message":"invalid file name in Content-Disposition","type":"invalid_request_error"}}



=== TEST 27: a file name of path components only is no name
--- more_headers
X-Customer: acme
Content-Type: audio/wav
Content-Disposition: attachment; filename="../../.."
--- request
POST /upload
abc
--- error_code: 201
--- response_body_like chomp
"filename":null,
--- store_files
acme/audio/DAY/upload_ID.wav 3
acme/audio/DAY/ID.json = body



=== TEST 28: errors outside store locations are left alone
--- request
GET /nowhere
--- error_code: 404
--- response_headers
Content-Type: text/html
--- response_body_like chomp
<title>404 Not Found</title>



=== TEST 29: an operator's error_page still wins
--- config
    location = /upload {
        client_max_body_size 10;
        error_page 413 /too-big;
        upload_store_receive audio;
        upload_store_customer acme;
    }

    location = /too-big {
        return 413 "custom\n";
    }
--- request eval
"POST /upload\n" . ("x" x 11)
--- error_code: 413
--- response_body
custom



=== TEST 30: a file name that ngx_utf8_decode() would take but is not UTF-8
--- more_headers
X-Customer: acme
Content-Type: audio/wav
Content-Disposition: attachment; filename*=UTF-8''a%C3%C3.wav
--- request
POST /upload
abc
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"filename_invalid","message":"invalid file name","type":"invalid_request_error"}}



=== TEST 31: an encoded surrogate in a file name
--- more_headers
X-Customer: acme
Content-Type: audio/wav
Content-Disposition: attachment; filename*=UTF-8''a%ED%A0%80.wav
--- request
POST /upload
abc
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"filename_invalid","message":"invalid file name","type":"invalid_request_error"}}



=== TEST 32: a raw body without a type: the file name's extension tells
--- more_headers
X-Customer: acme
Content-Disposition: attachment; filename="call.mp3"
--- request
POST /upload
abc
--- error_code: 201
--- response_body_like chomp
"filename":"call\.mp3","content_type":"audio/mpeg",
--- store_files
acme/audio/DAY/upload_ID.mp3 3
acme/audio/DAY/ID.json = body



=== TEST 33: HTTP/1.0 POST with neither Content-Length nor chunks: 411, JSON
--- raw_request eval
"POST /upload HTTP/1.0\r
Host: localhost\r
X-Customer: acme\r
Content-Type: audio/wav\r
\r
"
--- error_code: 411
--- response_body
{"error":{"status":411,"code":"length_required","message":"the body needs a Content-Length or chunked transfer encoding","type":"invalid_request_error"}}
--- no_error_log
[error]
[crit]
[alert]



=== TEST 34: HTTP/1.1 PUT with neither Content-Length nor chunks: 411, JSON
--- raw_request eval
"PUT /upload HTTP/1.1\r
Host: localhost\r
X-Customer: acme\r
Content-Type: audio/wav\r
Connection: close\r
\r
"
--- error_code: 411
--- response_body
{"error":{"status":411,"code":"length_required","message":"the body needs a Content-Length or chunked transfer encoding","type":"invalid_request_error"}}
--- no_error_log
[error]
[crit]
[alert]



=== TEST 35: a resumed PUT (curl -C 100000 -T): 501, nothing stored
--- more_headers
X-Customer: acme
Content-Type: audio/wav
Content-Range: bytes 100000-100004/100005
--- request
PUT /upload
abcde
--- error_code: 501
--- response_body
{"error":{"status":501,"code":"range_not_supported","message":"a Content-Range (a part of a file) cannot be stored","type":"server_error"}}
--- error_log
PUT with Content-Range is unsupported



=== TEST 36: an invalid customer is logged escaped: no terminal escape reaches the log
--- more_headers
Content-Type: audio/wav
--- request
POST /by-path/%1B[31mevil%22%0D
abc
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"customer_invalid","message":"invalid customer","type":"invalid_request_error"}}
--- error_log eval
qr/invalid customer "\\x1B\[31mevil\\x22\\x0D"/
--- no_error_log eval
[qr/invalid customer "[^"]*[\x1b\r]/, "[crit]", "[alert]"]



=== TEST 37: where any type is allowed, the suffix is the type's, never the client's alone
--- more_headers eval
["X-Category: audio\nContent-Type: text/html\nContent-Disposition: attachment; filename=\"x.html\"",
 "X-Category: audio\nContent-Type: audio/wav\nContent-Disposition: attachment; filename=\"x.php\"",
 "X-Category: audio\nContent-Type: audio/mp4\nContent-Disposition: attachment; filename=\"x.M4A\""]
--- request eval
["POST /by-category\n<script>", "POST /by-category\nRIFF", "POST /by-category\nftyp"]
--- error_code eval
[201, 201, 201]
--- response_body_like eval
['"filename":"x\.html","content_type":"text/html",.*"file":"upload_[0-9A-Z]{26}"',
 '"filename":"x\.php","content_type":"audio/wav",.*"file":"upload_[0-9A-Z]{26}\.wav"',
 '"filename":"x\.M4A","content_type":"audio/mp4",.*"file":"upload_[0-9A-Z]{26}\.m4a"']
--- store_files
acme/audio/DAY/upload_ID 8
acme/audio/DAY/ID.json
acme/audio/DAY/upload_ID.wav 4
acme/audio/DAY/ID.json
acme/audio/DAY/upload_ID.m4a 4
acme/audio/DAY/ID.json



=== TEST 38: OPTIONS (a CORS preflight): 204 with Allow, and the location's own headers
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer $http_x_customer;
        add_header Access-Control-Allow-Origin "https://app.example" always;
        add_header Access-Control-Allow-Headers "X-Customer, Content-Type" always;
    }
--- request
OPTIONS /upload
--- more_headers
Origin: https://app.example
Access-Control-Request-Method: POST
--- error_code: 204
--- response_headers
Allow: POST, PUT, OPTIONS
Access-Control-Allow-Origin: https://app.example
Access-Control-Allow-Headers: X-Customer, Content-Type
--- response_body



=== TEST 39: a link planted as a customer's directory leads nowhere: 500, nothing written through it
--- post_setup_server_root
my $r = Test::Nginx::Util::html_dir();
mkdir "$r/elsewhere" or die "mkdir: $!";
UploadStore::plant("$r/store", "README", 0, "the store's root exists");
symlink "$r/elsewhere", "$r/store/evil" or die "symlink: $!";
--- more_headers
Content-Type: audio/wav
--- request
POST /by-path/evil
RIFF
--- error_code: 500
--- response_json eval
{ "/error/code" => "store_failed",
  "/" => sub { my $d = Test::Nginx::Util::html_dir() . "/elsewhere";
               opendir my $h, $d or return 0;
               !grep { !/^\.\.?$/ } readdir $h } }
--- error_log eval
qr/\[crit\] .*openat\(\) "evil" under ".*\/store" failed \(customer "evil"\) \((20|40): /
--- no_error_log
[alert]
--- store_files
README
evil


=== TEST 40: a link planted as a day's directory leads nowhere either: 500, nothing written through it
--- post_setup_server_root
use POSIX qw(strftime);
my $r = Test::Nginx::Util::html_dir();
my $day = strftime('%Y-%m-%d', gmtime);
mkdir "$r/elsewhere" or die "mkdir: $!";
UploadStore::plant("$r/store", "acme/audio/README", 0, "acme's");
symlink "$r/elsewhere", "$r/store/acme/audio/$day" or die "symlink: $!";
--- more_headers
Content-Type: audio/wav
--- request
POST /by-path/acme
RIFF
--- error_code: 500
--- response_json eval
{ "/error/code" => "store_failed",
  "/" => sub { my $d = Test::Nginx::Util::html_dir() . "/elsewhere";
               opendir my $h, $d or return 0;
               !grep { !/^\.\.?$/ } readdir $h } }
--- error_log eval
qr/\[crit\] .*openat\(\) "\d{4}-\d\d-\d\d" under ".*\/store" failed \(customer "acme"\) \((20|40): /
--- no_error_log
[alert]
--- store_files
acme/audio/README
acme/audio/DAY

