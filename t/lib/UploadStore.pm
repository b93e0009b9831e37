package UploadStore;

# What is on disk after a test block, as a "--- store_files" section,
# checked through Test::Nginx's stock add_response_body_check() hook:
#
#     add_response_body_check(UploadStore::files_check(html_dir() . '/store'));
#
#     --- store_files
#     acme/audio/DAY/upload_ID.wav 5000
#     acme/audio/DAY/ID.json = body
#
# The lines are the exact set of regular files under the store root, the
# .tmp directory included, after the block's last request (an empty section
# means "nothing at all"). DAY is today's (or yesterday's) UTC date, ID an
# upload id, * any name characters. A line may add the file's size in
# bytes, "sha256:HEX", "mode:0640", "like:REGEX" (no blanks in it), or
# "= body" (the file holds the response body). "dir PATH mode:0750" checks a directory, which is
# otherwise not listed.
# The check waits up to 3 seconds for the store to settle, since nginx
# cleans up after an aborted request asynchronously.

use strict;
use warnings;

use Digest::SHA qw(sha256_hex);
use File::Find qw(find);
use File::Path qw(make_path);
use JSON::PP ();
use POSIX qw(strftime);
use Test::More ();
use Time::HiRes qw(sleep);

my $ID = '[0-9A-HJKMNP-TV-Z]{26}';

# The preamble of every t/NNN-*.t, between "use Test::Nginx::Socket" and
# run_tests(), through Test::Nginx::Socket's stock API alone:
#
#     UploadStore::preamble(
#         store    => "$Dir/store",         # the store's root for the
#                                           # checks (html_dir()/store)
#         checks   => [qw(files json)],     # response body checks, in
#                                           # this order ([qw(files)])
#         defaults => { config => ..., no_error_log => "[crit]\n[alert]" },
#         always   => { timeout => 10 },
#     );
#
# Each block is run once, in the file's order. "defaults" are the sections
# a block gets when it has none of its own, "always" the ones every block
# gets. The checks are http2 (http2_check, on TEST_NGINX_H2_PORT, which is
# set to server_port() + 7), files, json, prometheus and roundtrip (the
# *_check functions below).

