# ENOSPC while the body is written: a 1 MiB tmpfs as the store. Needs
# root (mount); skipped otherwise.

use Test::Nginx::Socket;
use lib 't/lib';
use UploadStore;

our $Dir;

BEGIN {
    $Dir = "/tmp/upload-store-enospc.$$";

    if ($> != 0) {
        plan skip_all => 'mounting a tmpfs needs root';
    }

    mkdir $Dir;

    if (system("mount -t tmpfs -o size=1m tmpfs $Dir 2>/dev/null") != 0) {
        rmdir $Dir;
        plan skip_all => 'cannot mount a tmpfs here';
    }

    $ENV{TEST_NGINX_ENOSPC_DIR} = $Dir;
}

END {
    if (defined $Dir && -d $Dir) {
        system("umount $Dir 2>/dev/null");
        rmdir $Dir;
    }
}

plan 'no_plan';

UploadStore::preamble(store => "$Dir/store");

run_tests();

__DATA__

=== TEST 1: a chunked body, which passes the checks as 0 bytes, is held to min_free as it streams: 507, nothing left
--- http_config
    upload_store_path $TEST_NGINX_ENOSPC_DIR/store zone=audio:1m
                      min_free=400k;
--- config
    location = /upload {
        client_max_body_size 10m;
        client_body_buffer_size 16k;
        upload_store_receive audio;
        upload_store_customer acme;
    }
--- raw_request eval
["POST /upload HTTP/1.1\r
Host: localhost\r
Content-Type: audio/wav\r
Transfer-Encoding: chunked\r
\r
", map({ "4000\r\n" . ("x" x 16384) . "\r\n" } 1 .. 50), "0\r\n\r\n"]
--- timeout: 10
--- error_code: 507
--- response_json eval
{ "/error/code" => "insufficient_storage",
  "/error/message" => "not enough free disk space" }
--- error_log eval
qr/bytes free in ".*", min_free is 409600, upload of 0 bytes refused/
--- store_files



=== TEST 2: the disk fills up mid-body: 507, no partial file; then it works
--- http_config
    upload_store_path $TEST_NGINX_ENOSPC_DIR/store zone=audio:1m min_free=0;
--- config
    location = /upload {
        client_max_body_size 10m;
        client_body_buffer_size 16k;
        upload_store_receive audio;
        upload_store_customer acme;
    }
--- raw_request eval
["POST /upload HTTP/1.1\r
Host: localhost\r
Transfer-Encoding: chunked\r
\r
", map({ "4000\r\n" . ("x" x 16384) . "\r\n" } 1 .. 128), "0\r\n\r\n"]
--- error_code: 507
--- response_headers
Content-Type: application/json
--- response_body
{"error":{"status":507,"code":"insufficient_storage","message":"no space left in the store","type":"server_error"}}
--- error_log
no space left for the upload of customer "acme"
--- store_files



=== TEST 3: after a refused upload the space is back
--- http_config
    upload_store_path $TEST_NGINX_ENOSPC_DIR/store zone=audio:1m min_free=0;
--- config
    location = /upload {
        client_max_body_size 10m;
        upload_store_receive audio;
        upload_store_customer acme;
    }
--- request eval
["POST /upload\n" . ("y" x 900000), "POST /upload\n" . ("z" x 500000)]
--- error_code eval
[201, 507]
--- store_files
acme/audio/DAY/upload_ID 900000
acme/audio/DAY/ID.json
--- no_error_log
[alert]




=== TEST 4: an upload in flight holds its length: another one cannot take the same free space
--- http_config
    upload_store_path $TEST_NGINX_ENOSPC_DIR/store zone=audio:1m
                      min_free=100k;
--- config
    location = /upload {
        client_max_body_size 10m;
        upload_store_receive audio;
        upload_store_customer acme;
    }
--- init
use IO::Socket::INET ();
use POSIX ();
system("rm", "-rf", "$::Dir/store/acme") == 0 or die "rm failed";
# a first upload of 500000 bytes sends its headers and 4 bytes, then
# waits 3 s and goes away
my $pid = fork();
die "fork: $!" unless defined $pid;
if ($pid == 0) {
    my $s = IO::Socket::INET->new("127.0.0.1:" . Test::Nginx::Util::server_port());
    if ($s) {
        print $s "POST /upload HTTP/1.1\r\nHost: localhost\r\n"
                 . "Content-Type: audio/wav\r\nContent-Length: 500000\r\n"
                 . "\r\nRIFF";
        sleep 3;
    }
    POSIX::_exit(0);
}
select(undef, undef, undef, 1);
--- more_headers
Content-Type: audio/wav
--- request eval
"POST /upload\n" . ("z" x 500000)
--- error_code: 507
--- response_json eval
{ "/error/code" => "insufficient_storage",
  "/error/message" => "not enough free disk space" }
--- store_files
--- no_error_log
[alert]
