package ObjectStore;

# The object store of the t/09N-*.t files: a real S3 gateway (Ceph's
# RADOS Gateway, util/s3-local), started once per test file on
# TEST_NGINX_S3_PORT (server_port() + 30; it takes ten ports from there)
# with a bucket "uploads", stopped when the file ends. Objects are read
# with curl's own SigV4 signer, not the module's.
#
#     use ObjectStore;
#     BEGIN { ObjectStore::start() }     # skip_all when Ceph is missing
#
# "--- object eval" (object_check) waits, after the block's last request,
# for each upload the block stored (the ids of its JSON answers) until
# its record in the files API notes its object (or "until" says so), then
# checks:
#
#     record   => { "/object/etag" => qr/.../ },   # as response_json
#     same     => 1,        # the object is byte-identical to the body sent
#     bucket   => { "/status" => "stored" },   # the record in the bucket
#     local    => 0,        # the local audio is gone (1: still there)
#     gone     => 1,        # after a DELETE: neither object is left
#     gateway  => 20,       # the gateway, stopped by the block's init
#                           # (ObjectStore::gateway('stop')), started
#                           # again that long after the requests
#     admin    => { "/objects/offloaded" => 1 },     # the admin JSON
#     get      => [[ "/files/ID", { Range => "bytes=0-3" }, 206, "RIFF" ]],
#                           # requests to nginx (ID: the upload's id), their
#                           # status and body (or a code ref)
#     rss_max  => 65536,    # the workers' peak memory (VmHWM), KiB
#     run      => sub { ... },   # more checks: returns the errors

use strict;
use warnings;

use Cwd ();
use JSON::PP ();
use Test::More ();
use Time::HiRes qw(sleep);
use HTTP::Tiny;

use UploadStore ();

our $Key = 'UPLOADSTORETESTKEY01';
our $Secret = 'upload-store-test-secret-0123456789abcdef';
our $Bucket = 'uploads';

my ($Dir, $Started);

sub start {
    for my $need ('/usr/bin/ceph-mon', '/usr/bin/ceph-osd',
                  '/usr/bin/radosgw')
    {
        if (!-x $need) {
            Test::More::plan(skip_all => "$need is missing "
                             . "(apt-get install ceph-mon ceph-osd radosgw; "
                             . "make test installs them)");
        }
    }

    my $port = Test::Nginx::Util::server_port() + 30;
    my $top = $INC{'ObjectStore.pm'} =~ s{t/lib/ObjectStore\.pm$}{}r;

    $top = './' if $top eq '';
    $Dir = Cwd::abs_path($top) . "/t/servroot-s3-$port";

    $ENV{TEST_NGINX_S3_PORT} = $port;
    $ENV{TEST_NGINX_S3_URL} = "http://127.0.0.1:$port/$Bucket";

    system("$top/util/s3-local", 'start', $Dir, $port) == 0
        or die "util/s3-local start failed\n";
    $Started = "$top/util/s3-local";

    system("$top/util/s3-local", 'mb', $Dir, $Bucket) == 0
        or die "util/s3-local mb failed\n";
}

END {
    local $?;
    system($Started, 'stop', $Dir, '--purge') if $Started;
}

# A second nginx beside the block's (a node of a fleet), with the same
# binary and module, in t/servroot-node-NAME: node_start(NAME, PORT,
# HTTP, SERVER) puts HTTP in its http{} and SERVER in a server{} on
# PORT, with html/s3.key for the bucket; node_stop(NAME) stops it (QUIT,
# waited for). Those left running are stopped when the file ends.

my %Nodes;

