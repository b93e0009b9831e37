# Transcription through a subrequest: the stored file goes to the
# provider's location as a file buffer, the answer comes back as JSON.
# The "providers" are locations of a second server of the same nginx;
# one of them is a store location itself, whose answer carries the
# SHA-256 of exactly what it received (text=/sha256).

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use UploadStore;

$ENV{TEST_NGINX_PROVIDER_PORT} = server_port() + 11;

our $Audio = "RIFF" . CORE::join('', map { chr(($_ * 29 + 5) % 256) }
                                     1 .. 50000);
our $Sum = UploadStore::sha256($::Audio);

our $Form = "--XYZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n"
            . "client-model\r\n"
            . "--XYZ\r\nContent-Disposition: form-data; name=\"language\""
            . "\r\n\r\nen\r\n"
            . "--XYZ\r\nContent-Disposition: form-data; name=\"secret\""
            . "\r\n\r\nnot for the provider\r\n"
            . "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; "
            . "filename=\"x.wav\"\r\nContent-Type: audio/wav\r\n\r\n"
            . $::Audio . "\r\n--XYZ--\r\n";

UploadStore::preamble(
    defaults => {
        no_error_log => "[crit]\n[alert]",
        http_config  => <<'_EOC_',
    upload_store_path html/store zone=audio:1m;
    upload_store_path html/provider zone=provider:1m;

    limit_req_zone $server_port zone=slow:1m rate=1r/m;

    server {
        listen 127.0.0.1:$TEST_NGINX_PROVIDER_PORT;
        default_type application/json;

        location = /v1/audio/transcriptions {
            client_max_body_size 10m;
            upload_store_receive provider;
            upload_store_customer provider;
            upload_store_checksum sha256;
        }

        location = /headers {
            return 200 '{"text":"auth=[$http_authorization] cookie=[$http_cookie] ct=[$content_type] len=[$content_length] x=[$http_x_client]"}';
        }

        location = /deepgram {
            return 200 '{"metadata":{"duration":1.5},"results":{"channels":[{"alternatives":[{"transcript":"hello from deepgram","confidence":0.98}]}]}}';
        }

        location = /openai {
            return 200 '{"text":"hello world","language":"english","duration":2.5}';
        }

        location = /401 { return 401 '{"error":{"message":"bad key"}}'; }
        location = /403 { return 403 '{"error":{"message":"region"}}'; }
        location = /429 {
            add_header Retry-After 17 always;
            return 429 '{"error":{"message":"slow down"}}';
        }
        location = /500 { return 500 '{"error":{"message":"oops"}}'; }
        location = /garbage { return 200 'this is not JSON'; }
        location = /notext { return 200 '{"segments":[]}'; }
        location = /array { return 200 '["text"]'; }
        location = /whisper-cpp-error {
            return 200 '{"error":"failed to read WAV file"}';
        }
        location = /400 {
            return 400 '{"error":{"message":"language \'fr\' is not supported","type":"invalid_request_error","param":"language"}}';
        }
        location = /plain {
            default_type text/plain;
            return 200 "hello world\n";
        }
        location = /vtt {
            default_type text/vtt;
            return 200 "WEBVTT\n\n00:00.000 --> 00:01.000\nhello world\n";
        }
        location = /error-null {
            return 200 '{"text":"fine","error":null}';
        }
        location = /forge {
            return 200 '{"text":"t","id":"forged","sha256":"forged","original_text":"forged","processed_text":"forged","status":"stored","language":"en"}';
        }

        # the headers and the first bytes of a longer answer, then one byte
        # a second
        location = /cut {
            root html;
            limit_rate_after 400;
            limit_rate 1;
            error_page 405 =200 $uri;
        }

        location = /big {
            root html;
            error_page 405 =200 $uri;
        }

        location = /slow {
            limit_req zone=slow burst=5;
            root html;
            error_page 405 =200 $uri;
        }
    }
_EOC_
    },
);

run_tests();

__DATA__

=== TEST 1: the provider gets exactly the stored bytes, the configured and passed fields
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt text=/sha256;
        upload_store_transcribe_field model whisper-1;
        upload_store_transcribe_pass model language;
        add_header X-Status $upload_store_transcribe_status always;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/v1/audio/transcriptions;
    }
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n" . $::Form
--- error_code: 200
--- response_headers
Content-Type: application/json
X-Status: 201
--- response_body_like eval
qr/^\{"id":"[0-9A-Z]{26}","customer":"acme",.*"status":"transcribed",.*"text":"$::Sum","provider_status":201,.*\}$/
--- store_files eval
"acme/audio/DAY/upload_ID.wav sha256:$::Sum
acme/audio/DAY/ID.json"
--- no_error_log
[error]



