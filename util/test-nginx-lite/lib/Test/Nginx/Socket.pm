package Test::Nginx::Socket;

# A small re-implementation of the data-driven test scaffold of
# openresty's Test::Nginx::Socket (CPAN), for machines where the CPAN
# module is not installed. Only the commonly used subset of sections is
# supported; see util/test-nginx-lite/README.md.

use strict;
use warnings;

# Become a Test::Base subclass (no Spiffy source filter): test files get
# Test::Base's exports (is, like, blocks, plan, ...) plus @EXPORT below.
use Test::Base -base;

use Digest::MD5 ();
use Digest::SHA ();
use Encode ();
use HTTP::Response ();
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use List::Util qw(min shuffle);
use POSIX qw(EAGAIN EINTR EWOULDBLOCK);
use Scalar::Util qw(looks_like_number);
use Time::HiRes qw(sleep time);
use Test::Nginx::Util;

our $VERSION = '0.01';

our @EXPORT = qw(
    env_to_nginx is_str plan run_tests run_test repeat_each
    config_preamble worker_connections master_process_enabled
    no_long_string workers master_on master_off log_level no_shuffle
    no_root_location server_name server_addr server_root html_dir
    server_port server_port_for_client timeout check_accum_error_log
    add_block_preprocessor bail_out add_test_cleanup_handler
    add_cleanup_handler add_response_body_check
);

our @ResponseBodyChecks;
our ($PrevConfig, $PrevBlock);
our $TotalConnectFailures = 0;

# TNU:: is an alias of the Test::Nginx::Util:: stash, so that the shared
# settings can be read and local()ized as $TNU::Name.
BEGIN { *TNU:: = \%Test::Nginx::Util:: }

sub add_response_body_check ($) { push @ResponseBodyChecks, shift }
sub set_http_config_filter ($) { $Test::Nginx::Util::FilterHttpConfig = shift }

# A failure that was not planned for (timeouts, bad chunked data, ...).
# Unlike the CPAN module we keep Test::Builder's end-of-test summary so
# that the script also exits with a non-zero status.
sub extra_fail ($) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    fail(shift);
}

sub fmt_str ($) {
    my $s = shift;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

# ---------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------

sub run_tests () {
    local $SIG{INT}  = sub { warn "interrupted\n"; exit 130 };
    local $SIG{TERM} = sub { warn "terminated\n"; exit 143 };
    $ENV{TEST_NGINX_SERVER_PORT} //= $TNU::ServerPort;
    nginx_version();    # bails out early when nginx cannot be run

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks unless $TNU::NoShuffle;
    for my $block (@blocks) {
        $_->($block) for @TNU::BlockPreprocessors;
        $block->set_value(name => "$0 " . $block->name);
        my $skipped = run_block($block);
        $_->($block) for @TNU::TestCleanupHandlers;
        # a skipped block leaves the previous nginx (and its pending
        # shutdown_error_log check) alone
        $PrevBlock = $block unless $skipped;
    }
    cleanup();
}

sub cmp_version ($$$) {
    my ($a, $op, $b) = @_;
    return $op eq '<'  ? $a <  $b : $op eq '<=' ? $a <= $b
         : $op eq '>'  ? $a >  $b : $a >= $b;
}

# Returns (should_skip, number_of_tests_to_skip, reason).
sub skip_info ($) {
    my $block = shift;
    my $name = $block->name;
    my ($skip, $n, $reason);
    my $ver_re = qr/^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)([a-z])?
                    (?:\s*:\s*(.*?))?\s*$/x;

    if (defined(my $spec = $block->skip_eval)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            ($n, $reason) = ($1, 'skip_eval');
            $skip = eval "package main; $2";
            bail_out("$name - skip_eval - failed to eval \"$2\": $@") if $@;
        }
    }
    if (defined(my $spec = $block->skip_nginx)) {
        my @m = $spec =~ $ver_re
            or bail_out("$name - Invalid --- skip_nginx spec: $spec");
        $n = $m[0];
        $reason = $m[6] || "nginx version $m[1] $m[2].$m[3].$m[4]";
        $skip = 1 if cmp_version(nginx_version(), $m[1],
                                 get_canon_version(@m[2 .. 4]));
    }
    if (defined(my $spec = $block->skip_openssl)) {
        my @m = $spec =~ $ver_re
            or bail_out("$name - Invalid --- skip_openssl spec: $spec");
        $n = $m[0];
        $reason = $m[6] || "OpenSSL version $m[1] $m[2].$m[3].$m[4]";
        my $have = Test::Nginx::Util::openssl_version();
        my $want = get_canon_version(@m[2 .. 4]);
        $want .= sprintf "%03d", ord($m[5]) - ord('a') if defined $m[5];
        $skip = 1 if !defined $have || cmp_version($have, $m[1], $want);
    }
    return ($skip, $n, $reason // 'various reasons');
}