sub node_start {
    my ($name, $port, $http, $server) = @_;

    my $dir = Cwd::abs_path('t') . "/servroot-node-$name";
    my $binary = $ENV{TEST_NGINX_BINARY} // 'nginx';
    my $modules = join '', map { "load_module $_;\n" }
                           split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '';

    system('rm', '-rf', $dir);
    mkdir $_ for $dir, "$dir/conf", "$dir/logs", "$dir/html";

    open my $key, '>', "$dir/html/s3.key" or die "$dir/html/s3.key: $!";
    print $key "$Key\n$Secret\n";
    close $key;

    $http =~ s/\$(TEST_NGINX_\w+)/$ENV{$1}/g;
    $server =~ s/\$(TEST_NGINX_\w+)/$ENV{$1}/g;

    open my $conf, '>', "$dir/conf/nginx.conf" or die "nginx.conf: $!";
    print $conf <<"_EOC_";
${modules}worker_processes 1;
daemon on;
master_process on;
pid logs/nginx.pid;
error_log logs/error.log info;
events { worker_connections 256; }
http {
    access_log off;
$http
    server {
        listen 127.0.0.1:$port;
$server
    }
}
_EOC_
    close $conf;

    system($binary, '-p', "$dir/", '-c', "$dir/conf/nginx.conf") == 0
        or die "node $name did not start\n";

    $Nodes{$name} = $dir;

    return $dir;
}

sub node_stop {
    my $name = shift;
    my $dir = delete $Nodes{$name} or return;
    my $pid = UploadStore::slurp("$dir/logs/nginx.pid") =~ s/\s+//gr;

    return unless $pid;

    kill 'QUIT', $pid;

    for (1 .. 200) {
        last unless kill 0, $pid;
        sleep 0.05;
    }
}

END {
    local $?;
    node_stop($_) for keys %Nodes;
}

# a TLS certificate for 127.0.0.1 (self-signed, its own CA), for an
# nginx of the block's that puts TLS in front of the gateway: in
# t/servroot-tls, named by TEST_NGINX_TLS_DIR

sub tls {
    my $dir = Cwd::abs_path('t') . '/servroot-tls';

    mkdir $dir;

    system("openssl req -x509 -newkey rsa:2048 -nodes -days 2"
           . " -keyout '$dir/gw.key' -out '$dir/gw.pem' -subj /CN=127.0.0.1"
           . " -addext subjectAltName=IP:127.0.0.1"
           . " -addext basicConstraints=critical,CA:TRUE 2>/dev/null") == 0
        or die "openssl req failed\n";

    $ENV{TEST_NGINX_TLS_DIR} = $dir;
}

sub gateway {
    my $what = shift;
    system($Started, "$what-gw", $Dir) == 0 or die "$what-gw failed\n";
}

# curl --aws-sigv4, with the payload header curl 7.88 does not send

