# Background transcription jobs: 202 at once, then the module calls the
# provider itself (libcurl on nginx's events), retries what may pass,
# fails what will not, and survives reloads, killed workers and restarts.
# The provider is t/lib/provider.py, scripted per block, which counts its
# calls.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use UploadStore;

master_on();
workers(1);

UploadStore::preamble(
    provider => 1,
    checks   => [qw(job files json)],
    defaults => {
        timeout      => 30,
        no_error_log => "[crit]\n[alert]\n[emerg]",
        http_config  => <<'_EOC_',
    upload_store_path html/store zone=audio:1m min_free=0;
    upload_store_provider fake http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/v1/audio/transcriptions
                          backoff=100ms..400ms retries=3 timeout=5s;
    upload_store_provider_field fake model whisper-1;
    upload_store_provider_header fake Authorization "Bearer " file=../html/key;
_EOC_
        config       => <<'_EOC_',
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe_job fake;
    }

    location /files/ {
        upload_store_files audio;
        upload_store_customer $http_x_customer;
    }

    location = /admin {
        upload_store_admin audio;
    }
_EOC_
        user_files   => <<'_EOC_',
>>> key
sk-test-secret
_EOC_
    },
);

run_tests();

__DATA__

=== TEST 1: 202 at once with the record queued and its Location; the job transcribes it
--- init
UploadStore::provider_script({ then => { status => 200, text => "hello jobs" } });
--- more_headers
Content-Type: audio/wav
--- request
POST /upload
RIFF....WAVEfmt some audio
--- error_code: 202
--- response_headers_like
Location: /files/[0-9A-Z]{26}$
--- response_json eval
{ "/status" => "queued", "/attempts" => 0, "/customer" => "acme",
  "/bytes" => 26 }
--- job eval
{ customer => "acme", files => "/files/",
  record => { "/status" => "transcribed", "/text" => "hello jobs",
              "/attempts" => 1, "/provider_status" => 200,
              "" => sub { !exists $_[0]{last_error} } },
  provider => {
      calls => 1,
      requests => sub {
          my $r = $_[0][0];
          $r->{path} eq "/v1/audio/transcriptions"
          && $r->{type} =~ m{^multipart/form-data; boundary=}
          && $r->{headers}{authorization} eq "Bearer sk-test-secret"
          && !exists $r->{headers}{expect}
          && $r->{body} =~ /name="file"; filename="upload_[0-9A-Z]{26}\.wav"\r\nContent-Type: audio\/wav\r\n\r\nRIFF....WAVEfmt some audio\r\n/
          && $r->{body} =~ /name="model"\r\n\r\nwhisper-1\r\n/
      } } }
--- error_log eval
qr/job of customer "acme", id [0-9A-Z]{26}, transcribed in \d+ ms, attempt 1/
--- store_files
acme/audio/DAY/upload_ID.wav 26
acme/audio/DAY/ID.json



=== TEST 2: 429 with Retry-After, a 500 and an answer cut short, then success: 4 attempts, Retry-After honoured
--- init
UploadStore::provider_script({
    steps => [{ status => 429, retry_after => "1" }, { status => 500 },
              { cut => 1 }],
    then  => { status => 200, text => "at last" } });
--- request
POST /upload
some audio
--- error_code: 202
--- job eval
{ customer => "acme", files => "/files/",
  record => { "/status" => "transcribed", "/text" => "at last",
              "/attempts" => 4 },
  admin => "/admin",
  admin_json => { "/jobs/attempts" => 4, "/jobs/retries" => 3,
                  "/jobs/transcribed" => 1, "/jobs/failed" => 0,
                  "/jobs/running" => 0, "/jobs/queued" => qr/^[01]$/,
                  "/transcriptions/outcomes/transcribed" => 1 },
  admin_prometheus => ['upload_store_job_attempts_total{zone="audio"} 4',
                       'upload_store_job_retries_total{zone="audio"} 3',
                       'upload_store_jobs_running{zone="audio"} 0'],
  provider => { calls => 4 } }