sub run_block ($) {
    my $block = shift;
    my $name = $block->name;
    my $config = expand_env_in_text($block->config, $name);
    my $must_die = $block->must_die;

    local $TNU::LogLevel = $block->log_level || $TNU::LogLevel;
    local $TNU::UseValgrind = defined $must_die ? undef : $TNU::UseValgrind;
    local $TNU::DaemonEnabled = defined $must_die ? 'on' : $TNU::DaemonEnabled;
    my $valgrind = $TNU::UseValgrind;

    my $restart;
    if (!defined $config) {
        bail_out("$name - No '--- config' section specified and could "
                 . "not get previous one.") unless defined $PrevConfig;
        $config = $PrevConfig;
        # under valgrind nginx is stopped after every block
        $restart = $valgrind && !defined $TNU::ChildPid;
    } else {
        $restart = !defined $PrevConfig || $config ne $PrevConfig
                   || ($ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} // 1);
    }

    my ($skip, $nskip, $reason) = skip_info($block);
    my ($todo, $ntodo, $todo_reason);
    if (defined(my $spec = $block->todo)) {
        ($ntodo, $todo_reason) = $spec =~ /^\s*(\d+)\s*:\s*(.*)/s
            or bail_out("$name - Invalid --- todo spec: $spec");
        $todo = 1;
    }

    if ($restart && !$skip) {
        $PrevConfig = $config;
        stop_nginx($name);
        check_prev_block_shutdown_error_log();
        setup_server_root();
        if (defined(my $code = $block->post_setup_server_root)) {
            eval "package main; $code";
            bail_out("$name - post_setup_server_root failed: $@") if $@;
        }
        write_user_files($block);
        write_config_file($block, $config, use_http2($block));
        if (defined $must_die) {
            run_must_die($block, $must_die);
            return 0;
        }
        start_or_bail($block, $valgrind);
    }

    if (defined(my $code = $block->init)) {
        eval "package main; $code";
        bail_out("$name - init failed: $@") if $@;
    }

    $TNU::ErrLogFilePos = 0;
    for my $i (0 .. $TNU::RepeatEach - 1) {
        write_user_files($block) if $i > 0;
        if ($skip && defined $nskip) {
            SKIP: { skip("$name - $reason", $nskip) }
        } elsif ($todo) {
            TODO: { todo_skip("$name - $todo_reason", $ntodo) }
        } else {
            run_requests($block, $i);
        }
    }

    if ($valgrind && !$skip) {
        stop_nginx($name);
        if (my $errs = valgrind_errors()) {
            print STDERR $errs;
            extra_fail("$name - valgrind reported errors");
        }
    }
    return $skip;
}

sub run_test ($) { run_block(shift) }

sub start_or_bail ($$) {
    my ($block, $valgrind) = @_;
    my $name = $block->name;
    $TNU::ErrLogFilePos = 0;
    my $waited = 0;
    my $errors = sub {
        my ($lines) = Test::Nginx::Util::read_lines_from($TNU::ErrLogFile, 0);
        return join '', grep { /\[(?:emerg|alert|crit)\]/ } @{ $lines || [] };
    };
    for (my $try = 1; ; $try++) {
        my $status = start_nginx($block, $valgrind);
        last if $status == 0;
        bail_out("$name - Cannot execute $TNU::NginxBinary") if $status < 0;
        my $log = $errors->();
        # only a busy port is worth waiting for
        if ($waited >= 30 || $log !~ /Address already in use/) {
            bail_out("$name - Cannot start nginx (status code $status) "
                     . "with $TNU::ConfFile:\n$log");
        }
        my $delay = min(0.1 * $try, 1);
        sleep $delay;
        $waited += $delay;
    }
    if ($valgrind) {
        # nginx runs in the foreground: wait until it listens or dies
        my $deadline = time + 30;
        while (time < $deadline) {
            last if nginx_listening($TNU::ServerPort);
            if (nginx_child_exited()) {
                bail_out("$name - nginx exited under valgrind with "
                         . "$TNU::ConfFile:\n" . $errors->());
            }
            sleep 0.05;
        }
    }
    sleep $TNU::Sleep;
}

sub run_must_die ($$) {
    my ($block, $must_die) = @_;
    my $name = $block->name;
    $TNU::ErrLogFilePos = 0;
    for my $i (0 .. $TNU::RepeatEach - 1) {
        my $status = start_nginx($block, 0);
        if ($status < 0) {
            fail("$name - failed to execute the nginx command line");
        } elsif ($status & 128) {
            fail("$name - nginx core dumped");
        } elsif (looks_like_number($must_die)) {
            Test::More::is($must_die, $status >> 8,
                           "$name - die with the expected exit code");
        } else {
            isnt($status, 0, "$name - die as expected");
        }
        check_error_log($block, undef, 0, $i, 0);
        if ($status == 0) {
            warn "WARNING: $name - nginx must die but it does not; "
                 . "killing it (req $i)\n";
            for (1 .. 15) {
                last if -f $TNU::PidFile;
                sleep $TNU::Sleep;
            }
            stop_nginx($name);
        }
    }
}

# ---------------------------------------------------------------------
# Building requests
# ---------------------------------------------------------------------

sub parse_more_headers ($) {
    my $in = shift;
    my ($out, $chunked) = ('', 0);
    for my $line (split /\n+/, $in) {
        next if $line =~ /^\s*#/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $val //= '';
        $chunked = 1
            if lc($key) eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $chunked);
}

