package Test::Nginx::Util;

# Settings, nginx.conf generation and nginx process management for the
# lightweight Test::Nginx::Socket replacement (see ../Socket.pm).

use strict;
use warnings;

use Carp ();
use Exporter 'import';
use File::Path qw(make_path remove_tree);
use File::Spec ();
use IO::Socket::INET ();
use POSIX qw(:sys_wait_h SIGQUIT SIGKILL SIGTERM);
use Time::HiRes qw(sleep time);
use Test::More ();
use Test::LongString ();

our $VERSION = '0.01';

our @EXPORT = qw(
    repeat_each workers worker_connections master_on master_off
    master_process_enabled log_level no_shuffle no_long_string
    no_root_location check_accum_error_log env_to_nginx config_preamble
    timeout server_name server_addr server_port server_port_for_client
    server_root html_dir sleep_time verbose is_str bail_out
    add_block_preprocessor add_cleanup_handler add_test_cleanup_handler
    expand_env_in_text parse_time trim get_canon_version
    nginx_version error_log_data access_log_data setup_server_root
    write_user_files write_config_file start_nginx stop_nginx
    nginx_child_exited valgrind_errors cleanup is_running pid_from_file
    nginx_listening openssl_version
);

# ---------------------------------------------------------------------
# Settings (environment first, then the exported setters)
# ---------------------------------------------------------------------

our $RepeatEach        = 1;
our $Workers           = 1;
our $WorkerConnections = 64;
our $LogLevel          = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcess     = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $NginxBinary       = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $UseValgrind       = $ENV{TEST_NGINX_USE_VALGRIND};
our $UseHttp2          = $ENV{TEST_NGINX_USE_HTTP2};
our $DaemonEnabled     = $UseValgrind ? 'off' : 'on';
our $ServerAddr        = '127.0.0.1';
our $ServerName        = 'localhost';
our $ServerPort        = $ENV{TEST_NGINX_SERVER_PORT}
                         || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $Timeout           = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $Sleep             = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $NoShuffle         = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $Verbose           = $ENV{TEST_NGINX_VERBOSE};
our $CheckAccumErrLog  = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $LoadModules       = $ENV{TEST_NGINX_LOAD_MODULES};
our $EventType         = $ENV{TEST_NGINX_EVENT_TYPE};
our $WorkerUser        = $ENV{TEST_NGINX_WORKER_USER};
our $Randomize         = $ENV{TEST_NGINX_RANDOMIZE};
our $NoRootLocation    = 0;
our $NoLongString;
our $ConfigPreamble    = '';
our $FilterHttpConfig;
our (@EnvToNginx, @BlockPreprocessors, @CleanupHandlers,
     @TestCleanupHandlers);

for my $var (qw(CHECK_LEAK BENCHMARK USE_HUP USE_STAP USE_HTTP3 USE_RR
                 NO_NGINX_MANAGER))
{
    warn "WARNING: TEST_NGINX_$var is not supported by the lite "
         . "Test::Nginx::Socket and is ignored\n"
        if $ENV{"TEST_NGINX_$var"};
}

sub repeat_each (@) { $RepeatEach = shift if @_; return $RepeatEach }
sub workers (@) { @_ ? ($Workers = shift) : $Workers }
sub worker_connections (@) {
    @_ ? ($WorkerConnections = shift) : $WorkerConnections;
}
sub master_on ()  { $MasterProcess = 'on' }
sub master_off () { $MasterProcess = 'off' }
sub master_process_enabled (@) {
    return $MasterProcess unless @_;
    $MasterProcess = shift() ? 'on' : 'off';
}
sub log_level (@) { @_ ? ($LogLevel = shift) : $LogLevel }
sub no_shuffle () { $NoShuffle = 1 }
sub no_long_string () { $NoLongString = 1 }
sub no_root_location () { $NoRootLocation = 1 }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub config_preamble ($) { $ConfigPreamble = shift }
sub timeout (@) { @_ ? ($Timeout = shift) : $Timeout }
sub server_name (@) { @_ ? ($ServerName = shift) : $ServerName }
sub server_addr (@) { @_ ? ($ServerAddr = shift) : $ServerAddr }
sub server_port (@) { @_ ? ($ServerPort = shift) : $ServerPort }
sub server_port_for_client (@) {
    @_ ? ($ServerPortForClient = shift) : $ServerPortForClient;
}
sub sleep_time () { $Sleep }
sub verbose () { $Verbose }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($) { unshift @CleanupHandlers, shift }
sub add_test_cleanup_handler ($) { unshift @TestCleanupHandlers, shift }