--- error_log eval
[qr/attempt 1 failed \(HTTP 429\), next in (1\d{3}|[2-9]\d{3}) ms/,
 qr/attempt 2 failed \(HTTP 500\), next in \d+ ms/,
 qr/attempt 3 failed \(Transferred a partial file\)/,
 qr/transcribed in \d+ ms, attempt 4/]
--- store_files
acme/audio/DAY/upload_ID
acme/audio/DAY/ID.json



=== TEST 3: the provider's 400 fails at once, with its message
--- init
UploadStore::provider_script({
    steps => [{ status => 400,
                body => '{"error":{"message":"language \'fr\' is not supported"}}' }] });
--- request
POST /upload
some audio
--- error_code: 202
--- job eval
{ customer => "acme", files => "/files/",
  record => { "/status" => "failed", "/error" => "provider_refused",
              "/attempts" => 1, "/provider_status" => 400,
              "/last_error" => "HTTP 400: language 'fr' is not supported" },
  provider => { calls => 1 } }
--- error_log eval
qr/job of customer "acme", id [0-9A-Z]{26}, ".*upload_[0-9A-Z]{26}", failed: provider_refused \(provider status 400, attempt 1/
--- store_files
acme/audio/DAY/upload_ID
acme/audio/DAY/ID.json



=== TEST 4: retries exhausted: failed after 1 + retries attempts, with the last error
--- init
UploadStore::provider_script({ then => { status => 503 } });
--- request
POST /upload
some audio
--- error_code: 202
--- job eval
{ customer => "acme", files => "/files/",
  record => { "/status" => "failed", "/error" => "provider_error",
              "/attempts" => 4, "/last_error" => "HTTP 503",
              "" => sub { !exists $_[0]{next_attempt_at} } },
  provider => { calls => 4 } }
--- error_log eval
qr/failed: provider_error \(provider status 503, attempt 4: HTTP 503\)/
--- store_files
acme/audio/DAY/upload_ID
acme/audio/DAY/ID.json



=== TEST 5: a provider too slow (timeout=1s) is tried again
--- http_config
    upload_store_path html/store zone=audio:1m min_free=0;
    upload_store_provider fake http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/slow
                          backoff=100ms..200ms retries=1 timeout=1s;
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe_job fake;
    }

    location /files/ {
        upload_store_files audio;
        upload_store_customer $http_x_customer;
    }
--- init
UploadStore::provider_script({ steps => [{ sleep => 4 }],
                               then => { text => "in time" } });
--- request
POST /upload
some audio
--- error_code: 202
--- job eval
{ customer => "acme", files => "/files/",
  record => { "/status" => "transcribed", "/text" => "in time",
              "/attempts" => 2 },
  provider => { calls => 2 } }
--- error_log eval
[qr/attempt 1 failed \(Timeout was reached\), next in \d+ ms/,
 qr/transcribed in \d+ ms, attempt 2/]
--- store_files
acme/audio/DAY/upload_ID
acme/audio/DAY/ID.json



=== TEST 6: a reload while the provider works: the old worker finishes the job, called once
--- init
UploadStore::provider_script({ steps => [{ sleep => 1, text => "once" }] });
--- request
POST /upload
some audio
--- error_code: 202
--- job eval
{ customer => "acme", files => "/files/", signal => "HUP", after_call => 1,
  record => { "/status" => "transcribed", "/text" => "once",
              "/attempts" => 1 },
  provider => { calls => 1 } }
--- store_files
acme/audio/DAY/upload_ID
acme/audio/DAY/ID.json



=== TEST 7: the worker killed while the provider works: another takes the job over
--- init
UploadStore::provider_script({ steps => [{ sleep => 3, text => "lost" }],
                               then => { text => "taken over" } });
