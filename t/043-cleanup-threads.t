# The cleanup in a thread pool (upload_store_path ... thread_pool=): the
# same results as in the event loop, a reload in the middle of a run, and
# a pool that does not exist.

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

    location = /status {
        upload_store_admin audio;
    }
_EOC_
    },
);

run_tests();

__DATA__

=== TEST 1: in the default pool: old files go, new ones and strangers stay
--- http_config
    upload_store_path html/store zone=audio:1m retention=1d interval=1h
                      min_free=0 thread_pool=default;
    limit_req_zone $server_name zone=slow:1m rate=15r/m;
--- post_setup_server_root
my $r = Test::Nginx::Util::html_dir() . "/store";
my $h = Test::Nginx::Util::html_dir();
my $A = UploadStore::layout("acme", "audio", "2020-01-01", id => "A",
                            suffix => "wav");
my $C = UploadStore::layout("beta", "audio", "2020-01-01", id => "C",
                            suffix => "wav");
UploadStore::plant($r, $A->{audio}, 3 * 86400, "old audio");
UploadStore::plant($r, $A->{record}, 3 * 86400, "{}");
UploadStore::plant($r, $C->{audio}, 60, "new audio");
UploadStore::plant($r, UploadStore::layout()->{tmp} . "/0000000001", 7200,
                   "orphan");
UploadStore::plant($r, "README", 3 * 86400, "the operator's");
UploadStore::plant($h, "outside/secret.wav", 3 * 86400, "secret");
UploadStore::plant_link($r, "evil", "$h/outside", 3 * 86400);
--- request eval
["POST /status", "GET /status"]
--- response_json eval
[{ "/cleanup/failed" => 0 },
 { "/cleanup/deleted" => 3, "/cleanup/failed" => 0,
   "/store/files" => 1, "/store/customers" => 1 }]
--- store_files
beta/audio/2020-01-01/upload_C.wav 9
README
evil
--- store_dirs
.tmp
beta
beta/audio
beta/audio/2020-01-01



=== TEST 2: a reload in the middle of a threaded run: the old worker leaves, a new one finishes
--- http_config
    upload_store_path html/store zone=audio:1m retention=1d interval=1h
                      min_free=0 thread_pool=sweep;
    limit_req_zone $server_name zone=slow:1m rate=15r/m;
--- main_config
thread_pool sweep threads=2;
--- post_setup_server_root
my $r = Test::Nginx::Util::html_dir() . "/store";
for my $d (1 .. 30) {
    for my $f (1 .. 1000) {
        my $l = UploadStore::layout(sprintf("c%02d", $d), "audio", "2020-01-01",
                                    id => sprintf("%04d", $f), suffix => "wav");
        UploadStore::plant($r, $l->{audio}, 3 * 86400, "x");
    }
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
       !$_[0] && UploadStore::no_exiting_workers() } }]
--- store_files



=== TEST 3: a thread pool that is not defined refuses the configuration
--- http_config
    upload_store_path html/store zone=audio:1m thread_pool=nosuch;
    limit_req_zone $server_name zone=slow:1m rate=15r/m;
--- must_die
--- no_error_log
[crit]
--- error_log
unknown thread pool "nosuch"
