# Hundreds of simultaneous uploads get distinct ids and intact files.
# curl --parallel sends them at once from the block's response check,
# while the nginx of the block is up.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use UploadStore;
use File::Temp qw(tempdir);
use JSON::PP ();

UploadStore::preamble(checks => []);
worker_connections(1024);

my $Root = html_dir() . '/store';

add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;

    my $n = $block->concurrent_uploads;
    return unless defined $n;

    my $name = $block->name;

    SKIP: {
        Test::More::skip("$name - concurrent uploads - $dry_run", 1)
            if $dry_run;

        my $dir = tempdir(CLEANUP => 1);
        my $port = server_port();
        my %sum;

        open my $cfg, '>', "$dir/curl.cfg" or die $!;

        for my $i (1 .. $n) {
            my $data = join '', map { chr(($i * 31 + $_ * 17) % 256) }
                                1 .. 1000 + $i * 97;
            open my $out, '>:raw', "$dir/body.$i" or die $!;
            print $out $data;
            close $out;
            $sum{$i} = UploadStore::sha256($data);

            print $cfg "url = \"http://127.0.0.1:$port/upload\"\n",
                       "data-binary = \"\@$dir/body.$i\"\n",
                       "header = \"Content-Type: audio/wav\"\n",
                       "output = \"$dir/resp.$i\"\n",
                       ($i < $n ? "next\n" : "");
        }

        close $cfg;

        my $rc = system("curl -sS --no-progress-meter --parallel --parallel-max $n"
                        . " --parallel-immediate -K $dir/curl.cfg");

        my (@errors, %ids);

        push @errors, "curl exited with $rc" if $rc != 0;

        for my $i (1 .. $n) {
            my $json = eval {
                JSON::PP::decode_json(UploadStore::slurp("$dir/resp.$i"))
            };

            if (!$json || !$json->{id}) {
                push @errors, "upload $i: no id in the response";
                next;
            }

            push @errors, "upload $i: id $json->{id} given twice"
                if $ids{$json->{id}}++;

            my $dir = UploadStore::layout('acme', 'audio', '*')->{dir};
            my ($file) = glob("$Root/$dir/$json->{file}");
            my $sum = defined $file
                      ? UploadStore::sha256(UploadStore::slurp($file)) : '';

            push @errors, "upload $i: stored bytes differ" if $sum ne $sum{$i};
        }

        my ($files) = UploadStore::listing($Root);
        push @errors, "the store holds " . @$files . " files, not " . 2 * $n
            if @$files != 2 * $n;

        Test::More::ok(!@errors, "$name - $n concurrent uploads intact")
            or Test::More::diag(join "\n", @errors[0 .. ($#errors > 9 ? 9
                                                          : $#errors)]);
    }
});

run_tests();

__DATA__

=== TEST 1: 300 uploads at once
--- main_config
    worker_rlimit_nofile 4096;
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
    }
    location = /t {
        return 200 "up\n";
    }
--- http_config
    upload_store_path html/store zone=audio:1m;
--- request
GET /t
--- response_body
up
--- concurrent_uploads: 300
--- timeout: 30
--- no_error_log
[error]
[crit]
[alert]
