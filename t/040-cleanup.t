# Retention: the cleanup timer deletes what is older than retention,
# orphaned temp files and empty directories, never follows a link, and
# says what it did through the admin endpoint.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use UploadStore;

UploadStore::preamble(
    checks   => [qw(files json)],
    defaults => {
        no_error_log => "[crit]\n[alert]\n[emerg]",
        config       => <<'_EOC_',
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
    }

    location = /admin {
        upload_store_admin audio;
    }
_EOC_
    },
);

# old and new uploads, an orphan body and one in flight, the operator's
# own files: what TEST 2 and TEST 3 clean up

sub plant_mixed {
    my $r = Test::Nginx::Util::html_dir() . "/store";
    my $day = 86400;
    my %wav = (suffix => "wav");
    my $A = UploadStore::layout("acme", "audio", "2020-01-01", id => "A", %wav);
    my $B = UploadStore::layout("acme", "calls", "2020-01-02", id => "B", %wav);
    my $C = UploadStore::layout("beta", "audio", "2020-01-01", id => "C", %wav);
    my $tmp = UploadStore::layout()->{tmp};
    UploadStore::plant($r, $A->{audio}, 3 * $day, "old audio");
    UploadStore::plant($r, $A->{record}, 3 * $day, "{}");
    UploadStore::plant($r, $B->{audio}, 2 * $day, "old");
    UploadStore::plant($r, $C->{audio}, 60, "new audio");
    UploadStore::plant($r, "$tmp/0000000001", 7200, "orphan");
    UploadStore::plant($r, "$tmp/0000000002", 60, "in flight");
    UploadStore::plant($r, "README", 3 * $day, "the operator's");
    UploadStore::plant($r, "gamma/notes.txt", 3 * $day, "the operator's");
}

run_tests();

__DATA__

=== TEST 1: retention=2s interval=1s: an upload is gone within about 3 seconds, and counted
--- http_config
    upload_store_path html/store zone=audio:1m retention=2s interval=1s
                      min_free=0;
    limit_req_zone $server_name zone=slow:1m rate=15r/m;
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
    }

    # the second request waits 4 seconds
    location = /admin {
        limit_req zone=slow burst=5;
        upload_store_admin audio;
    }
--- more_headers
Content-Type: audio/wav
--- request eval
["POST /upload\nhello", "GET /admin", "GET /admin"]
--- error_code eval
[201, 200, 200]
--- response_json eval
[{ "/status" => "stored", "/bytes" => 5 },
 { "/store/files" => 1, "/store/bytes" => qr/^\d{3}$/,
   "/store/customers" => 1 },
 { "/store/files" => 0, "/store/bytes" => 0, "/store/customers" => 0,
   "/cleanup/deleted" => 2, "/cleanup/failed" => 0,
   "/cleanup/running" => sub { !$_[0] },
   "/cleanup/runs" => qr/^[2-9]$/,
   "/uploads/accepted" => 1 }]
--- timeout: 10
--- store_files
--- store_dirs
.tmp



=== TEST 2: what is older than retention goes, the rest stays
--- http_config
    upload_store_path html/store zone=audio:1m retention=1d interval=1h
                      min_free=0;
--- post_setup_server_root
::plant_mixed();
--- request eval
["POST /admin", "GET /admin"]
--- response_json eval
[{ "/cleanup/failed" => 0, "/cleanup/errors" => sub { !@{ $_[0] } },
   "/cleanup/run" => qr/^[12]$/ },
 { "/cleanup/deleted" => 4, "/cleanup/failed" => 0,
   "/store/files" => 1, "/store/bytes" => 9, "/store/customers" => 2,
   "/cleanup/last/skipped" => 2 }]
--- store_files
beta/audio/2020-01-01/upload_C.wav 9
.tmp/0000000002
README
gamma/notes.txt
--- store_dirs
.tmp
beta
beta/audio
beta/audio/2020-01-01
gamma



=== TEST 3: one line in the log says what a run did
--- http_config
    upload_store_path html/store zone=audio:1m retention=1d interval=1h
                      min_free=0;
--- post_setup_server_root
::plant_mixed();
--- request
POST /admin
--- response_json eval
{ "/cleanup/failed" => 0 }
--- error_log eval
qr/cleanup run \d+: 18 scanned, 3 deleted, 1 temp files, 20 bytes freed, 5 dirs removed, 0 failed, 2 skipped in \d+ ms, longest slice \d+ ms/



=== TEST 4: links are never followed: their targets outside the root stay
--- http_config
    upload_store_path html/store zone=audio:1m retention=1d interval=1h
                      min_free=0;