sub env_to_nginx (@) {
    Carp::croak("env_to_nginx: no arguments specified") unless @_;
    for my $v (@_) {
        Carp::croak("env_to_nginx: bad argument value: $v")
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::like($got, $expected, $desc)
        if ref $expected && ref $expected eq 'Regexp';
    return Test::More::is($got, $expected, $desc) if $NoLongString;
    return Test::LongString::is_string($got, $expected, $desc);
}

# ---------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------

srand($$ ^ int(time() * 1000));

sub free_port ($);

if ($Randomize) {
    $ServerPort = free_port({})
        or die "Cannot find an available listening port\n";
    $ServerPortForClient = $ServerPort;
}

our $ServRoot = File::Spec->rel2abs(
    $Randomize ? "t/servroot_$ServerPort"
               : ($ENV{TEST_NGINX_SERVROOT} || 't/servroot'));
our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";
our $PidFile    = "$LogDir/nginx.pid";
our $CacheDir   = "$ServRoot/cache";

$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;
$ENV{TEST_NGINX_HTML_DIR} //= $HtmlDir;

sub server_root () { $ServRoot }
sub html_dir ()    { $HtmlDir }

# ---------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------

our $ChildPid;          # nginx run in the foreground (valgrind mode)
our $ErrLogFilePos = 0;
our %RandPorts;         # TEST_NGINX_RAND_PORT_N => port, per test file
our $InSubprocess;

sub cleanup () {
    $_->() for @CleanupHandlers;
    if (defined $ChildPid) {
        stop_nginx('cleanup');
    }
}

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

sub parse_time ($) {
    my $t = shift;
    return $t unless defined $t;
    if ($t =~ s/([^_a-zA-Z])ms$/$1/) {
        return $t / 1000;
    }
    $t =~ s/([^_a-zA-Z])s$/$1/;
    return $t;
}

sub trim ($) {
    my $s = shift;
    return undef unless defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\s+/ /g;
    return $s;
}

sub get_canon_version (@) {
    return sprintf "%d.%03d%03d", @_[0 .. 2];
}

my $NginxV;

sub nginx_V () {
    return $NginxV if defined $NginxV;
    $NginxV = `$NginxBinary -V 2>&1`;
    if ($? != 0) {
        bail_out("Failed to run \"$NginxBinary -V\": $NginxV");
    }
    return $NginxV;
}

sub nginx_version () {
    my $out = nginx_V();
    if ($out =~ m{(?:nginx|openresty)[^/]*/(\d+)\.(\d+)\.(\d+)}s
        || $out =~ m{\w+/(\d+)\.(\d+)\.(\d+)}s)
    {
        return get_canon_version($1, $2, $3);
    }
    bail_out("Failed to parse the output of \"nginx -V\": $out");
}

sub openssl_version () {
    if (nginx_V() =~ /built with OpenSSL (\d+)\.(\d+)\.(\d+)([a-z])?/) {
        my $v = get_canon_version($1, $2, $3);
        $v .= sprintf "%03d", ord($4) - ord('a') if defined $4;
        return $v;
    }
    return undef;
}

sub free_port ($) {
    my $used = shift;
    for (1 .. 1000) {
        my $port = 1988 + int rand(63547);
        next if $used->{$port};
        my $sock = IO::Socket::INET->new(
            LocalAddr => $ServerAddr, LocalPort => $port,
            Proto => 'tcp', Listen => 1, ReuseAddr => 1,
        ) or next;
        close $sock;
        return $port;
    }
    return undef;
}

# Replace $TEST_NGINX_* by the environment value; TEST_NGINX_RAND_PORT_N
# become free random ports (stable for the whole test file).
sub expand_env_in_text ($$;$) {
    my ($text, $name) = @_;
    return $text unless defined $text && !ref $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        my $val;
        if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            if (!defined $RandPorts{$var}) {
                my %used = map { $_ => 1 } $ServerPort, values %RandPorts;
                $RandPorts{$var} = free_port(\%used)
                    // bail_out("$name - no free port for $var");
            }
            $val = $RandPorts{$var};
        } else {
            $val = $ENV{$var};
            bail_out("$name - No environment $var defined.\n")
                unless defined $val;
        }
        $val;
    }ge;
    return $text;
}

