# upload_store_files: a customer reads, fetches ranges of, and deletes
# its own uploads; whatever it cannot see is one and the same 404.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use UploadStore;

our $Id = '01JGGVSAG0ABCDEFGHJKMNPQRS';        # made 2025-01-01
our $Other = '01JGGVSAG0ZZZZZZZZZZZZZZZZ';

our $NotFound = '{"error":{"status":404,"code":"not_found",'
                . '"message":"no such upload",'
                . '"type":"invalid_request_error"}}' . "\n";

UploadStore::preamble(
    checks   => [qw(files json roundtrip)],
    defaults => {
        no_error_log => "[crit]\n[alert]\n[emerg]",
        http_config  => <<'_EOC_',
    upload_store_path html/store zone=audio:1m min_free=0;
_EOC_
        config       => <<'_EOC_',
    location = /upload {
        upload_store_receive audio;
        upload_store_customer $http_x_customer;
    }

    location /files/ {
        upload_store_files audio;
        upload_store_customer $http_x_customer;
        if_modified_since before;
    }

    location = /admin {
        upload_store_admin audio;
    }
_EOC_
        post_setup_server_root => <<'_EOC_',
my $r = Test::Nginx::Util::html_dir() . "/store";
UploadStore::plant_upload($r, "acme", "audio", $::Id, "hello audio");
UploadStore::plant_upload($r, "beta", "audio", $::Other, "beta's audio",
                          { status => "transcribed", text => "hello world",
                            processed_text => "Hello World" });
_EOC_
    },
);

run_tests();

__DATA__

=== TEST 1: GET: the audio, with its type, length, validators and ranges
--- more_headers
X-Customer: acme
--- request eval
"GET /files/$::Id"
--- response_headers
Content-Type: audio/wav
Content-Length: 11
Accept-Ranges: bytes
X-Content-Type-Options: nosniff
--- response_headers_like
ETag: "[0-9a-f]+-b"
Last-Modified: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT
--- response_body chop
hello audio



=== TEST 2: Range: 206 and the bytes asked for
--- more_headers
X-Customer: acme
Range: bytes=6-10
--- request eval
"GET /files/$::Id"
--- error_code: 206
--- response_headers
Content-Range: bytes 6-10/11
--- response_body chop
audio



=== TEST 3: HEAD: the headers only
--- more_headers
X-Customer: acme
--- request eval
"HEAD /files/$::Id"
--- response_headers
Content-Type: audio/wav
Content-Length: 11
--- response_body



=== TEST 4: a conditional GET: 304
--- more_headers
X-Customer: acme
If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT
--- request eval
"GET /files/$::Id"
--- error_code: 304
--- response_body



=== TEST 5: /metadata: the metadata; /transcript: 409 until transcribed, with why
--- more_headers
X-Customer: acme
--- request eval
["GET /files/$::Id/metadata", "GET /files/$::Id/transcript"]
--- error_code eval
[200, 409]
--- response_json eval
[{ "/id" => $::Id, "/customer" => "acme", "/status" => "stored",
   "/bytes" => 11 },
 { "/error/status" => 409, "/error/code" => "not_transcribed",
   "/error/message" => "upload $::Id is stored, not transcribed" }]
--- response_headers eval
["Content-Type: application/json", "Content-Type: application/json"]



=== TEST 6: /transcript: the text after the lexicon, as text/plain
--- more_headers
X-Customer: beta
--- request eval
"GET /files/$::Other/transcript"
--- response_headers
Content-Type: text/plain; charset=utf-8
--- response_body chop
Hello World



=== TEST 7: /transcript without a lexicon: the provider's text
--- post_setup_server_root
my $r = Test::Nginx::Util::html_dir() . "/store";
UploadStore::plant_upload($r, "acme", "audio", $::Id, "x",
                          { status => "transcribed", text => "hello world" });
--- more_headers
X-Customer: acme
--- request eval
"GET /files/$::Id/transcript"
--- response_body chop
hello world