--- post_setup_server_root
my $h = Test::Nginx::Util::html_dir();
my $r = "$h/store";
my $old = 3 * 86400;
UploadStore::plant($h, "outside/secret.wav", $old, "secret");
UploadStore::plant($h, "outside/cat/day/old.wav", $old, "old, outside");
my $day1 = UploadStore::layout("acme", "audio", "2020-01-01")->{dir};
my $day3 = UploadStore::layout("acme", "audio", "2020-01-03")->{dir};
UploadStore::plant_link($r, "$day1/link.wav", "$h/outside/secret.wav", $old);
UploadStore::plant_link($r, $day3, "$h/outside/cat/day", $old);
UploadStore::plant_link($r, "evil", "$h/outside", $old);
--- request eval
["POST /admin", "GET /outside/secret.wav", "GET /outside/cat/day/old.wav"]
--- response_json eval
[{ "/cleanup/failed" => 0 }]
--- response_body_like eval
['"deleted":', "^secret\$", "^old, outside\$"]
--- store_files
acme/audio/2020-01-03
evil
--- store_dirs
.tmp
acme
acme/audio



=== TEST 5: retention=0 keeps uploads; orphaned temp files still go
--- http_config
    upload_store_path html/store zone=audio:1m retention=0 interval=1h
                      min_free=0;
--- post_setup_server_root
my $r = Test::Nginx::Util::html_dir() . "/store";
my $A = UploadStore::layout("acme", "audio", "2020-01-01", id => "A",
                            suffix => "wav");
my $tmp = UploadStore::layout()->{tmp};
UploadStore::plant($r, $A->{audio}, 400 * 86400, "kept");
UploadStore::plant($r, "$tmp/0000000007", 86400, "orphan");
--- request eval
["POST /admin", "GET /admin"]
--- response_json eval
[{ "/cleanup/failed" => 0, "/cleanup/deleted" => 0 },
 { "/cleanup/deleted" => 1, "/cleanup/retention" => 0,
   "/store/files" => 1 }]
--- store_files
acme/audio/2020-01-01/upload_A.wav
--- store_dirs
.tmp
acme
acme/audio
acme/audio/2020-01-01



=== TEST 6: GET ?cleanup=now is refused (a run changes the store: POST only); POST waits for a run that starts after it
--- http_config
    upload_store_path html/store zone=audio:1m retention=1h interval=1h
                      min_free=0;
--- post_setup_server_root
my $r = Test::Nginx::Util::html_dir() . "/store";
my $A = UploadStore::layout("acme", "audio", "2020-01-01", id => "A",
                            suffix => "wav");
UploadStore::plant($r, $A->{audio}, 7200, "old");
--- request eval
["GET /admin?cleanup=now", "POST /admin?cleanup=now", "POST /admin",
 "GET /admin"]
--- error_code eval
[405, 200, 200, 200]
--- response_json eval
[{ "/error/code" => "method_not_allowed",
   "/" => sub { !exists $_[0]{cleanup} } },
 { "/cleanup/failed" => 0 },
 { "/cleanup/deleted" => 0, "/cleanup/scanned" => 1 },
 { "/cleanup/deleted" => 1, "/cleanup/runs" => qr/^[23]$/ }]
--- store_files



=== TEST 7: an upload arriving while its directories are swept is stored
--- http_config
    upload_store_path html/store zone=audio:1m retention=1s interval=1s
                      min_free=0;
--- more_headers
Content-Type: audio/wav
--- request eval
[map { ("POST /upload\n" . ("x" x $_), "POST /admin") } 1 .. 5]
--- error_code eval
[(201, 200) x 5]
--- no_error_log
[crit]
[alert]
[error]



=== TEST 8: a body still arriving whose temp file looks hours old is left alone (its worker holds a lock on it), then stored whole
--- http_config
    upload_store_path html/store zone=audio:1m retention=1d interval=1h
                      min_free=0;
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_body_buffer 0;
        client_body_buffer_size 16k;
    }

    location = /admin {
        upload_store_admin audio;
    }
--- init
# 64 KiB at 32 KiB/s, written 16k at a time, every half second: once the
# first piece is in .tmp, its mtime goes two hours back and a cleanup run
# (orphans: older than an hour) is over before the next piece
use HTTP::Tiny ();
use Time::HiRes ();
my $html = Test::Nginx::Util::html_dir();
my $url = "http://127.0.0.1:" . Test::Nginx::Util::server_port();
open my $out, '>:raw', "$html/slow.wav" or die "slow.wav: $!";
print $out pack "C*", map { $_ % 251 } 1 .. 65536;
close $out;
system("curl -s -o /dev/null --limit-rate 32k --data-binary \@$html/slow.wav"
       . " -H 'Content-Type: audio/wav' $url/upload &") == 0
    or die "curl: $?";
my $tmp;
for (1 .. 1000) {
    ($tmp) = grep { -s $_ } glob "$html/store/.tmp/*";
    last if $tmp;
    Time::HiRes::sleep(0.01);
}
die "no body in .tmp" unless $tmp;
my $old = time - 7200;
utime $old, $old, $tmp or die "utime $tmp: $!";
my $r = HTTP::Tiny->new->post("$url/admin");
die "POST /admin: $r->{status}" unless $r->{success};
--- request
GET /admin
--- response_json eval
{ "/cleanup/deleted" => 0, "/cleanup/failed" => 0 }
--- store_wait: 6
--- store_files eval
"acme/audio/DAY/upload_ID.wav 65536 sha256:"
. UploadStore::sha256(pack "C*", map { $_ % 251 } 1 .. 65536) . "
acme/audio/DAY/ID.json
"
