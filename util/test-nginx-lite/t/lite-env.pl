# Shared by the self-tests: keep their nginx away from the main suite's
# port (1984) and server root. Loaded in a BEGIN block before
# Test::Nginx::Socket reads the environment.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec ();

my $dir = File::Spec->rel2abs(dirname(__FILE__));
$dir =~ s{/fixtures$}{};
$ENV{TEST_NGINX_SERVER_PORT} = $ENV{TEST_NGINX_LITE_PORT} || 19840;
$ENV{TEST_NGINX_SERVROOT} = $ENV{TEST_NGINX_LITE_SERVROOT}
                            || "$dir/servroot";
delete $ENV{TEST_NGINX_PORT};
1;