sub is_running ($) {
    my $pid = shift;
    return 0 unless $pid && kill 0, $pid;
    # a zombie nobody reaps is not running
    if (open my $in, '<', "/proc/$pid/stat") {
        my $stat = <$in> // '';
        return 0 if $stat =~ /^\d+ \(.*\) Z /s;
    }
    return 1;
}

# ---------------------------------------------------------------------
# Server root, user files and nginx.conf
# ---------------------------------------------------------------------

sub setup_server_root () {
    if (-d $ServRoot) {
        # only remove what we created, never arbitrary user data
        remove_tree($ConfDir, $CacheDir, $HtmlDir, $LogDir,
                    glob("$ServRoot/*_cache"), glob("$ServRoot/*_temp"));
        rmdir $ServRoot
            or bail_out("Can't remove $ServRoot (not empty?): $!");
    }
    for my $dir ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        mkdir $dir or bail_out("Failed to mkdir $dir: $!");
    }
    open my $out, '>', "$HtmlDir/index.html"
        or bail_out("Can't write $HtmlDir/index.html: $!");
    print $out '<html><head><title>It works!</title></head>'
             . '<body>It works!</body></html>';
    close $out;
}

sub write_user_files ($) {
    my $block = shift;
    my $name = $block->name;
    my $files = $block->user_files;
    return unless $files;

    if (!ref $files) {
        my @list;
        for my $line (split /^/, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(.+))?/) {
                push @list, [$1, undef, $2];
            } elsif (@list) {
                $list[-1][1] .= $line;
            }
        }
        $files = \@list;
    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - user_files must be a string or an ARRAY ref");
    }

    for my $f (@$files) {
        my ($fname, $body, $date) = @$f;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{(.*)/} && !-d $1) {
            make_path($1) or bail_out("$name - cannot mkdir $1");
        }
        $body = expand_env_in_text($body // '', $name);
        open my $out, '>', $path
            or bail_out("$name - cannot open $path for writing: $!");
        binmode $out;
        print $out $body;
        close $out;
        if (defined $date && length $date) {
            system('touch', '-t', $date, $path) == 0
                or bail_out("$name - touch -t '$date' $path failed");
        }
    }
}

sub use_http2_listen ($) {
    my ($listen_opts, $directive) = ('', '');
    if (nginx_version() >= get_canon_version(1, 25, 1)) {
        $directive = ' http2 on;';
    } else {
        $listen_opts = ' http2';
    }
    return ($listen_opts, $directive);
}