=== TEST 8: DELETE: 204, then 404 everywhere, and the counters follow
--- more_headers
X-Customer: acme
--- request eval
["GET /admin", "DELETE /files/$::Id", "GET /files/$::Id",
 "GET /files/$::Id/metadata", "DELETE /files/$::Id", "GET /admin"]
--- error_code eval
[200, 204, 404, 404, 404, 200]
--- response_json eval
[{ "/store/files" => 2, "/store/customers" => 2 },
 undef, undef, undef, undef,
 { "/store/files" => 1, "/uploads/deleted" => 1,
   "/store/bytes" => sub { $_[0] > 12 && $_[0] < 400 } }]
--- store_files
beta/audio/2025-01-01/upload_01JGGVSAG0ZZZZZZZZZZZZZZZZ.wav
beta/audio/2025-01-01/01JGGVSAG0ZZZZZZZZZZZZZZZZ.json



=== TEST 9: another customer's upload: the same 404 as an unknown id, and nothing deleted
--- more_headers
X-Customer: beta
--- request eval
["GET /files/$::Id", "HEAD /files/$::Id", "GET /files/$::Id/metadata",
 "GET /files/$::Id/transcript", "DELETE /files/$::Id",
 "GET /files/01JGGVSAG0ABCDEFGHJKMNPQRT"]
--- error_code eval
[404, 404, 404, 404, 404, 404]
--- response_body eval
[$::NotFound, "", $::NotFound, $::NotFound, $::NotFound, $::NotFound]
--- store_files
acme/audio/2025-01-01/upload_01JGGVSAG0ABCDEFGHJKMNPQRS.wav 11
acme/audio/2025-01-01/01JGGVSAG0ABCDEFGHJKMNPQRS.json
beta/audio/2025-01-01/upload_01JGGVSAG0ZZZZZZZZZZZZZZZZ.wav
beta/audio/2025-01-01/01JGGVSAG0ZZZZZZZZZZZZZZZZ.json



=== TEST 10: malformed ids never reach the filesystem: the same 404
--- more_headers
X-Customer: acme
--- request eval
["GET /files/" . lc($::Id),
 "GET /files/" . substr($::Id, 0, 25),
 "GET /files/" . $::Id . "S",
 "GET /files/01JGGVSAG0ABCDEFGHJKMNPQRU",
 "GET /files/81JGGVSAG0ABCDEFGHJKMNPQRS",
 "GET /files/",
 "GET /files/x/$::Id/..",
 "GET /files/$::Id/transcript/x",
 "GET /files/$::Id.json"]
--- error_code eval
[(404) x 9]
--- response_body eval
[($::NotFound) x 9]
--- error_log
invalid id



=== TEST 11: other methods: 405 with Allow
--- more_headers
X-Customer: acme
--- request eval
["POST /files/$::Id\nx", "PUT /files/$::Id\nx",
 "DELETE /files/$::Id/transcript", "DELETE /files/$::Id/metadata"]
--- error_code eval
[405, 405, 405, 405]
--- response_headers eval
["Allow: GET, HEAD, DELETE", "Allow: GET, HEAD, DELETE",
 "Allow: GET, HEAD", "Allow: GET, HEAD"]
--- response_json eval
[{ "/error/code" => "method_not_allowed" }, undef, undef,
 { "/error/message" => "method DELETE is not allowed, use GET, HEAD" }]
--- store_files
acme/audio/2025-01-01/upload_01JGGVSAG0ABCDEFGHJKMNPQRS.wav 11
acme/audio/2025-01-01/01JGGVSAG0ABCDEFGHJKMNPQRS.json
beta/audio/2025-01-01/upload_01JGGVSAG0ZZZZZZZZZZZZZZZZ.wav
beta/audio/2025-01-01/01JGGVSAG0ZZZZZZZZZZZZZZZZ.json



=== TEST 12: no customer: 403; an invalid one: 404
--- request eval
["GET /files/$::Id", "GET /files/$::Id"]
--- more_headers eval
["X-None: 1", "X-Customer: ../acme"]
--- error_code eval
[403, 404]
--- response_body eval
["{\"error\":{\"status\":403,\"code\":\"customer_missing\",\"message\":\"no customer\",\"type\":\"authentication_error\"}}\n",
 $::NotFound]