--- request
POST /upload
some audio
--- error_code: 202
--- job eval
{ customer => "acme", files => "/files/", signal => "KILL", after_call => 1,
  record => { "/status" => "transcribed", "/text" => "taken over",
              "/attempts" => 2 },
  provider => { calls => 2 } }
--- no_error_log
[emerg]
--- store_files
acme/audio/DAY/upload_ID
acme/audio/DAY/ID.json



=== TEST 8: nginx stopped and started with a job waiting: it runs after the start
--- init
UploadStore::provider_script({ steps => [{ status => 503, retry_after => "2" }],
                               then => { text => "after restart" } });
--- request
POST /upload
some audio
--- error_code: 202
--- job eval
{ customer => "acme", files => "/files/", signal => "RESTART", after_call => 1,
  record => { "/status" => "transcribed", "/text" => "after restart",
              "/attempts" => 2 },
  provider => { calls => 2 } }
--- store_files
acme/audio/DAY/upload_ID
acme/audio/DAY/ID.json



=== TEST 9: protocol=raw: the audio is the body, the fields are arguments
--- http_config
    upload_store_path html/store zone=audio:1m min_free=0;
    upload_store_provider dg http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/v1/listen
                          protocol=raw text=/results/channels/0/alternatives/0/transcript;
    upload_store_provider_field dg model nova-2;
    upload_store_provider_field dg smart_format "true & more";
    upload_store_provider_header dg Authorization "Token dg-key";
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe_job dg;
    }

    location /files/ {
        upload_store_files audio;
        upload_store_customer $http_x_customer;
    }
--- init
UploadStore::provider_script({ then => { body =>
    '{"results":{"channels":[{"alternatives":[{"transcript":"deep"}]}]}}' } });
--- more_headers
Content-Type: audio/ogg
--- request
POST /upload
OggS raw audio
--- error_code: 202
--- job eval
{ customer => "acme", files => "/files/",
  record => { "/status" => "transcribed", "/text" => "deep" },
  provider => {
      requests => sub {
          my $r = $_[0][0];
          $r->{path} eq "/v1/listen?model=nova-2&smart_format=true%20%26%20more"
          && $r->{type} eq "audio/ogg"
          && $r->{body} eq "OggS raw audio"
          && $r->{headers}{authorization} eq "Token dg-key"
      } } }
--- store_files
acme/audio/DAY/upload_ID.ogg
acme/audio/DAY/ID.json



=== TEST 10: DELETE of a queued upload cancels its job
--- init
UploadStore::provider_script({ then => { status => 503, retry_after => "30" } });
--- request
POST /upload
some audio
--- error_code: 202
--- job eval
{ customer => "acme", files => "/files/", delete => 1,
  provider => { calls => 1 } }
--- store_files



=== TEST 11: unknown provider
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe_job nope;
    }
--- no_error_log
[alert]
--- must_die
--- error_log
"upload_store_transcribe_job" names unknown provider "nope"



=== TEST 12: a job without a store
--- config
    location = /a {
        upload_store_transcribe_job fake;
    }
--- no_error_log
[alert]
--- must_die
--- error_log
"upload_store_transcribe_job fake" is only allowed with "upload_store_receive" or "upload_store_files"



=== TEST 13: a header from a file that is not there
--- http_config
    upload_store_path html/store zone=audio:1m min_free=0;
    upload_store_provider fake http://127.0.0.1:1/;
    upload_store_provider_header fake Authorization "Bearer " file=../html/nokey;
--- config
--- no_error_log
[alert]
--- must_die
--- error_log eval
qr/\[emerg\] .*open\(\) ".*html\/nokey" failed/



=== TEST 14: invalid provider parameters
--- http_config
    upload_store_path html/store zone=audio:1m min_free=0;
    upload_store_provider fake http://127.0.0.1:1/ backoff=5m..1s;
