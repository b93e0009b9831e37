# The upload path end to end: a raw body is stored, byte for byte, under
# {root}/{customer}/{category}/{day}/, with its metadata beside it.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use UploadStore;

our $Body = "RIFF" . join "", map { chr(($_ * 7 + 3) % 256) } 1 .. 4996;
our $Sum = UploadStore::sha256($Body);

UploadStore::preamble(
    defaults => {
        http_config  => "upload_store_path html/store zone=audio:1m;",
        no_error_log => "[error]\n[crit]\n[alert]",
    },
);

run_tests();

__DATA__

=== TEST 1: a raw body is stored with its metadata
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer $http_x_customer;
    }
--- more_headers
X-Customer: acme
Content-Type: audio/wav
Content-Disposition: attachment; filename="x.wav"
--- request eval
"POST /upload\n" . $::Body
--- error_code: 201
--- response_headers
Content-Type: application/json
--- response_body_like chomp
^\{"id":"([0-9A-HJKMNP-TV-Z]{26})","customer":"acme","category":"audio","filename":"x\.wav","content_type":"audio/wav","bytes":5000,"created_at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","file":"upload_\1\.wav","status":"stored"\}$
--- store_files eval
"acme/audio/DAY/upload_ID.wav sha256:$::Sum
acme/audio/DAY/ID.json = body"



=== TEST 2: PUT stores too; no name and no type: no suffix
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
    }
--- request eval
"PUT /upload\n" . $::Body
--- error_code: 201
--- response_body_like chomp
"filename":null,"content_type":null,"bytes":5000,.*"file":"upload_[0-9A-Z]{26}"
--- store_files eval
"acme/audio/DAY/upload_ID sha256:$::Sum
acme/audio/DAY/ID.json = body"



=== TEST 3: variables are set once the file is stored
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer $arg_c;
        upload_store_category calls;
        add_header X-Id $upload_store_id always;
        add_header X-Customer $upload_store_customer always;
        add_header X-Category $upload_store_category always;
        add_header X-Bytes $upload_store_bytes always;
        add_header X-Filename $upload_store_filename always;
        add_header X-Type $upload_store_content_type always;
        add_header X-Path $upload_store_path always;
    }
--- more_headers
Content-Type: audio/mpeg; rate=8000
Content-Disposition: attachment; filename="C:\\rec\\Call 1.MP3"
--- request
POST /upload?c=acme-01
hello
--- error_code: 201
--- response_headers_like
X-Id: [0-9A-HJKMNP-TV-Z]{26}
X-Customer: acme-01
X-Category: calls
X-Bytes: 5
X-Filename: Call 1\.MP3
X-Type: audio/mpeg
X-Path: .*/html/store/acme-01/calls/\d{4}-\d\d-\d\d/upload_[0-9A-Z]{26}\.mp3
--- store_files
acme-01/calls/DAY/upload_ID.mp3 5
acme-01/calls/DAY/ID.json = body



=== TEST 4: the variables are empty when nothing was stored
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer $arg_c;
        add_header X-Id "[$upload_store_id]" always;
        add_header X-Bytes "[$upload_store_bytes]" always;
    }
--- request
POST /upload
hello
--- error_code: 403
--- response_headers
X-Id: []
X-Bytes: []
--- store_files
--- no_error_log
[error]



=== TEST 5: prefix, category from a variable, suffix from the type
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_category $arg_cat;
        upload_store_prefix transcribe_;
    }
--- more_headers
Content-Type: audio/ogg
--- request
POST /upload?cat=voicemail
hello
--- error_code: 201
--- response_body_like chomp
"category":"voicemail",.*"file":"transcribe_[0-9A-Z]{26}\.ogg"
--- store_files
acme/voicemail/DAY/transcribe_ID.ogg 5
acme/voicemail/DAY/ID.json = body



=== TEST 6: filename* (RFC 8187) wins, its path stripped, suffix lower-cased
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
    }
--- more_headers
Content-Type: audio/flac
Content-Disposition: attachment; filename="fallback.wav"; filename*=UTF-8''..%2F..%2F%E2%82%AC%20rates.FLAC
--- request
POST /upload
hello
--- error_code: 201
--- response_body_like chomp
"filename":"€ rates\.FLAC",.*"file":"upload_[0-9A-Z]{26}\.flac"
--- store_files
acme/audio/DAY/upload_ID.flac 5
acme/audio/DAY/ID.json = body



=== TEST 7: an extension that is not [a-z0-9]{1,10} falls back to the type
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
    }
--- more_headers
Content-Type: audio/webm
Content-Disposition: attachment; filename="a.verylongextension"
--- request
POST /upload
hello
--- error_code: 201
--- response_body_like chomp
"filename":"a\.verylongextension",.*"file":"upload_[0-9A-Z]{26}\.webm"
--- store_files
acme/audio/DAY/upload_ID.webm 5
acme/audio/DAY/ID.json = body



=== TEST 8: files and directories get the store's access modes
--- http_config
    upload_store_path html/store zone=audio:1m access=user:rw,group:r;
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
    }
--- request
POST /upload
hello
--- error_code: 201
--- store_files
acme/audio/DAY/upload_ID 5 mode:0640
acme/audio/DAY/ID.json mode:0640
dir acme mode:0750
dir acme/audio/DAY mode:0750



=== TEST 9: the default modes: user only
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
    }
--- request
POST /upload
hello
--- error_code: 201
--- store_files
acme/audio/DAY/upload_ID 5 mode:0600
acme/audio/DAY/ID.json mode:0600
dir acme/audio/DAY mode:0700
dir .tmp mode:0700