=== TEST 2: what the provider got: the configured model won, language passed, secret not
--- config
    upload_store_customer acme;
    upload_store_transcribe_field model whisper-1;
    upload_store_transcribe_pass model language;

    location = /model {
        upload_store_receive audio;
        upload_store_transcribe /_stt text=/fields/model;
    }
    location = /language {
        upload_store_receive audio;
        upload_store_transcribe /_stt text=/fields/language;
    }
    location = /secret {
        upload_store_receive audio;
        upload_store_transcribe /_stt text=/fields/secret;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/v1/audio/transcriptions;
    }
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
["POST /model\n" . $::Form, "POST /language\n" . $::Form,
 "POST /secret\n" . $::Form]
--- error_code eval
[200, 200, 502]
--- response_body_like eval
['"status":"transcribed",.*"text":"whisper-1"',
 '"status":"transcribed",.*"text":"en"',
 '"code":"provider_bad_response"']



=== TEST 3: none of the client's headers reach the provider
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/headers;
    }
--- more_headers
Content-Type: audio/wav
Authorization: Bearer client-secret
Cookie: session=abc
X-Client: yes
--- request eval
"POST /upload\n" . $::Audio
--- error_code: 200
--- response_body_like eval
qr/"text":"auth=\[\] cookie=\[\] ct=\[multipart\/form-data; boundary=ngx-upload-store-[0-9A-Z]{26}\] len=\[\d+\] x=\[\]"/
--- no_error_log
[error]



=== TEST 4: an OpenAI answer: text at the top, its other fields kept
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/openai;
    }
--- more_headers
Content-Type: audio/wav
--- request eval
"POST /upload\n" . $::Audio
--- error_code: 200
--- response_body_like chomp
^\{"id":"[0-9A-Z]{26}",.*"status":"transcribed","text":"hello world","provider_status":200,"transcribe_ms":\d+,"language":"english","duration":2.5\}$
--- store_files eval
"acme/audio/DAY/upload_ID.wav sha256:$::Sum
acme/audio/DAY/ID.json"
--- no_error_log
[error]



=== TEST 5: protocol=raw with a Deepgram answer
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt protocol=raw
            text=/results/channels/0/alternatives/0/transcript;
        upload_store_transcribe_field model nova-3;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/deepgram$is_args$args;
    }
--- more_headers
Content-Type: audio/wav
--- request eval
"POST /upload\n" . $::Audio
--- error_code: 200
--- response_body_like chomp
"status":"transcribed","text":"hello from deepgram",.*"results":\{"channels"
--- no_error_log
[error]



=== TEST 6: protocol=raw: the provider gets the stored bytes as the body
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt protocol=raw text=/sha256;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/v1/audio/transcriptions;
    }
--- more_headers
Content-Type: audio/flac
--- request eval
"POST /upload\n" . $::Audio
--- error_code: 200
--- response_body_like eval
qr/"content_type":"audio\/flac",.*"text":"$::Sum"/
--- no_error_log
[error]



=== TEST 7: provider 401: 502 provider_auth, the audio kept, metadata failed
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/401;
    }
--- more_headers
Content-Type: audio/wav
--- request eval
"POST /upload\n" . $::Audio
--- error_code: 502
--- response_body_like eval
qr/^\{"error":\{"status":502,"code":"provider_auth","message":"the provider refused the credentials","type":"server_error","id":"[0-9A-Z]{26}"\}\}$/
--- error_log
failed: provider_auth (provider status 401)
--- store_files eval
"acme/audio/DAY/upload_ID.wav sha256:$::Sum
acme/audio/DAY/ID.json"



=== TEST 8: provider 403: 502 provider_auth
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/403;
    }
--- request eval
"POST /upload\n" . $::Audio
--- error_code: 502
--- response_body_like chomp
"code":"provider_auth"
--- error_log
provider status 403



=== TEST 9: provider 429: 503 with its Retry-After
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/429;
    }
--- request eval
"POST /upload\n" . $::Audio
--- error_code: 503
--- response_headers
Retry-After: 17
--- response_body_like eval
qr/^\{"error":\{"status":503,"code":"provider_rate_limited","message":"the provider is rate limiting: retry later","type":"rate_limit_error","id":"[0-9A-Z]{26}"\}\}$/
--- error_log
provider status 429



=== TEST 10: provider 500: 502 provider_error
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/500;
    }