--- config
--- no_error_log
[alert]
--- must_die
--- error_log
invalid parameter "backoff=5m..1s"



=== TEST 15: a provider URL that is not http(s)
--- http_config
    upload_store_path html/store zone=audio:1m min_free=0;
    upload_store_provider fake file:///etc/passwd;
--- config
--- no_error_log
[alert]
--- must_die
--- error_log
invalid URL "file:///etc/passwd": http:// or https:// expected



=== TEST 16: nobody listening: every attempt fails, then the job, as provider_error
--- http_config
    upload_store_path html/store zone=audio:1m min_free=0;
    upload_store_provider nobody http://127.0.0.1:9/ retries=1
                          backoff=100ms..100ms;
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe_job nobody;
    }

    location /files/ {
        upload_store_files audio;
        upload_store_customer $http_x_customer;
    }
--- request
POST /upload
more audio
--- error_code: 202
--- job eval
{ customer => "acme", files => "/files/",
  record => { "/status" => "failed", "/error" => "provider_error",
              "/attempts" => 2,
              "/last_error" => "Couldn't connect to server" } }
--- error_log eval
[qr/attempt 1 failed \(Couldn't connect to server\), next in \d+ ms/,
 qr/failed: provider_error \(provider status 0, attempt 2: Couldn't connect to server\)/]
--- store_files
acme/audio/DAY/upload_ID
acme/audio/DAY/ID.json



=== TEST 17: a form's fields and checksum stay in the record the job rewrites
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_checksum sha256;
        upload_store_transcribe_job fake;
    }

    location /files/ {
        upload_store_files audio;
        upload_store_customer $http_x_customer;
    }
--- init
UploadStore::provider_script({ then => { text => "kept" } });
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n--XYZ\r
Content-Disposition: form-data; name=\"language\"\r
\r
en\r
--XYZ\r
Content-Disposition: form-data; name=\"tag\"\r
\r
a\r
--XYZ\r
Content-Disposition: form-data; name=\"tag\"\r
\r
b\r
--XYZ\r
Content-Disposition: form-data; name=\"file\"; filename=\"talk.wav\"\r
Content-Type: audio/wav\r
\r
RIFF....WAVEfmt \r
--XYZ--\r
"
--- error_code: 202
--- job eval
{ customer => "acme", files => "/files/",
  record => { "/status" => "transcribed", "/text" => "kept",
              "/filename" => "talk.wav", "/fields/language" => "en",
              "/fields/tag/0" => "a", "/fields/tag/1" => "b",
              "/sha256" => qr/^[0-9a-f]{64}$/ } }
--- store_files
acme/audio/DAY/upload_ID.wav 16
acme/audio/DAY/ID.json



=== TEST 18: POST .../transcript: a failed job queued again, then transcribed; again: 409
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe_job fake;
    }

    location /files/ {
        upload_store_files audio;
        upload_store_customer $http_x_customer;
        upload_store_transcribe_job fake;
    }
--- init
UploadStore::provider_script({ steps => [{ status => 400 }],
                               then => { text => "second time" } });
--- request
POST /upload
some audio
--- error_code: 202
--- job eval
{ customer => "acme", files => "/files/", retry => 1,
  record => { "/status" => "transcribed", "/text" => "second time",
              "/attempts" => 1 },
  provider => { calls => 2 } }
--- store_files
acme/audio/DAY/upload_ID
acme/audio/DAY/ID.json



=== TEST 19: POST .../transcript where no job is configured: 405
--- request
POST /files/01JGGVSAG0ABCDEFGHJKMNPQRS/transcript
--- more_headers
X-Customer: acme
--- error_code: 405
--- response_headers
Allow: GET, HEAD, DELETE
--- response_json eval
{ "/error/code" => "method_not_allowed" }
--- store_files



=== TEST 20: a webhook answered 500 twice: delivered on the third try, signed with the secret
--- http_config
    upload_store_path html/store zone=audio:1m min_free=0;
    upload_store_provider fake http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/v1/audio/transcriptions
                          backoff=100ms..400ms retries=3 timeout=5s;
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe_job fake;
        upload_store_webhook http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/hook
                             secret=../html/hook.secret;
    }

    location /files/ {
        upload_store_files audio;
        upload_store_customer $http_x_customer;
    }