=== TEST 13: audio not kept (upload_store_keep off): 404 for it, 200 for its transcript
--- post_setup_server_root
my $r = Test::Nginx::Util::html_dir() . "/store";
UploadStore::plant_upload($r, "acme", "audio", $::Id, "x",
                          { status => "transcribed", text => "hi" });
unlink "$r/" . UploadStore::layout("acme", "audio", $::Id,
                                   suffix => "wav")->{audio} or die;
--- more_headers
X-Customer: acme
--- request eval
["GET /files/$::Id", "GET /files/$::Id/transcript", "DELETE /files/$::Id"]
--- error_code eval
[404, 200, 204]
--- response_body eval
[$::NotFound, "hi", ""]
--- store_files



=== TEST 14: metadata broken by hand: 500 metadata_invalid, logged; the rest of the store works
--- post_setup_server_root
my $r = Test::Nginx::Util::html_dir() . "/store";
UploadStore::plant($r, UploadStore::layout("acme", "audio", $::Id)->{record}, 0,
    "{not json");
UploadStore::plant($r, UploadStore::layout("beta", "audio", $::Other)->{record}, 0,
    '{"id":"' . $::Other . '","customer":"acme","category":"audio","file":"upload_x.wav"}');
UploadStore::plant($r, UploadStore::layout("gamma", "audio", $::Other)->{record}, 0,
    '{"id":"' . $::Other . '","customer":"gamma","category":"audio","file":"../../beta/audio/x"}');
UploadStore::plant_upload($r, "delta", "audio", $::Id, "fine");
--- request eval
["GET /files/$::Id", "GET /files/$::Other", "GET /files/$::Id",
 "GET /files/$::Other"]
--- more_headers eval
["X-Customer: acme", "X-Customer: beta", "X-Customer: delta",
 "X-Customer: gamma"]
--- error_code eval
[500, 500, 200, 500]
--- response_json eval
[{ "/error/code" => "metadata_invalid" },
 { "/error/code" => "metadata_invalid" }, undef,
 { "/error/code" => "metadata_invalid" }]
--- no_error_log
[crit]
[alert]



=== TEST 15: a metadata file naming a path is refused, and the log says which
--- post_setup_server_root
my $r = Test::Nginx::Util::html_dir() . "/store";
UploadStore::plant($r, UploadStore::layout("gamma", "audio", $::Other)->{record}, 0,
    '{"id":"' . $::Other . '","customer":"gamma","category":"audio","file":"../../beta/audio/x"}');
--- more_headers
X-Customer: gamma
--- request eval
"GET /files/$::Other"
--- error_code: 500
--- response_json eval
{ "/error/code" => "metadata_invalid" }
--- error_log eval
qr/\[error\] .*metadata ".*gamma\/audio\/2025-01-01\/01JGGVSAG0ZZZZZZZZZZZZZZZZ.json" of customer "gamma" is invalid/
--- no_error_log
[crit]
[alert]



=== TEST 16: what the module stored, the files API serves, then deletes
--- request eval
"POST /upload\n" . ("\x00\x01RIFF" x 3000)
--- more_headers
X-Customer: acme
Content-Type: audio/wav
--- error_code: 201
--- roundtrip: acme /files/
--- response_json eval
{ "/status" => "stored" }



=== TEST 17: an upload deleted while it is transcribed stays deleted
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer $http_x_customer;
        upload_store_transcribe /_stt;
    }

    # the "provider" deletes the upload through the files API, and answers
    # 204, which is no transcript
    location = /_stt {
        internal;
        proxy_method DELETE;
        proxy_set_header X-Customer acme;
        proxy_pass http://127.0.0.1:$server_port/files/$upload_store_id;
    }

    location /files/ {
        upload_store_files audio;
        upload_store_customer $http_x_customer;
    }
