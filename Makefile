# ddx - GNU Makefile. `make help` lists the targets; V=1 shows commands.
# Build output goes to build/ (SAN=1: build/san/ with ASan+UBSan).

SHELL := /bin/bash
.DEFAULT_GOAL := all

ifeq ($(V),1)
Q :=
else
Q := @
endif

CC ?= cc
CXX ?= c++
ifeq ($(SAN),1)
BUILD ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT ?= -O1
else ifeq ($(SAN),thread)
BUILD ?= build/tsan
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
OPT ?= -O1
else
BUILD ?= build
SANFLAGS :=
OPT ?= -O3
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS += -Iengine/include -Icpu -Iengine/src -Iengine/src/index -Iengine/src/backend -Iengine/src/store \
	    -Ikernels/common -Idatasets -D_GNU_SOURCE
CFLAGS += -std=c11 -g $(OPT) $(WARN) -fPIC -fvisibility=hidden -pthread $(SANFLAGS)
LDFLAGS += -pthread $(SANFLAGS)
LDLIBS += -lcrypto -lisal -lhwloc -lck -lm

# Per-ISA kernels: a file named <algo>_<isa>.c is compiled with that ISA's
# flags only (the suffix after the last underscore picks ISA_<isa>). Any ISA
# can be compiled out: make DISABLE_ISA="avx512 shani".
ISA_shani := -msse4.1 -mssse3 -msha
ISA_avx2 := -mavx2 -mbmi -mbmi2
ISA_avx512 := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mbmi -mbmi2
ISA_avx512vbmi := $(ISA_avx512) -mavx512vbmi
DISABLE_ISA ?=
isa_of = $(lastword $(subst _, ,$(basename $(notdir $(1)))))
CPPFLAGS += $(foreach i,$(DISABLE_ISA),-DDDX_NO_$(shell echo $(i) | tr a-z A-Z))

