# Background jobs with two workers: a provider's concurrency holds across
# workers, and every job is run once.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use UploadStore;

master_on();
workers(2);

UploadStore::preamble(
    provider => 1,
    checks   => [qw(job json)],
    always   => { timeout => 30 },
    defaults => {
        no_error_log => "[crit]\n[alert]\n[emerg]",
        http_config  => <<'_EOC_',
    upload_store_path html/store zone=audio:1m min_free=0;
    upload_store_provider fake http://127.0.0.1:$TEST_NGINX_PROVIDER_PORT/
                          concurrency=2 timeout=10s;
_EOC_
        config       => <<'_EOC_',
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe_job fake;
    }

    location /files/ {
        upload_store_files audio;
        upload_store_customer $http_x_customer;
    }
_EOC_
    },
);

run_tests();

__DATA__

=== TEST 1: 50 jobs, two workers and a reload, concurrency=2: never more than 2 at the provider, each called once
--- init
UploadStore::provider_script({ then => { sleep => 0.2, text => "one of many" } });
--- request eval
[map { "POST /upload\nclip $_" } 1 .. 50]
--- error_code eval
[(202) x 50]
--- job eval
{ customer => "acme", files => "/files/", timeout => 60,
  signal => "HUP", after_call => 1,
  record => { "/status" => "transcribed", "/attempts" => 1,
              "/text" => "one of many" },
  provider => { calls => 50, max_inflight => 2 } }
