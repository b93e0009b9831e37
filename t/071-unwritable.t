# The store becomes unwritable under a running nginx (a read-only bind
# mount as root, mode 0555 otherwise): uploads fail in JSON, health says
# why, nothing is left behind, and the store works again once writable.

use Test::Nginx::Socket;
use lib 't/lib';
use UploadStore;

our ($Dir, $Tmp, $Mounted);

BEGIN {
    $Dir = "/tmp/upload-store-unwritable.$$";
    $Tmp = "$Dir/store/" . UploadStore::layout()->{tmp};
    mkdir $Dir or die "$Dir: $!";
    mkdir "$Dir/store" or die "$Dir/store: $!";
    $ENV{TEST_NGINX_UNWRITABLE_DIR} = $Dir;
}

END {
    if (defined $Dir && -d $Dir) {
        system("umount $Dir/store 2>/dev/null") if $Mounted;
        chmod 0755, "$Dir/store", $Tmp;
        system("rm -rf $Dir");
    }
}

sub readonly {
    if ($> == 0) {
        system("mount --bind $Dir/store $Dir/store") == 0
            && system("mount -o remount,ro,bind $Dir/store $Dir/store") == 0
            or die "cannot make a read-only bind mount";
        $Mounted = 1;
    } else {
        chmod 0555, "$Dir/store", $Tmp or die "chmod: $!";
    }
}

sub writable {
    if ($Mounted) {
        system("umount $Dir/store") == 0 or die "umount failed";
        $Mounted = 0;
    } else {
        chmod 0755, "$Dir/store", $Tmp;
    }
}

plan 'no_plan';

UploadStore::preamble(store => "$Dir/store", checks => [qw(files json)]);

# back to writable after the second request: the third must work
add_response_body_check(sub {
    my ($block, $body, $req_idx) = @_;
    main::writable() if $req_idx == 1;
});

run_tests();

__DATA__

=== TEST 1: unwritable: 500 in JSON, 503 store_not_writable, nothing left; writable again: 201
--- http_config
    upload_store_path $TEST_NGINX_UNWRITABLE_DIR/store zone=audio:1m
                      min_free=0;
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
    }

    location = /admin {
        upload_store_admin audio;
    }
--- init
main::readonly();
--- more_headers
Content-Type: audio/wav
--- request eval
["POST /upload\nhello", "GET /admin?health", "POST /upload\nhello"]
--- error_code eval
[500, 503, 201]
--- response_json eval
[{ "/error/status" => 500, "/error/code" => "internal_error" },
 { "/error/code" => "store_not_writable" },
 { "/status" => "stored" }]
--- store_files
acme/audio/DAY/upload_ID.wav 5
acme/audio/DAY/ID.json
--- no_error_log
[alert]
[emerg]



=== TEST 2: a store the workers cannot write at startup is said at once, with its path and the user
--- http_config
    upload_store_path $TEST_NGINX_UNWRITABLE_DIR/store zone=audio:1m
                      min_free=0;
--- config
    location = /t {
        return 200 "ok\n";
    }
--- post_setup_server_root
main::readonly();
--- request
GET /t
--- response_body
ok
--- error_log eval
qr/\[crit\] .*upload store "audio": ".*\/store" is not writable by the workers' user "[^"]+": uploads will fail/
--- no_error_log
[alert]
[emerg]
--- store_files
acme/audio/DAY/upload_ID.wav 5
acme/audio/DAY/ID.json
