# multipart/form-data parsed as it streams: only the file part's bytes are
# stored; the other fields go to the metadata, within bounds.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use UploadStore;

# what begins like a delimiter inside the audio is data
our $Audio = "RIFF\x24\x00\x00\x00WAVEfmt \r\n--XYz\r\n-\r\n--XY\0\n--X\xff"
             . CORE::join('', map { chr(($_ * 13 + 7) % 256) } 1 .. 299);
our $Sum = UploadStore::sha256($::Audio);

# samples with no container: nothing in their first bytes tells a type
our $Pcm = CORE::join('', map { chr(($_ * 7 + 3) % 128) } 1 .. 300);

sub form {
    my ($boundary, $eol, @parts) = @_;
    my $body = '';

    while (my ($headers, $data) = splice @parts, 0, 2) {
        $body .= "--$boundary$eol" . CORE::join($eol, @$headers) . "$eol$eol"
                 . $data . $eol;
    }

    return $body . "--$boundary--$eol";
}

sub file_part {
    my ($name, $filename, $type) = @_;

    return ["Content-Disposition: form-data; name=\"$name\""
            . (defined $filename ? "; filename=\"$filename\"" : ''),
            defined $type ? ("Content-Type: $type") : ()];
}

sub field {
    return ["Content-Disposition: form-data; name=\"$_[0]\""], $_[1];
}

our $Form = form('XYZ', "\r\n",
                 field('model', 'whisper-1'),
                 field('language', 'en'),
                 file_part('file', 'x.wav', 'audio/wav') => $::Audio);

sub raw_post {
    my ($uri, $boundary, $body) = @_;

    return "POST $uri HTTP/1.1\r\nHost: localhost\r\n"
           . "Content-Type: multipart/form-data; boundary=$boundary\r\n"
           . "Content-Length: " . length($body) . "\r\n"
           . "Connection: close\r\n\r\n";
}