# Rewrite "METHOD [URI [VERSION]]\nbody" (possibly split into packets)
# into a real HTTP request: full request line, Host, Connection, the
# extra headers and Content-Length. Packet boundaries are preserved.
sub build_request {
    my ($name, $hdr, $chunked, $conn, $packets) = @_;
    my $full = join '', @$packets;

    $full =~ /\A([^\n]*\n?)/;
    my $first = $1;
    if ($first !~ /^\s*(\S+) *(?:(\S+) *)?(?:(\S+) *)?\s*$/) {
        bail_out("$name - Request line is not valid. Should be "
                 . "'meth [url [version]]' but got \"$first\".");
    }
    my ($meth, $url, $ver) = ($1, $2 // '/', $3 // 'HTTP/1.1');

    my @edits;      # [start, end, replacement] on $full, in order
    my $bstart = length $first;
    my $body = substr $full, $bstart;
    my $len_hdr = '';
    if (!$chunked && $body ne '' && $hdr !~ /(?:^|\n)Content-Length:/) {
        my ($lead) = $body =~ /\A(\s*)/;
        my ($trail) = $body =~ /(\s*)\z/;
        $trail = '' if length $lead == length $body;
        my $len = length($body) - length($lead) - length($trail);
        $len_hdr = "Content-Length: $len\r\n";
        push @edits, [$bstart, $bstart + length $lead, ''];
        push @edits, [length($full) - length($trail), length $full, '']
            if length $trail;
    }

    $hdr =~ s/(?<!\r)\n/\r\n/g;
    my $head = "$meth $url $ver\r\n";
    $head .= "Host: $TNU::ServerName\r\n" if $hdr !~ /(?:^|\n)Host:/i;
    $head .= "Connection: $conn\r\n" if $hdr !~ /(?:^|\n)Connection/i;
    $head .= "$hdr$len_hdr\r\n";
    unshift @edits, [0, $bstart, $head];

    # map the edited text back onto the original packets
    my @ends;
    my $pos = 0;
    push @ends, ($pos += length $_) for @$packets;
    my $pkt_of = sub {
        my $p = shift;
        for my $i (0 .. $#ends) {
            return $i if $p < $ends[$i];
        }
        return $#ends;
    };
    my @out = ('') x @$packets;
    my $c = 0;
    for my $e (@edits, [length $full, length $full, '']) {
        my ($es, $ee, $repl) = @$e;
        while ($c < $es) {
            my $i = $pkt_of->($c);
            my $end = min($ends[$i], $es);
            $out[$i] .= substr $full, $c, $end - $c;
            $c = $end;
        }
        $out[$pkt_of->($es)] .= $repl;
        $c = $ee if $ee > $c;
    }
    return \@out;
}

# Returns a list of requests, each an array of packets {value, delay}.
sub requests_from_block ($) {
    my $block = shift;
    my $name = $block->name;

    if (defined(my $raw = $block->raw_request)) {
        my @parts = ref $raw eq 'ARRAY' ? @$raw : ($raw);
        return [[map { { value => $_ } } @parts]];
    }

    my $request;
    if (defined $block->request_eval) {
        diag("$name - request_eval DEPRECATED. Use request eval instead.");
        $request = eval $block->request_eval;
        warn $@ if $@;
    } else {
        $request = $block->request;
        if (defined $request && !ref $request) {
            1 while $request =~ s/^\s*#[^\n]+\s+|^\s+//s;
        }
    }

    my $more = $block->more_headers // '';
    my $headers_for = sub {
        my $i = shift;
        return parse_more_headers($more) unless ref $more eq 'ARRAY';
        my $h = $more->[$i];
        bail_out("$name - --- more_headers lacks data for request $i")
            unless defined $h;
        return parse_more_headers($h);
    };

    if (my $reqs = $block->pipelined_requests) {
        bail_out("$name - invalid entries in --- pipelined_requests")
            unless ref $reqs eq 'ARRAY';
        my $buf = '';
        for my $i (0 .. $#$reqs) {
            my $r = expand_env_in_text($reqs->[$i], $name);
            my $conn = $i == $#$reqs ? 'close' : 'keep-alive';
            $buf .= build_request($name, $headers_for->($i), $conn,
                                  [$r])->[0];
        }
        return [[{ value => $buf }]];
    }

    bail_out("$name - no --- request section") unless defined $request;
    my $list = ref $request ? $request : [$request];
    bail_out("$name - invalid --- request: MUST be string or array of "
             . "requests") unless ref $list eq 'ARRAY';

    my @reqs;
    for my $i (0 .. $#$list) {
        my $one = $list->[$i];
        my @pkts = ref $one eq 'ARRAY'
                 ? map { ref $_ eq 'HASH' ? {%$_} : { value => $_ } } @$one
                 : ref $one ? bail_out("$name - bad request $one")
                 : ({ value => $one });
        my $vals = build_request($name, $headers_for->($i), 'close',
                                 [map { $_->{value} // '' } @pkts]);
        $pkts[$_]{value} = $vals->[$_] for 0 .. $#pkts;
        push @reqs, \@pkts;
    }
    return \@reqs;
}

# ---------------------------------------------------------------------
# HTTP/2 (and --- curl) via the curl command line tool
# ---------------------------------------------------------------------

sub use_http2 ($) {
    my $block = shift;
    my $cached = $block->test_nginx_enabled_http2;
    return $cached if defined $cached;
    my $name = $block->name;
    my $use = 0;
    my $why;

    if (defined $block->no_http2) {
        $use = 0;
    } elsif (defined $block->http2) {
        bail_out("cannot use --- http2 with --- raw_request")
            if defined $block->raw_request;
        bail_out("cannot use --- http2 with --- pipelined_requests")
            if defined $block->pipelined_requests;
        $use = 1;
    } elsif ($TNU::UseHttp2) {
        my $pat = qr{(proxy_pass .*:\$(?:server_port|TEST_NGINX_SERVER_PORT)
                     | ngx\.req\.raw_header | lua_check_client_abort
                     | ngx\.req\.socket | ngx\.req\.read_body)}x;
        my $req = $block->request;
        if (defined $block->raw_request) {
            $why = 'using raw_request';
        } elsif (defined $block->pipelined_requests) {
            $why = 'using pipelined_requests';
        } elsif (!defined $req) {
            $why = '';
        } elsif (!ref $req && $req =~ m{HTTP/1\.0}) {
            $why = 'explicitly requires HTTP 1.0';
        } else {
            for my $sec (qw(config user_files http_config)) {
                my $v = $block->$sec;
                if (defined $v && !ref $v && $v =~ $pat) {
                    $why = "$1 does not support HTTP/2";
                    last;
                }
            }
        }
        warn "WARNING: $name - $why, so will not use HTTP/2\n"
            if defined $why && length $why;
        $use = defined $why ? 0 : 1;
    }
    $block->set_value(test_nginx_enabled_http2 => $use);
    return $use;
}

sub curl_cmd ($$) {
    my ($block, $packets) = @_;
    my $name = $block->name;
    my $req = join '', map { $_->{value} } @$packets;

    my ($meth, $uri, $ver);
    if ($req =~ m{\A\s*(\w+)\s+(\S+)\s+HTTP/(\S+)\r?\n}) {
        ($meth, $uri, $ver) = ($1, $2, $3);
    } elsif ($req =~ m{\A\s*(\w+)\s+(.*\S)\s*\r?\n}) {
        ($meth, $uri, $ver) = ($1, $2, '0.9');
    } else {
        bail_out("$name - cannot parse the status line in the request: "
                 . $req);
    }
    my $rest = substr $req, $+[0];

    my @args = ('curl', '-i', '-H', 'User-Agent:', '-H', 'Accept:',
                '-H', 'Host:', $TNU::Verbose ? '-vv' : '-sS');
    push @args, '--http2-prior-knowledge' if use_http2($block);
    if ($meth eq 'HEAD') {
        push @args, '-I';
    } elsif ($meth ne 'GET') {
        push @args, '-X', $meth;
    }
    push @args, '-0' if $ver ne '1.1';

    my ($body, $has_ctype) = ('', 0);
    if ($ver ge '1.0') {
        $rest =~ /\A(.*?)\r?\n\r?\n(.*)\z/s
            or bail_out("$name - cannot parse the request headers: $req");
        $body = $2;
        for my $h (split /\r\n/, $1) {
            next if $h =~ /^Connection\s*:/i;
            $has_ctype = 1 if $h =~ /^\s*Content-Type\s*:/i;
            push @args, '-H', $h;
        }
    }
    if (length $body) {
        push @args, '-H', 'Content-Type: ' unless $has_ctype;
        my $file = html_dir() . '/curl.data.bin';
        open my $out, '>', $file or bail_out("cannot write $file: $!");
        binmode $out;
        print $out $body;
        close $out;
        push @args, '--data-binary', "\@$file";
    }

    my $timeout = parse_time($block->timeout) || timeout();
    push @args, '--connect-timeout', $timeout, '--max-time', $timeout;
    if (defined(my $opts = $block->curl_options)) {
        push @args, split ' ', $opts;
    }
    my $proto = $block->curl_protocol // 'http';
    my $addr = $block->server_addr_for_client // $TNU::ServerAddr;
    push @args, "$proto://$addr:$TNU::ServerPortForClient$uri";
    return \@args;
}

sub shell_quote (@) {
    my @out;
    for my $arg (@_) {
        (my $q = $arg) =~ s/'/'\\''/g;
        push @out, $arg =~ m{^[-\w.,:/=@+%]+$} ? $arg : "'$q'";
    }
    return join ' ', @out;
}

sub send_request_by_curl ($$$) {
    my ($block, $packets, $timeout) = @_;
    my $name = $block->name;
    my $cmd = curl_cmd($block, $packets);
    require IPC::Run;

    if (defined $TNU::ChildPid) {     # slow valgrind start
        for (1 .. 50) {
            last if nginx_listening($TNU::ServerPortForClient);
            sleep 0.2;
        }
    }

    my ($in, $out, $err) = ('', '', '');
    eval {
        IPC::Run::run($cmd, \$in, \$out, \$err,
                      IPC::Run::timeout($timeout + 5));
    };
    my $timed_out = $@ || ($? >> 8) == 28;
    if ($timed_out && !defined $block->abort) {
        extra_fail("ERROR: client socket timed out - $name\n");
        return $out;
    }
    if ($out eq '') {
        return '' if $timed_out;
        my $expect = $block->curl_error;
        if (defined $expect && length $err
            && (ref $expect ? $err =~ $expect : index($err, $expect) >= 0))
        {
            return undef;
        }
        extra_fail($err ne '' || $@
                   ? "$name - command \"@$cmd\" generates stderr output: "
                     . ($err || $@)
                   : "$name - curl command \"@$cmd\" generates no output");
        return undef;
    }
    warn "WARNING: $name - command \"@$cmd\" generates stderr output: $err"
        if $err ne '' && !($timed_out && defined $block->abort);
    return $out;
}

# ---------------------------------------------------------------------
# Plain HTTP/1 over a socket
# ---------------------------------------------------------------------

sub connect_server ($$) {
    my ($block, $timeout) = @_;
    my $name = $block->name;
    my $addr = $block->server_addr_for_client // $TNU::ServerAddr;
    my $port = $TNU::ServerPortForClient;
    my $max = $TotalConnectFailures ? 20 : 50;
    my $err;

    for my $try (1 .. $max) {
        my $sock = IO::Socket::INET->new(
            PeerAddr => $addr, PeerPort => $port, Proto => 'tcp',
            Timeout => $timeout,
        );
        return $sock if $sock;
        $err = $!;
        my $gone = nginx_child_exited()
            || (!defined $TNU::ChildPid && $try >= 3
                && !is_running(pid_from_file() // 0));
        if ($gone) {
            extra_fail("$name - Can't connect to $addr:$port: $err "
                       . "(nginx is not running)\n");
            return undef;
        }
        my $wait = min(1, (sleep_time() + sleep_time() * $try) * $try / 2);
        if ($wait >= 0.6) {
            warn "$name - Can't connect to $addr:$port: $err\n"
                 . "\tRetry connecting after $wait sec\n";
        }
        sleep $wait;
    }

    my $msg = "$name - Can't connect to $addr:$port: $err (aborted)\n";
    bail_out($msg) if ++$TotalConnectFailures >= 3;
    extra_fail($msg);
    return undef;
}

sub send_request_by_socket ($$$$) {
    my ($packets, $middle_delay, $timeout, $block) = @_;
    my $name = $block->name;
    my $sock = connect_server($block, $timeout) or return undef;
    $sock->blocking(0);
    local $SIG{PIPE} = 'IGNORE';

    my @queue = @$packets;
    my $wbuf = (shift @queue)->{value} // '';
    my $off = 0;
    my $writing = 1;
    my $resp = '';
    my $sel = IO::Select->new($sock);

    while (1) {
        if ($writing && $off >= length $wbuf) {
            if (@queue) {
                my $next = shift @queue;
                my $delay = $next->{delay_before} // $middle_delay;
                sleep $delay if $delay;
                ($wbuf, $off) = ($next->{value} // '', 0);
            } else {
                $writing = 0;
                my $how = $block->shutdown;
                if (defined $how) {
                    shutdown($sock, $how =~ /\d/ ? $how : 1);
                }
            }
            next;
        }

        $! = 0;
        my ($r, $w) = IO::Select->select($sel, $writing ? $sel : undef,
                                         undef, $timeout);
        if (!$r && !$w) {
            next if $! == EINTR;
            close $sock;
            if (defined $block->abort) {
                sleep 0.005;
            } else {
                extra_fail("ERROR: client socket timed out - $name\n");
            }
            return $resp;
        }

        if ($w && @$w) {
            my $n = syswrite $sock, $wbuf, length($wbuf) - $off, $off;
            if (defined $n) {
                $off += $n;
            } elsif ($! != EAGAIN && $! != EWOULDBLOCK && $! != EINTR) {
                warn "WARNING: $name - write failed: $!\n";
                $writing = 0;   # still read what the server sent
            }
        }

        if ($r && @$r) {
            my $n = sysread $sock, my $buf, 16384;
            if (!defined $n) {
                next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                warn "WARNING: $name - HTTP response read failure: $!\n";
                last;
            }
            last if $n == 0;
            $resp .= $buf;
        }
    }
    close $sock;
    return $resp;
}

sub send_request ($$$$) {
    my ($packets, $middle_delay, $timeout, $block) = @_;
    my $all = join '', map { $_->{value} // '' } @$packets;
    my $head = $all =~ /^\s*HEAD\s+/ ? 1 : 0;
    if (use_http2($block)) {
        return (send_request_by_curl($block, $packets, $timeout), $head);
    }
    return (send_request_by_socket($packets, $middle_delay, $timeout,
                                   $block), $head);
}

# ---------------------------------------------------------------------
# Responses
# ---------------------------------------------------------------------

# Returns (decoded_body, leftover) or (undef, error message).
sub decode_chunked ($) {
    my $raw = shift;
    my $out = '';
    pos($raw) = 0;
    while (1) {
        if ($raw !~ /\G[ \t]*([0-9A-Fa-f]+)[ \t]*(?:;[^\r\n]*)?\r\n/gc) {
            my $rest = substr $raw, pos($raw) // 0;
            return (undef, length $rest
                ? "invalid chunked body received: $rest"
                : "no last chunk found - $raw");
        }
        my $size = hex $1;
        my $at = pos $raw;
        if ($size == 0) {
            # optional trailer lines, then the final CRLF
            $raw =~ /\G(?:[^\r\n]+\r\n)*\r\n/gc
                or return (undef, "invalid chunked data received "
                                  . "(expected CRLF).");
            return ($out, substr $raw, pos $raw);
        }
        if (length($raw) - $at < $size) {
            return (undef, "invalid chunked data received "
                           . "(not enough octets for the data section)");
        }
        $out .= substr $raw, $at, $size;
        pos($raw) = $at + $size;
        $raw =~ /\G\r\n/gc
            or return (undef, "invalid chunked data received "
                              . "(expected CRLF).");
    }
}

sub parse_response ($$$) {
    my ($name, $raw, $head_req) = @_;
    my $raw_headers = $raw =~ /\A(.*?\r\n)\r\n/s ? $1 : '';
    my $res = HTTP::Response->parse($raw);
    my $code = $res->code;
    if (defined $code && $code !~ /^\d+$/) {
        $res->code(undef);
        undef $code;
    }
    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);

    my $left;
    my $te = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');
    if (defined $te && $te eq 'chunked') {
        my ($body, $rest) = decode_chunked($res->content // '');
        if (!defined $body) {
            extra_fail("$name - $rest");
            return;
        }
        $res->content($body);
        $left = $rest if length $rest;
    } elsif (defined $len && $len =~ /^\d+$/) {
        my $body = $res->content // '';
        if (length $body < $len) {
            warn "WARNING: $name - response body truncated: $len "
                 . "expected, but got ", length $body, "\n" unless $head_req;
        } elsif (length $body > $len) {
            $left = substr $body, $len;
            $res->content(substr $body, 0, $len);
        }
    }
    return ($res, $raw_headers, $left);
}

sub get_indexed_value ($$$$) {
    my ($name, $value, $idx, $need_array) = @_;
    if ($need_array) {
        return $value->[$idx] if ref $value eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected "
                 . "results should be arrays as well.");
    }
    return ref $value eq 'ARRAY' ? $value->[0] : $value;
}

sub run_requests ($$) {
    my ($block, $rep) = @_;
    my $name = $block->name;
    my $reqs = requests_from_block($block);

    if (defined $block->curl) {
        warn "# ", shell_quote(@{ curl_cmd($block, $reqs->[0]) }), "\n";
    }

    my $timeout = parse_time($block->timeout) // timeout();
    my $pipelined = $block->pipelined_requests;
    my $nresp = $pipelined ? scalar @$pipelined : 1;
    my $need_array = $pipelined ? 1 : @$reqs > 1;
    my $ignore = defined $block->ignore_response;
    my $res;
    my $req_idx = 0;

    for my $r (0 .. $#$reqs) {
        my ($raw, $head) = send_request($reqs->[$r],
            $block->raw_request_middle_delay, $timeout, $block);
        $raw //= '';
        for my $p (1 .. $nresp) {
            my ($raw_headers, $left);
            if (!$ignore) {
                if (defined $block->http09) {
                    $res = HTTP::Response->new(200, 'OK', [], $raw);
                    $raw_headers = '';
                } else {
                    ($res, $raw_headers, $left) =
                        parse_response($name, $raw, $head);
                }
            }
            if ($p < $nresp) {
                $raw = $left // '';
            } elsif (defined $left && !$pipelined) {
                (my $l = $left) =~ s/([\0-\037\200-\377])/
                    sprintf('\x{%02x}', ord $1)/ge;
                warn "WARNING: $name - unexpected extra bytes after last "
                     . "chunk in response: \"$l\"\n";
            }
            if (!$ignore) {
                my @args = ($block, $res, $raw_headers, $req_idx,
                            $need_array);
                check_error_code(@args);
                check_raw_response_headers(@args);
                check_response_headers(@args);
                transform_response_body($block, $res, $req_idx);
                check_response_body($block, $res, $req_idx, $rep,
                                    $need_array);
            }
            if ($p < $nresp || $r < $#$reqs) {
                sleep $block->wait if $block->wait;
                check_error_log($block, $res, 0, $rep, $need_array);
                check_access_log($block, 0, $rep) unless $ignore;
            }
            $req_idx++;
        }
    }

    sleep $block->wait if $block->wait;
    check_error_log($block, $res, 0, $rep, $need_array);
    check_access_log($block, 0, $rep) unless $ignore;
}

# ---------------------------------------------------------------------
# Checks. Each produces the same number of TAP tests as the CPAN module.
# ---------------------------------------------------------------------

sub check_error_code {
    my ($block, $res, undef, $idx, $need_array) = @_;
    my $name = $block->name;
    my $got = ($res && $res->code) || '';
    if (defined $block->error_code_like) {
        my $pat = get_indexed_value($name, $block->error_code_like, $idx,
                                    $need_array);
        like($got, qr/$pat/sm, "$name - status code ok");
    } elsif (defined $block->error_code) {
        Test::More::is($got, get_indexed_value($name, $block->error_code,
                                               $idx, $need_array),
                       "$name - status code ok");
    } else {
        Test::More::is($got, 200, "$name - status code ok");
    }
}

sub check_raw_response_headers {
    my ($block, undef, $raw_headers, $idx, $need_array) = @_;
    my $name = $block->name;
    $raw_headers //= '';
    if (defined(my $v = $block->raw_response_headers_like)) {
        my $pat = get_indexed_value($name, $v, $idx, $need_array);
        like($raw_headers, qr/$pat/s, "$name - raw resp headers like");
    }
    if (defined(my $v = $block->raw_response_headers_unlike)) {
        my $pat = get_indexed_value($name, $v, $idx, $need_array);
        unlike($raw_headers, qr/$pat/s, "$name - raw resp headers unlike");
    }
}

sub parse_headers ($) {
    my %h;
    for my $line (split /\n/, shift) {
        $line =~ s/^\s+|\s+$//g;
        if ($line =~ s/^!\s*//) {
            $h{$line} = undef;
        } else {
            my ($key, $val) = split /\s*:\s*/, $line, 2;
            $h{$key // ''} = $val;
        }
    }
    return \%h;
}

sub check_response_headers {
    my ($block, $res, $raw_headers, $idx, $need_array) = @_;
    my $name = $block->name;
    if (defined $block->response_headers) {
        my $h = parse_headers(get_indexed_value($name,
            $block->response_headers, $idx, $need_array));
        for my $key (sort keys %$h) {
            my $val = $h->{$key};
            if (!defined $val) {
                unlike($raw_headers // '', qr/^\s*\Q$key\E\s*:/ms,
                       "$name - header $key not present in the raw "
                       . "headers");
                next;
            }
            $val =~ s/\$ServerPort\b/$TNU::ServerPort/g;
            $val =~ s/\$ServerPortForClient\b/$TNU::ServerPortForClient/g;
            my $got = $res ? $res->header($key) : undef;
            Test::More::is($got // '', $val, "$name - header $key ok");
        }
    } elsif (defined $block->response_headers_like) {
        my $h = parse_headers(get_indexed_value($name,
            $block->response_headers_like, $idx, $need_array));
        for my $key (sort keys %$h) {
            my $val = $h->{$key} // '';
            my $got = $res ? $res->header($key) : undef;
            like($got // '', qr/^$val$/, "$name - header $key like ok");
        }
    }
}

sub run_body_filter ($$$) {
    my ($block, $filter, $content) = @_;
    return $filter->($content) if ref $filter eq 'CODE';
    my %builtin = (
        md5_hex  => \&Digest::MD5::md5_hex,
        sha1_hex => \&Digest::SHA::sha1_hex,
        uc       => sub { uc shift },
        lc       => sub { lc shift },
        ucfirst  => sub { ucfirst shift },
        lcfirst  => sub { lcfirst shift },
        length   => sub { length shift },
    );
    my $f = !ref $filter && $builtin{$filter}
        or bail_out($block->name . " - unknown filter \"$filter\" in "
                    . "--- response_body_filters");
    return $f->($content);
}

sub transform_response_body ($$$) {
    my ($block, $res, $idx) = @_;
    my $filters = $block->response_body_filters;
    return unless $res && defined $filters && defined $res->content;
    if (!ref $filters) {
        $filters =~ s/^\s+|\s+$//g;
        $filters = [split /\s+/, $filters];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }
    if (ref $filters->[0] eq 'ARRAY') {     # one filter list per request
        $filters = $filters->[$idx]
            // bail_out($block->name . " - no response_body_filters "
                        . "for request $idx");
    }
    my $content = $res->content;
    $content = run_body_filter($block, $_, $content) for @$filters;
    $res->content($content);
}

sub check_response_body ($$$$$) {
    my ($block, $res, $idx, $rep, $need_array) = @_;
    my $name = $block->name;
    my $content = $res ? $res->content : undef;

    if (defined(my $file = $block->write_resp_body_file)) {
        if (open my $out, '>', $file) {
            print $out $content // '';
            close $out;
        }
    }

    if (defined $block->response_body
        || defined $block->response_body_eval)
    {
        if (defined $block->response_body_json_sort && defined $content) {
            my $js = JSON::PP->new->canonical(1);
            my $obj = eval { $js->loose(1)->decode($content) };
            $content = $js->encode($obj) . "\n" unless $@;
        }
        my $expected;
        if ($block->response_body_eval) {
            diag("$name - response_body_eval is DEPRECATED. Use "
                 . "response_body eval instead.");
            $expected = eval get_indexed_value($name,
                $block->response_body_eval, $idx, $need_array);
            warn $@ if $@;
        } else {
            $expected = get_indexed_value($name, $block->response_body,
                                          $idx, $need_array);
        }
        if ($block->charset && defined $expected) {
            Encode::from_to($expected, 'UTF-8', $block->charset);
        }
        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$TNU::ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$TNU::ServerPortForClient/g;
            $expected = expand_env_in_text($expected, $name);
        }
        my $desc = "$name - response_body - response is expected "
                 . "(repeated req $rep, req $idx)";
        if (ref $expected) {
            like($content, $expected, "$name - response_body - like "
                 . "(repeated req $rep, req $idx)");
        } else {
            is_str($content, $expected, $desc);
        }
    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my $like = defined $block->response_body_like;
        my $pat = get_indexed_value($name, $like
            ? $block->response_body_like : $block->response_body_unlike,
            $idx, $need_array);
        $pat =~ s/\$ServerPort\b/$TNU::ServerPort/g;
        $pat =~ s/\$ServerPortForClient\b/$TNU::ServerPortForClient/g;
        my $type = $like ? 'like' : 'unlike';
        my $desc = "$name - response_body_$type - response is expected ("
                 . (trim($content) // '') . ")";
        if ($like) {
            like($content, qr/$pat/s, $desc);
        } else {
            unlike($content, qr/$pat/s, $desc);
        }
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $res ? $res->content : undef, $idx, $rep, 0);
    }
}

# --- log checks -------------------------------------------------------

sub log_patterns ($) {
    my $pats = shift;
    if (!ref $pats) {
        chomp $pats;
        return [split /\n+/, $pats];
    }
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats];
}

sub line_matches ($$) {
    my ($line, $pat) = @_;
    return $line =~ $pat if ref $pat;
    return index($line, $pat) >= 0;
}

sub value_contains {
    my ($val, $str) = @_;
    return 0 unless defined $val;
    return index("$val", $str) >= 0 unless ref $val eq 'ARRAY';
    return grep { value_contains($_, $str) } @$val;
}

# every pattern must match some line: one test per pattern
sub check_log_has ($$$$$) {
    my ($name, $pats, $lines, $file, $suffix) = @_;
    my @left = @{ log_patterns($pats) };
    for my $line (@$lines) {
        for my $pat (@left) {
            next unless defined $pat && line_matches($line, $pat);
            pass("$name - pattern \"$pat\" matches a line in $file$suffix");
            undef $pat;
        }
    }
    for my $pat (grep { defined } @left) {
        fail("$name - pattern \"$pat\" should match a line in "
             . "$file$suffix");
    }
}

# no pattern may match: one test per pattern (plus one per extra match)
sub check_log_lacks ($$$$$) {
    my ($name, $pats, $lines, $file, $suffix) = @_;
    my @pats = grep { defined } @{ log_patterns($pats) };
    my %found;
    for my $i (0 .. $#$lines) {
        my $line = $lines->[$i];
        for my $pat (@pats) {
            next unless line_matches($line, $pat);
            $found{$pat}++;
            my $more = join '', @$lines[$i + 1 .. min($i + 9, $#$lines)];
            fail("$name - pattern \"" . fmt_str($pat) . "\" should not "
                 . "match any line in $file but matches line \""
                 . fmt_str($line) . "\"$suffix\n$more");
        }
    }
    for my $pat (@pats) {
        next if $found{$pat};
        pass("$name - pattern \"" . fmt_str($pat) . "\" does not match "
             . "a line in $file$suffix");
    }
}

sub check_error_log ($$$$$) {
    my ($block, $res, $dry_run, $rep, $need_array) = @_;
    my $name = $block->name;
    my $lines;
    my $data = sub { $lines //= error_log_data() };
    my $suffix = " (req $rep)";

    my $grep = $block->grep_error_log;
    if (defined $grep) {
        $grep = $grep->[$rep] if ref $grep eq 'ARRAY';
        my $expected = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but --- "
                 . "grep_error_log is defined") unless defined $expected;
        $expected = $expected->[$rep] if ref $expected eq 'ARRAY';
        $expected = expand_env_in_text($expected, $name);
        my $out = '';
        for my $line (@{ $data->() }) {
            my $m;
            if (ref $grep) {
                next unless $line =~ $grep;
                $m = substr $line, $-[0], $+[0] - $-[0];
            } else {
                next if index($line, $grep) < 0;
                $m = $grep;
            }
            $out .= "$m\n" unless $m =~ /\n/;
        }
        is_str($out, $expected, "$name - grep_error_log_out$suffix");
    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but --- "
                 . "grep_error_log_out is defined");
    }

    my %warn_on = map { $_ => 1 }
        ('[alert]', '[crit]', '[emerg]', 'writing a global lua variable');
    for my $sec (qw(error_log no_error_log)) {
        my $pats = $block->$sec;
        next unless defined $pats;
        for my $w (keys %warn_on) {
            (my $prefix = $w) =~ s/\]$//;
            delete $warn_on{$w} if value_contains($pats, $prefix);
        }
        if ($sec eq 'error_log') {
            check_log_has($name, $pats, $data->(), 'error.log', $suffix);
        } else {
            check_log_lacks($name, $pats, $data->(), 'error.log', $suffix);
        }
    }

    for my $w (sort keys %warn_on) {
        for my $line (@{ $data->() }) {
            warn "WARNING: $name - ", fmt_str($line), "\n"
                if index($line, $w) >= 0;
        }
    }
    for my $line (@{ $data->() }) {
        if ($line =~ /\bAssertion .*?failed\b/) {
            chomp(my $l = $line);
            extra_fail("$name - $l\n");
        }
    }
}

sub check_access_log ($$$) {
    my ($block, undef, $rep) = @_;
    my $name = $block->name;
    my $lines;
    if (defined(my $pats = $block->access_log)) {
        $lines //= access_log_data();
        check_log_has($name, $pats, $lines, 'access.log', " (req $rep)");
    }
    if (defined(my $pats = $block->no_access_log)) {
        $lines //= access_log_data();
        check_log_lacks($name, $pats, $lines, 'access.log', " (req $rep)");
    }
}

sub check_shutdown_error_log ($$) {
    my ($block, $dry_run) = @_;
    my $name = $block->name;
    my $lines = error_log_data();
    SKIP: {
        my $n = 0;
        for my $sec (qw(shutdown_error_log no_shutdown_error_log)) {
            my $pats = $block->$sec;
            $n += grep { defined } @{ log_patterns($pats) } if defined $pats;
        }
        skip("$name - shutdown_error_log - tests skipped due to dry_run",
             $n) if $dry_run;
        if (defined(my $pats = $block->shutdown_error_log)) {
            check_log_has($name, $pats, $lines, 'error.log', '');
        }
        if (defined(my $pats = $block->no_shutdown_error_log)) {
            check_log_lacks($name, $pats, $lines, 'error.log', '');
        }
    }
}

sub check_prev_block_shutdown_error_log () {
    my $block = $PrevBlock or return;
    return unless defined $block->shutdown_error_log
               || defined $block->no_shutdown_error_log;
    check_shutdown_error_log($block, $ENV{TEST_NGINX_NO_CLEAN});
    undef $PrevBlock;
}

END {
    local $?;
    if (!$TNU::InSubprocess) {
        cleanup();
        if (!$ENV{TEST_NGINX_NO_CLEAN} || $TNU::UseValgrind) {
            stop_nginx('END');
        }
        check_prev_block_shutdown_error_log();
        if ($TNU::Randomize && $TNU::ServRoot =~ m{/t/servroot_\d+$}) {
            File::Path::remove_tree($TNU::ServRoot);
        }
    }
}

1;
