# Self-test of the lite Test::Nginx::Socket with stock nginx only.

use strict;
use warnings;

BEGIN {
    use FindBin ();
    require "$FindBin::Bin/lite-env.pl";
}

use Test::Nginx::Socket;

repeat_each(2);

# 42 tests per repeated run, plus the one shutdown_error_log check
plan tests => repeat_each() * 42 + 1;

run_tests();

__DATA__

=== TEST 1: return, add_header, response_headers
--- config
    location = /t {
        add_header X-Foo bar;
        return 200 "hi\n";
    }
--- request
GET /t
--- response_headers
X-Foo: bar
!X-Bar
--- response_body
hi
--- no_error_log
[error]



=== TEST 2: 404 with error_log and grep_error_log
--- config
    location = /t {
        return 200;
    }
--- request
GET /nope.txt
--- error_code: 404
--- response_body_like: 404 Not Found
--- error_log
No such file or directory
--- grep_error_log eval
qr/open\(\) "[^"]+" failed/
--- grep_error_log_out
open() "$TEST_NGINX_SERVER_ROOT/html/nope.txt" failed



=== TEST 3: must_die on an unknown directive
--- config
    location = /t {
        no_such_directive on;
    }
--- request
GET /t
--- must_die
--- suppress_stderr
--- error_log eval
["[emerg]", 'unknown directive "no_such_directive"']



=== TEST 4: request eval with an array of requests
--- config
    location = /a {
        return 200 "a\n";
    }
    location = /b {
        return 201 "b\n";
    }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 201]
--- response_body eval
["a\n", "b\n"]
--- no_error_log
[error]



=== TEST 5: POST body (Content-Length added) echoed by a backend
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location = /body {
            return 200 "got: $http_x_req_body\n";
        }
    }
--- config
    location = /echo {
        proxy_set_header X-Req-Body $request_body;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/body;
    }
--- request
POST /echo
hello world
--- response_body
got: hello world



=== TEST 6: chunked response is decoded
--- config
    location = /t {
        sub_filter_types text/plain;
        sub_filter 'hello' 'bye';
        return 200 "hello\n";
    }
--- request
GET /t
--- no_http2
--- response_headers
Transfer-Encoding: chunked
!Content-Length
--- response_body
bye



=== TEST 7: raw_request in two parts with a chunked body
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location = /body {
            return 200 "got: $http_x_req_body\n";
        }
    }
--- config
    location = /echo {
        proxy_set_header X-Req-Body $request_body;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/body;
    }
--- raw_request eval
["POST /echo HTTP/1.1\r
Host: localhost\r
Connection: close\r
Transfer-Encoding: chunked\r
\r
5\r
hello\r
",
"6\r
 world\r
0\r
\r
"]
--- raw_request_middle_delay: 0.1
--- response_body
got: hello world



=== TEST 8: pipelined requests
--- config
    location = /a {
        return 200 "a\n";
    }
    location = /b {
        return 200 "b\n";
    }
--- pipelined_requests eval
["GET /a", "GET /b"]
--- response_body eval
["a\n", "b\n"]



=== TEST 9: user_files and more_headers
--- config
    location = /t {
        return 200;
    }
--- user_files
>>> foo.txt
file contents
--- more_headers
X-Foo: bar
--- request
GET /foo.txt
--- response_body
file contents



=== TEST 10: HTTP/2 via curl
--- config
    location = /t {
        return 200 "proto: $server_protocol\n";
    }
--- http2
--- request
GET /t
--- response_body
proto: HTTP/2.0



=== TEST 11: skip_eval
--- config
    location = /t {
        return 200;
    }
--- skip_eval: 2: 1
--- request
GET /t
--- response_body
never checked



=== TEST 12: client timeout with abort is not a failure
--- config
    location = /t {
        limit_rate 1;
        return 200 "0123456789\n";
    }
--- request
GET /t
--- timeout: 0.3
--- abort
--- ignore_response
--- no_error_log
[alert]



=== TEST 13: *_like sections
--- config
    location = /t {
        return 200 "$http_x_foo\n";
    }
--- more_headers
X-Foo: bar
--- request
GET /t
--- error_code_like: ^2\d\d$
--- response_headers_like
Content-Type: text/pl.*
--- response_body
bar



=== TEST 14: shutdown_error_log
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
--- shutdown_error_log
signal 3 (SIGQUIT) received
