# The cleanup meets files it cannot delete: it counts them, logs once per
# run, and goes on with the rest. A day directory is made read-only: a
# read-only bind mount as root (root ignores modes), mode 0555 otherwise.

use Test::Nginx::Socket;
use lib 't/lib';
use UploadStore;

our ($Dir, $Ro, $Mounted);

BEGIN {
    my %wav = (suffix => 'wav');
    my $A = UploadStore::layout('acme', 'audio', '2020-01-01', id => 'A', %wav);
    my $B = UploadStore::layout('acme', 'audio', '2020-01-01', id => 'B', %wav);
    my $C = UploadStore::layout('acme', 'audio', '2020-01-02', id => 'C', %wav);

    $Dir = "/tmp/upload-store-ro.$$";
    $Ro = "$Dir/store/$A->{dir}";

    my $old = 3 * 86400;

    for my $f ($A->{audio}, $B->{audio}, $A->{record}) {
        UploadStore::plant("$Dir/store", $f, $old, "stuck");
    }

    UploadStore::plant("$Dir/store", $C->{audio}, $old, "goes");

    if ($> == 0) {
        if (system("mount --bind $Ro $Ro 2>/dev/null") != 0
            || system("mount -o remount,ro,bind $Ro 2>/dev/null") != 0)
        {
            system("umount $Ro 2>/dev/null");
            system("rm -rf $Dir");
            plan skip_all => 'cannot make a read-only bind mount here';
        }

        $Mounted = 1;

    } else {
        chmod 0555, $Ro;
    }

    $ENV{TEST_NGINX_RO_DIR} = $Dir;
}

END {
    if (defined $Dir && -d $Dir) {
        system("umount $Ro 2>/dev/null") if $Mounted;
        chmod 0755, $Ro;
        system("rm -rf $Dir");
    }
}

plan 'no_plan';

UploadStore::preamble(store => "$Dir/store", checks => [qw(files json)]);

run_tests();

__DATA__

=== TEST 1: three files that cannot go are counted, logged once, and the run goes on
--- http_config
    upload_store_path $TEST_NGINX_RO_DIR/store zone=audio:1m retention=1d
                      interval=1h min_free=0;
--- config
    location = /admin {
        upload_store_admin audio;
    }
--- request
POST /admin
--- response_json eval
{ "/cleanup/failed" => 3,
  "/cleanup/errors" => sub { @{ $_[0] } == 3 },
  "/cleanup/errors/0/op" => "unlinkat()",
  "/cleanup/errors/0/errno" => qr/^(30|13)$/,
  "/cleanup/errors/0/error" => qr/^(Read-only file system|Permission denied)$/,
  "/cleanup/errors/2/op" => "unlinkat()",
  # the paths, which name customers, are in the error log only
  "/cleanup/errors" => sub { JSON::PP::encode_json($_[0]) !~ /acme|store/ } }
--- error_log eval
qr/\[crit\] .*upload store "audio": cleanup could not remove 3 entries, the first: unlinkat\(\) ".*\/2020-01-01\/[^\/]+" failed \((30: Read-only file system|13: Permission denied)\)/
--- no_error_log
[alert]
[emerg]
--- store_files
acme/audio/2020-01-01/upload_A.wav
acme/audio/2020-01-01/upload_B.wav
acme/audio/2020-01-01/A.json