--- user_files
>>> hook.secret
whsec-test
--- init
UploadStore::provider_script({ steps => [{ text => "hooked" },
                                         { status => 500 }, { status => 500 }],
                               then => { status => 200, body => "{}" } });
--- request
POST /upload
some audio
--- error_code: 202
--- job eval
use Digest::SHA qw(hmac_sha256_hex);
{ customer => "acme", files => "/files/", webhook => 1,
  record => { "/status" => "transcribed", "/webhook/status" => "delivered",
              "/webhook/attempts" => 3 },
  provider => {
      calls => 4,
      requests => sub {
          my $r = $_[0][3];
          my $body = JSON::PP->new->decode($r->{body});
          $r->{path} eq "/hook"
          && $r->{type} eq "application/json"
          && $r->{headers}{"x-upload-store-signature"}
             eq "sha256=" . hmac_sha256_hex($r->{body}, "whsec-test")
          && $r->{headers}{"x-upload-store-timestamp"} =~ /^\d{10}$/
          && $body->{event} eq "transcription.completed"
          && $body->{upload}{text} eq "hooked"
          && $body->{upload}{status} eq "transcribed"
      } } }
--- error_log eval
[qr/webhook of customer "acme", id [0-9A-Z]{26}, attempt 2 failed \(HTTP 500\), next in \d+ ms/,
 qr/webhook of customer "acme", id [0-9A-Z]{26}, delivered, attempt 3/]
--- store_files
acme/audio/DAY/upload_ID
acme/audio/DAY/ID.json



=== TEST 21: a job that fails calls the webhook too, with the reason
--- http_config
    upload_store_path html/store zone=audio:1m min_free=0;
    upload_store_provider fake http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/v1/audio/transcriptions
                          retries=0;
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe_job fake;
        upload_store_webhook http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/hook;
    }

    location /files/ {
        upload_store_files audio;
        upload_store_customer $http_x_customer;
    }
--- init
UploadStore::provider_script({ steps => [{ status => 401 }],
                               then => { status => 204, body => "" } });
--- request
POST /upload
some audio
--- error_code: 202
--- job eval
{ customer => "acme", files => "/files/", webhook => 1,
  record => { "/status" => "failed", "/error" => "provider_auth",
              "/webhook/status" => "delivered",
              "/webhook/attempts" => 1 },
  provider => {
      calls => 2,
      requests => sub {
          my $r = $_[0][1];
          my $body = JSON::PP->new->decode($r->{body});
          !exists $r->{headers}{"x-upload-store-signature"}
          && $body->{event} eq "transcription.failed"
          && $body->{upload}{error} eq "provider_auth"
      } } }
--- store_files
acme/audio/DAY/upload_ID
acme/audio/DAY/ID.json



=== TEST 22: a synchronous transcription whose client left becomes a job
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
        upload_store_transcribe_job fake;
    }

    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/v1/audio/transcriptions;
    }

    location /files/ {
        upload_store_files audio;
        upload_store_customer $http_x_customer;
    }
--- init
UploadStore::provider_script({ steps => [{ sleep => 2, text => "too late" }],
                               then => { text => "recovered" } });
--- request
POST /upload
some audio
--- timeout: 0.5
--- abort
--- error_code:
--- job eval
{ customer => "acme", files => "/files/", find => 1, pause => 0.3,
  record => { "/status" => "transcribed", "/text" => "recovered",
              "/attempts" => 2 },
  provider => { calls => 2 } }