--- request eval
"POST /upload\n" . $::Audio
--- error_code: 502
--- response_body_like eval
qr/^\{"error":\{"status":502,"code":"provider_error","message":"the provider failed or could not be reached","type":"server_error","id":"[0-9A-Z]{26}"\}\}$/
--- error_log
provider status 500



=== TEST 11: provider unreachable: 502 provider_error
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:1/;
    }
--- request eval
"POST /upload\n" . $::Audio
--- error_code: 502
--- response_body_like eval
qr/^\{"error":\{"status":502,"code":"provider_error","message":"the provider failed or could not be reached","type":"server_error","id":"[0-9A-Z]{26}"\}\}$/
--- error_log
Connection refused



=== TEST 12: provider too slow: 504 provider_timeout
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
    }
    location = /_stt {
        internal;
        proxy_read_timeout 300ms;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/slow;
    }
--- user_files
>>> slow
{"text":"late"}
--- request eval
["POST /upload\n" . $::Audio, "POST /upload\n" . $::Audio]
--- error_code eval
[200, 504]
--- response_body_like eval
['"text":"late"', '"code":"provider_timeout"']
--- no_error_log
[alert]



=== TEST 13: not JSON: 502 provider_bad_response
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/garbage;
    }
--- request eval
"POST /upload\n" . $::Audio
--- error_code: 502
--- response_body_like eval
qr/^\{"error":\{"status":502,"code":"provider_bad_response","message":"the provider's answer is not a JSON object","type":"server_error","id":"[0-9A-Z]{26}"\}\}$/



=== TEST 14: JSON without the text: 502 provider_bad_response
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/notext;
    }
--- request eval
"POST /upload\n" . $::Audio
--- error_code: 502
--- response_body_like eval
qr/^\{"error":\{"status":502,"code":"provider_bad_response","message":"the provider's answer has no text","type":"server_error","id":"[0-9A-Z]{26}"\}\}$/



=== TEST 15: a JSON array: 502 provider_bad_response
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/array;
    }
--- request eval
"POST /upload\n" . $::Audio
--- error_code: 502
--- response_body_like chomp
"code":"provider_bad_response"



=== TEST 16: whisper.cpp's error with a 200: 502 provider_error
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/whisper-cpp-error;
    }
--- request eval
"POST /upload\n" . $::Audio
--- error_code: 502
--- response_body_like eval
qr/^\{"error":\{"status":502,"code":"provider_error","message":"the provider answered with an error","type":"server_error","id":"[0-9A-Z]{26}"\}\}$/



=== TEST 17: a 2 MB answer over upload_store_transcribe_buffer: 502 naming it
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/big;
    }
--- user_files eval
[["big" => '{"text":"long","segments":"' . ("s" x 2000000) . '"}']]
--- request eval
"POST /upload\n" . $::Audio
--- error_code: 502
--- response_body_like eval
qr/^\{"error":\{"status":502,"code":"provider_response_too_large","message":"the provider's answer is larger than upload_store_transcribe_buffer","type":"server_error","id":"[0-9A-Z]{26}"\}\}$/



=== TEST 18: a 2 MB answer within upload_store_transcribe_buffer
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
        upload_store_transcribe_buffer 4m;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/big;
    }
--- user_files eval
[["big" => '{"text":"long","segments":"' . ("s" x 2000000) . '"}']]
--- request eval
"POST /upload\n" . $::Audio
--- error_code: 200
--- response_body_like chomp
"status":"transcribed","text":"long",.*"segments":"s+"\}$
--- no_error_log
[error]



=== TEST 19: upload_store_keep off: the audio goes once transcribed
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
        upload_store_keep off;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/openai;
    }
--- request eval
"POST /upload\n" . $::Audio
--- error_code: 200
--- store_files
acme/audio/DAY/ID.json
--- no_error_log
[error]



=== TEST 20: upload_store_keep off keeps the audio of a failed transcription
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
        upload_store_keep off;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/500;
    }
--- request eval
"POST /upload\n" . $::Audio
--- error_code: 502
--- store_files eval
"acme/audio/DAY/upload_ID sha256:$::Sum
acme/audio/DAY/ID.json"



=== TEST 21: protocol=raw needs a text pointer
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt protocol=raw;
    }
--- must_die
--- error_log
"upload_store_transcribe" directive with "protocol=raw" needs "text="



=== TEST 22: an unknown parameter
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt model=x;
    }
--- must_die
--- error_log
invalid parameter "model=x"



=== TEST 23: a text pointer that is not one
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt text=text;
    }
--- must_die
--- error_log
invalid JSON pointer "text=text"



=== TEST 24: a client gone before the provider answers: the upload stays, failed
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/slow;
    }