LIB_SRC := $(wildcard cpu/*.c) $(wildcard engine/src/*.c) $(wildcard engine/src/index/*.c) \
	   $(wildcard engine/src/backend/*.c) $(wildcard engine/src/store/*.c) \
	   $(wildcard engine/src/trace/*.c)
LIB_SRC := $(filter-out $(foreach i,$(DISABLE_ISA),%_$(i).c),$(LIB_SRC))

# isa-l_crypto (optional, not in Debian 12): offered as --impl hash=sha*-isal-mb
# when pkg-config finds it, or from a build tree: make ISAL_CRYPTO_DIR=/path
# (such builds go to build/isal so the default objects stay untouched).
ISAL_CRYPTO_DIR ?=
ifneq ($(ISAL_CRYPTO_DIR),)
BUILD := $(BUILD)/isal
ISALC_CFLAGS := -I$(ISAL_CRYPTO_DIR)/include
ISALC_LIBS := $(ISAL_CRYPTO_DIR)/bin/isa-l_crypto.a
HAVE_ISALC := 1
else ifeq ($(shell pkg-config --exists libisal_crypto 2>/dev/null && echo y),y)
ISALC_CFLAGS := $(shell pkg-config --cflags libisal_crypto)
ISALC_LIBS := $(shell pkg-config --libs libisal_crypto)
HAVE_ISALC := 1
endif
ifeq ($(HAVE_ISALC),1)
CPPFLAGS += -DDDX_HAVE_ISAL_CRYPTO $(ISALC_CFLAGS)
LDLIBS += $(ISALC_LIBS)
else
LIB_SRC := $(filter-out cpu/hash_isal.c,$(LIB_SRC))
endif

# GPU backends (docs/gpu.md). OpenCL (ocl-icd + PoCL from make deps) is always
# built unless OPENCL=0. CUDA: CUDA=nvcc compiles kernels/cuda with nvcc for
# every target architecture (static cudart: the binary runs without a
# driver), CUDA=emu compiles the same .cu with g++ and kernels/cuda/cuda_emu.h
# (the CUDA backend then runs on the CPU: the sanitizer build's tests), and
# CUDA=none leaves it out. Default: nvcc when it is on PATH (emu with SAN=1).
OPENCL ?= 1
NVCC ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
ifeq ($(SAN),1)
CUDA ?= emu
else ifeq ($(SAN),thread)
CUDA ?= emu
else ifneq ($(NVCC),)
CUDA ?= nvcc
else
CUDA ?= none
endif
CUDA_ARCHS ?= 75 80 86 90
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
ifeq ($(OPENCL),1)
CPPFLAGS += -DDDX_HAVE_OPENCL
LIB_SRC += kernels/opencl/opencl_backend.c
LDLIBS += -lOpenCL
GEN_OBJ += $(BUILD)/obj/gen/ddx_kernels_cl.o
endif
ifneq ($(CUDA),none)
CPPFLAGS += -DDDX_HAVE_CUDA
GEN_OBJ += $(BUILD)/obj/kernels/cuda/ddx_cuda_$(CUDA).o
endif
ifeq ($(CUDA),nvcc)
LDLIBS += -L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lrt -lstdc++
endif
ifeq ($(CUDA),emu)
LDLIBS += -lstdc++
endif
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(GEN_OBJ)
DATA_SRC := $(wildcard datasets/*.c)
DATA_OBJ := $(DATA_SRC:%.c=$(BUILD)/obj/%.o)
DATA_LIB_OBJ := $(filter-out $(BUILD)/obj/datasets/datagen_main.o,$(DATA_OBJ))
TEST_SRC := $(wildcard tests/test_*.c)
# Per-kernel tests call their kernels directly: drop them with their ISA
# (test_dispatch still checks whatever the registry holds).
TEST_NEEDS_test_hash_shani := shani
TEST_NEEDS_test_hash_mb_sha1 := avx2 avx512
TEST_NEEDS_test_hash_mb_sha256 := avx2 avx512
TEST_NEEDS_test_fastcdc_fast := avx2 avx512
TEST_SRC := $(foreach t,$(TEST_SRC),$(if $(filter $(TEST_NEEDS_$(basename $(notdir $(t)))),$(DISABLE_ISA)),,$(t)))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(wildcard tests/tool_*.c)
TOOL_BIN := $(TOOL_SRC:tests/%.c=$(BUILD)/tests/%)
RACE_BIN := $(BUILD)/tests/race_stress

DEPFLAGS = -MMD -MP
-include $(LIB_OBJ:.o=.d) $(DATA_OBJ:.o=.d)

PREFIX ?= /usr/local
VERSION := $(shell sed -nE 's/^\#define DDX_VERSION_(MAJOR|MINOR|PATCH) ([0-9]+)/\2/p' engine/include/ddx.h | paste -sd.)

## all: build the library (static and shared), ddx.pc, ddbench, stagebench and the data generator
all: $(BUILD)/libddx.a $(BUILD)/libddx.so $(BUILD)/ddx.pc $(BUILD)/ddbench $(if $(wildcard harness/ddx.c),$(BUILD)/ddx) $(BUILD)/ddx-datagen $(BUILD)/stagebench $(BUILD)/gpubench

$(BUILD)/ddx.pc: engine/include/ddx.h Makefile
	@mkdir -p $(dir $@)
	$(Q)printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$${prefix}/lib' 'includedir=$${prefix}/include' '' \
	    'Name: ddx' 'Description: deduplication engine' 'Version: $(VERSION)' \
	    'Requires.private: libcrypto hwloc' 'Libs: -L$${libdir} -lddx' \
	    'Libs.private: $(filter-out -lcrypto -lhwloc,$(LDLIBS)) -pthread' 'Cflags: -I$${includedir}' > $@

## install: install libddx, ddx.h, ddx.pc and ddbench under PREFIX (default /usr/local)
install: all
	$(Q)$(MAKE) --no-print-directory -B $(BUILD)/ddx.pc PREFIX=$(PREFIX)
	$(Q)install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin
	$(Q)install -m 644 $(BUILD)/libddx.a $(DESTDIR)$(PREFIX)/lib/
	$(Q)install -m 755 $(BUILD)/libddx.so $(DESTDIR)$(PREFIX)/lib/libddx.so.$(VERSION)
	$(Q)ln -sf libddx.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libddx.so.0
	$(Q)ln -sf libddx.so.0 $(DESTDIR)$(PREFIX)/lib/libddx.so
	$(Q)install -m 644 engine/include/ddx.h $(DESTDIR)$(PREFIX)/include/
	$(Q)install -m 644 $(BUILD)/ddx.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	$(Q)install -m 755 $(BUILD)/ddbench $(DESTDIR)$(PREFIX)/bin/
	$(Q)install -d $(DESTDIR)$(PREFIX)/share/ddx
	$(Q)install -m 644 harness/ddx_plot.py $(DESTDIR)$(PREFIX)/share/ddx/

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(ISA_$(call isa_of,$<)) $(DEPFLAGS) -c $< -o $@

# The OpenCL program travels inside the binary: kernels/common inlined.
$(BUILD)/gen/ddx_kernels_cl.c: kernels/opencl/ddx_kernels.cl kernels/opencl/embed.sh $(wildcard kernels/common/*.h)
	@mkdir -p $(dir $@)
	$(Q)kernels/opencl/embed.sh $< $@ ddx_opencl_source kernels/common

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

CUDA_SRC := kernels/cuda/ddx_cuda.cu
CUDA_DEPS := $(CUDA_SRC) $(wildcard kernels/cuda/*.h kernels/common/*.h) engine/src/backend/gpu.h
# ptxas must not spill: -warn-spills plus warnings as errors fails the build.
NVCC_FLAGS := -O3 -std=c++17 $(foreach a,$(CUDA_ARCHS),-gencode arch=compute_$(a),code=sm_$(a)) \
	-gencode arch=compute_$(lastword $(CUDA_ARCHS)),code=compute_$(lastword $(CUDA_ARCHS)) \
	-Xptxas -warn-spills,-warn-lmem-usage,-Werror \
	-Xcompiler -fPIC,-fvisibility=hidden,-Wall,-Wextra,-Werror
$(BUILD)/obj/kernels/cuda/ddx_cuda_nvcc.o: $(CUDA_DEPS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  NVCC    $<")
	$(Q)$(NVCC) $(NVCC_FLAGS) $(NVCC_EXTRA) -Iengine/include -Iengine/src/backend -Ikernels/common -Ikernels/cuda -c $< -o $@

$(BUILD)/obj/kernels/cuda/ddx_cuda_emu.o: $(CUDA_DEPS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CXX     $< (CUDA emulation)")
	$(Q)$(CXX) -x c++ -std=c++17 -g $(OPT) -Wall -Wextra -Werror -fPIC -fvisibility=hidden -pthread $(SANFLAGS) \
	    -DDDX_CUDA_EMU -include kernels/cuda/cuda_emu.h -Iengine/include -Iengine/src/backend -Ikernels/common -Ikernels/cuda -c $< -o $@

$(BUILD)/libddx.a: $(LIB_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/libddx.so: $(LIB_OBJ)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -Wl,-soname,libddx.so.0 $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/ddbench: $(BUILD)/obj/harness/ddbench.o $(BUILD)/obj/harness/ddbench_sweep.o $(DATA_LIB_OBJ) $(BUILD)/libddx.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/stagebench: $(BUILD)/obj/harness/stagebench.o $(BUILD)/libddx.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/ddx: $(BUILD)/obj/harness/ddx.o $(BUILD)/libddx.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/gpubench: $(BUILD)/obj/harness/gpubench.o $(BUILD)/libddx.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/ddx-datagen: $(BUILD)/obj/datasets/datagen_main.o $(DATA_LIB_OBJ) $(BUILD)/libddx.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/test_%: tests/test_%.c $(BUILD)/libddx.a $(DATA_LIB_OBJ) tests/testutil.h tests/store_testutil.h tests/chunk_list.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -o $@ $< $(DATA_LIB_OBJ) $(BUILD)/libddx.a -lcriterion $(LDFLAGS) $(LDLIBS)

# No Criterion: it cannot run under ThreadSanitizer (tests/race_stress.c)
$(BUILD)/tests/race_%: tests/race_%.c $(BUILD)/libddx.a tests/testutil.h tests/chunk_list.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libddx.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/tool_%: tests/tool_%.c $(BUILD)/libddx.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libddx.a $(LDFLAGS) $(LDLIBS)

# ddbench plot finds the script in the source tree when not installed
$(BUILD)/obj/harness/ddbench.o: CPPFLAGS += -DDDX_PLOT_SCRIPT_SRC='"$(CURDIR)/harness/ddx_plot.py"'
-include $(BUILD)/obj/harness/ddbench.d $(BUILD)/obj/harness/ddbench_sweep.d $(BUILD)/obj/harness/stagebench.d $(BUILD)/obj/harness/gpubench.d $(BUILD)/obj/harness/ddx.d $(BUILD)/obj/datasets/datagen_main.d

$(BUILD)/obj/harness/gbench_shim.o: harness/gbench_shim.cc harness/gbench_shim.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CXX     $<")
	$(Q)$(CXX) -std=c++17 -g -O2 -Wall -Wextra -Werror -fPIC $(SANFLAGS) -c $< -o $@

$(BUILD)/microbench: $(BUILD)/obj/harness/microbench.o $(BUILD)/obj/harness/gbench_shim.o $(BUILD)/libddx.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(LDFLAGS) -o $@ $^ -lbenchmark $(LDLIBS)

## microbench: every kernel through Google Benchmark; writes results/microbench.json
microbench: $(BUILD)/microbench
	$(Q)$(BUILD)/microbench --benchmark_min_time=0.2 --benchmark_repetitions=3 \
	    --benchmark_report_aggregates_only=true \
	    --benchmark_out=results/microbench.json --benchmark_out_format=json

# Fuzz targets of the store's decoders and the trace readers
# (tests/fuzz/README.md). The regression drivers run each corpus once under
# $(CC) $(CFLAGS) (ASan+UBSan with SAN=1).
FUZZ_TARGETS := log container recipe trace
FUZZ_BIN := $(FUZZ_TARGETS:%=$(BUILD)/tests/fuzz_%)

$(BUILD)/tests/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay_main.c $(BUILD)/libddx.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< tests/fuzz/replay_main.c $(BUILD)/libddx.a $(LDFLAGS) $(LDLIBS)

# libFuzzer binaries: clang, with the decoders compiled in for coverage.
FUZZ_CC ?= clang
FUZZ_FLAGS := -std=c11 -g -O1 $(WARN) -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_LIB_SRC := engine/src/store/store_fmt.c cpu/crc32c.c
FUZZ_TIME ?= 60

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_SRC) engine/src/store/store_fmt.h cpu/crc32c.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_LIB_SRC) -lisal

# The trace readers: their own sources instead of the store's.
FUZZ_TRACE_SRC := $(wildcard engine/src/trace/*.c) cpu/crc32c.c
$(BUILD)/fuzz/fuzz_trace: tests/fuzz/fuzz_trace.c $(FUZZ_TRACE_SRC) $(wildcard engine/src/trace/*.h) cpu/crc32c.h engine/include/ddx.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_TRACE_SRC) -lisal

## fuzz: build the libFuzzer targets (clang) into BUILD/fuzz/
fuzz: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)

## fuzz-run: run each fuzzer for FUZZ_TIME seconds (default 60) from tests/fuzz/corpus
fuzz-run: fuzz
	$(Q)for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(BUILD)/fuzz/corpus-$$t && \
	    $(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_TIME) -max_len=70000 -print_final_stats=1 \
	        -artifact_prefix=$(BUILD)/fuzz/$$t- $(BUILD)/fuzz/corpus-$$t tests/fuzz/corpus/$$t \
	        || exit 1; \
	done

## store-bench: ddx against restic and borg on versioned /usr snapshots (results/store-bench.json)
store-bench: all
	$(Q)python3 harness/store_bench.py --build $(BUILD)

## tests: build every test program (no run)
tests: all $(TEST_BIN) $(TOOL_BIN) $(RACE_BIN) $(FUZZ_BIN) $(BUILD)/microbench

## race-tests: the concurrency stress test under ThreadSanitizer (build/tsan)
race-tests:
	$(Q)$(MAKE) --no-print-directory SAN=thread build/tsan/tests/race_stress

## deps: install the Debian packages and the Python test oracle (idempotent)
deps:
	$(Q)./.ci/deps.sh

## demo: deps, build, then `ddbench run` on the built-in dataset
demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(BUILD)/ddbench run

## test: deps, build, every test (also under ASan+UBSan, and with every ISA compiled out; the concurrency stress test under TSan)
test: deps
	$(Q)$(MAKE) --no-print-directory check

## check: build and run every test, without installing anything
check:
	$(Q)$(MAKE) --no-print-directory format-check
	$(Q)$(MAKE) --no-print-directory tests
	$(Q)$(MAKE) --no-print-directory SAN=1 tests
	$(Q)$(MAKE) --no-print-directory race-tests
	$(Q)$(MAKE) --no-print-directory DISABLE_ISA="avx512 avx2 shani" BUILD=build/noisa tests
	$(Q)tests/run_all.sh build build/san build/noisa

## bench: end-to-end benchmark against openssl dgst; writes results/
bench: all
	$(Q)harness/bench.sh

## plots: redraw results/plots/ (PNG and SVG) from the committed results (ddbench plot)
plots: $(BUILD)/ddbench
	$(Q)$(BUILD)/ddbench plot $(sort $(wildcard results/*.json results/*.jsonl)) -o results/plots

## sweeps: rerun the sweeps and trace replays behind results/sweep-*.jsonl (long)
sweeps: all
	$(Q)harness/sweeps.sh

## gpu-bench: on a GPU machine: correctness vs the CPU, bandwidth, kernel-only and end-to-end rates (docs/gpu.md)
gpu-bench: all $(BUILD)/tests/test_gpu_backend
	$(Q)BUILD=$(BUILD) harness/gpu_bench.sh

## format-check: check formatting with clang-format
format-check:
	$(Q)clang-format --dry-run --Werror $(LIB_SRC) $(wildcard engine/include/*.h cpu/*.h engine/src/*.h engine/src/index/*.h engine/src/backend/*.h engine/src/store/*.h engine/src/trace/*.h kernels/common/*.h kernels/cuda/*.h harness/*.[ch] datasets/*.[ch] tests/*.[ch] tests/fuzz/*.c)

# print-VAR: the value of a make variable (tests/test_cuda_build.sh)
print-%:
	@echo '$($*)'

## clean: remove build/
clean:
	$(Q)rm -rf build

## help: list the targets
help:
	@grep -hE '^## ' $(MAKEFILE_LIST) | sed -E 's/^## ([a-z-]+): /  \1\t/' | expand -t 16

.PHONY: all install microbench tests deps demo test check bench plots sweeps gpu-bench store-bench fuzz fuzz-run format-check clean help