UploadStore::preamble(
    checks   => [qw(http2 files json)],
    defaults => {
        http_config  => "upload_store_path html/store zone=audio:1m;",
        store_files  => "",
        no_error_log => "[error]\n[crit]\n[alert]",
        config       => <<'_EOC_',
    location /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_types audio/*;
        upload_store_checksum sha256;
        add_header X-Sha256 $upload_store_sha256 always;
    }
_EOC_
    },
);

run_tests();

__DATA__

=== TEST 1: curl -F model=whisper-1 -F file=@x.wav
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n" . $::Form
--- error_code: 201
--- response_headers eval
"X-Sha256: $::Sum"
--- response_body_like eval
qr/^\{"id":"[0-9A-Z]{26}","customer":"acme","category":"audio","filename":"x\.wav","content_type":"audio\/wav","bytes":337,.*"status":"stored","sha256":"$::Sum","fields":\{"model":"whisper-1","language":"en"\}\}$/
--- store_files eval
"acme/audio/DAY/upload_ID.wav sha256:$::Sum
acme/audio/DAY/ID.json = body"



=== TEST 2: the body read one byte at a time: every split of every boundary
--- config
    location /upload {
        client_body_buffer_size 1;
        upload_store_receive audio;
        upload_store_customer acme;
    }
--- raw_request eval
[::raw_post("/upload", "XYZ", $::Form), $::Form]
--- raw_request_middle_delay: 0.1
--- error_code: 201
--- response_body_like chomp
"bytes":337,.*"fields":\{"model":"whisper-1","language":"en"\}
--- store_files eval
"acme/audio/DAY/upload_ID.wav sha256:$::Sum
acme/audio/DAY/ID.json = body"



=== TEST 3: read 7 bytes at a time
--- config
    location /upload {
        client_body_buffer_size 7;
        upload_store_receive audio;
        upload_store_customer acme;
    }
--- raw_request eval
[::raw_post("/upload", "XYZ", $::Form), $::Form]
--- raw_request_middle_delay: 0.1
--- error_code: 201
--- store_files eval
"acme/audio/DAY/upload_ID.wav sha256:$::Sum
acme/audio/DAY/ID.json = body"



=== TEST 4: sent in pieces of 1, 2 and 3 bytes, chunked
--- config
    location /upload {
        client_body_buffer_size 16;
        upload_store_receive audio;
        upload_store_customer acme;
    }
--- raw_request eval
my $i = 0;
my @chunks;
for (my $p = 0; $p < length $::Form; $i++) {
    my $n = 1 + $i % 3;
    push @chunks, sprintf("%x\r\n%s\r\n", length(substr $::Form, $p, $n),
                          substr $::Form, $p, $n);
    $p += $n;
}
["POST /upload HTTP/1.1\r\nHost: localhost\r\n"
 . "Content-Type: multipart/form-data; boundary=XYZ\r\n"
 . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
 CORE::join('', @chunks) . "0\r\n\r\n"]
--- raw_request_middle_delay: 0.1
--- error_code: 201
--- store_files eval
"acme/audio/DAY/upload_ID.wav sha256:$::Sum
acme/audio/DAY/ID.json = body"



=== TEST 5: a quoted boundary with spaces, a preamble and an epilogue
--- more_headers
Content-Type: multipart/form-data; charset=utf-8; boundary="a b:c(d)"
--- request eval
"POST /upload\n" . "This is the preamble.\r\n"
. ::form('a b:c(d)', "\r\n", ::file_part('file', 'y.ogg', 'audio/ogg')
                           => $::Audio)
. "This is the epilogue.\r\n"
--- error_code: 201
--- response_body_like chomp
"filename":"y\.ogg","content_type":"audio/ogg","bytes":337,.*"fields":\{\}
--- store_files eval
"acme/audio/DAY/upload_ID.ogg sha256:$::Sum
acme/audio/DAY/ID.json = body"



=== TEST 6: lines ending with LF alone
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n" . ::form('XYZ', "\n", ::field('model', 'm'),
                        ::file_part('file', 'x.wav', 'audio/wav')
                        => $::Audio)
--- error_code: 201
--- response_body_like chomp
"bytes":337,.*"fields":\{"model":"m"\}
--- store_files eval
"acme/audio/DAY/upload_ID.wav sha256:$::Sum
acme/audio/DAY/ID.json = body"



=== TEST 7: a part without Content-Type, where any type is allowed: no suffix, since neither a type nor the bytes give one
--- config
    location /upload {
        upload_store_receive audio;
        upload_store_customer acme;
    }
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n" . ::form('XYZ', "\r\n", ::file_part('file', 'raw.pcm')
                        => $::Pcm)
--- error_code: 201
--- response_body_like chomp
"filename":"raw\.pcm","content_type":null,.*"file":"upload_[0-9A-Z]{26}"
--- store_files eval
"acme/audio/DAY/upload_ID sha256:" . UploadStore::sha256($::Pcm) . "
acme/audio/DAY/ID.json = body"



=== TEST 8: a part without Content-Type, where types are required: 415
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n" . ::form('XYZ', "\r\n", ::file_part('file', 'raw.pcm')
                        => $::Pcm)
--- error_code: 415
--- response_body
{"error":{"status":415,"code":"type_not_allowed","message":"a valid Content-Type is required","type":"invalid_request_error"}}



=== TEST 9: a file part whose type is not allowed: 415, nothing stored
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n" . ::form('XYZ', "\r\n", ::field('model', 'm'),
                        ::file_part('file', 'x.txt', 'text/plain') => "hello")
--- error_code: 415
--- response_body
{"error":{"status":415,"code":"type_not_allowed","message":"content type \"text/plain\" is not allowed","type":"invalid_request_error"}}



=== TEST 10: a field after the file, and a field given twice
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n" . ::form('XYZ', "\r\n",
    ::field('timestamp_granularities[]', 'word'),
    ::file_part('file', 'x.wav', 'audio/wav') => $::Audio,
    ::field('timestamp_granularities[]', 'segment'),
    ::field('prompt', "Two lines,\nwith \"quotes\" and \x{e2}\x{82}\x{ac}"))
--- error_code: 201
--- response_body_like chomp
"fields":\{"timestamp_granularities\[\]":\["word","segment"\],"prompt":"Two lines,\\nwith \\"quotes\\" and €"\}\}
--- store_files eval
"acme/audio/DAY/upload_ID.wav sha256:$::Sum
acme/audio/DAY/ID.json = body"



=== TEST 11: a second file part: 400, nothing stored
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n" . ::form('XYZ', "\r\n",
    ::file_part('file', 'a.wav', 'audio/wav') => $::Audio,
    ::file_part('file', 'b.wav', 'audio/wav') => $::Audio)
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"file_duplicate","message":"the form has more than one \"file\" part","type":"invalid_request_error"}}



=== TEST 12: no closing boundary: 400, nothing stored
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.wav\"\r\nContent-Type: audio/wav\r\n\r\n$::Audio\r\n--XY"
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"multipart_incomplete","message":"the form ends before its closing boundary","type":"invalid_request_error"}}



=== TEST 13: no file part: 400
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n" . ::form('XYZ', "\r\n", ::field('model', 'whisper-1'))
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"file_missing","message":"the form has no \"file\" part","type":"invalid_request_error"}}



=== TEST 14: part headers over the limit: 400
--- config
    location /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_form_limits headers=128;
    }
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n" . ::form('XYZ', "\r\n",
    [@{ ::file_part('file', 'x.wav', 'audio/wav') }, "X-Pad: " . ("p" x 100)]
    => $::Audio)
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"part_headers_too_large","message":"the headers of a part are longer than 128 bytes","type":"invalid_request_error"}}



=== TEST 15: a boundary of 71 characters: 400 before the body is read
--- more_headers eval
"Content-Type: multipart/form-data; boundary=" . ("b" x 71)
--- request eval
"POST /upload\n" . ::form("b" x 71, "\r\n", ::file_part('file', 'x.wav',
                        'audio/wav') => $::Audio)
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"boundary_invalid","message":"multipart/form-data needs a boundary of 1 to 70 characters","type":"invalid_request_error"}}



=== TEST 16: a boundary of 70 characters is fine
--- more_headers eval
"Content-Type: multipart/form-data; boundary=" . ("b" x 70)
--- request eval
"POST /upload\n" . ::form("b" x 70, "\r\n", ::file_part('file', 'x.wav',
                        'audio/wav') => $::Audio)
--- error_code: 201
--- store_files eval
"acme/audio/DAY/upload_ID.wav sha256:$::Sum
acme/audio/DAY/ID.json = body"



=== TEST 17: no boundary at all: 400
--- more_headers
Content-Type: multipart/form-data
--- request eval
"POST /upload\n" . $::Form
--- error_code: 400
--- response_body_like chomp
"code":"boundary_invalid"



=== TEST 18: path components stripped from a Windows name and a ../ name
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
["POST /upload\n" . ::form('XYZ', "\r\n",
     ::file_part('file', 'C:\\\\rec\\\\b.WAV', 'audio/wav') => $::Audio),
 "POST /upload\n" . ::form('XYZ', "\r\n",
     ::file_part('file', '../../b.wav', 'audio/wav') => $::Audio)]
--- error_code eval
[201, 201]
--- response_body_like eval
['"filename":"b\.WAV",.*"file":"upload_[0-9A-Z]{26}\.wav"',
 '"filename":"b\.wav",']
--- store_files eval
"acme/audio/DAY/upload_ID.wav sha256:$::Sum
acme/audio/DAY/ID.json
acme/audio/DAY/upload_ID.wav sha256:$::Sum
acme/audio/DAY/ID.json"



=== TEST 19: filename* (RFC 8187) in a part
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n" . ::form('XYZ', "\r\n",
    ["Content-Disposition: form-data; name=file; filename=\"plain.wav\"; filename*=UTF-8''%E2%82%AC%20rates.M4A",
     "Content-Type: audio/mp4"] => $::Audio)
--- error_code: 201
--- response_body_like chomp
"filename":"€ rates\.M4A","content_type":"audio/mp4",.*"file":"upload_[0-9A-Z]{26}\.m4a"
--- store_files eval
"acme/audio/DAY/upload_ID.m4a sha256:$::Sum
acme/audio/DAY/ID.json = body"



=== TEST 20: more fields than allowed: 400
--- config
    location /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_form_limits fields=2;
    }
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n" . ::form('XYZ', "\r\n", ::field('a', 1), ::field('b', 2),
                        ::field('c', 3), ::file_part('file', 'x.wav') => "x")
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"fields_too_many","message":"the form has more than 2 fields","type":"invalid_request_error"}}



=== TEST 21: a field name over the limit: 400
--- config
    location /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_form_limits name=8;
    }
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n" . ::form('XYZ', "\r\n", ::field('a' x 9, 1),
                        ::file_part('file', 'x.wav') => "x")
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"field_name_invalid","message":"a field name is empty or longer than 8 bytes","type":"invalid_request_error"}}



=== TEST 22: a field value over the limit: 400
--- config
    location /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_form_limits value=1k;
    }
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n" . ::form('XYZ', "\r\n", ::field('prompt', 'p' x 1025),
                        ::file_part('file', 'x.wav') => "x")
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"field_too_large","message":"field \"prompt\" is longer than 1024 bytes","type":"invalid_request_error"}}



=== TEST 23: a field value that is not UTF-8: 400
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n" . ::form('XYZ', "\r\n", ::field('prompt', "a\xff\xfeb"),
                        ::file_part('file', 'x.wav', 'audio/wav') => "x")
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"field_invalid","message":"a field name or value is not UTF-8","type":"invalid_request_error"}}



=== TEST 24: the file in a field of another name
--- config
    location /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_field audio;
    }
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n" . ::form('XYZ', "\r\n", ::field('file', 'just a field'),
                        ::file_part('audio', 'x.wav', 'audio/wav')
                        => $::Audio)
--- error_code: 201
--- response_body_like chomp
"fields":\{"file":"just a field"\}
--- store_files eval
"acme/audio/DAY/upload_ID.wav sha256:$::Sum
acme/audio/DAY/ID.json = body"



=== TEST 25: a delimiter line with junk after the boundary: 400
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n--XYZjunk\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--XYZ--\r\n"
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"multipart_invalid","message":"malformed multipart/form-data","type":"invalid_request_error"}}



=== TEST 26: a part without a name: 400
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n--XYZ\r\nContent-Type: audio/wav\r\n\r\nx\r\n--XYZ--\r\n"
--- error_code: 400
--- response_body_like chomp
"code":"multipart_invalid","message":"a part has no



=== TEST 27: an empty file part: 400
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n" . ::form('XYZ', "\r\n", ::file_part('file', 'x.wav',
                        'audio/wav') => "")
--- error_code: 400
--- response_body_like chomp
"code":"empty_body"



=== TEST 28: the checksum of a raw body too
--- more_headers
Content-Type: audio/wav
--- request eval
"POST /upload\n" . $::Audio
--- error_code: 201
--- response_headers eval
"X-Sha256: $::Sum"
--- response_body_like eval
qr/"sha256":"$::Sum"\}$/
--- store_files eval
"acme/audio/DAY/upload_ID.wav sha256:$::Sum
acme/audio/DAY/ID.json = body"



=== TEST 29: a client that goes away in the middle of the file part
--- config
    location /upload {
        client_body_buffer_size 1k;
        upload_store_receive audio;
        upload_store_customer acme;
    }
--- raw_request eval
my $big = "--XYZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n"
          . ("z" x 100000);
[::raw_post("/upload", "XYZ", $big . "\r\n--XYZ--\r\n"),
 substr($big, 0, 50000)]
--- raw_request_middle_delay: 0.05
--- timeout: 0.5
--- abort
--- error_code chomp
--- no_error_log
[crit]
[alert]



=== TEST 30: HTTP/2, a large form through a small buffer
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
["/upload", "multipart/form-data; boundary=XYZ",
 ::form('XYZ', "\r\n", ::field('model', 'whisper-1'),
        ::file_part('file', 'big.wav', 'audio/wav') => $::Audio x 3000)]
--- store_files eval
"acme/audio/DAY/upload_ID.wav sha256:" . UploadStore::sha256($::Audio x 3000) . "
acme/audio/DAY/ID.json"



=== TEST 31: curl -F sends a .wav as application/octet-stream: the name tells
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n" . ::form('XYZ', "\r\n", ::file_part('file', 'x.WAV',
                          'application/octet-stream') => $::Audio)
--- error_code: 201
--- response_body_like chomp
"filename":"x\.WAV","content_type":"audio/wav",.*"file":"upload_[0-9A-Z]{26}\.wav"
--- store_files eval
"acme/audio/DAY/upload_ID.wav sha256:$::Sum
acme/audio/DAY/ID.json = body"



=== TEST 32: application/octet-stream with an unknown extension: 415
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n" . ::form('XYZ', "\r\n", ::file_part('file', 'x.bin',
                          'application/octet-stream') => $::Pcm)
--- error_code: 415
--- response_body
{"error":{"status":415,"code":"type_not_allowed","message":"content type \"application/octet-stream\" is not allowed","type":"invalid_request_error"}}



=== TEST 33: an empty field (curl -F model=, a browser's empty input) is an empty string
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n" . ::form('XYZ', "\r\n", ::field('model', ''),
                          ::field('prompt', ''), ::field('language', 'en'),
                          ::file_part('file', 'x.wav', 'audio/wav') => $::Audio)
--- error_code: 201
--- response_json eval
{ "/fields/model" => "", "/fields/prompt" => "", "/fields/language" => "en",
  "/status" => "stored" }
--- store_files eval
"acme/audio/DAY/upload_ID.wav sha256:$::Sum
acme/audio/DAY/ID.json = body"



=== TEST 34: a browser's Windows path (backslashes as they are) and its %22 for a quote
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
["POST /upload\n" . ::form('XYZ', "\r\n",
     ::file_part('file', 'C:\\Users\\me\\talk.wav', 'audio/wav') => $::Audio),
 "POST /upload\n" . ::form('XYZ', "\r\n",
     ::file_part('file', 'say %22hi%22.wav', 'audio/wav') => $::Audio)]
--- error_code eval
[201, 201]
--- response_json eval
[{ "/filename" => "talk.wav" }, { "/filename" => 'say "hi".wav' }]
--- store_files eval
"acme/audio/DAY/upload_ID.wav sha256:$::Sum
acme/audio/DAY/ID.json
acme/audio/DAY/upload_ID.wav sha256:$::Sum
acme/audio/DAY/ID.json"



=== TEST 35: the file under another name (curl -F audio=@x.wav): no "file" part, and where the file is
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n" . ::form('XYZ', "\r\n", ::field('model', 'whisper-1'),
                          ::file_part('audio', 'x.wav', 'audio/wav')
                          => $::Audio x 100)
--- error_code: 400
--- response_body
{"error":{"status":400,"code":"file_missing","message":"the form has no \"file\" part: its file is in \"audio\", send it as \"file\"","type":"invalid_request_error"}}
--- store_files



=== TEST 36: a field's limit counts its escaped bytes: 3000 control bytes are 18000 in the record
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /upload\n" . ::form('XYZ', "\r\n", ::field('prompt', "\x01" x 3000),
                          ::file_part('file', 'x.wav', 'audio/wav') => $::Audio)
--- error_code: 400
--- response_json eval
{ "/error/code" => "field_too_large",
  "/error/message" => 'field "prompt" is longer than 16384 bytes' }
--- store_files



=== TEST 37: no useful type (none, or curl's octet-stream): the audio's first bytes tell it, as they tell the provider
--- config
    location /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_types audio/*;
    }
--- more_headers eval
["Content-Type: multipart/form-data; boundary=XYZ",
 "Content-Type: multipart/form-data; boundary=XYZ",
 "Content-Type: application/x-www-form-urlencoded",
 ""]
--- request eval
["POST /upload\n" . ::form('XYZ', "\r\n", ::file_part('file', 'rec')
                          => $::Audio),
 "POST /upload\n" . ::form('XYZ', "\r\n", ::file_part('file', 'blob',
                          'application/octet-stream') => "OggS\0\2" . $::Pcm),
 "POST /upload\nID3\3\0" . $::Pcm,
 "PUT /upload\nfLaC\0\0\0\x22" . $::Pcm]
--- error_code eval
[201, 201, 201, 201]
--- response_json eval
[{ "/content_type" => "audio/wav", "/file" => qr/\.wav$/ },
 { "/content_type" => "audio/ogg", "/file" => qr/\.ogg$/ },
 { "/content_type" => "audio/mpeg", "/file" => qr/\.mp3$/ },
 { "/content_type" => "audio/flac", "/file" => qr/\.flac$/ }]
--- store_files eval
"acme/audio/DAY/upload_ID.wav sha256:$::Sum
acme/audio/DAY/ID.json
acme/audio/DAY/upload_ID.ogg 306
acme/audio/DAY/ID.json
acme/audio/DAY/upload_ID.mp3 305
acme/audio/DAY/ID.json
acme/audio/DAY/upload_ID.flac 308
acme/audio/DAY/ID.json"
