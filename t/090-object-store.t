# The object store: every upload copied to an S3 bucket by a job of its
# own (libcurl's SigV4, on nginx's events), large ones as S3 multipart
# uploads; retried while the gateway refuses or is away; deleted with the
# upload. The gateway is a real one that checks signatures: Ceph's RADOS
# Gateway from Debian (util/s3-local), started for this file.

use Test::Nginx::Socket;
use lib 't/lib';
use UploadStore;
use ObjectStore;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes ();

BEGIN { ObjectStore::start(); ObjectStore::tls() }

$ENV{TEST_NGINX_S3_TLS_PORT} = server_port() + 29;

plan 'no_plan';

master_on();
workers(1);

our $Audio = "RIFF....WAVEfmt " . join('', map { chr($_ % 251) } 1 .. 300000);
our $Big = join('', map { chr(($_ * 7) % 256) x 1024 } 1 .. 12 * 1024);

add_response_body_check(ObjectStore::object_check());

UploadStore::preamble(
    checks   => [qw(files json)],
    defaults => {
        timeout      => 60,
        no_error_log => "[crit]\n[alert]\n[emerg]",
        http_config  => <<'_EOC_',
    upload_store_path html/store zone=audio:1m min_free=0;
    upload_store_object_store audio $TEST_NGINX_S3_URL region=us-east-1
                              credentials=../html/s3.key prefix=node-a/
                              part_size=5m backoff=100ms..1s retries=3;
_EOC_
        config       => <<'_EOC_',
    location = /upload {
        client_max_body_size 300m;
        upload_store_receive audio;
        upload_store_customer acme;
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
>>> s3.key
UPLOADSTORETESTKEY01
upload-store-test-secret-0123456789abcdef
_EOC_
    },
);

# the 302 itself: its URL signed for the method, valid 120 s, refused by
# the gateway once altered

sub presigned {
    my (@err, $r);
    my $port = server_port();
    my $http = HTTP::Tiny->new(max_redirect => 0);
    my ($rec) = glob(Test::Nginx::Util::html_dir()
                     . "/store/acme/audio/*/*.json");
    my ($id) = ($rec // '') =~ m{/([0-9A-Z]{26})\.json$};

    return "no record" unless $id;

    for my $method (qw(GET HEAD)) {
        $r = $http->request($method, "http://127.0.0.1:$port/files/$id",
                            { headers => { 'X-Customer' => 'acme' } });
        my $url = $r->{headers}{location} // '';

        push @err, "$method: $r->{status}" if $r->{status} != 302;
        push @err, "$method: Location $url"
            unless $url =~ m{^\Q$ENV{TEST_NGINX_S3_URL}\E/node-a/acme/audio/[-0-9]+/upload_$id\.wav\?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=UPLOADSTORETESTKEY01%2F\d{8}%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=\d{8}T\d{6}Z&X-Amz-Expires=120&X-Amz-SignedHeaders=host&X-Amz-Signature=[0-9a-f]{64}$};
        push @err, "$method: Cache-Control "
                   . ($r->{headers}{'cache-control'} // '')
            if ($r->{headers}{'cache-control'} // '') ne 'no-store';

        $r = HTTP::Tiny->new->request($method, $url);
        push @err, "$method of the URL: $r->{status}" if $r->{status} != 200;

        my $other = $method eq 'GET' ? 'HEAD' : 'GET';
        $r = HTTP::Tiny->new->request($other, $url);
        push @err, "$other of the $method URL: $r->{status}"
            if $r->{status} != 403;

        (my $longer = $url) =~ s/X-Amz-Expires=120/X-Amz-Expires=604800/;
        $r = HTTP::Tiny->new->request($method, $longer);
        push @err, "$method, altered: $r->{status}" if $r->{status} != 403;
    }

    return @err;
}

# the record notes its object and the local audio is gone (keep_local):
# upload_ID.wav, or upload_ID for an upload of no type

sub local_gone {
    my ($rec, $suffix) = @_;
    my $h = Test::Nginx::Util::html_dir();

    return defined $rec->{object}{etag}
           && !(() = glob "$h/store/acme/audio/*/upload_$rec->{id}$suffix");
}

sub evicted { local_gone($_[0], '.wav') }
sub evicted_untyped { local_gone($_[0], '') }

# a conditional GET of an object: 304 at once, its body not read

sub conditional {
    my (@err, $r);
    my $port = server_port();
    my ($rec) = glob(Test::Nginx::Util::html_dir()
                     . "/store/acme/audio/*/*.json");
    my ($id) = ($rec // '') =~ m{/([0-9A-Z]{26})\.json$};
    my $url = "http://127.0.0.1:$port/files/$id";

    $r = HTTP::Tiny->new->get($url, { headers => { 'X-Customer' => 'acme' } });
    my $etag = $r->{headers}{etag} // '';
    push @err, "ETag $etag" unless $etag =~ /^"[0-9a-f]{32}"$/;

    $r = HTTP::Tiny->new->get($url, { headers => { 'X-Customer' => 'acme',
                                                   'If-None-Match' => $etag } });
    push @err, "If-None-Match: $r->{status}" if $r->{status} != 304;

    $r = HTTP::Tiny->new->get($url, { headers => { 'X-Customer' => 'acme',
                                                   Range => 'bytes=900000-' } });
    push @err, "a range outside: $r->{status} $r->{content}"
        unless $r->{status} == 416
               && $r->{content} =~ /"code":"range_not_satisfiable"/;

    return @err;
}

# offloaded, the gateway stopped, DELETE: 204 and then 404 (from this
# node's tombstone: with the gateway away, a look in the bucket would be
# 502); the gateway back: the objects go

sub deleted_while_away {
    my (@err, $r, $rec);
    my $port = server_port();
    my ($file) = glob(Test::Nginx::Util::html_dir()
                      . "/store/acme/audio/*/*.json");
    my ($id) = ($file // '') =~ m{/([0-9A-Z]{26})\.json$};
    my $url = "http://127.0.0.1:$port/files/$id";
    my $http = HTTP::Tiny->new(default_headers => { 'X-Customer' => 'acme' });

    for (1 .. 100) {
        $r = $http->get("$url/metadata");
        $rec = eval { JSON::PP->new->decode($r->{content}) } // {};
        last if defined $rec->{object}{etag};
        Time::HiRes::sleep(0.1);
    }

    return "not offloaded" unless defined $rec->{object}{etag};

    ObjectStore::gateway('stop');

    $r = $http->request('DELETE', $url);
    push @err, "DELETE $r->{status}" if $r->{status} != 204;

    for my $u ($url, "$url/metadata") {
        $r = $http->get($u);
        push @err, "GET $u after DELETE: $r->{status}" if $r->{status} != 404;
    }

    Time::HiRes::sleep(1);
    ObjectStore::gateway('start');

    my $key = $rec->{object}{key};
    my ($a, $b) = (0, 0);

    for (1 .. 300) {
        ($a) = ObjectStore::s3('HEAD', $key, '-I');
        ($b) = ObjectStore::s3('HEAD', $key =~ s{[^/]+$}{$id.json}r, '-I');
        last if $a == 404 && $b == 404;
        Time::HiRes::sleep(0.1);
    }

    push @err, "objects left: $a $b" unless $a == 404 && $b == 404;

    return @err;
}

run_tests();

__DATA__

=== TEST 1: an upload is copied to the bucket, byte for byte, under the names it has on disk; its record notes the object and goes too
--- more_headers
Content-Type: audio/wav
--- request eval
"POST /upload\n$::Audio"
--- error_code: 201
--- response_json eval
{ "/status" => "stored", "/bytes" => length $::Audio }
--- object eval
{ record => { "/object/key" => qr{^node-a/acme/audio/\d{4}-\d\d-\d\d/upload_[0-9A-Z]{26}\.wav$},
              "/object/etag" => qr/^[0-9a-f]{32}$/,
              "/object/stored_at" => qr/^\d{4}-.*Z$/,
              "/object/attempts" => 1,
              "" => sub { !exists $_[0]{object}{last_error} } },
  same => \$::Audio,
  bucket => { "/status" => "stored", "/object/etag" => qr/^[0-9a-f]{32}$/,
              "/bytes" => length $::Audio },
  local => 1,
  admin => { "/objects/offloaded" => 1, "/objects/bytes" => length $::Audio,
             "/objects/failed" => 0, "/objects/retries" => 0 } }
--- error_log eval
qr/offload of customer "acme", id [0-9A-Z]{26}: 300016 bytes sent to key "node-a\/acme\/audio\/[-0-9]+\/upload_[0-9A-Z]{26}\.wav" in \d+ ms/
--- store_files
acme/audio/DAY/upload_ID.wav 300016
acme/audio/DAY/ID.json



=== TEST 2: over part_size: an S3 multipart upload, three parts, the object whole
--- request eval
"POST /upload\n$::Big"
--- error_code: 201
--- object eval
{ record => { "/object/etag" => qr/^[0-9a-f]{32}-3$/ },
  same => \$::Big,
  admin => { "/objects/offloaded" => 1 } }
--- store_files
acme/audio/DAY/upload_ID 12582912
acme/audio/DAY/ID.json



=== TEST 3: a wrong secret: the gateway refuses the signature; the record says so, the offload is retried, then given up; the local copy stays
--- user_files
>>> s3.key
UPLOADSTORETESTKEY01
not-the-secret
--- request eval
"POST /upload\n$::Audio"
--- error_code: 201
--- object eval
{ until => sub { ($_[0]{object}{attempts} // 0) >= 4 },
  record => { "/object/last_error" => "HTTP 403 SignatureDoesNotMatch",
              "/object/attempts" => 4,
              "" => sub { !exists $_[0]{object}{key} } },
  local => 1,
  admin => { "/objects/failed" => 1, "/objects/retries" => 3,
             "/objects/offloaded" => 0 } }
--- error_log eval
qr/offload of customer "acme", id [0-9A-Z]{26}, path "[^"]+" failed after 4 attempts: HTTP 403 SignatureDoesNotMatch/
--- no_error_log
[crit]
[alert]
--- store_files
acme/audio/DAY/upload_ID.wav 300016
acme/audio/DAY/ID.json



=== TEST 4: the gateway away for 20 s mid-offload: every offload completes when it is back, nothing lost
--- http_config
    upload_store_path html/store zone=audio:1m min_free=0;
    upload_store_object_store audio $TEST_NGINX_S3_URL region=us-east-1
                              credentials=../html/s3.key prefix=node-a/
                              part_size=5m backoff=200ms..2s retries=100;
--- init
ObjectStore::gateway('stop');
--- request eval
[map { "POST /upload\n$::Audio" } 1 .. 5]
--- error_code eval
[(201) x 5]
--- object eval
{ gateway => 20, timeout => 60,
  same => \$::Audio,
  record => { "/object/attempts" => sub { $_[0] > 1 } },
  admin => { "/objects/offloaded" => 5, "/objects/failed" => 0,
             "/objects/retries" => sub { $_[0] >= 5 } } }
--- store_files
acme/audio/DAY/upload_ID.wav 300016
acme/audio/DAY/ID.json
acme/audio/DAY/upload_ID.wav 300016
acme/audio/DAY/ID.json
acme/audio/DAY/upload_ID.wav 300016
acme/audio/DAY/ID.json
acme/audio/DAY/upload_ID.wav 300016
acme/audio/DAY/ID.json
acme/audio/DAY/upload_ID.wav 300016
acme/audio/DAY/ID.json



=== TEST 5: DELETE through the files API deletes both objects
--- request eval
"POST /upload\n$::Audio"
--- error_code: 201
--- object eval
{ delete => 1, gone => 1,
  admin => { "/objects/deleted" => 2 } }
--- error_log eval
qr/objects of customer "acme", id [0-9A-Z]{26} deleted, key "node-a\//
--- store_files



=== TEST 6: keep_local=off: the local audio goes once its object is confirmed; the files API serves it from the bucket, with ranges
--- http_config
    upload_store_path html/store zone=audio:1m min_free=0;
    upload_store_object_store audio $TEST_NGINX_S3_URL region=us-east-1
                              credentials=../html/s3.key prefix=node-a/
                              keep_local=off backoff=100ms..1s;
--- more_headers
Content-Type: audio/wav
--- request eval
"POST /upload\n$::Audio"
--- error_code: 201
--- object eval
{ until => \&::evicted,
  local => 0,
  get => [["/files/ID", { "X-Customer" => "acme" }, 200, $::Audio],
          ["/files/ID", { "X-Customer" => "acme", Range => "bytes=4-11" },
           206, "....WAVE"],
          ["/files/ID", { "X-Customer" => "acme", Range => "bytes=300000-" },
           206, sub { length $_[0] == 16
                      && $_[1]{headers}{"content-range"}
                         eq "bytes 300000-300015/300016" }],
          ["/files/ID/transcript", { "X-Customer" => "acme" }, 409],
          ["/files/ID/metadata", { "X-Customer" => "acme" }, 200,
           sub { $_[0] =~ /"etag":"[0-9a-f]{32}"/ }]],
  run => \&::conditional,
  admin => { "/objects/evicted" => 1, "/objects/reads" => 6 } }
--- error_log eval
qr/customer "acme", id [0-9A-Z]{26}, served from key "node-a\/acme\/audio\//
--- store_files
acme/audio/DAY/ID.json



=== TEST 7: keep_local=2s: the audio stays as a cache for 2 s after its offload, then goes; the record's second trip is whole
--- http_config
    upload_store_path html/store zone=audio:1m min_free=0;
    upload_store_object_store audio $TEST_NGINX_S3_URL region=us-east-1
                              credentials=../html/s3.key prefix=node-a/
                              keep_local=2s backoff=100ms..1s;
--- request eval
"POST /upload\n$::Audio"
--- error_code: 201
--- object eval
{ until => \&::evicted,
  record => { "/object/etag" => qr/^[0-9a-f]{32}$/,
              "" => sub { !exists $_[0]{object}{last_error} } },
  bucket => { "/status" => "stored", "/bytes" => length $::Audio,
              "/object/etag" => qr/^[0-9a-f]{32}$/ },
  local => 0,
  get => [["/files/ID", { "X-Customer" => "acme" }, 200, $::Audio]],
  admin => { "/objects/evicted" => 1, "/objects/failed" => 0,
             "/objects/retries" => 0 } }
--- store_files
acme/audio/DAY/ID.json



=== TEST 8: a DELETE is final at once: the gateway away, the upload is 404 here (not looked for in the bucket) until its objects are deleted, which they are once it is back
--- request eval
"POST /upload\n$::Audio"
--- error_code: 201
--- object eval
{ run => \&::deleted_while_away,
  admin => { "/objects/deleted" => 2 } }
--- store_files



=== TEST 9: 100 MiB as a multipart upload of 16 MiB parts; streamed both ways, the worker's memory stays small
--- skip_eval: 2: $ENV{TEST_NGINX_USE_VALGRIND} || ($ENV{TEST_NGINX_BINARY} // '') =~ /asan/
--- http_config
    upload_store_path html/store zone=audio:1m min_free=0;
    upload_store_object_store audio $TEST_NGINX_S3_URL region=us-east-1
                              credentials=../html/s3.key prefix=node-a/
                              keep_local=off;
--- request eval
"POST /upload\n" . ("\1" x (100 * 1024 * 1024))
--- error_code: 201
--- object eval
{ timeout => 120,
  until => \&::evicted_untyped,
  record => { "/object/etag" => qr/-7$/ },
  same => \("\1" x (100 * 1024 * 1024)),
  get => [["/files/ID", { "X-Customer" => "acme" }, 200,
           sub { length $_[0] == 100 * 1024 * 1024 && $_[0] !~ /[^\1]/ }]],
  rss_max => 64 * 1024 }
--- store_files
acme/audio/DAY/ID.json



=== TEST 10: retention: the cleanup removes an expired upload and queues the deletion of its objects, which go
--- http_config
    upload_store_path html/store zone=audio:1m min_free=0 retention=3s
                      interval=1s;
    upload_store_object_store audio $TEST_NGINX_S3_URL region=us-east-1
                              credentials=../html/s3.key prefix=node-a/
                              backoff=100ms..1s;
--- request eval
"POST /upload\n$::Audio"
--- error_code: 201
--- object eval
{ gone => 1,
  admin => { "/objects/deleted" => 2, "/cleanup/deleted" => 2,
             "/objects/offloaded" => 1 } }
--- error_log eval
[qr/cleanup queued the deletion of the objects of 1 expired uploads/,
 qr/objects of customer "acme", id [0-9A-Z]{26} deleted, key "node-a\/acme\/audio\/[-0-9]+\/upload_[0-9A-Z]{26}\.wav"/]
--- store_files



=== TEST 11: redirect=presigned: an evicted upload is a 302 to a URL the gateway accepts, for the client's method; altered, it is refused
--- http_config
    upload_store_path html/store zone=audio:1m min_free=0;
    upload_store_object_store audio $TEST_NGINX_S3_URL region=us-east-1
                              credentials=../html/s3.key prefix=node-a/
                              keep_local=off redirect=presigned expires=2m
                              backoff=100ms..1s;
--- more_headers
Content-Type: audio/wav
--- request eval
"POST /upload\n$::Audio"
--- error_code: 201
--- object eval
{ until => \&::evicted,
  get => [["/files/ID", { "X-Customer" => "acme" }, 200, $::Audio],
          ["/files/ID", { "X-Customer" => "acme", Range => "bytes=4-11" },
           206, "....WAVE"]],
  run => \&::presigned,
  admin => { "/objects/reads" => 4 } }
--- store_files
acme/audio/DAY/ID.json



=== TEST 12: the gateway over HTTPS, its certificate checked against ca=: the offload and the read back both go through TLS
--- http_config
    upload_store_path html/store zone=audio:1m min_free=0;
    upload_store_object_store audio
        https://127.0.0.1:$TEST_NGINX_S3_TLS_PORT/uploads region=us-east-1
        credentials=../html/s3.key prefix=tls/ keep_local=off
        ca=$TEST_NGINX_TLS_DIR/gw.pem backoff=100ms..1s;

    server {
        listen 127.0.0.1:$TEST_NGINX_S3_TLS_PORT ssl;
        ssl_certificate $TEST_NGINX_TLS_DIR/gw.pem;
        ssl_certificate_key $TEST_NGINX_TLS_DIR/gw.key;

        location / {
            proxy_pass http://127.0.0.1:$TEST_NGINX_S3_PORT;
            proxy_set_header Host $http_host;
            proxy_http_version 1.1;
            proxy_request_buffering off;
            client_max_body_size 0;
        }
    }
--- request eval
"POST /upload\n$::Audio"
--- error_code: 201
--- object eval
{ until => \&::evicted,
  record => { "/object/key" => qr{^tls/acme/audio/} },
  same => \$::Audio,
  get => [["/files/ID", { "X-Customer" => "acme" }, 200, $::Audio]] }
--- store_files
acme/audio/DAY/ID.json



=== TEST 13: the gateway over HTTPS without ca=: its certificate is refused, the offload fails, the local copy stays
--- http_config
    upload_store_path html/store zone=audio:1m min_free=0;
    upload_store_object_store audio
        https://127.0.0.1:$TEST_NGINX_S3_TLS_PORT/uploads region=us-east-1
        credentials=../html/s3.key prefix=tls/ keep_local=off
        backoff=100ms..200ms retries=1;

    server {
        listen 127.0.0.1:$TEST_NGINX_S3_TLS_PORT ssl;
        ssl_certificate $TEST_NGINX_TLS_DIR/gw.pem;
        ssl_certificate_key $TEST_NGINX_TLS_DIR/gw.key;

        location / {
            proxy_pass http://127.0.0.1:$TEST_NGINX_S3_PORT;
        }
    }
--- request eval
"POST /upload\n$::Audio"
--- error_code: 201
--- object eval
{ until => sub { ($_[0]{object}{attempts} // 0) >= 2 },
  record => { "/object/last_error" => qr/certificate/i,
              "" => sub { !exists $_[0]{object}{key} } },
  local => 1,
  admin => { "/objects/failed" => 1 } }
--- store_files
acme/audio/DAY/upload_ID.wav 300016
acme/audio/DAY/ID.json



=== TEST 14: no region, no credentials: refused at start
--- http_config
    upload_store_path html/store zone=audio:1m min_free=0;
    upload_store_object_store audio $TEST_NGINX_S3_URL
                              credentials=../html/s3.key;
--- config
--- no_error_log
[alert]
--- must_die
--- error_log
"upload_store_object_store" needs "region=" and "credentials="



=== TEST 15: a prefix that would not be a plain key
--- http_config
    upload_store_path html/store zone=audio:1m min_free=0;
    upload_store_object_store audio $TEST_NGINX_S3_URL region=us-east-1
                              credentials=../html/s3.key prefix=../x/;
--- config
--- no_error_log
[alert]
--- must_die
--- error_log
invalid parameter "prefix=../x/"



=== TEST 16: a part size S3 would refuse
--- http_config
    upload_store_path html/store zone=audio:1m min_free=0;
    upload_store_object_store audio $TEST_NGINX_S3_URL region=us-east-1
                              credentials=../html/s3.key part_size=1m;
--- config
--- no_error_log
[alert]
--- must_die
--- error_log
invalid parameter "part_size=1m": from 5m to 5g



=== TEST 17: a credentials file without a secret
--- http_config
    upload_store_path html/store zone=audio:1m min_free=0;
    upload_store_object_store audio $TEST_NGINX_S3_URL region=us-east-1
                              credentials=../html/one.key;
--- user_files
>>> one.key
UPLOADSTORETESTKEY01
--- config
--- no_error_log
[alert]
--- must_die
--- error_log
must hold the access key id on its first line and the secret on its second



=== TEST 18: a zone that is not a store
--- http_config
    upload_store_object_store nowhere $TEST_NGINX_S3_URL region=us-east-1
                              credentials=../html/s3.key;
--- config
--- no_error_log
[alert]
--- must_die
--- error_log
"upload_store_object_store" names unknown zone "nowhere"
