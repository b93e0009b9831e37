# Directives: defaults, inheritance, and every configuration error.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use UploadStore;

UploadStore::preamble();

# 300000 bytes that are not all alike
our $Body = join '', map { pack 'N', $_ * 2654435761 % 4294967296 } 1 .. 75000;

run_tests();

__DATA__

=== TEST 1: customer and category inherited from http and server
--- http_config
    upload_store_path html/store zone=audio:1m;
    upload_store_customer $http_x_customer;
--- config
    upload_store_category $http_x_category;
    upload_store_prefix rec-;

    location = /upload {
        upload_store_receive audio;
    }
--- more_headers
X-Customer: acme
X-Category: support
--- request
POST /upload
abc
--- error_code: 201
--- response_body_like chomp
"customer":"acme","category":"support",.*"file":"rec-[0-9A-Z]{26}"
--- store_files
acme/support/DAY/rec-ID 3
acme/support/DAY/ID.json = body
--- no_error_log
[error]



=== TEST 2: a location's own value wins over the inherited one
--- http_config
    upload_store_path html/store zone=audio:1m;
    upload_store_customer inherited;
    upload_store_types video/*;
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer own;
        upload_store_types audio/wav;
    }
--- more_headers
Content-Type: audio/wav
--- request
POST /upload
abc
--- error_code: 201
--- store_files
own/audio/DAY/upload_ID.wav 3
own/audio/DAY/ID.json = body
--- no_error_log
[error]



=== TEST 3: two stores in one http block, each its own root
--- http_config
    upload_store_path html/store/a zone=a:1m;
    upload_store_path html/store/b zone=b:1m;
--- config
    location = /a {
        upload_store_receive a;
        upload_store_customer acme;
    }
    location = /b {
        upload_store_receive b;
        upload_store_customer acme;
    }
--- user_files
>>> store/README
nginx creates a store's root but not its parent
--- request eval
["POST /a\nxx", "POST /b\nyyy"]
--- error_code eval
[201, 201]
--- store_files
README
a/acme/audio/DAY/upload_ID 2
a/acme/audio/DAY/ID.json
b/acme/audio/DAY/upload_ID 3
b/acme/audio/DAY/ID.json
--- no_error_log
[error]



=== TEST 4: the store is not inherited by nested locations
--- http_config
    upload_store_path html/store zone=audio:1m;
--- config
    location /upload {
        upload_store_receive audio;
        upload_store_customer acme;

        location /upload/static {
            return 200 "static\n";
        }
    }
--- request
POST /upload/static
abc
--- error_code: 200
--- response_body
static
--- store_files
--- no_error_log
[error]



=== TEST 5: upload_store_path needs a zone
--- http_config
    upload_store_path html/store;
--- config
--- must_die
--- error_log
"upload_store_path" must have "zone" parameter



=== TEST 6: duplicate zone
--- http_config
    upload_store_path html/store/a zone=audio:1m;
    upload_store_path html/store/b zone=audio:1m;
--- config
--- must_die
--- error_log
duplicate zone "audio"



=== TEST 7: unknown parameter
--- http_config
    upload_store_path html/store zone=audio:1m retain=1h;
--- config
--- must_die
--- error_log
invalid parameter "retain=1h"



=== TEST 8: bad zone size
--- http_config
    upload_store_path html/store zone=audio:lots;
--- config
--- must_die
--- error_log
invalid zone "zone=audio:lots"



=== TEST 9: zone too small
--- http_config
    upload_store_path html/store zone=audio:1k;
--- config
--- must_die
--- error_log
zone "zone=audio:1k" is too small



=== TEST 10: bad retention
--- http_config
    upload_store_path html/store zone=audio:1m retention=forever;
--- config
--- must_die
--- error_log
invalid retention "retention=forever"



=== TEST 11: bad interval
--- http_config
    upload_store_path html/store zone=audio:1m interval=0;
--- config
--- must_die
--- error_log
invalid interval "interval=0"



=== TEST 12: bad min_free
--- http_config
    upload_store_path html/store zone=audio:1m min_free=10q;
--- config
--- must_die
--- error_log
invalid min_free "min_free=10q"



=== TEST 13: bad max_size
--- http_config
    upload_store_path html/store zone=audio:1m max_size=-1;
--- config
--- must_die
--- error_log
invalid max_size "max_size=-1"



=== TEST 14: bad access
--- http_config
    upload_store_path html/store zone=audio:1m access=user:rwx;
--- config
--- must_die
--- error_log
invalid access "access=user:rwx"



=== TEST 15: receive names an unknown zone
--- http_config
    upload_store_path html/store zone=audio:1m;
--- config
    location = /upload {
        upload_store_receive video;
        upload_store_customer acme;
    }
--- must_die
--- error_log
"upload_store_receive" names unknown zone "video"



=== TEST 16: receive without a customer
--- http_config
    upload_store_path html/store zone=audio:1m;
--- config
    location = /upload {
        upload_store_receive audio;
    }
--- must_die
--- error_log
"upload_store_receive audio" needs "upload_store_customer"



=== TEST 17: receive twice in a location
--- http_config
    upload_store_path html/store zone=audio:1m;
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_receive audio;
        upload_store_customer acme;
    }
--- must_die
--- error_log
"upload_store_receive" directive is duplicate



=== TEST 18: receive beside another content handler
--- http_config
    upload_store_path html/store zone=audio:1m;
--- config
    location = /upload {
        proxy_pass http://127.0.0.1:1;
        upload_store_receive audio;
        upload_store_customer acme;
    }
--- must_die
--- error_log
"upload_store_receive" directive conflicts with another content handler



=== TEST 19: receive is not allowed at server level
--- http_config
    upload_store_path html/store zone=audio:1m;
--- config
    upload_store_receive audio;
--- must_die
--- error_log
"upload_store_receive" directive is not allowed here



=== TEST 20: an invalid MIME type
--- http_config
    upload_store_path html/store zone=audio:1m;
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_types audio;
    }
--- must_die
--- error_log
invalid MIME type "audio"



=== TEST 21: a prefix that could be a path
--- http_config
    upload_store_path html/store zone=audio:1m;
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_prefix ../x_;
    }
--- must_die
--- error_log
"upload_store_prefix" directive must be letters, digits



=== TEST 22: the store and its .tmp are created at start
--- http_config
    upload_store_path html/store/deep zone=audio:1m;
--- config
    location = /t {
        return 200 "ok\n";
    }
--- user_files
>>> store/README
nginx creates a store's root but not its parent
--- request
GET /t
--- response_body
ok
--- store_files
README
dir deep mode:0700
dir deep/.tmp mode:0700
--- no_error_log
[error]



=== TEST 23: upload_store_path is not allowed in a server
--- config
    upload_store_path html/store zone=audio:1m;
--- must_die
--- error_log
"upload_store_path" directive is not allowed here



=== TEST 24: sizes and times in every unit are accepted
--- http_config
    upload_store_path html/store zone=audio:64k retention=0 interval=30s
                      min_free=0 max_size=1g access=user:rw,group:rw,all:r;
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
    }
--- request
POST /upload
abc
--- error_code: 201
--- store_files
acme/audio/DAY/upload_ID 3 mode:0664
acme/audio/DAY/ID.json mode:0664
--- no_error_log
[error]



=== TEST 25: an "if" block inside a store location stores too
--- http_config
    upload_store_path html/store zone=audio:1m;
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;

        if ($arg_tag) {
            set $tagged 1;
        }
    }
--- request eval
["POST /upload?tag=1\nabc", "POST /upload\nabcd"]
--- error_code eval
[201, 201]
--- store_files
acme/audio/DAY/upload_ID 3
acme/audio/DAY/ID.json
acme/audio/DAY/upload_ID 4
acme/audio/DAY/ID.json
--- no_error_log
[error]
[alert]



=== TEST 26: a subrequest to a store location stores nothing
--- http_config
    upload_store_path html/store zone=audio:1m;
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
    }
    location = /t {
        auth_request /upload;
        root html;
        try_files /index.html =404;
    }
--- request
GET /t
--- error_code: 500
--- store_files
--- error_log
auth request unexpected status: 405
--- no_error_log
[alert]



=== TEST 27: upload_store_body_buffer: a body read through a buffer far smaller, and one larger, is stored byte for byte
--- http_config
    upload_store_path html/store zone=audio:1m min_free=0;
--- config
    upload_store_body_buffer 1m;

    location = /small {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_category small;
        upload_store_body_buffer 0;
        client_body_buffer_size 1k;
    }
    location = /large {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_category large;
    }
--- more_headers
Content-Type: audio/wav
--- request eval
["POST /small\n$::Body", "POST /large\n$::Body"]
--- error_code eval
[201, 201]
--- store_files eval
my $sha = Digest::SHA::sha256_hex($::Body);
"acme/small/DAY/upload_ID.wav 300000 sha256:$sha
acme/small/DAY/ID.json
acme/large/DAY/upload_ID.wav 300000 sha256:$sha
acme/large/DAY/ID.json
"
--- no_error_log
[error]



=== TEST 28: upload_store_body_buffer takes a size
--- http_config
    upload_store_path html/store zone=audio:1m;
--- config
    location = /upload {
        upload_store_receive audio;
        upload_store_customer acme;
        upload_store_body_buffer lots;
    }
--- must_die
--- error_log
"upload_store_body_buffer" directive invalid value