--- error_log eval
qr/client of customer "acme" gone before the transcription of id [0-9A-Z]{26}, queued as a job/
--- store_files
acme/audio/DAY/upload_ID
acme/audio/DAY/ID.json



=== TEST 23: the client's own webhook, in a form field, to a host the operator allows
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe_job fake;
        upload_store_webhook_client callback_url
                                    127.0.0.1:$TEST_NGINX_PROVIDER_PORT
                                    hooks.example.com;
    }

    location /files/ {
        upload_store_files audio;
        upload_store_customer $http_x_customer;
    }
--- init
UploadStore::provider_script({ steps => [{ text => "called back" }],
                               then => { status => 200, body => "{}" } });
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n--XYZ\r
Content-Disposition: form-data; name=\"callback_url\"\r
\r
" . UploadStore::provider_url() . "/client-hook?ref=42\r
--XYZ\r
Content-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r
Content-Type: audio/wav\r
\r
RIFF....WAVEfmt \r
--XYZ--\r
"
--- error_code: 202
--- job eval
{ customer => "acme", files => "/files/", webhook => 1,
  record => { "/status" => "transcribed", "/webhook/status" => "delivered" },
  provider => { calls => 2,
                requests => sub { $_[0][1]{path} eq "/client-hook?ref=42" } } }
--- store_files
acme/audio/DAY/upload_ID.wav
acme/audio/DAY/ID.json



=== TEST 24: a client's webhook to a host not allowed (or not http): 400, nothing stored
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe_job fake;
        upload_store_webhook_client callback_url hooks.example.com;
    }
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
my $form = sub { "POST /upload\n--XYZ\r
Content-Disposition: form-data; name=\"callback_url\"\r
\r
$_[0]\r
--XYZ\r
Content-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r
Content-Type: audio/wav\r
\r
RIFF....WAVEfmt \r
--XYZ--\r
" };
[$form->("http://169.254.169.254/latest/meta-data"),
 $form->("http://hooks.example.com\@169.254.169.254/"),
 $form->("file:///etc/passwd"),
 $form->("gopher://hooks.example.com/"),
 $form->("http://hooks.example.com:6379/")]
--- error_code eval
[400, 400, 400, 400, 400]
--- response_json eval
[({ "/error/code" => "webhook_not_allowed",
    "/error/message" => "the form field \"callback_url\" must be an http or https URL to a host this server allows" }) x 5]
--- store_files



=== TEST 25: a 200 MiB upload through a job: streamed from its file, the worker's memory stays small
--- skip_eval: 4: $ENV{TEST_NGINX_USE_VALGRIND} || ($ENV{TEST_NGINX_BINARY} // '') =~ /asan/
--- http_config
    upload_store_path html/store zone=audio:1m min_free=0;
    upload_store_provider fake http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/v1/audio/transcriptions
                          timeout=120s;
--- config
    location = /upload {
        client_max_body_size 300m;
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe_job fake;
    }

    location /files/ {
        upload_store_files audio;
        upload_store_customer $http_x_customer;
    }
--- init
UploadStore::provider_script({ then => { text => "a long one" } });
--- request eval
"POST /upload\n" . ("\0" x (200 * 1024 * 1024))
--- error_code: 202
--- job eval
{ customer => "acme", files => "/files/", timeout => 60,
  record => { "/status" => "transcribed", "/bytes" => 200 * 1024 * 1024 },
  provider => { requests => sub { $_[0][0]{length} > 200 * 1024 * 1024 } },
  rss_max => 64 * 1024 }



=== TEST 26: two locations of one name queuing jobs in one zone
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe_job fake;
    }
}

server {
    listen 127.0.0.2:$TEST_NGINX_SERVER_PORT;

    location = /upload {
        upload_store_receive audio;
        upload_store_customer beta;
        upload_store_transcribe_job fake;
    }
--- must_die
--- no_error_log
[alert]
--- error_log
two locations "/upload" queue jobs in zone "audio": give them different names

