# ngx_http_upload_store_module: build, run and test.
#
#   make                  build the module against Debian's nginx (nginx-dev)
#   make NGINX_SRC=DIR    build against an nginx source tree (binary too)
#   make run              install what is missing, build, run nginx and the
#                         local speech-to-text provider on 127.0.0.1
#   make test             the whole Test::Nginx suite
#   make test-valgrind    the suite with nginx under valgrind
#   make test-asan        the suite with the module built with ASan + UBSan
#   make test-clients     the official OpenAI Node SDK against the module
#   make deb              Debian packages in build/deb (dh-sequence-nginx),
#                         checked by lintian
#   make test-package     the package installed with apt, serving, purged
#   make style            80 columns, no tabs, no trailing spaces
#   make fuzz             the multipart parser under libFuzzer (FUZZ_TIME=s)
#   make soak DURATION=s  good and bad traffic, provider faults, reloads,
#                         then checks that nothing was lost or left
#   make bench            bench-ingest (against DAV PUT), bench-sweep
#                         (event-loop stall during a million-file cleanup),
#                         bench-transcribe (what the module adds to a
#                         transcription), bench-memory (64 x 100 MiB),
#                         bench-jobs (background jobs: stall, throughput,
#                         memory), bench-objects (offloads to Ceph RGW
#                         against curl --aws-sigv4 PUTs)

