# Runs the fixtures under t/fixtures/ and checks that the lite
# Test::Nginx::Socket reports deliberately wrong expectations as failures
# and correct ones as passes.

use strict;
use warnings;

use File::Temp ();
use FindBin ();
use TAP::Parser ();
use Test::More;

my $lib = "$FindBin::Bin/../lib";
my $fixtures = "$FindBin::Bin/fixtures";

# a port and server root of their own (001-sanity.t may run in parallel)
$ENV{TEST_NGINX_LITE_PORT} = ($ENV{TEST_NGINX_LITE_PORT} || 19840) + 1;
$ENV{TEST_NGINX_LITE_SERVROOT} = "$FindBin::Bin/servroot_fixture";

# Run one fixture; returns its exit status, TAP results and stderr.
sub run_fixture {
    my $file = "$fixtures/" . shift;
    my $err = File::Temp->new;
    my $tap = qx{"$^X" -I"$lib" "$file" 2>"$err"};
    my $status = $?;
    my $parser = TAP::Parser->new({ tap => $tap });
    my @tests;
    while (my $r = $parser->next) {
        push @tests, $r if $r->is_test;
    }
    seek $err, 0, 0;
    my $stderr = do { local $/; <$err> } // '';
    return {
        status => $status, tap => $tap, stderr => $stderr,
        tests => \@tests, planned => $parser->tests_planned // -1,
        bailed => scalar($tap =~ /^Bail out!/m),
    };
}

sub failed_names {
    my $run = shift;
    return map { $_->description }
           grep { !$_->is_actual_ok } @{ $run->{tests} };
}

sub show {
    my $run = shift;
    diag("TAP:\n$run->{tap}\nSTDERR:\n$run->{stderr}");
}

# --- the correct fixture passes --------------------------------------

my $good = run_fixture('good.fixture');
is($good->{status}, 0, 'good fixture exits with 0') or show($good);
is(scalar(failed_names($good)), 0, 'good fixture has no failures');
is(scalar @{ $good->{tests} }, $good->{planned},
   'good fixture runs exactly the planned number of tests (12)');
is($good->{planned}, 12, 'good fixture plan');

# --- every wrong expectation fails ------------------------------------

my $bad = run_fixture('bad.fixture');
isnt($bad->{status}, 0, 'bad fixture exits with non-zero status');
my @failed = failed_names($bad);

my %expect = (
    'TEST 1:' => qr/response_body - response is expected/,
    'TEST 2:' => qr/status code ok/,
    'TEST 3:' => qr/"this pattern never appears" should match a line/,
    'TEST 4:' => qr/die as expected/,
    'TEST 5:' => qr/client socket timed out/,
    'TEST 6:' => qr/"No such file or directory" should not match/,
    'TEST 7:' => qr/header X-Foo ok/,
    'TEST 8:' => qr/response_body_like/,
);
for my $test (sort keys %expect) {
    my $pat = $expect{$test};
    ok((grep { index($_, $test) >= 0 && $_ =~ $pat } @failed),
       "bad fixture: $test fails with $pat") or show($bad);
}
ok(!(grep { /TEST 9:/ } @failed), 'bad fixture: TEST 9 passes');
my @passed = grep { $_->is_actual_ok } @{ $bad->{tests} };
ok((grep { $_->description =~ /TEST 1:.*status code ok/ } @passed),
   'bad fixture: the correct status check of TEST 1 passes');
# (TEST 5 is left out: its status check passes under HTTP/2)
is(scalar(grep { $_->description !~ /TEST 5:/ } @passed), 9,
   'bad fixture: all other checks pass') or show($bad);

# --- nginx failing to start bails out ----------------------------------

my $bail = run_fixture('bail.fixture');
isnt($bail->{status}, 0, 'bail fixture exits with non-zero status');
ok($bail->{bailed}, 'bail fixture bails out') or show($bail);
like($bail->{tap}, qr/unknown directive "no_such_directive"/,
     'bail out message shows the nginx error');

# --- valgrind errors fail the block -----------------------------------

{
    local $ENV{TEST_NGINX_USE_VALGRIND} = 1;
    local $ENV{PATH} = "$fixtures/bin:$ENV{PATH}";
    my $vg = run_fixture('valgrind.fixture');
    isnt($vg->{status}, 0, 'valgrind fixture exits with non-zero status');
    my @failed = failed_names($vg);
    is_deeply([map { /- (valgrind reported errors)$/ ? $1 : $_ } @failed],
              ['valgrind reported errors'],
              'valgrind fixture: only the valgrind check fails')
        or show($vg);
    like($vg->{stderr}, qr/Invalid read of size 8/,
         'valgrind output is shown on stderr');
}

# no nginx left behind by the fixtures
my $pidfile = "$ENV{TEST_NGINX_LITE_SERVROOT}/logs/nginx.pid";
ok(!-e $pidfile, 'no nginx pid file left behind');

done_testing();