sub s3 {
    my ($method, $key, @args) = @_;

    my $url = "$ENV{TEST_NGINX_S3_URL}/$key";
    my $out = `curl -s -X $method -o /dev/stdout -w '\\n%{http_code}' \\
              --aws-sigv4 aws:amz:us-east-1:s3 --user '$Key:$Secret' \\
              -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' @args '$url'`;

    my ($body, $status) = $out =~ /\A(.*)\n(\d+)\z/s;

    return ($status // 0, $body // '');
}

sub object_check {
    my %ids;

    return sub {
        my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;

        my $check = $block->object;
        return unless defined $check;

        my $ids = $ids{$block->name} //= [];
        my $json = eval { JSON::PP->new->decode($body) } // {};
        push @$ids, $json->{id} if defined $json->{id};

        return unless $req_idx == UploadStore::last_index($block);

        my $name = $block->name . " - object";

        if ($dry_run) {
            SKIP: { Test::More::skip("$name - $dry_run", 1); }
            return;
        }

        my @err;
        my $port = Test::Nginx::Util::server_port();
        my $http = HTTP::Tiny->new(default_headers =>
                                   { 'X-Customer' => $check->{customer}
                                                     // 'acme' });
        my $files = "http://127.0.0.1:$port" . ($check->{files} // '/files/');

        if ($check->{gateway}) {
            sleep $check->{gateway};
            gateway('start');
        }

        my $deadline = Time::HiRes::time() + ($check->{timeout} // 30);
        my $sent = $block->request;

        push @err, "no upload was accepted" unless @$ids || $check->{run};

        for my $id (@$ids) {
            my $rec;

            # the record, until it notes its object (or "until" says)

            while (1) {
                my $r = $http->get("$files$id/metadata");
                $rec = eval { JSON::PP->new->decode($r->{content}) } // {};

                last if $check->{until} ? $check->{until}->($rec, $r)
                                        : defined $rec->{object}{etag};
                last if Time::HiRes::time() > $deadline;
                sleep 0.1;
            }

            push @err, map { "$id: $_" }
                       UploadStore::match_json($rec, $check->{record} // {});

            my $key = $rec->{object}{key} // '';
            my $rkey = $key =~ s{[^/]+$}{$id.json}r;

            if ($check->{same}) {
                my ($status, $data) = s3('GET', $key);
                my $want = ref $check->{same} ? ${ $check->{same} }
                                              : ($block->request
                                                 =~ s/\A[^\n]*\n//r);

                push @err, "$id: GET $key $status" if $status != 200;
                push @err, "$id: the object differs (" . length($data)
                           . " bytes, " . length($want) . " sent)"
                    if $data ne $want;
            }

            if ($check->{bucket}) {
                my ($status, $data) = s3('GET', $rkey);
                my $j = eval { JSON::PP->new->decode($data) } // {};

                push @err, "$id: GET $rkey $status" if $status != 200;
                push @err, map { "$id: bucket: $_" }
                           UploadStore::match_json($j, $check->{bucket});
            }

            if (defined $check->{local}) {
                my $html = Test::Nginx::Util::html_dir();
                my @audio = grep { !/\.json$/ }
                            glob "$html/store/*/*/*/*$id*";

                push @err, "$id: local audio: " . scalar(@audio)
                    if !!@audio != !!$check->{local};
            }

            if ($check->{delete}) {
                my $r = $http->request('DELETE', "$files$id");
                push @err, "$id: DELETE $r->{status}" if $r->{status} != 204;
            }

            if ($check->{gone}) {
                my ($a, $b);

                while (1) {
                    ($a) = s3('HEAD', $check->{gone_key} // $key, '-I');
                    ($b) = s3('HEAD', $rkey, '-I');
                    last if ($a == 404 && $b == 404)
                            || Time::HiRes::time() > $deadline;
                    sleep 0.1;
                }

                push @err, "$id: objects left: HEAD $a, $b"
                    unless $a == 404 && $b == 404;
            }

            for my $get (@{ $check->{get} // [] }) {
                my ($uri, $headers, $status, $want) = @$get;

                $uri =~ s/ID/$id/g;

                my $r = HTTP::Tiny->new->get("http://127.0.0.1:$port$uri",
                                             { headers => $headers });

                push @err, "$id: GET $uri: $r->{status}"
                    if $r->{status} != $status;
                push @err, "$id: GET $uri: body differs ("
                           . length($r->{content}) . " bytes)"
                    if defined $want
                       && (ref $want eq 'CODE' ? !$want->($r->{content}, $r)
                                               : $r->{content} ne $want);
            }
        }

        if ($check->{rss_max}) {
            my $servroot = $Test::Nginx::Util::ServRoot;
            my $master = UploadStore::slurp("$servroot/logs/nginx.pid")
                         =~ s/\s+//gr;

            for my $pid (UploadStore::workers_of($master)) {
                my ($hwm) = UploadStore::slurp("/proc/$pid/status")
                            =~ /^VmHWM:\s+(\d+)/m;
                push @err, "worker $pid: VmHWM $hwm KiB, over "
                           . $check->{rss_max}
                    if !defined $hwm || $hwm > $check->{rss_max};
            }
        }

        push @err, $check->{run}->() if $check->{run};

        if ($check->{admin}) {
            my $r = HTTP::Tiny->new->get("http://127.0.0.1:$port/admin");
            my $j = eval { JSON::PP->new->decode($r->{content}) } // {};
            push @err, map { "admin: $_" }
                       UploadStore::match_json($j, $check->{admin});
        }

        Test::More::ok(!@err, $name)
            or Test::More::diag(join("\n", @err));
    };
}

1;