sub preamble {
    my %opts = @_;
    my $html = Test::Nginx::Util::html_dir();
    my $store = $opts{store} // "$html/store";
    my $defaults = $opts{defaults} // {};
    my $always = $opts{always} // {};

    Test::Nginx::Socket::repeat_each(1);
    Test::Nginx::Socket::no_shuffle();

    for my $check (@{ $opts{checks} // ['files'] }) {
        my $sub;

        if ($check eq 'http2') {
            $ENV{TEST_NGINX_H2_PORT} = Test::Nginx::Util::server_port() + 7;
            $sub = http2_check($ENV{TEST_NGINX_H2_PORT}, $html);
        } elsif ($check eq 'files') {
            $sub = files_check($store);
        } elsif ($check eq 'json') {
            $sub = json_check();
        } elsif ($check eq 'prometheus') {
            $sub = prometheus_check();
        } elsif ($check eq 'roundtrip') {
            $sub = roundtrip_check($store);
        } elsif ($check eq 'job') {
            $sub = job_check();
        } else {
            die "preamble: no check called '$check'\n";
        }

        Test::Nginx::Socket::add_response_body_check($sub);
    }

    provider_start() if $opts{provider};

    return unless %$defaults || %$always;

    Test::Nginx::Socket::add_block_preprocessor(sub {
        my $block = shift;

        for my $name (sort keys %$defaults) {
            $block->set_value($name, $defaults->{$name})
                unless defined $block->$name;
        }

        for my $name (sort keys %$always) {
            $block->set_value($name, $always->{$name});
        }
    });
}

sub last_index {
    my $block = shift;

    # "request eval" and "pipelined_requests" may hold several requests;
    # a raw_request array is the chunks of one request

    for my $v ($block->request, $block->pipelined_requests) {
        return $#$v if ref $v eq 'ARRAY';
    }

    return 0;
}

sub listing {
    my $root = shift;
    my (@files, @dirs);

    return ([], []) unless -d $root;

    find({ no_chdir => 1, wanted => sub {
        (my $rel = $_) =~ s{^\Q$root\E/?}{};
        if (-d $_ && !-l $_) {
            push @dirs, $rel if $rel ne '';
        } else {
            push @files, $rel;
        }
    }}, $root);

    return ([sort @files], [sort @dirs]);
}

sub compile {
    my $want = shift;
    my @lines;

    my $today = strftime('%Y-%m-%d', gmtime);
    my $yesterday = strftime('%Y-%m-%d', gmtime(time - 86400));

    for my $line (split /\n/, $want) {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';

        my $dir = $line =~ s/^dir\s+//;
        my ($path, @expect) = split /\s+/, $line;

        @expect = ('= body') if "@expect" eq '= body';

        my $re = quotemeta $path;
        $re =~ s/DAY/(?:$today|$yesterday)/g;
        $re =~ s/ID/$ID/g;
        $re =~ s/\\\*/[^\/]*/g;

        push @lines, { path => $path, re => qr/^$re$/, expect => \@expect,
                       dir => $dir };
    }

    return \@lines;
}

sub compare {
    my ($root, $lines, $files, $dirs, $body) = @_;
    my @left = @$files;

    for my $l (@$lines) {
        my $file;

        if ($l->{dir}) {
            ($file) = grep { $_ =~ $l->{re} } @$dirs;
            return "no directory matches $l->{path}" unless defined $file;

        } else {
            my ($i) = grep { $left[$_] =~ $l->{re} } 0 .. $#left;
            return "no file matches $l->{path}" unless defined $i;
            $file = splice @left, $i, 1;
        }

        my $full = "$root/$file";

        for my $e (@{ $l->{expect} }) {

            if ($e =~ /^\d+$/) {
                my $size = -s $full // -1;
                return "$file has $size bytes, not $e" if $size != $e;

            } elsif ($e =~ /^mode:(0[0-7]{3})$/) {
                my $mode = sprintf '0%o', (stat $full)[2] & 07777;
                return "$file has mode $mode, not $1" if $mode ne $1;

            } elsif ($e =~ /^sha256:([0-9a-f]{64})$/) {
                my $sum = sha256_hex(slurp($full));
                return "$file has sha256 $sum, not $1" if $sum ne $1;

            } elsif ($e =~ /^like:(.+)$/) {
                my $re = $1;
                return "$file does not match $re"
                    if slurp($full) !~ /$re/;

            } elsif ($e eq '= body') {
                return "$file does not hold the response body"
                    if !defined $body || slurp($full) ne $body;

            } else {
                return "bad store_files expectation '$e'";
            }
        }
    }

    return "unexpected files: @left" if @left;

    return undef;
}

# "--- store_dirs": the exact set of directories under the root, with
# the placeholders of store_files

sub compare_dirs {
    my ($want, $dirs) = @_;
    my @left = @$dirs;

    for my $l (@{ compile(ref $want ? $want->[0] : $want) }) {
        my ($i) = grep { $left[$_] =~ $l->{re} } 0 .. $#left;
        return "no directory matches $l->{path}" unless defined $i;
        splice @left, $i, 1;
    }

    return "unexpected directories: @left" if @left;
    return undef;
}

sub sha256 {
    return sha256_hex(shift);
}

# A body check that sends "--- http2_upload eval" ([PATH, CONTENT_TYPE,
# BODY]) with curl over HTTP/2 (prior knowledge) to 127.0.0.1:PORT, and
# expects 201. Test::Nginx's own "--- http2" writes "http2 on", which
# nginx before 1.25.1 (Debian's 1.22) does not know, so the block listens
# with "listen ... http2" on a port of its own.

sub http2_check {
    my ($port, $dir) = @_;

    return sub {
        my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;

        my $h2 = $block->http2_upload;
        return unless defined $h2;

        my $name = $block->name;

        if ($dry_run) {
            SKIP: {
                Test::More::skip("$name - http2_upload - $dry_run", 1);
            }
            return;
        }

        # [path, type, body, what the answer must be]: no body (undef) is
        # a POST whose HEADERS frame ends the stream, with no DATA

        my ($path, $type, $data, $want) = @$h2;
        my $file = "$dir/http2-body";
        my $send = "-X POST";

        $want //= qr/"status":"stored".*\n2 201$/s;

        if (defined $data) {
            open my $out, '>:raw', $file or die "$file: $!";
            print $out $data;
            close $out;
            $send = "--data-binary \@$file";
        }

        my $res = `curl -sS --http2-prior-knowledge -o - -w '\n%{http_version} %{http_code}' -H 'Content-Type: $type' $send http://127.0.0.1:$port$path`;
        unlink $file if defined $data;

        Test::More::like($res, $want, "$name - HTTP/2 upload answered")
            or Test::More::diag($res);
    };
}

# Fixtures, for "--- post_setup_server_root" and "--- init":
#
#     my $l = UploadStore::layout("acme", "audio", "2020-01-01", id => "A",
#                                 suffix => "wav");
#     UploadStore::plant($root, $l->{audio}, 3 * 86400, "data");
#     UploadStore::plant_link($root, "$l->{dir}/l.wav", $target, $age);
#     UploadStore::plant_upload($root, "acme", "audio", $id, "data", {...});
#
# $age is in seconds before now, for the modification time. Paths are
# relative to the root; those of uploads come from layout() below.

sub plant {
    my ($root, $rel, $age, $data) = @_;
    my $path = "$root/$rel";

    (my $dir = $path) =~ s{/[^/]+$}{};
    make_path($dir);

    open my $out, '>:raw', $path or die "$path: $!";
    print $out $data // '';
    close $out;

    my $t = time - ($age // 0);
    utime $t, $t, $path or die "utime $path: $!";

    return $path;
}

sub plant_link {
    my ($root, $rel, $target, $age) = @_;
    my $path = "$root/$rel";

    (my $dir = $path) =~ s{/[^/]+$}{};
    make_path($dir);

    symlink $target, $path or die "symlink $path: $!";

    my $t = time - ($age // 0);
    system('touch', '-h', '-d', "\@$t", $path) == 0
        or die "touch -h $path failed";

    return $path;
}

my $B32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

# the UTC day of an id, from its 48-bit millisecond timestamp

sub day_of {
    my $id = shift;
    my $ms = 0;

    for my $c (split //, substr($id, 0, 10)) {
        $ms = $ms * 32 + index($B32, $c);
    }

    return strftime('%Y-%m-%d', gmtime(int($ms / 1000)));
}

# Where the module keeps an upload, relative to the store's root: the one
# place the tests spell out its layout.
#
#     my $l = UploadStore::layout("acme", "audio", $id, suffix => "wav");
#
#     $l->{day}     2025-01-01
#     $l->{dir}     acme/audio/2025-01-01
#     $l->{audio}   acme/audio/2025-01-01/upload_01JGGVSAG0....wav
#     $l->{record}  acme/audio/2025-01-01/01JGGVSAG0....json
#     $l->{tmp}     .tmp, where the bodies in flight are, for every upload
#
# The third argument is an id, whose UTC day names the day directory, or
# that day itself (YYYY-MM-DD, or a glob such as "*"), the id then being
# given as id => ... Options: prefix => (upload_store_prefix, "upload_"),
# suffix => the audio's extension, without the dot (none by default).
# layout() alone gives tmp only.

sub layout {
    my ($customer, $category, $id_or_day, %opts) = @_;
    my %l = (tmp => '.tmp');

    return \%l unless defined $customer;

    my $id = $opts{id};

    if ($id_or_day =~ /^\d{4}-\d\d-\d\d$|[*?\[]/) {
        $l{day} = $id_or_day;
    } else {
        $id = $id_or_day;
        $l{day} = day_of($id);
    }

    $l{dir} = "$customer/$category/$l{day}";

    if (defined $id) {
        my $suffix = $opts{suffix} // '';

        $l{audio} = "$l{dir}/" . ($opts{prefix} // 'upload_') . $id
                    . ($suffix ne '' ? ".$suffix" : '');
        $l{record} = "$l{dir}/$id.json";
    }

    return \%l;
}

# an upload as the module stores it: the audio and its metadata

sub plant_upload {
    my ($root, $customer, $category, $id, $data, $extra) = @_;
    my $l = layout($customer, $category, $id, suffix => 'wav');
    (my $file = $l->{audio}) =~ s{.*/}{};

    my %meta = (id => $id, customer => $customer, category => $category,
                filename => undef, content_type => 'audio/wav',
                bytes => length $data, file => $file, status => 'stored',
                created_at => "$l->{day}T12:00:00.000Z", %{ $extra // {} });

    plant($root, $l->{audio}, 0, $data);
    plant($root, $l->{record}, 0,
          JSON::PP->new->canonical->encode(\%meta));

    return $l->{dir};
}

# "--- response_json eval": per request, a hash of JSON pointer => what the
# value must be (a string or number, undef for null, qr// for a match, a
# code ref called with it); an array of such hashes for several requests,
# undef where a response is not checked

sub json_check {
    return sub {
        my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;

        my $want = $block->response_json;
        return unless defined $want;

        $want = $want->[$req_idx] if ref $want eq 'ARRAY';
        return unless defined $want;

        my $name = $block->name . " - response_json (req $req_idx)";

        if ($dry_run) {
            SKIP: { Test::More::skip("$name - $dry_run", 1); }
            return;
        }

        my $json = eval { JSON::PP->new->decode($body) };
        my @err;

        push @err, "not JSON: $@" unless defined $json || !$@;

        push @err, match_json($json, $want) unless @err && !defined $json;

        Test::More::ok(!@err, $name)
            or Test::More::diag(join("\n", @err) . "\nbody: $body");
    };
}

# what in $json is not as $want says (pointer => value, as response_json)

sub match_json {
    my ($json, $want) = @_;
    my @err;

    for my $ptr (sort keys %$want) {
        my ($found, $v) = pointer($json, $ptr);
        my $e = $want->{$ptr};

        if (!$found) {
            push @err, "$ptr: absent";

        } elsif (ref $e eq 'Regexp') {
            push @err, "$ptr: " . show($v) . " !~ $e"
                unless defined $v && !ref $v && $v =~ $e;

        } elsif (ref $e eq 'CODE') {
            push @err, "$ptr: " . show($v) . " refused"
                unless $e->($v);

        } elsif (!defined $e) {
            push @err, "$ptr: " . show($v) . ", not null"
                if defined $v;

        } else {
            push @err, "$ptr: " . show($v) . ", not $e"
                unless defined $v && !ref $v && "$v" eq "$e";
        }
    }

    return @err;
}

sub pointer {
    my ($v, $ptr) = @_;

    for my $t (grep { length } split m{/}, $ptr) {
        $t =~ s/~1/\//g;
        $t =~ s/~0/~/g;

        if (ref $v eq 'HASH' && exists $v->{$t}) {
            $v = $v->{$t};
        } elsif (ref $v eq 'ARRAY' && $t =~ /^\d+$/ && $t < @$v) {
            $v = $v->[$t];
        } else {
            return (0);
        }
    }

    return (1, $v);
}

sub show {
    my $v = shift;
    return 'null' unless defined $v;
    return ref $v ? JSON::PP->new->canonical->encode($v) : "'$v'";
}

# "--- response_prometheus eval": the body must be Prometheus text
# exposition, every sample line well formed and of a declared family; the
# hash gives samples ('name{label="v",...}' exactly as written) and what
# their value must be, as for response_json

sub prometheus_check {
    return sub {
        my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;

        my $want = $block->response_prometheus;
        return unless defined $want;

        $want = $want->[$req_idx] if ref $want eq 'ARRAY';
        return unless defined $want;

        my $name = $block->name . " - response_prometheus (req $req_idx)";

        if ($dry_run) {
            SKIP: { Test::More::skip("$name - $dry_run", 1); }
            return;
        }

        my (%type, %sample, @err);
        my $label = qr/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"/;

        for my $line (split /\n/, $body) {
            if ($line =~ /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$/) {
                push @err, "TYPE $1 twice" if $type{$1};
                $type{$1} = $2;

            } elsif ($line =~ /^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* \S/) {

            } elsif ($line =~ /^(([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{$label(?:,$label)*\})?) (-?[0-9]+(?:\.[0-9]+)?|\+Inf)$/) {
                my ($series, $metric, $value) = ($1, $2, $3);
                (my $family = $metric) =~ s/_(?:bucket|sum|count)$//;

                push @err, "$metric: no TYPE"
                    unless $type{$metric}
                           || ($type{$family} // '') eq 'histogram';
                push @err, "$series twice" if exists $sample{$series};
                $sample{$series} = $value;

            } else {
                push @err, "bad line: $line";
            }
        }

        for my $s (sort keys %$want) {
            my $e = $want->{$s};
            my $v = $sample{$s};

            if (!defined $v) {
                push @err, "$s: absent";
            } elsif (ref $e eq 'Regexp') {
                push @err, "$s: $v !~ $e" unless $v =~ $e;
            } elsif (ref $e eq 'CODE') {
                push @err, "$s: $v refused" unless $e->($v);
            } elsif ($v != $e) {
                push @err, "$s: $v, not $e";
            }
        }

        Test::More::ok(!@err, $name)
            or Test::More::diag(join("\n", @err));
    };
}

# the error log's "cleanup run N: ..." lines: runs 1..$n, each once,
# whichever worker ran it

sub runs_once {
    my ($log, $n) = @_;
    my %seen;

    for my $line (split /\n/, slurp($log)) {
        $seen{$1}++ if $line =~ /cleanup run (\d+): \d+ scanned/;
    }

    my @runs = sort { $a <=> $b } keys %seen;

    return 0 if grep { $seen{$_} != 1 } @runs;

    # the count goes up when a run starts and its line is written when it
    # ends: the last one may still be under way in another worker (seen
    # under valgrind)
    return "@runs" eq join(' ', 1 .. $n) || "@runs" eq join(' ', 1 .. $n - 1);
}

# no worker of this test's nginx (its master's children, not another
# nginx's of the machine) is still shutting down, once the one that was
# has had 10 seconds to leave: a worker that a reload found in a cleanup
# slice in its thread pool leaves at the slice's end, which takes a while
# under ASan or valgrind; one that stays is the failure

sub no_exiting_workers {
    my $pidfile = Test::Nginx::Util::server_root() . "/logs/nginx.pid";
    my $master = slurp($pidfile) =~ s/\s+//gr;

    return 0 unless $master =~ /^\d+$/;

    for (1 .. 100) {
        return 1 unless grep { slurp("/proc/$_/cmdline") =~ /shutting down/ }
                                workers_of($master);
        select undef, undef, undef, 0.1;
    }

    return 0;
}

# "--- roundtrip": "CUSTOMER FILES_PREFIX"; the last response is an
# upload's JSON: its audio is fetched through the files API and compared
# with the stored file, then deleted, then not found

sub roundtrip_check {
    my $root = shift;

    return sub {
        my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;

        my $rt = $block->roundtrip;
        return unless defined $rt;
        return unless $req_idx == last_index($block);

        my $name = $block->name . " - roundtrip";

        if ($dry_run) {
            SKIP: { Test::More::skip("$name - $dry_run", 1); }
            return;
        }

        require HTTP::Tiny;

        my ($customer, $prefix) = split ' ', $rt;
        my $http = HTTP::Tiny->new(default_headers =>
                                   { 'X-Customer' => $customer });
        my $base = "http://127.0.0.1:" . Test::Nginx::Util::server_port()
                   . $prefix;
        my $meta = eval { JSON::PP->new->decode($body) } // {};
        my $id = $meta->{id} // '';
        my $dir = layout($customer, $meta->{category}, $id || '0' x 26)->{dir};
        my $stored = slurp("$root/$dir/" . ($meta->{file} // ''));
        my @err;

        my $r = $http->get("$base$id");
        push @err, "GET: $r->{status}" if $r->{status} != 200;
        push @err, "GET: not the stored bytes"
            if $r->{content} ne $stored || $stored eq '';
        push @err, "GET: type $r->{headers}{'content-type'}"
            if ($r->{headers}{'content-type'} // '')
               ne ($meta->{content_type} // '');

        $r = $http->get("$base$id/metadata");
        push @err, "GET metadata: $r->{status}" if $r->{status} != 200;
        my $m = eval { JSON::PP->new->decode($r->{content}) } // {};
        push @err, "metadata: id $m->{id}" if ($m->{id} // '') ne $id;

        $r = $http->request('DELETE', "$base$id");
        push @err, "DELETE: $r->{status}" if $r->{status} != 204;

        $r = $http->get("$base$id");
        push @err, "GET after DELETE: $r->{status}"
            if $r->{status} != 404;

        Test::More::ok(!@err, $name)
            or Test::More::diag(join("\n", @err));
    };
}

sub slurp {
    my $file = shift;
    open my $in, '<:raw', $file or return '';
    local $/;
    my $data = <$in>;
    close $in;
    return $data // '';
}

sub files_check {
    my $root = shift;

    return sub {
        my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;

        my $want = $block->store_files;

        return unless defined $want;
        return unless $req_idx == last_index($block);

        my $name = $block->name;

        if ($dry_run) {
            SKIP: {
                Test::More::skip("$name - store_files - $dry_run", 1);
            }
            return;
        }

        my $lines = compile(ref $want ? $want->[0] : $want);
        my $wait = $block->store_wait // 3;
        my $dwant = $block->store_dirs;
        my ($err, $files, $dirs);

        for (1 .. $wait * 10) {
            ($files, $dirs) = listing($root);
            $err = compare($root, $lines, $files, $dirs, $body);
            $err //= compare_dirs($dwant, $dirs) if defined $dwant;
            last unless defined $err;
            sleep 0.1;
        }

        Test::More::ok(!defined $err, "$name - store_files"
                                      . " (req $repeated_req_idx)")
            or Test::More::diag("$err\nstore holds:\n  "
                                . join("\n  ", @$files));
    };
}

# The scripted provider of the job tests (t/lib/provider.py), one per
# test file, on TEST_NGINX_PROVIDER_PORT (server_port() + 9); stopped
# when the file ends. provider_script() sets what its next calls get and
# resets its counters; provider_stats() is what it saw.

my $ProviderPid;

sub provider_start {
    my $port = Test::Nginx::Util::server_port() + 9;
    my $dir = $INC{'UploadStore.pm'} =~ s{[^/]+$}{}r;

    $ENV{TEST_NGINX_PROVIDER_PORT} = $port;

    $ProviderPid = fork;
    die "fork: $!" unless defined $ProviderPid;

    if ($ProviderPid == 0) {
        exec 'python3', "${dir}provider.py", $port;
        die "exec python3: $!";
    }

    require IO::Socket::INET;

    for (1 .. 100) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port");
        return if $s;
        sleep 0.05;
    }

    die "the provider did not start on port $port\n";
}

END {
    local $?;

    if ($ProviderPid) {
        kill 'TERM', $ProviderPid;
        waitpid $ProviderPid, 0;
    }
}

sub provider_url {
    return "http://127.0.0.1:$ENV{TEST_NGINX_PROVIDER_PORT}";
}

sub provider_script {
    my $script = shift;

    require HTTP::Tiny;

    my $r = HTTP::Tiny->new->post(provider_url() . "/_script",
                                  { content => JSON::PP->new->encode($script) });
    die "provider_script: $r->{status}\n" unless $r->{success};
}

sub provider_stats {
    require HTTP::Tiny;

    my $r = HTTP::Tiny->new->get(provider_url() . "/_stats");
    return $r->{success} ? JSON::PP->new->decode($r->{content}) : {};
}

# "--- job eval": the ids of the block's 202 answers are kept; after the
# last request, "signal" is sent if given ('HUP' reloads nginx, 'KILL'
# SIGKILLs its workers, 'RESTART' stops nginx and starts it again), after
# "pause" seconds, or once the provider has a call with "after_call"; then
# each upload's record is read through the files API until it ends
# (transcribed or failed, and with "webhook" set, its webhook delivered
# or failed; up to "timeout" seconds, 20 by default) and
# checked against "record" (as response_json); "provider" is checked
# against provider_stats() (calls, max_inflight: a value or a code ref).
#
#     --- job eval
#     { customer => "acme", files => "/files/", signal => "HUP",
#       record => { "/status" => "transcribed", "/attempts" => 3 },
#       provider => { calls => 3 } }

my %JobIds;

sub job_check {
    return sub {
        my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;

        my $job = $block->job;
        return unless defined $job;

        my $ids = $JobIds{$block->name} //= [];
        my $json = eval { JSON::PP->new->decode($body) } // {};
        push @$ids, $json->{id} if defined $json->{id};

        return unless $req_idx == last_index($block);

        my $name = $block->name . " - job";

        if ($dry_run) {
            SKIP: { Test::More::skip("$name - $dry_run", 1); }
            return;
        }

        require HTTP::Tiny;

        my @err;
        my $servroot = $Test::Nginx::Util::ServRoot;

        my $until = Time::HiRes::time() + ($job->{timeout} // 20);

        # "signal" once the provider has the request (valgrind is slow)

        if ($job->{after_call}) {
            sleep 0.05 until provider_stats()->{calls}
                             || Time::HiRes::time() > $until;
        }

        sleep $job->{pause} if $job->{pause};

        if ($job->{find}) {
            # no 202 came (the client left): the records in the store

            my $html = Test::Nginx::Util::html_dir();
            @$ids = map { m{/([0-9A-Z]{26})\.json$} ? $1 : () }
                    glob "$html/store/*/*/*/*.json";
        }

        push @err, job_signal($servroot, $job->{signal}) if $job->{signal};

        my $http = HTTP::Tiny->new(default_headers =>
                                   { 'X-Customer' => $job->{customer} });
        my $base = "http://127.0.0.1:" . Test::Nginx::Util::server_port()
                   . $job->{files};
        my $deadline = Time::HiRes::time() + ($job->{timeout} // 20);

        push @err, "no upload was accepted" unless @$ids;

        for my $id (@$ids) {
            my $rec;

            if ($job->{delete}) {
                # once the provider was called: the job waits for a retry

                sleep 0.1 until provider_stats()->{calls}
                                || Time::HiRes::time() > $deadline;

                my $r = $http->request('DELETE', "$base$id");
                push @err, "$id: DELETE $r->{status}" if $r->{status} != 204;
                sleep 0.5;
                next;
            }

            while (1) {
                my $r = $http->get("$base$id/metadata");
                $rec = eval { JSON::PP->new->decode($r->{content}) } // {};
                my ($has, $hook) = pointer($rec, "/webhook/status");
                last if ($rec->{status} // '') =~ /^(transcribed|failed)$/
                        && (!$job->{webhook}
                            || ($hook // '') =~ /^(delivered|failed)$/);
                last if Time::HiRes::time() > $deadline;
                sleep 0.1;
            }

            if ($job->{retry} && ($rec->{status} // '') eq 'failed') {
                # POST .../transcript: queued again, then waited for

                my $r = $http->post("$base$id/transcript");
                push @err, "$id: POST transcript $r->{status}"
                    if $r->{status} != 202;

                $r = $http->post("$base$id/transcript");
                push @err, "$id: POST transcript again $r->{status}"
                    if $r->{status} != 409;

                $job = { %$job, retry => 0 };
                redo;
            }

            push @err, map { "$id: $_" } match_json($rec, $job->{record} // {});
        }

        if ($job->{rss_max}) {
            # the workers' peak memory (VmHWM), in KiB

            my $master = slurp("$servroot/logs/nginx.pid") =~ s/\s+//gr;

            for my $pid (workers_of($master)) {
                my ($hwm) = slurp("/proc/$pid/status") =~ /^VmHWM:\s+(\d+)/m;
                push @err, "worker $pid: VmHWM $hwm KiB, over $job->{rss_max}"
                    if !defined $hwm || $hwm > $job->{rss_max};
            }
        }

        if ($job->{admin}) {
            # the admin endpoint's JSON, then its Prometheus text

            my $r = HTTP::Tiny->new->get("http://127.0.0.1:"
                        . Test::Nginx::Util::server_port() . $job->{admin});
            my $json = eval { JSON::PP->new->decode($r->{content}) } // {};
            push @err, map { "admin: $_" } match_json($json, $job->{admin_json});

            $r = HTTP::Tiny->new->get("http://127.0.0.1:"
                        . Test::Nginx::Util::server_port() . $job->{admin}
                        . "?format=prometheus");

            for my $line (@{ $job->{admin_prometheus} // [] }) {
                push @err, "admin: no line '$line'"
                    unless $r->{content} =~ /^\Q$line\E$/m;
            }
        }

        my $stats = provider_stats();

        for my $k (sort keys %{ $job->{provider} // {} }) {
            my $e = $job->{provider}{$k};
            my $v = $stats->{$k};

            push @err, "provider $k: "
                       . substr(show($k eq 'requests'
                                     ? [map { { %$_, body => '...' } } @$v]
                                     : $v), 0, 2000)
                unless ref $e eq 'CODE' ? $e->($v, $stats)
                                        : defined $v && "$v" eq "$e";
        }

        Test::More::ok(!@err, $name)
            or Test::More::diag(join("\n", @err));
    };
}

# a master's workers, from /proc (a minimal system has no ps)

sub workers_of {
    my $master = shift;
    my @pids;

    for my $stat (glob "/proc/[0-9]*/stat") {
        my $line = slurp($stat);
        push @pids, $1 if $line =~ /^(\d+) \(.*\) \S (\d+) / && $2 == $master;
    }

    return @pids;
}

sub job_signal {
    my ($servroot, $signal) = @_;
    my $pidfile = "$servroot/logs/nginx.pid";
    my $master = slurp($pidfile) =~ s/\s+//gr;

    return "no master pid in $pidfile" unless $master;

    if ($signal eq 'HUP') {
        kill 'HUP', $master;

    } elsif ($signal eq 'KILL') {
        kill 'KILL', workers_of($master);

    } elsif ($signal eq 'RESTART') {
        # under valgrind nginx is the runner's child: not restarted here
        return () if $ENV{TEST_NGINX_USE_VALGRIND};

        kill 'QUIT', $master;

        for (1 .. 200) {
            last unless kill 0, $master;
            sleep 0.05;
        }

        my $nginx = $ENV{TEST_NGINX_BINARY} // 'nginx';
        system($nginx, '-p', "$servroot/", '-c', "$servroot/conf/nginx.conf") == 0
            or return "nginx did not start again";
    }

    return ();
}

1;

