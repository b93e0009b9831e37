# A fleet of nginx nodes on one bucket, behind a front nginx that hashes
# on the customer (the configuration docs/object-store.md gives): node A
# is a second nginx started here, node B and the front are the block's.
# Uploads land on A or B by customer; once A is stopped, its customers'
# requests fail over to B, which finds their records and audio in the
# bucket by their ids; a DELETE through B removes the objects.

use Test::Nginx::Socket;
use lib 't/lib';
use UploadStore;
use ObjectStore;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes ();

BEGIN { ObjectStore::start() }

plan 'no_plan';

master_on();
workers(1);

$ENV{TEST_NGINX_NODE_A_PORT} = server_port() + 41;
$ENV{TEST_NGINX_NODE_B_PORT} = server_port() + 42;

add_response_body_check(ObjectStore::object_check());

UploadStore::preamble(checks => [qw(json)]);

our $Store = <<'_EOC_';
    upload_store_path html/store zone=audio:1m min_free=0;
    upload_store_object_store audio $TEST_NGINX_S3_URL region=us-east-1
                              credentials=../html/s3.key prefix=fleet/
                              backoff=100ms..1s;
_EOC_

our $Node = <<'_EOC_';
        location = /upload {
            client_max_body_size 50m;
            upload_store_receive audio;
            upload_store_customer $http_x_customer;
        }

        location /files/ {
            upload_store_files audio;
            upload_store_customer $http_x_customer;
        }

        location = /health {
            upload_store_admin audio;
        }
_EOC_

# the block's nginx: node B, and the front before A and B

our $Front = $Store . <<'_EOC_' . $Node . "    }\n";
    upstream fleet {
        hash $http_x_customer consistent;
        server 127.0.0.1:$TEST_NGINX_NODE_A_PORT max_fails=1 fail_timeout=30s;
        server 127.0.0.1:$TEST_NGINX_NODE_B_PORT max_fails=1 fail_timeout=30s;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_NODE_B_PORT;
_EOC_

# node A, started before the block's requests (a node the front found
# down stays down for fail_timeout)

our $DirA;

sub start_a {
    $DirA = ObjectStore::node_start('a', $ENV{TEST_NGINX_NODE_A_PORT},
                                    $Store, $Node);
}

# uploads of eight customers through the front, A stopped: every upload
# read and deleted through the front (node B)

sub fleet {
    my $front = "http://127.0.0.1:" . server_port();
    my (@err, %up);

    my $dir = $::DirA;

    for my $n (1 .. 8) {
        my $customer = "c$n";
        my $body = "RIFF....WAVEfmt $customer " . ("$n" x (20000 * $n));

        my $r = HTTP::Tiny->new->post("$front/upload",
                    { headers => { 'X-Customer' => $customer },
                      content => $body });
        my $j = eval { JSON::PP->new->decode($r->{content}) } // {};

        push @err, "$customer: POST $r->{status}" if $r->{status} != 201;
        next unless $j->{id};

        $up{$j->{id}} = { customer => $customer, body => $body,
                          on_a => -d "$dir/html/store/$customer" };
    }

    my @on_a = grep { $up{$_}{on_a} } keys %up;
    push @err, "the front sent all uploads to one node (" . @on_a . " on A)"
        if @on_a == 0 || @on_a == keys %up;

    # all offloaded, as the nodes' records say

    my $until = Time::HiRes::time() + 30;

    for my $id (keys %up) {
        my $http = HTTP::Tiny->new(default_headers =>
                                   { 'X-Customer' => $up{$id}{customer} });
        my $rec = {};

        while (Time::HiRes::time() < $until) {
            my $r = $http->get("$front/files/$id/metadata");
            $rec = eval { JSON::PP->new->decode($r->{content}) } // {};
            last if defined $rec->{object}{etag};
            Time::HiRes::sleep(0.1);
        }

        push @err, "$id: not offloaded" unless defined $rec->{object}{etag};
        $up{$id}{key} = $rec->{object}{key};
    }

    ObjectStore::node_stop('a');

    # through the front, node B alone

    for my $id (sort keys %up) {
        my $u = $up{$id};
        my $http = HTTP::Tiny->new(default_headers =>
                                   { 'X-Customer' => $u->{customer} });

        my $r = $http->get("$front/files/$id");
        push @err, "$id ($u->{customer}): GET $r->{status}"
            if $r->{status} != 200;
        push @err, "$id: the audio differs" if $r->{content} ne $u->{body};

        $r = $http->get("$front/files/$id/metadata");
        my $j = eval { JSON::PP->new->decode($r->{content}) } // {};
        push @err, "$id: metadata $r->{status}"
            if $r->{status} != 200 || ($j->{id} // '') ne $id
               || $j->{customer} ne $u->{customer};

        # another customer does not get it by its id

        $r = HTTP::Tiny->new->get("$front/files/$id",
                                  { headers => { 'X-Customer' => 'c99' } });
        push @err, "$id: another customer got $r->{status}"
            if $r->{status} != 404;
    }

    for my $id (grep { $up{$_}{on_a} } sort keys %up) {
        my $u = $up{$id};
        my $r = HTTP::Tiny->new->request('DELETE', "$front/files/$id",
                    { headers => { 'X-Customer' => $u->{customer} } });
        push @err, "$id: DELETE $r->{status}" if $r->{status} != 204;

        my $rkey = $u->{key} =~ s{[^/]+$}{$id.json}r;
        my ($a, $b);

        for (1 .. 100) {
            ($a) = ObjectStore::s3('HEAD', $u->{key}, '-I');
            ($b) = ObjectStore::s3('HEAD', $rkey, '-I');
            last if $a == 404 && $b == 404;
            Time::HiRes::sleep(0.1);
        }

        push @err, "$id: objects left after DELETE: $a $b"
            unless $a == 404 && $b == 404;

        $r = HTTP::Tiny->new->get("$front/files/$id",
                    { headers => { 'X-Customer' => $u->{customer} } });
        push @err, "$id: GET after DELETE $r->{status}"
            if $r->{status} != 404;
    }

    return @err;
}

run_tests();

__DATA__

=== TEST 1: uploads spread by customer over two nodes; node A stopped, every upload is read through node B from the bucket; DELETE through B removes the objects
--- http_config eval
$::Front
--- config
    location ~ ^/(upload|files/|health) {
        client_max_body_size 50m;
        proxy_pass http://fleet;
        proxy_next_upstream error timeout http_502 http_503 non_idempotent;
        proxy_next_upstream_tries 2;
    }
--- init
::start_a();
--- request
GET /health?health
--- error_code: 200
--- response_json eval
{ "/status" => "ok" }
--- user_files
>>> s3.key
UPLOADSTORETESTKEY01
upload-store-test-secret-0123456789abcdef
--- object eval
{ run => \&::fleet }
--- no_error_log
[crit]
[alert]
[emerg]
