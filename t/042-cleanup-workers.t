# The cleanup with a master and two workers: one worker at a time works
# on a store, and a reload in the middle of a run neither waits for it nor
# loses it.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use UploadStore;

master_on();
workers(2);

UploadStore::preamble(
    checks   => [qw(files json)],
    always   => { timeout => 10 },
    defaults => {
        no_error_log => "[crit]\n[alert]\n[emerg]\nexited on signal",
        config       => <<'_EOC_',
    # the second request waits 4 seconds
    location = /admin {
        limit_req zone=slow burst=5;
        upload_store_admin audio;
    }
_EOC_
    },
);

run_tests();

__DATA__

=== TEST 1: two workers, interval=1s: each run is made once, by one worker
--- http_config
    upload_store_path html/store zone=audio:1m retention=1d interval=1s
                      min_free=0;
    limit_req_zone $server_name zone=slow:1m rate=15r/m;
--- post_setup_server_root
my $r = Test::Nginx::Util::html_dir() . "/store";
my $A = UploadStore::layout("acme", "audio", "2020-01-01", id => "A",
                            suffix => "wav");
UploadStore::plant($r, $A->{audio}, 3 * 86400, "old");
--- request eval
["GET /admin", "GET /admin"]
--- response_json eval
[undef,
 { "/cleanup/deleted" => 1, "/cleanup/failed" => 0,
   "/cleanup/runs" => sub {
       $_[0] >= 2 && $_[0] <= 6
       && UploadStore::runs_once(Test::Nginx::Util::server_root()
                                 . "/logs/error.log", $_[0]) } }]
--- store_files



=== TEST 2: a reload in the middle of a run: the old worker leaves at once, a new one finishes
--- http_config
    upload_store_path html/store zone=audio:1m retention=1d interval=1h
                      min_free=0;
    limit_req_zone $server_name zone=slow:1m rate=15r/m;
--- post_setup_server_root
my $r = Test::Nginx::Util::html_dir() . "/store";
for my $d (1 .. 30) {
    for my $f (1 .. 1000) {
        my $l = UploadStore::layout(sprintf("c%02d", $d), "audio", "2020-01-01",
                                    id => sprintf("%04d", $f), suffix => "wav");
        UploadStore::plant($r, $l->{audio}, 3 * 86400, "x");
    }
}
--- config
    # the second request waits 4 seconds
    location = /admin {
        limit_req zone=slow burst=5;
        upload_store_admin audio;
    }

    location = /status {
        upload_store_admin audio;
    }
--- init
# HUP once the run is under way
use HTTP::Tiny ();
use Time::HiRes ();
my $url = "http://127.0.0.1:" . Test::Nginx::Util::server_port() . "/status";
for (1 .. 300) {
    last if HTTP::Tiny->new->get($url)->{content} =~ /"running":true/;
    Time::HiRes::sleep(0.01);
}
my $pidfile = Test::Nginx::Util::server_root() . "/logs/nginx.pid";
open my $in, '<', $pidfile or die "$pidfile: $!";
my $pid = <$in>;
chomp $pid;
kill 'HUP', $pid or die "kill HUP $pid: $!";
--- request eval
["GET /admin", "GET /admin"]
--- response_json eval
[undef,
 { "/cleanup/deleted" => 30000, "/cleanup/failed" => 0,
   "/store/files" => 0, "/store/bytes" => 0, "/store/customers" => 0,
   "/cleanup/running" => sub {
       !$_[0] && UploadStore::no_exiting_workers() },
   "/cleanup/runs" => sub {
       UploadStore::slurp(Test::Nginx::Util::server_root()
                          . "/logs/error.log")
       =~ /cleanup run 1 given up after \d+ entries, the worker is exiting/ } }]
--- store_files



=== TEST 3: the worker sweeping is killed (SIGKILL): another one takes over and makes the run again
--- http_config
    upload_store_path html/store zone=audio:1m retention=1d interval=1h
                      min_free=0;
    limit_req_zone $server_name zone=slow:1m rate=15r/m;
--- post_setup_server_root
my $r = Test::Nginx::Util::html_dir() . "/store";
for my $d (1 .. 30) {
    for my $f (1 .. 1000) {
        my $l = UploadStore::layout(sprintf("c%02d", $d), "audio", "2020-01-01",
                                    id => sprintf("%04d", $f), suffix => "wav");
        UploadStore::plant($r, $l->{audio}, 3 * 86400, "x");
    }
}
UploadStore::plant($r, UploadStore::layout()->{tmp} . "/0000000001", 7200,
                   "a body of a worker killed long ago");
--- config
    # the second request waits 4 seconds
    location = /admin {
        limit_req zone=slow burst=5;
        upload_store_admin audio;
    }

    location = /status {
        upload_store_admin audio;
    }
--- init
# SIGKILL for the worker that owns the run, once it is under way
use HTTP::Tiny ();
use Time::HiRes ();
my $url = "http://127.0.0.1:" . Test::Nginx::Util::server_port() . "/status";
my $owner;
for (1 .. 300) {
    ($owner) = HTTP::Tiny->new->get($url)->{content} =~ /"running":true,"worker":(\d+)/;
    last if $owner;
    Time::HiRes::sleep(0.01);
}
die "no run under way" unless $owner;
kill 'KILL', $owner or die "kill KILL $owner: $!";
--- request eval
["GET /admin", "GET /admin"]
--- response_json eval
# (a worker killed between an unlink() and the counter's update leaves the
# count one too high: the files themselves are checked by store_files)
[undef,
 { "/store/files" => qr/^[01]$/, "/cleanup/failed" => 0,
   "/cleanup/running" => sub { !$_[0] },
   "/cleanup/runs" => sub {
       UploadStore::slurp(Test::Nginx::Util::server_root()
                          . "/logs/error.log")
       =~ /cleanup owner, worker \d+, is gone; its run is made again/ } }]
--- no_error_log
[crit]
[emerg]
--- store_files