SHELL      := /bin/bash
TOP        := $(CURDIR)
BUILD      := $(TOP)/build
MODULE     := ngx_http_upload_store_module.so
SOURCES    := $(wildcard ngx_upload_store_module/*.c ngx_upload_store_module/*.h)

# Debian packages: to build, to test
DEB_BUILD  := libjansson-dev libcurl4-openssl-dev libssl-dev \
              libpcre2-dev zlib1g-dev gcc make
DEB_TEST   := curl libtest-base-perl libtest-longstring-perl \
              liblist-moreutils-perl libtext-diff-perl libwww-perl \
              libhttp-message-perl liburi-perl libipc-run-perl \
              libjson-pp-perl procps valgrind
DEB_S3     := ceph-mon ceph-osd radosgw
DEB_FUZZ   := clang libclang-rt-14-dev
DEB_STT    := python3 sox pocketsphinx pocketsphinx-en-us \
              pocketsphinx-testdata

FUZZ_TIME  ?= 60
FUZZ_SRCS  := util/fuzz/mp_fuzz.c ngx_upload_store_module/ngx_http_upload_store_mp.c \
              ngx_upload_store_module/ngx_http_upload_store_mp_value.c

# the module to load: build/ holds the one for Debian's nginx only, so
# that a build against a source tree never replaces it

ifdef NGINX_SRC
SRC        := $(abspath $(NGINX_SRC))
NGINX      := $(SRC)/objs/nginx
SO         := $(SRC)/objs/$(MODULE)
MODPATH    := $(SO)
SRC_HOW    := own
else
SRC        := $(BUILD)/nginx-src
NGINX      := /usr/sbin/nginx
SO         := $(SRC)/objs/$(MODULE)
MODPATH    := $(BUILD)/$(MODULE)
SRC_HOW    := debian
DEB_BUILD  += nginx nginx-dev
endif

CC_OPT     := -g -O2 -fPIC -fstack-protector-strong -Wformat \
              -Werror=format-security -D_FORTIFY_SOURCE=2
LD_OPT     := -Wl,-z,relro -Wl,-z,now -fPIC

PROVE      := prove
LITE       := $(TOP)/util/test-nginx-lite
HAVE_TN    := $(shell perl -MTest::Nginx::Socket -e1 2>/dev/null && echo yes)

TEST_ENV    = TEST_NGINX_BINARY=$(NGINX) \
              TEST_NGINX_LOAD_MODULES=$(MODPATH)

.PHONY: all build deps deps-test run test test-valgrind test-asan style \
        test-sigv4 \
        deb test-package \
        test-clients \
        fuzz soak bench \
        bench-ingest bench-sweep bench-transcribe bench-memory bench-jobs \
        bench-objects clean

all: build

build: deps $(MODPATH)

ifndef NGINX_SRC
# a new file, renamed over the old one: an nginx that has the old one
# mapped (make run, a test) keeps it intact

$(BUILD)/$(MODULE): $(SO)
	cp $(SO) $@.tmp && mv -f $@.tmp $@
endif

# $(call configure,TREE,CC_OPT,LD_OPT,HOW): the one recipe that
# configures an nginx source TREE with the module, with these compiler's
# and linker's options. HOW is
#
#   debian  Debian's nginx-dev ships the headers, auto/ and configure:
#           TREE is made a fresh copy of it, configured with the flags
#           Debian's nginx was built with, so that the module is binary
#           compatible with /usr/sbin/nginx
#   own     TREE is one's own (NGINX_SRC), configured in place with ours;
#           a release tarball has ./configure, a git checkout
#           auto/configure

define configure
$(copy_$4)
cd $1 && $(configure_$4) \
    --with-cc-opt='$2' --with-ld-opt='$3' \
    --add-dynamic-module=$(TOP)
endef

define copy_debian
@mkdir -p $(BUILD)
rm -rf $1 && cp -a /usr/share/nginx/src $1
endef

copy_own   :=

define configure_debian
source ./conf_flags \
    && ./configure "$${NGX_CONF_FLAGS[@]}"
endef

define configure_own
$$( [ -x ./configure ] && echo ./configure \
                 || echo auto/configure ) --with-compat --with-threads \
    --with-http_ssl_module --with-http_v2_module \
    --with-http_dav_module --with-debug
endef

$(SRC)/objs/Makefile: config
	$(call configure,$(SRC),$(CC_OPT),$(LD_OPT),$(SRC_HOW))

ifdef NGINX_SRC
$(SO): $(SRC)/objs/Makefile $(SOURCES)
	$(MAKE) -C $(SRC)
else
$(SO): $(SRC)/objs/Makefile $(SOURCES)
	$(MAKE) -C $(SRC) -f objs/Makefile modules
endif

# the same module built with AddressSanitizer and UBSan, for Debian's
# nginx (which is not): the suite runs it with the sanitizers' runtime
# preloaded into nginx alone (util/asan-nginx). Any finding aborts nginx,
# so the test at hand fails; ASan's report goes to build/asan/, UBSan's
# to the block's error log (its runtime reads its options only once nginx
# has cleared the environment)

ASAN_SRC   := $(BUILD)/nginx-src-asan
ASAN_SO    := $(ASAN_SRC)/objs/$(MODULE)
ASAN_OPT   := -g -O1 -fPIC -fno-omit-frame-pointer \
              -fsanitize=address,undefined -fno-sanitize-recover=all
ASAN_LD    := -fsanitize=address,undefined

$(ASAN_SRC)/objs/Makefile: config
	$(call configure,$(ASAN_SRC),$(ASAN_OPT),$(ASAN_LD),debian)

$(ASAN_SO): $(ASAN_SRC)/objs/Makefile $(SOURCES)
	$(MAKE) -C $(ASAN_SRC) -f objs/Makefile modules

# installs the missing Debian packages when root, else says how

deps:
	@$(TOP)/util/deps $(DEB_BUILD)

deps-test:
	@$(TOP)/util/deps $(DEB_TEST) $(DEB_STT) $(DEB_S3)

run: build
	@$(TOP)/util/deps $(DEB_STT) curl
	$(TOP)/util/run $(NGINX) $(MODPATH)

test: build deps-test test-sigv4
ifeq ($(HAVE_TN),yes)
	$(TEST_ENV) $(PROVE) -r t/
else
	@echo "Test::Nginx is not installed: using util/test-nginx-lite"
	$(PROVE) -I $(LITE)/lib $(LITE)/t/
	$(TEST_ENV) $(PROVE) -I $(LITE)/lib -r t/
endif

# the presigned URL's signer against AWS's published example, apart
# from nginx (util/sigv4/test.c)
test-sigv4: deps
	@mkdir -p $(BUILD)
	$(CC) -Wall -Wextra -Werror -I ngx_upload_store_module \
	    -o $(BUILD)/sigv4-test util/sigv4/test.c \
	    ngx_upload_store_module/ngx_http_upload_store_sigv4.c -lcrypto
	$(BUILD)/sigv4-test

test-asan: deps deps-test $(ASAN_SO)
	rm -rf $(BUILD)/asan && mkdir -p $(BUILD)/asan
	ASAN_RUNTIME=$$($(CC) -print-file-name=libasan.so) \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:log_path=$(BUILD)/asan/report \
	UBSAN_OPTIONS=print_stacktrace=1:log_path=$(BUILD)/asan/report \
	TEST_NGINX_BINARY=$(TOP)/util/asan-nginx \
	TEST_NGINX_LOAD_MODULES=$(ASAN_SO) \
	$(PROVE) $(if $(HAVE_TN),,-I $(LITE)/lib) -r t/
	@if ls $(BUILD)/asan/report* >/dev/null 2>&1; then \
	    cat $(BUILD)/asan/report*; \
	    echo "test-asan: the sanitizers reported errors" >&2; exit 1; \
	fi
	@echo "test-asan: no sanitizer report"

# the OpenAI Node SDK (npm "openai", fetched into build/clients) pointed
# at the module: strings, objects and APIErrors as its users get them

test-clients: build
	@command -v npm >/dev/null || $(TOP)/util/deps nodejs npm
	$(TOP)/util/clients/run $(NGINX) $(MODPATH)

test-valgrind: build deps-test
ifeq ($(HAVE_TN),yes)
	$(TEST_ENV) TEST_NGINX_USE_VALGRIND=1 $(PROVE) -r t/
else
	$(TEST_ENV) TEST_NGINX_USE_VALGRIND=1 $(PROVE) -I $(LITE)/lib -r t/
endif

# loopback load with faults and reloads, then the checks (util/soak/soak)

DURATION   ?= 60

soak: build
	@$(TOP)/util/deps python3 curl procps
	$(TOP)/util/soak/soak $(NGINX) $(MODPATH) --duration $(DURATION)

# Debian packages (debian/, dh-sequence-nginx) into build/deb, built from
# a copy of the tracked files; lintian checks them; make test-package
# installs them with apt, serves an upload, and purges them

DEB_PKG    := debhelper dpkg-dev fakeroot lintian nginx-dev libjansson-dev \
              libcurl4-openssl-dev libssl-dev

deb:
	@$(TOP)/util/deps $(DEB_PKG)
	rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/src
	git -C $(TOP) ls-files -z --cached --others --exclude-standard | (cd $(TOP) && xargs -0 cp --parents -t $(BUILD)/deb/src)
	cd $(BUILD)/deb/src && dpkg-buildpackage -us -uc -b
	lintian --fail-on error $(BUILD)/deb/*.deb

test-package: deb
	@$(TOP)/util/deps nginx curl
	$(TOP)/util/test-package $(BUILD)/deb

bench: bench-ingest bench-sweep bench-transcribe bench-memory bench-jobs \
       bench-objects

bench-ingest: build
	@$(TOP)/util/deps wrk curl
	$(TOP)/bench/ingest $(NGINX) $(MODPATH)

bench-sweep: build
	@$(TOP)/util/deps wrk curl python3
	$(TOP)/bench/sweep $(NGINX) $(MODPATH)

bench-transcribe: build
	@$(TOP)/util/deps wrk curl python3
	$(TOP)/bench/transcribe $(NGINX) $(MODPATH)

bench-memory: build
	@$(TOP)/util/deps curl bc
	$(TOP)/bench/memory $(NGINX) $(MODPATH)

bench-jobs: build
	@$(TOP)/util/deps wrk curl python3
	$(TOP)/bench/jobs $(NGINX) $(MODPATH)

bench-objects: build
	@$(TOP)/util/deps curl python3 $(DEB_S3)
	$(TOP)/bench/objects $(NGINX) $(MODPATH)

# the parser alone, with ASan and UBSan; new inputs go to build/fuzz/corpus

$(BUILD)/fuzz/mp_fuzz: $(FUZZ_SRCS) ngx_upload_store_module/ngx_http_upload_store_mp.h
	@$(TOP)/util/deps $(DEB_FUZZ)
	@mkdir -p $(BUILD)/fuzz/corpus
	clang -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined -Ingx_upload_store_module \
	    $(FUZZ_SRCS) -o $@

fuzz: $(BUILD)/fuzz/mp_fuzz
	$(BUILD)/fuzz/mp_fuzz -max_total_time=$(FUZZ_TIME) -max_len=4096 \
	    -timeout=10 -artifact_prefix=$(BUILD)/fuzz/ \
	    $(BUILD)/fuzz/corpus util/fuzz/corpus

style:
	@! grep -nP '(?<=.{80}).+|\t| $$' ngx_upload_store_module/*.[ch] \
	    || { echo "style: lines over 80 columns, tabs or trailing" \
	              "spaces" >&2; exit 1; }
	@echo "style: ok"

clean:
	rm -rf $(BUILD) t/servroot