sub write_config_file ($$$) {
    my ($block, $config, $http2) = @_;
    my $name = $block->name;

    my $http_config = expand_env_in_text($block->http_config // '', $name);
    $http_config = $FilterHttpConfig->($http_config) if $FilterHttpConfig;

    my $main_config = expand_env_in_text($block->main_config // '', $name);
    if ($LoadModules) {
        my @mods = map { "load_module $_;" } grep { length }
                   split /\s+/, $LoadModules;
        $main_config = join "\n", @mods, $main_config;
    }
    my $post_main_config =
        expand_env_in_text($block->post_main_config // '', $name);
    my $err_log = expand_env_in_text($block->error_log_file
                                     || $ErrLogFile, $name);
    my $server_name = $block->server_name // $ServerName;
    $config //= '';

    my $v = nginx_V();
    my @temp_paths;
    push @temp_paths, "client_body_temp_path $ServRoot/client_body_temp;"
        unless $http_config =~ /\bclient_body_temp_path\b/;
    push @temp_paths, "proxy_temp_path $ServRoot/proxy_temp;"
        unless $http_config =~ /\bproxy_temp_path\b/;
    for my $m (qw(fastcgi scgi uwsgi)) {
        push @temp_paths, "${m}_temp_path $ServRoot/${m}_temp;"
            unless $v =~ /--without-http_${m}_module/;
    }
    my $temp_paths = join ' ', @temp_paths;

    my ($listen_opts, $http2_directive) = ('', '');
    ($listen_opts, $http2_directive) = use_http2_listen($block) if $http2;

    my $env = '';
    for my $var (@EnvToNginx) {
        $env .= $var =~ /\s/ ? "env '$var';\n" : "env $var;\n";
    }

    my $root_location = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    my $events_use = $EventType ? "    use $EventType;\n" : '';
    my $user = defined $WorkerUser ? "user $WorkerUser;\n"
             : $> == 0             ? "user root;\n" : '';

    open my $out, '>', $ConfFile
        or bail_out("Can't open $ConfFile for writing: $!");
    print $out <<"_EOC_";
worker_processes  $Workers;
daemon $DaemonEnabled;
master_process $MasterProcess;
error_log $err_log $LogLevel;
pid       $PidFile;
env MOCKEAGAIN_VERBOSE;
env MOCKEAGAIN;
env MOCKEAGAIN_WRITE_TIMEOUT_PATTERN;
env LD_PRELOAD;
env LD_LIBRARY_PATH;
env DYLD_INSERT_LIBRARIES;
env DYLD_FORCE_FLAT_NAMESPACE;
$env#env LUA_PATH;
#env LUA_CPATH;

$main_config

http {
    access_log $AccLogFile; $temp_paths
    #access_log off;

    default_type text/plain;
    keepalive_timeout  68000ms;

$http_config
    server {
        listen          $ServerPort$listen_opts;$http2_directive
        #placeholder
        server_name     '$server_name';

        client_max_body_size 30M;
        #client_body_buffer_size 4k;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
}

$post_main_config

#timer_resolution 100ms;

events {
    accept_mutex off;

    worker_connections  $WorkerConnections;
$events_use}
env ASAN_OPTIONS;
env MOCKNOEAGAIN_VERBOSE;
env MOCKNOEAGAIN;
$user
_EOC_
    close $out;
}

# ---------------------------------------------------------------------
# Logs
# ---------------------------------------------------------------------

sub read_lines_from ($$) {
    my ($file, $pos) = @_;
    open my $in, '<', $file or return (undef, $pos);
    seek $in, $pos, 0 if $pos;
    my @lines = <$in>;
    my $new_pos = tell $in;
    close $in;
    return (\@lines, $new_pos);
}

# Lines written to error.log since the last call (or all of them under
# check_accum_error_log).
sub error_log_data () {
    sleep $Sleep * 3;   # let nginx finish its log phase
    my $pos = $CheckAccumErrLog ? 0 : $ErrLogFilePos;
    my ($lines, $new_pos) = read_lines_from($ErrLogFile, $pos);
    $ErrLogFilePos = $new_pos unless $CheckAccumErrLog || !$lines;
    return $lines // [];
}

sub access_log_data () {
    sleep $Sleep * 3;
    my ($lines) = read_lines_from($AccLogFile, 0);
    return $lines // [];
}

# ---------------------------------------------------------------------
# nginx processes
# ---------------------------------------------------------------------

sub pid_from_file () {
    open my $in, '<', $PidFile or return undef;
    my $pid = <$in>;
    close $in;
    return undef unless defined $pid && $pid =~ /^\s*(\d+)/;
    return $1;
}

sub wait_gone ($$) {
    my ($pid, $secs) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        waitpid($pid, WNOHANG);
        return 1 unless is_running($pid);
        sleep 0.02;
    }
    waitpid($pid, WNOHANG);
    return !is_running($pid);
}

sub kill_hard ($) {
    my $pid = shift;
    my $pgrp = getpgrp($pid);
    if (defined $pgrp && $pgrp == $pid) {
        kill SIGKILL, -$pid;
    } else {
        kill SIGKILL, $pid;
    }
    wait_gone($pid, 5);
}

# Gracefully stop the running nginx (SIGQUIT, then SIGKILL).
sub stop_nginx ($) {
    my $name = shift;
    if (defined $ChildPid) {
        # foreground nginx (valgrind); leak checking takes a while
        my $pid = $ChildPid;
        undef $ChildPid;
        kill SIGQUIT, $pid;
        if (!wait_gone($pid, 30)) {
            warn "$name - nginx $pid did not quit; killing it\n";
            kill_hard($pid);
        }
        waitpid($pid, 0) if waitpid($pid, WNOHANG) == 0;
        unlink $PidFile;
        return;
    }
    my $pid = pid_from_file();
    if ($pid && is_running($pid)) {
        kill SIGQUIT, $pid;
        if (!wait_gone($pid, $Timeout)) {
            warn "$name - timeout when waiting for nginx $pid to exit\n";
            kill_hard($pid);
        }
    }
    unlink $PidFile if -f $PidFile;
}

sub nginx_cmd () {
    my @cmd = ($NginxBinary, '-p', "$ServRoot/", '-c', $ConfFile);
    push @cmd, '-e', $ErrLogFile
        if nginx_version() >= get_canon_version(1, 19, 5);
    return @cmd;
}

sub valgrind_cmd () {
    my @cmd = ('valgrind', '-q', "--log-file=$LogDir/valgrind.%p.log");
    if ($UseValgrind =~ /^\d+$/) {
        push @cmd, qw(--num-callers=100 --tool=memcheck --leak-check=full
                      --keep-debuginfo=yes --show-possibly-lost=no
                      --gen-suppressions=all);
    } else {
        push @cmd, split ' ', $UseValgrind;
    }
    push @cmd, '--suppressions=valgrind.suppress' if -f 'valgrind.suppress';
    return @cmd;
}

# Text valgrind reported since nginx was started ('' when clean).
sub valgrind_errors () {
    my $out = '';
    for my $f (sort glob "$LogDir/valgrind.*.log") {
        open my $in, '<', $f or next;
        while (my $line = <$in>) {
            next if $line =~ /^==\d+== Warning: /;

            # Debian 12's valgrind (3.19) does not know openat2(), 437:
            # it says so and fails the call, which the module takes as a
            # kernel without it
            next if $line =~ /^--\d+-- (?:WARNING: unhandled amd64-linux syscall: 437$|You may be able to write your own handler|Read the file README_MISSING_SYSCALL_OR_IOCTL|Nevertheless we consider this a bug|it at http:\/\/valgrind\.org\/support\/bug_reports\.html)/;

            $out .= $line;
        }
        close $in;
        unlink $f;
    }
    return $out =~ /\S/ ? $out : '';
}

# True once the foreground (valgrind) nginx has exited.
sub nginx_child_exited () {
    return 0 unless defined $ChildPid;
    return 0 if waitpid($ChildPid, WNOHANG) == 0;
    undef $ChildPid;
    return 1;
}

# Is anything listening on the TCP port (checked via /proc, no connect)?
sub nginx_listening ($) {
    my $port = shift;
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $in, '<', $f or next;
        while (<$in>) {
            return 1 if /^\s*\d+: [0-9A-F]+:([0-9A-F]{4}) \S+ 0A /
                        && hex($1) == $port;
        }
    }
    return 0;
}

# Run the nginx command line once; returns the wait status (-1 when it
# cannot be executed). In valgrind mode nginx is forked and 0 returned.
sub start_nginx ($$) {
    my ($block, $use_valgrind) = @_;
    my @cmd = nginx_cmd();
    my $quiet = defined $block->suppress_stderr;

    if ($use_valgrind) {
        @cmd = (valgrind_cmd(), @cmd);
        warn $block->name, "\n";
        my $pid = fork;
        bail_out("fork() failed: $!") unless defined $pid;
        if ($pid == 0) {
            $InSubprocess = 1;
            setpgrp;
            open STDOUT, '>', '/dev/null';
            open STDERR, '>', '/dev/null' if $quiet;
            { exec @cmd }
            POSIX::_exit(127);
        }
        $ChildPid = $pid;
        sleep $Sleep;
        return 0;
    }

    my $pid = fork;
    bail_out("fork() failed: $!") unless defined $pid;
    if ($pid == 0) {
        $InSubprocess = 1;
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null' if $quiet;
        { exec @cmd }
        POSIX::_exit(127);
    }
    waitpid($pid, 0);
    my $status = $?;
    return ($status >> 8) == 127 ? -1 : $status;
}

1;
