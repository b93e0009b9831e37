# upload_store_admin: the zone's statistics as JSON and as Prometheus text,
# health, access control, and its own refusals.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use UploadStore;

$ENV{TEST_NGINX_PROVIDER_PORT} = server_port() + 13;

UploadStore::preamble(
    checks   => [qw(files json prometheus)],
    defaults => {
        no_error_log => "[crit]\n[alert]\n[emerg]",
        http_config  => <<'_EOC_',
    upload_store_path html/store zone=audio:1m min_free=0;

    server {
        listen 127.0.0.1:$TEST_NGINX_PROVIDER_PORT;
        default_type application/json;

        location = /openai { return 200 '{"text":"hello world"}'; }
        location = /401 { return 401 '{"error":{"message":"bad key"}}'; }
    }
_EOC_
        config       => <<'_EOC_',
    location = /upload {
        client_max_body_size 100;
        upload_store_receive audio;
        upload_store_customer $arg_customer;
        upload_store_types audio/*;
    }

    location = /transcribe {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
    }

    location = /transcribe-401 {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt401;
    }

    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/openai;
    }

    location = /_stt401 {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/401;
    }

    location = /admin {
        upload_store_admin audio;
    }
_EOC_
    },
);

run_tests();

__DATA__

=== TEST 1: JSON statistics count what the clients saw
--- more_headers
Content-Type: audio/wav
--- request eval
["POST /upload?customer=acme\nhello",
 "POST /upload?customer=beta\n" . ("x" x 20),
 "POST /upload?customer=..\nhello",
 "POST /upload?customer=acme\n" . ("x" x 101),
 "GET /upload?customer=acme",
 "GET /admin"]
--- error_code eval
[201, 201, 400, 413, 405, 200]
--- response_json eval
[undef, undef, undef, undef, undef,
 { "/zone" => "audio",
   "/root" => qr{/html/store$},
   "/store/files" => 2,
   "/store/bytes" => qr/^\d{3}$/,
   "/store/customers" => 2,
   "/store/max_size" => 0,
   "/disk/total" => qr/^[1-9]\d*$/,
   "/disk/free" => qr/^[1-9]\d*$/,
   "/disk/min_free" => 0,
   "/uploads/accepted" => 2,
   "/uploads/rejected" => 3,
   "/uploads/rejected_by_status/400" => 1,
   "/uploads/rejected_by_status/413" => 1,
   "/uploads/rejected_by_status/405" => 1,
   "/uploads/rejected_by_status/507" => 0,
   "/uploads/received_bytes" => 25,
   "/uploads/deleted" => 0,
   "/transcriptions/count" => 0,
   "/cleanup/retention" => 86400,
   "/cleanup/interval" => 3600 }]
--- response_headers eval
["", "", "", "", "", "Content-Type: application/json"]



=== TEST 2: transcriptions by outcome, with their latency
--- more_headers
Content-Type: audio/wav
--- request eval
["POST /transcribe\nhello", "POST /transcribe\nhello",
 "POST /transcribe-401\nhello", "GET /admin"]
--- error_code eval
[200, 200, 502, 200]
--- response_json eval
[undef, undef, undef,
 { "/transcriptions/count" => 3,
   "/transcriptions/outcomes/transcribed" => 2,
   "/transcriptions/outcomes/provider_auth" => 1,
   "/transcriptions/outcomes/provider_error" => 0,
   "/transcriptions/latency/count" => 3,
   "/transcriptions/latency/sum_ms" => qr/^\d+$/,
   "/transcriptions/latency/buckets/0/le_ms" => 100,
   "/transcriptions/latency/buckets" => sub {
       my $n = 0;
       $n += $_->{count} for @{ $_[0] };
       $n == 3 },
   "/transcriptions/latency/buckets/10/le_ms" => "+Inf",
   "/uploads/accepted" => 3,
   "/uploads/rejected_by_status/502" => 1 }]



=== TEST 3: the same as Prometheus text, every line well formed
--- more_headers
Content-Type: audio/wav
--- request eval
["POST /upload?customer=acme\nhello",
 "POST /upload?customer=acme\n" . ("x" x 101),
 "POST /transcribe\nhello",
 "GET /admin?format=prometheus"]
--- error_code eval
[201, 413, 200, 200]
--- response_prometheus eval
[undef, undef, undef,
 { 'upload_store_files{zone="audio"}' => 2,
   'upload_store_customers{zone="audio"}' => 1,
   'upload_store_bytes{zone="audio"}' => sub { $_[0] > 10 },
   'upload_store_uploads_accepted_total{zone="audio"}' => 2,
   'upload_store_uploads_rejected_total{zone="audio",status="413"}' => 1,
   'upload_store_uploads_rejected_total{zone="audio",status="other"}' => 0,
   'upload_store_received_bytes_total{zone="audio"}' => 10,
   'upload_store_transcriptions_total{zone="audio",outcome="transcribed"}' => 1,
   'upload_store_transcription_seconds_bucket{zone="audio",le="0.100"}' => qr/^[01]$/,
   'upload_store_transcription_seconds_bucket{zone="audio",le="+Inf"}' => 1,
   'upload_store_transcription_seconds_count{zone="audio"}' => 1,
   'upload_store_transcription_seconds_sum{zone="audio"}' => qr/^\d+\.\d{3}$/,
   'upload_store_cleanup_runs_total{zone="audio"}' => qr/^[01]$/,
   'upload_store_disk_free_bytes{zone="audio"}' => sub { $_[0] > 0 },
   'upload_store_min_free_bytes{zone="audio"}' => 0,
   'upload_store_max_size_bytes{zone="audio"}' => 0 }]
--- response_headers eval
["", "", "", "Content-Type: text/plain; version=0.0.4; charset=utf-8"]



=== TEST 4: Prometheus asks with Accept: text/plain; JSON stays the default
--- request eval
["GET /admin", "GET /admin", "GET /admin?format=json"]
--- more_headers eval
["Accept: text/plain;version=0.0.4;q=1,*/*;q=0.1",
 "Accept: application/json, text/plain, */*",
 "Accept: text/plain"]
--- response_prometheus eval
[{ 'upload_store_files{zone="audio"}' => 0 }]
--- response_json eval
[undef, { "/store/files" => 0 }, { "/store/files" => 0 }]



=== TEST 5: health: 200 while an upload could be stored
--- request
GET /admin?health
--- response_json eval
{ "/status" => "ok", "/min_free" => 0, "/bytes" => 0,
  "/disk_free" => qr/^[1-9]\d*$/ }



=== TEST 6: health: 503 below min_free, with the reason
--- http_config
    upload_store_path html/store zone=audio:1m min_free=1000000g;
--- request
GET /admin?health
--- error_code: 503
--- response_body_like chomp
^\{"error":\{"status":503,"code":"insufficient_storage","message":"\d+ bytes free, min_free is 1073741824000000","type":"server_error"\}\}$



=== TEST 7: health: 503 when the store is at max_size
--- http_config
    upload_store_path html/store zone=audio:1m max_size=10 min_free=0;
--- post_setup_server_root
my $r = Test::Nginx::Util::html_dir() . "/store";
my $A = UploadStore::layout("acme", "audio", "2026-01-01", id => "A",
                            suffix => "wav");
UploadStore::plant($r, $A->{audio}, 0, "x" x 12);
--- request
GET /admin?health
--- error_code: 503
--- response_body
{"error":{"status":503,"code":"store_full","message":"12 bytes stored, max_size is 10","type":"server_error"}}
--- store_files
acme/audio/2026-01-01/upload_A.wav 12



=== TEST 8: access control is nginx's: deny answers 403 in the JSON shape
--- config
    location = /admin {
        deny all;
        upload_store_admin audio;
    }
--- request
GET /admin
--- error_code: 403
--- response_body
{"error":{"status":403,"code":"forbidden","message":"forbidden","type":"authentication_error"}}
--- error_log
access forbidden by rule
--- no_error_log
[crit]



=== TEST 9: auth_basic guards it like any location
--- config
    location = /admin {
        auth_basic "store";
        auth_basic_user_file htpasswd;
        upload_store_admin audio;
    }
--- user_files
>>> ../conf/htpasswd
admin:{PLAIN}s3cret
--- request eval
["GET /admin", "GET /admin"]
--- more_headers eval
["X-None: 1", "Authorization: Basic YWRtaW46czNjcmV0"]
--- error_code eval
[401, 200]
--- response_json eval
[{ "/error/status" => 401 }, { "/zone" => "audio" }]
--- no_error_log
[crit]



=== TEST 10: other methods: 405 with Allow (a cleanup run: POST only); bad arguments: 400
--- request eval
["PUT /admin\nx", "DELETE /admin", "GET /admin?cleanup=later",
 "GET /admin?format=xml"]
--- error_code eval
[405, 405, 405, 400]
--- response_headers eval
["Allow: GET, HEAD, POST", "Allow: GET, HEAD, POST", "Allow: POST", ""]
--- response_body eval
["{\"error\":{\"status\":405,\"code\":\"method_not_allowed\",\"message\":\"method PUT is not allowed, use GET, HEAD, POST\",\"type\":\"invalid_request_error\"}}\n",
 "{\"error\":{\"status\":405,\"code\":\"method_not_allowed\",\"message\":\"method DELETE is not allowed, use GET, HEAD, POST\",\"type\":\"invalid_request_error\"}}\n",
 "{\"error\":{\"status\":405,\"code\":\"method_not_allowed\",\"message\":\"method GET is not allowed, use POST\",\"type\":\"invalid_request_error\"}}\n",
 "{\"error\":{\"status\":400,\"code\":\"bad_request\",\"message\":\"use format=json or format=prometheus\",\"type\":\"invalid_request_error\"}}\n"]



=== TEST 11: HEAD answers the headers only
--- request
HEAD /admin
--- response_headers
Content-Type: application/json
--- response_body



=== TEST 12: an unknown zone refuses the configuration
--- config
    location = /admin {
        upload_store_admin nosuch;
    }
--- must_die
--- no_error_log
[crit]
--- error_log
"upload_store_admin" names unknown zone "nosuch", define it with "upload_store_path"



=== TEST 13: upload_store_files needs a customer
--- config
    location /files/ {
        upload_store_files audio;
    }
--- must_die
--- no_error_log
[crit]
--- error_log
"upload_store_files audio" needs "upload_store_customer"
