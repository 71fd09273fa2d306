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
else
BUILD ?= build
SANFLAGS :=
OPT ?= -O3
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS += -Iengine/include -Icpu -Iengine/src -Iengine/src/index -Idatasets -D_GNU_SOURCE
CFLAGS += -std=c11 -g $(OPT) $(WARN) -fPIC -fvisibility=hidden -pthread $(SANFLAGS)
LDFLAGS += -pthread $(SANFLAGS)
LDLIBS += -lcrypto -lhwloc -lck -lm

LIB_SRC := $(wildcard cpu/*.c) $(wildcard engine/src/*.c) $(wildcard engine/src/index/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
DATA_SRC := $(wildcard datasets/*.c)
DATA_OBJ := $(DATA_SRC:%.c=$(BUILD)/obj/%.o)
DATA_LIB_OBJ := $(filter-out $(BUILD)/obj/datasets/datagen_main.o,$(DATA_OBJ))
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(wildcard tests/tool_*.c)
TOOL_BIN := $(TOOL_SRC:tests/%.c=$(BUILD)/tests/%)

DEPFLAGS = -MMD -MP
-include $(LIB_OBJ:.o=.d) $(DATA_OBJ:.o=.d)

## all: build the library (static and shared), ddbench, stagebench and the data generator
all: $(BUILD)/libddx.a $(BUILD)/libddx.so $(BUILD)/ddbench $(BUILD)/ddx-datagen $(BUILD)/stagebench

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/libddx.a: $(LIB_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/libddx.so: $(LIB_OBJ)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -Wl,-soname,libddx.so.0 $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/ddbench: $(BUILD)/obj/harness/ddbench.o $(DATA_LIB_OBJ) $(BUILD)/libddx.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/stagebench: $(BUILD)/obj/harness/stagebench.o $(BUILD)/libddx.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/ddx-datagen: $(BUILD)/obj/datasets/datagen_main.o $(DATA_LIB_OBJ)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/test_%: tests/test_%.c $(BUILD)/libddx.a $(DATA_LIB_OBJ) tests/testutil.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -o $@ $< $(DATA_LIB_OBJ) $(BUILD)/libddx.a -lcriterion $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/tool_%: tests/tool_%.c $(BUILD)/libddx.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libddx.a $(LDFLAGS) $(LDLIBS)

-include $(BUILD)/obj/harness/ddbench.d $(BUILD)/obj/harness/stagebench.d $(BUILD)/obj/datasets/datagen_main.d

## tests: build every test program (no run)
tests: all $(TEST_BIN) $(TOOL_BIN)

## deps: install the Debian packages and the Python test oracle (idempotent)
deps:
	$(Q)./.ci/deps.sh

## demo: deps, build, then `ddbench run` on the built-in dataset
demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(BUILD)/ddbench run

## test: deps, build, every test (also under ASan+UBSan)
test: deps
	$(Q)$(MAKE) --no-print-directory check

## check: build and run every test, without installing anything
check:
	$(Q)$(MAKE) --no-print-directory tests
	$(Q)$(MAKE) --no-print-directory SAN=1 tests
	$(Q)tests/run_all.sh build build/san

## bench: end-to-end benchmark against openssl dgst; writes results/
bench: all
	$(Q)harness/bench.sh

## format-check: check formatting with clang-format
format-check:
	$(Q)clang-format --dry-run --Werror $(LIB_SRC) $(wildcard engine/include/*.h cpu/*.h engine/src/*.h engine/src/index/*.h harness/*.c datasets/*.[ch] tests/*.[ch])

## clean: remove build/
clean:
	$(Q)rm -rf build

## help: list the targets
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed 's/^## /  /'

.PHONY: all tests deps demo test check bench format-check clean help
