# End to end through the bundled local provider (util/stt-local, around
# pocketsphinx): a LibriVox recording from Debian's pocketsphinx-testdata
# comes back as a transcript. The provider is started here, on loopback.

use Test::Nginx::Socket;
use lib 't/lib';
use UploadStore;
use Time::HiRes qw(sleep);
use IO::Socket::INET;

our ($Pid, $Sample, $Words);

BEGIN {
    open my $in, '<', 'util/stt-local/sample' or die "sample: $!";
    my @lines = <$in>;
    close $in;
    chomp(($Sample, $Words) = split /\t/, $lines[-1]);

    for my $need ('/usr/bin/pocketsphinx_continuous', '/usr/bin/sox',
                  $Sample)
    {
        if (!-e $need) {
            plan skip_all => "$need is missing (make test installs it)";
        }
    }

    $ENV{TEST_NGINX_STT_PORT} = server_port() + 21;

    $Pid = fork;
    die "fork: $!" unless defined $Pid;

    if ($Pid == 0) {
        open STDERR, '>', '/dev/null';
        exec 'util/stt-local/stt-local', '--listen',
             "127.0.0.1:$ENV{TEST_NGINX_STT_PORT}";
        exit 1;
    }

    for (1 .. 50) {
        last if IO::Socket::INET->new("127.0.0.1:$ENV{TEST_NGINX_STT_PORT}");
        sleep 0.1;
    }
}

END {
    kill 'TERM', $Pid if $Pid;
}

plan 'no_plan';

UploadStore::preamble();

our $Audio = UploadStore::slurp($Sample);
our $Sum = UploadStore::sha256($Audio);

our $Form = "--XYZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n"
            . "whisper-1\r\n"
            . "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; "
            . "filename=\"austen.wav\"\r\nContent-Type: audio/x-wav\r\n\r\n"
            . $Audio . "\r\n--XYZ--\r\n";

run_tests();

__DATA__

=== TEST 1: the OpenAI SDK's request shape gets a real transcript
--- http_config
    upload_store_path html/store zone=audio:1m;
--- config
    location = /v1/audio/transcriptions {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_types audio/*;
        upload_store_transcribe /_stt;
        upload_store_transcribe_pass model language response_format;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_STT_PORT/v1/audio/transcriptions;
        proxy_read_timeout 60s;
    }
--- more_headers
Content-Type: multipart/form-data; boundary=XYZ
--- request eval
"POST /v1/audio/transcriptions\n" . $::Form
--- timeout: 60
--- error_code: 200
--- response_body_like eval
qr/"status":"transcribed",.*"text":"[^"]*\Q$::Words\E[^"]*","provider_status":200/
--- store_files eval
"acme/audio/DAY/upload_ID.wav sha256:$::Sum\n"
. 'acme/audio/DAY/ID.json like:"status":"transcribed"'
--- no_error_log
[error]



=== TEST 2: the provider's errors come back in the JSON error shape: its 400 is the client's, with its message
--- http_config
    upload_store_path html/store zone=audio:1m;
--- config
    location = /v1/audio/transcriptions {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_transcribe /_stt;
    }
    location = /_stt {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_STT_PORT/v1/audio/transcriptions;
    }
--- more_headers
Content-Type: audio/wav
--- request
POST /v1/audio/transcriptions
this is not audio
--- timeout: 30
--- error_code: 400
--- response_body_like eval
qr/^\{"error":\{"status":400,"code":"provider_refused","message":"could not decode the audio","type":"invalid_request_error","id":"[0-9A-Z]{26}"\}\}$/
--- error_log
provider status 400