--- user_files
>>> slow
{"text":"late"}
--- request eval
["POST /upload\n" . $::Audio, "POST /upload\n" . $::Audio]
--- timeout: 1
--- abort
--- error_code eval
[200, ""]
--- store_files eval
"acme/audio/DAY/ID.json like:\"status\":\"transcribed\"
acme/audio/DAY/ID.json like:\"status\":\"failed\".*\"error\":\"client_closed\"
acme/audio/DAY/upload_ID sha256:$::Sum
acme/audio/DAY/upload_ID sha256:$::Sum"
--- no_error_log
[alert]



=== TEST 25: the provider's location needs no client_max_body_size for big uploads
--- config
    location = /upload {
        client_max_body_size 20m;
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt text=/sha256;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/v1/audio/transcriptions;
    }
--- request eval
"POST /upload\n" . ($::Audio x 40)
--- error_code: 200
--- response_body_like eval
'"bytes":2000160,.*"text":"' . UploadStore::sha256($::Audio x 40) . '"'
--- no_error_log
[error]



=== TEST 26: a lexicon: whole words, any case; the original text kept
--- user_files
>>> lexicon.json
{"hello": "Hi", "WORLD": "Earth", "an": "AN"}
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
        upload_store_lexicon ../html/lexicon.json;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/openai;
    }
--- request eval
"POST /upload\n" . $::Audio
--- error_code: 200
--- response_body_like chomp
"status":"transcribed","text":"Hi Earth",.*"original_text":"hello world"
--- store_files eval
"acme/audio/DAY/upload_ID sha256:$::Sum\n"
. 'acme/audio/DAY/ID.json like:"text":"hello\sworld","processed_text":"Hi\sEarth"'
--- no_error_log
[error]



=== TEST 27: a lexicon that does not apply leaves no original_text
--- user_files
>>> lexicon.json
{"hell": "heaven"}
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
        upload_store_lexicon ../html/lexicon.json;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/openai;
    }
--- request eval
"POST /upload\n" . $::Audio
--- error_code: 200
--- response_body_unlike
original_text
--- no_error_log
[error]



=== TEST 28: a lexicon that is not JSON refuses the configuration
--- user_files
>>> lexicon.json
{"hello": 
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_lexicon ../html/lexicon.json;
    }
--- must_die
--- error_log
invalid lexicon



=== TEST 29: a lexicon key of two words refuses the configuration
--- user_files
>>> lexicon.json
{"open ai": "OpenAI"}
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_lexicon ../html/lexicon.json;
    }
--- must_die
--- error_log
"open ai" must be one word mapped to a string



=== TEST 30: the upload's variables in the provider's location are the upload's
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_category calls;
        upload_store_checksum sha256;
        upload_store_transcribe /_stt;
    }
    location = /_stt {
        internal;
        proxy_set_header X-Client "$upload_store_customer $upload_store_category $upload_store_bytes $upload_store_filename $upload_store_content_type $upload_store_sha256 $upload_store_id";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/headers;
    }
--- more_headers
Content-Type: audio/wav
Content-Disposition: attachment; filename="call.wav"
--- request eval
"POST /upload\n" . $::Audio
--- error_code: 200
--- response_body_like eval
qr/"text":"auth=\[\] cookie=\[\] ct=\[[^\]]+\] len=\[\d+\] x=\[acme calls 50004 call\.wav audio\/wav $::Sum [0-9A-Z]{26}\]"/
--- store_files eval
"acme/calls/DAY/upload_ID.wav sha256:$::Sum
acme/calls/DAY/ID.json"
--- no_error_log
[error]
[crit]
[alert]



=== TEST 31: the provider's location redirects internally (error_page): its last answer is the one captured
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
    }
    location = /_stt {
        internal;
        proxy_intercept_errors on;
        error_page 500 = /_fallback;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/500;
    }
    location = /_fallback {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/openai;
    }
--- more_headers
Content-Type: audio/wav
--- request eval
"POST /upload\n" . $::Audio
--- error_code: 200
--- response_body_like eval
qr/^\{"id":"[0-9A-Z]{26}",.*"status":"transcribed",.*"text":"hello world",.*"provider_status":200,.*"language":"english","duration":2.5\}$/
--- store_files
acme/audio/DAY/upload_ID.wav 50004
acme/audio/DAY/ID.json
--- no_error_log
[error]
[crit]
[alert]



=== TEST 32: an answer cut short (the provider stalls after valid JSON, before its length): a failure, not a transcript
--- user_files eval
[["cut" => '{"text":"cut short"}' . (" " x 1000)]]
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
    }
    location = /_stt {
        internal;
        proxy_read_timeout 500ms;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/cut;
    }
