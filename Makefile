# Capture - build, test and demo.
#
#   make            build everything into build/ (build/capture-client, ...)
#   make check      install deps, build with ASan+UBSan into build/asan, run all tests
#   make demo       install deps, build, run the standalone monitor on a bundled sample
#   make bench      run the benchmarks under bench/ (prints tables)
#   make lint       clang-format check, cppcheck and clang-tidy
#   make fuzz       build the libFuzzer harnesses (clang) into build/fuzz
#   V=1             show full commands
#
# Variants: BUILD=dir SANITIZE=1 builds the sanitized variant into another dir.
# The BPF object, vmlinux.h and skeleton are shared by all variants (build/bpf).

BUILD    ?= build
SANITIZE ?= 0
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
BPFDIR   := build/bpf
PKGS     := libbpf libpcre2-8 jansson libuv libmnl libnftables libpcap libarchive libcrypto expat \
	libmicrohttpd

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
	-Wpointer-arith -Wformat=2 -Wno-format-nonliteral -Wundef -Wvla \
	-Werror=implicit-function-declaration
CFLAGS_ALL := -std=gnu17 -g -O2 $(WARN) -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
	-D_GNU_SOURCE -Isrc -I$(BPFDIR) $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
	-DCAPTURE_DATADIR='"$(CURDIR)"' $(CFLAGS)
LDLIBS_ALL := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lelf -lz $(LDLIBS)
LDFLAGS_ALL := $(LDFLAGS)
ifeq ($(SANITIZE),1)
CFLAGS_ALL := $(filter-out -O2 -D_FORTIFY_SOURCE=2,$(CFLAGS_ALL)) -O1 \
	-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
LDFLAGS_ALL += -fsanitize=address,undefined
endif

LIB_SRC := $(wildcard src/common/*.c) $(filter-out %.bpf.c,$(wildcard src/sensor/*.c)) $(wildcard src/guest/*.c) $(filter-out src/server/main.c,$(wildcard src/server/*.c)) \
	$(filter-out src/client/main.c,$(wildcard src/client/*.c)) $(wildcard src/client/apps/*.c) \
	$(filter-out src/corpus/main.c,$(wildcard src/corpus/*.c))
LIB_OBJ := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRC))
LIB     := $(BUILD)/libcapture.a

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRC))
E2E_SRC   := $(wildcard tests/e2e/test_*.c)
E2E_BIN   := $(patsubst tests/e2e/%.c,$(BUILD)/tests/e2e/%,$(E2E_SRC))
PROG_SRC  := $(wildcard tests/e2e/prog_*.c)
PROG_BIN  := $(patsubst tests/e2e/%.c,$(BUILD)/tests/e2e/%,$(PROG_SRC))
BENCH_SRC := $(wildcard bench/*/bench_*.c)
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

.PHONY: all deps check corpus demo bench lint fuzz tests clean
.DELETE_ON_ERROR:
.SECONDARY:

all: $(BUILD)/capture-client $(BUILD)/capture-server $(BUILD)/capture-corpusd \
	$(BUILD)/samples/dropper

deps:
	$(Q)./scripts/deps.sh

# ---- BPF: vmlinux.h -> sensor.bpf.o -> sensor.skel.h ----
$(BPFDIR)/vmlinux.h:
	$(Q)mkdir -p $(@D)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(BPFDIR)/sensor.bpf.o: src/sensor/sensor.bpf.c src/sensor/sensor_event.h src/sensor/sensor_syscalls.h $(BPFDIR)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
		-I$(BPFDIR) -Isrc/sensor -idirafter /usr/include/$(shell uname -m)-linux-gnu \
		-idirafter /usr/include -c $< -o $@

$(BPFDIR)/sensor.skel.h: $(BPFDIR)/sensor.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name sensor_bpf > $@

# ---- C ----
$(BUILD)/obj/sensor/sensor.o: $(BPFDIR)/sensor.skel.h

$(BUILD)/obj/%.o: src/%.c
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/capture-client: $(BUILD)/obj/client/main.o $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/capture-server: $(BUILD)/obj/server/main.o $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

# The corpus web server (test sites of corpus/, served in the services namespace).
$(BUILD)/capture-corpusd: $(BUILD)/obj/corpus/main.o $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

# ---- tests ----
$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB)
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS_ALL) -Wno-format-truncation -Itests $(LDFLAGS_ALL) -o $@ $< $(LIB) $(LDLIBS_ALL) -lcmocka

$(BUILD)/tests/e2e/test_%: tests/e2e/test_%.c tests/e2e/e2e.h tests/e2e/e2e_browser.h $(LIB)
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS_ALL) -Wno-format-truncation -Itests $(LDFLAGS_ALL) -o $@ $< $(LIB) $(LDLIBS_ALL) -lcmocka

# Workload programs run under the sensor: plain builds, no sanitizer, so the
# events they cause are exactly the ones the test expects.
$(BUILD)/tests/e2e/prog_%: tests/e2e/prog_%.c
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) -std=gnu17 -O2 -g $(WARN) -D_GNU_SOURCE -o $@ $< -luring

$(BUILD)/samples/%: samples/%.c
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) -std=gnu17 -O2 -g $(WARN) -D_GNU_SOURCE -o $@ $<

tests: $(BUILD)/capture-client $(BUILD)/capture-server $(BUILD)/capture-corpusd $(UNIT_BIN) $(E2E_BIN) $(PROG_BIN)

check: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=1 tests
	$(Q)./tests/run.sh build/asan

# The detection test repeated three times (tests/e2e/test_corpus.c; ~15 min).
corpus: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build all tests
	$(Q)CAPTURE_CORPUS_RUNS=3 build/tests/e2e/test_corpus

# ---- demo, bench, lint, fuzz ----
demo: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build all
	$(Q)./scripts/demo.sh build

$(BUILD)/bench/%: bench/%.c $(LIB)
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(LIB) $(LDLIBS_ALL)

bench: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build all tests $(patsubst bench/%.c,build/bench/%,$(BENCH_SRC))
	$(Q)./bench/sensor/run.sh build
	$(Q)./bench/sandbox/run.sh build
	$(Q)./bench/visit/run.sh build

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
fuzz: deps $(BPFDIR)/sensor.skel.h
	$(Q)mkdir -p build/fuzz
	$(Q)for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
		echo "  FUZZ     build/fuzz/$$n"; \
		$(CLANG) -std=gnu17 -g -O1 -D_GNU_SOURCE -Isrc -I$(BPFDIR) \
		-fsanitize=fuzzer,address,undefined $$f $(LIB_SRC) \
		-o build/fuzz/$$n $(LDLIBS_ALL) || exit 1; done

lint: $(BPFDIR)/sensor.skel.h
	$(Q)clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')
	$(Q)cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
		--inline-suppr --std=c11 -Isrc -D__x86_64__ \
		--suppress=missingIncludeSystem $$(git ls-files 'src/*.c' | grep -v '\.bpf\.c$$')
	$(Q)out=$$(clang-tidy --quiet $$(git ls-files 'src/*.c' | grep -v '\.bpf\.c$$') -- \
		-std=gnu17 -D_GNU_SOURCE -Isrc -I$(BPFDIR) 2>/dev/null | grep -E 'warning:|error:' | \
		grep -v 'sensor.skel.h'); if [ -n "$$out" ]; then echo "$$out"; exit 1; fi

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