--- post_setup_server_root
--- more_headers
X-Customer: acme
Content-Type: audio/wav
--- request
POST /upload
hello
--- error_code: 502
--- response_json eval
{ "/error/code" => "provider_bad_response" }
--- error_log eval
qr/was deleted during its transcription, ".*\.json" not written again/
--- store_files
--- no_error_log
[crit]
[alert]



=== TEST 18: /transcript of a failed transcription: 409 and the reason; 404 stays for what is not there
--- post_setup_server_root
my $r = Test::Nginx::Util::html_dir() . "/store";
UploadStore::plant_upload($r, "acme", "audio", $::Id, "x",
                          { status => "failed", text => undef,
                            error => "provider_auth" });
--- more_headers
X-Customer: acme
--- request eval
["GET /files/$::Id/transcript", "GET /files/$::Other/transcript"]
--- error_code eval
[409, 404]
--- response_json eval
[{ "/error/status" => 409, "/error/code" => "transcription_failed",
   "/error/message" =>
       "the transcription of upload $::Id failed: provider_auth" },
 { "/error/status" => 404, "/error/code" => "not_found" }]



=== TEST 19: what is not audio or video is served as a download, never as a page
--- post_setup_server_root
my $r = Test::Nginx::Util::html_dir() . "/store";
UploadStore::plant_upload($r, "acme", "audio", $::Id, "<script>alert(1)</script>",
                          { content_type => "text/html" });
UploadStore::plant_upload($r, "beta", "audio", $::Other, "<svg onload=x>",
                          { content_type => "image/svg+xml" });
--- more_headers eval
["X-Customer: acme", "X-Customer: beta"]
--- request eval
["GET /files/$::Id", "GET /files/$::Other"]
--- response_headers eval
["Content-Type: application/octet-stream\nContent-Disposition: attachment\nX-Content-Type-Options: nosniff",
 "Content-Type: application/octet-stream\nContent-Disposition: attachment\nX-Content-Type-Options: nosniff"]
--- response_body eval
["<script>alert(1)</script>", "<svg onload=x>"]



=== TEST 20: an upload reached through a link planted in the store is not served
--- post_setup_server_root
my $h = Test::Nginx::Util::html_dir();
mkdir "$h/elsewhere" or die "mkdir: $!";
UploadStore::plant_upload("$h/elsewhere", "gamma", "audio", $::Id, "not the store's");
UploadStore::plant_upload("$h/store", "acme", "audio", $::Other, "acme's");
symlink "$h/elsewhere/gamma", "$h/store/gamma" or die "symlink: $!";
--- more_headers
X-Customer: gamma
--- request eval
["GET /files/$::Id", "GET /files/$::Id/metadata", "DELETE /files/$::Id"]
--- error_code eval
[404, 404, 404]
--- response_json eval
[{ "/error/code" => "not_found" }, { "/error/code" => "not_found" },
 { "/error/code" => "not_found" }]
--- store_files
acme/audio/2025-01-01/upload_01JGGVSAG0ZZZZZZZZZZZZZZZZ.wav
acme/audio/2025-01-01/01JGGVSAG0ZZZZZZZZZZZZZZZZ.json
gamma



=== TEST 21: /metadata is served as the file it is: validators, 304, ranges
--- more_headers eval
["X-Customer: acme",
 "X-Customer: acme\nIf-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT",
 "X-Customer: acme\nRange: bytes=0-5"]
--- request eval
["GET /files/$::Id/metadata", "GET /files/$::Id/metadata",
 "GET /files/$::Id/metadata"]
--- error_code eval
[200, 304, 206]
--- response_headers_like eval
['ETag: "[0-9a-f]+-[0-9a-f]+"
Last-Modified: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT
Accept-Ranges: bytes
Content-Type: application/json',
 'ETag: "[0-9a-f]+-[0-9a-f]+"',
 'Content-Range: bytes 0-5/\d+']
--- response_body_like eval
["\"id\":\"$::Id\"", '^$', '^\{"[a-z]{4}$']