--- more_headers
Content-Type: audio/wav
--- request eval
"POST /upload\n" . $::Audio
--- error_code: 502
--- response_json eval
{ "/error/code" => "provider_error",
  "/error/message" => "the provider's answer was cut short" }
--- error_log
upstream timed out
--- store_files
acme/audio/DAY/upload_ID.wav 50004
acme/audio/DAY/ID.json like:"status":"failed".*"error":"provider_error"



=== TEST 33: "error": null is no error; the provider's members never replace or add the module's
--- config
    location = /upload-null {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_null;
    }
    location = /_null {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/error-null;
    }
    location = /upload-forge {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_forge;
    }
    location = /_forge {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/forge;
    }
--- more_headers
Content-Type: audio/wav
--- request eval
["POST /upload-null\n" . $::Audio, "POST /upload-forge\n" . $::Audio]
--- error_code eval
[200, 200]
--- response_json eval
[{ "/status" => "transcribed", "/text" => "fine",
   "/" => sub { !exists $_[0]{error} } },
 { "/status" => "transcribed", "/text" => "t", "/language" => "en",
   "/id" => qr/^[0-9A-Z]{26}$/,
   "/" => sub { my $j = shift;
                !grep { exists $j->{$_} }
                      qw(sha256 original_text processed_text) } }]
--- store_files
acme/audio/DAY/upload_ID.wav 50004
acme/audio/DAY/ID.json
acme/audio/DAY/upload_ID.wav 50004
acme/audio/DAY/ID.json



=== TEST 34: a provider's 400 is the client's mistake: 400 with the provider's message and the upload's id
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/400;
    }
--- more_headers
Content-Type: audio/wav
--- request eval
"POST /upload\n" . $::Audio
--- error_code: 400
--- response_json eval
{ "/error/status" => 400, "/error/code" => "provider_refused",
  "/error/message" => "language 'fr' is not supported",
  "/error/type" => "invalid_request_error",
  "/error/id" => qr/^[0-9A-Z]{26}$/ }
--- store_files
acme/audio/DAY/upload_ID.wav 50004
acme/audio/DAY/ID.json like:"status":"failed".*"provider_status":400,.*"error":"provider_refused"



=== TEST 35: response_format text and vtt: the provider's answer as it came, with its type; the record keeps it
--- config
    location = /upload-text {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_plain;
        upload_store_transcribe_pass response_format;
    }
    location = /_plain {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/plain;
    }
    location = /upload-vtt {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_vtt;
        upload_store_transcribe_pass response_format;
    }
    location = /_vtt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/vtt;
    }
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
["POST /upload-text\n--XYZ\r\nContent-Disposition: form-data; name=\"response_format\"\r\n\r\ntext\r\n--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.wav\"\r\nContent-Type: audio/wav\r\n\r\n$::Audio\r\n--XYZ--\r\n",
 "POST /upload-vtt\n--XYZ\r\nContent-Disposition: form-data; name=\"response_format\"\r\n\r\nvtt\r\n--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.wav\"\r\nContent-Type: audio/wav\r\n\r\n$::Audio\r\n--XYZ--\r\n"]
--- error_code eval
[200, 200]
--- response_headers eval
["Content-Type: text/plain", "Content-Type: text/vtt"]
--- response_body eval
["hello world\n", "WEBVTT\n\n00:00.000 --> 00:01.000\nhello world\n"]
--- store_files
acme/audio/DAY/upload_ID.wav 50004
acme/audio/DAY/ID.json like:"status":"transcribed".*"text":"hello\sworld\\n"
acme/audio/DAY/upload_ID.wav 50004
acme/audio/DAY/ID.json like:"status":"transcribed".*"text":"WEBVTT



=== TEST 36: stream=true (an event stream): a clear 400, the upload kept for a retry
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
        upload_store_transcribe_pass response_format;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/openai;
    }
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n--XYZ\r\nContent-Disposition: form-data; name=\"stream\"\r\n\r\ntrue\r\n--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.wav\"\r\nContent-Type: audio/wav\r\n\r\n$::Audio\r\n--XYZ--\r\n"
--- error_code: 400
--- response_json eval
{ "/error/code" => "stream_not_supported",
  "/error/message" => "streamed transcriptions are not supported, send stream=false",
  "/error/id" => qr/^[0-9A-Z]{26}$/ }
--- store_files
acme/audio/DAY/upload_ID.wav 50004
acme/audio/DAY/ID.json like:"status":"stored"
