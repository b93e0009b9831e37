# Faults: the store's root removed under a running nginx, and a worker
# killed in the middle of an upload. Clear errors, no crash, and what is
# left behind goes with the next cleanup.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use UploadStore;

master_on();
workers(1);

UploadStore::preamble(
    checks   => [qw(files json prometheus)],
    always   => { timeout => 10 },
    defaults => {
        http_config  => <<'_EOC_',
    upload_store_path html/store zone=audio:1m min_free=0;
_EOC_
        config       => <<'_EOC_',
    location = /upload {
        client_max_body_size 10m;
        upload_store_receive audio;
        upload_store_customer acme;
    }

    location = /admin {
        upload_store_admin audio;
    }
_EOC_
    },
);

run_tests();

__DATA__

=== TEST 1: the store's root removed at run time: 500 and 503 in JSON, a failed cleanup, no crash
--- init
system("rm", "-rf", Test::Nginx::Util::html_dir() . "/store") == 0
    or die "rm failed";
--- more_headers
Content-Type: audio/wav
--- request eval
["POST /upload\nhello", "GET /admin?health", "POST /admin", "GET /admin"]
--- error_code eval
[500, 503, 200, 200]
--- response_json eval
[{ "/error/status" => 500 },
 { "/error/code" => "store_unavailable" },
 { "/cleanup/failed" => 1,
   "/cleanup/errors/0/op" => "opendir()",
   "/cleanup/errors/0/errno" => 2,
   "/cleanup/errors/0/error" => "No such file or directory" },
 { "/uploads/accepted" => 0, "/cleanup/failed" => qr/^[12]$/ }]
--- no_error_log
exited on signal
[alert]
[emerg]



=== TEST 2: a worker killed in the middle of an upload: a new one serves, the cleanup takes the orphan
--- init
# half a body, then SIGKILL for the worker that receives it; the temp
# file it leaves is made two hours old, as if found long after
use IO::Socket::INET ();
use Time::HiRes ();
my $tmp = Test::Nginx::Util::html_dir() . "/store/"
          . UploadStore::layout()->{tmp};
my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1",
                                 PeerPort => Test::Nginx::Util::server_port())
    or die "connect: $!";
print $sock "POST /upload HTTP/1.1\r\nHost: localhost\r\n"
            . "Content-Type: audio/wav\r\nContent-Length: 1000000\r\n\r\n"
            . ("x" x 200000);
my @orphans;
for (1 .. 300) {
    @orphans = glob("$tmp/*");
    last if @orphans;
    Time::HiRes::sleep(0.01);
}
die "no temp file" unless @orphans;
open my $in, '<', Test::Nginx::Util::server_root() . "/logs/nginx.pid"
    or die "pid file: $!";
my $master = <$in>;
chomp $master;
my ($worker) = `ps -o pid= --ppid $master` =~ /(\d+)/
    or die "no worker of $master";
kill 'KILL', $worker or die "kill: $!";
close $sock;
Time::HiRes::sleep(0.5);
my $t = time - 7200;
utime $t, $t, @orphans or die "utime: $!";
--- more_headers
Content-Type: audio/wav
--- request eval
["POST /admin", "POST /upload\nhello", "GET /admin?format=prometheus"]
--- error_code eval
[200, 201, 200]
--- response_json eval
[{ "/cleanup/failed" => 0 },
 { "/status" => "stored" }]
--- response_prometheus eval
# the new worker's first run may come before the POST's: the totals say
# what the cleanup removed, whichever run it was
[undef, undef,
 { 'upload_store_cleanup_deleted_total{zone="audio"}' => 1,
   'upload_store_cleanup_failed_total{zone="audio"}' => 0,
   'upload_store_cleanup_freed_bytes_total{zone="audio"}' =>
       sub { $_[0] >= 16384 } }]
--- store_files
acme/audio/DAY/upload_ID.wav 5
acme/audio/DAY/ID.json
--- no_error_log
[crit]
[emerg]



=== TEST 3: a slow body whose temp file looks an hour old is not swept while it arrives
--- http_config
    upload_store_path html/store zone=audio:1m min_free=0 interval=1s;
--- config
    location = /upload {
        client_body_buffer_size 1k;
        upload_store_receive audio;
        upload_store_customer acme;
    }
--- init
# a second into the request, its temp file's mtime goes two hours back,
# as nginx's own writes leave it for a slow client; runs are 1 s apart
my $tmp = Test::Nginx::Util::html_dir() . "/store/"
          . UploadStore::layout()->{tmp};
system("(sleep 1; touch -d '2 hours ago' $tmp/*) >/dev/null 2>&1 &") == 0
    or die "cannot start the toucher";
--- raw_request eval
["POST /upload HTTP/1.1\r
Host: localhost\r
Content-Type: audio/wav\r
Content-Length: 20000\r
Connection: close\r
\r
" . ("a" x 10000), "b" x 10000]
--- raw_request_middle_delay: 3
--- error_code: 201
--- response_json eval
{ "/bytes" => 20000, "/status" => "stored" }
--- store_files
acme/audio/DAY/upload_ID.wav 20000
acme/audio/DAY/ID.json
--- no_error_log
[crit]
[alert]
