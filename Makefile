# mergelab Makefile.
#   make demo      install what is missing, build, run suites/demo.json, write its report
#   make test      install what is missing, build, run every test (ends "N passed, N failed")
#   make deps      check the C compiler, libraries, font and data; apt-get install them when root
#   make deps-test deps plus the test-only tools (xmllint, poppler-utils, chromium)
#   make check     make test plus the sanitizer builds' tests
#   make check-scale  MPI, shards and a real Slurm (installs OpenMPI, Slurm, munge as root)
#   make MPI=1     the program with MPI (mpirun -np N build-mpi/mergelab run SUITE --mpi)
#   make bench     speed figures as ratios to PyTorch and to the sgemm peak, measured in the same run
#   make bench-scale  scale-out figures: MPI ranks, overhead per job (PAPER=1: paper-scale estimate)
#   make paper     the paper's protocol at the default GPT size, uncut, 3 bases x 3 seeds (suites/paper.json; the README gives its time)
#   make paper-quick one base and three cuts for a 30-minute budget (suites/paper-quick.json)
#   make clean
# Options: CI=true (warnings are errors), SANITIZER=address|undefined (own build folder),
#          THREADS=N (BLAS threads for make bench).

SHELL := /bin/bash
CC    ?= cc

# $(call install_or_say,PACKAGES): apt-get installs the (shell-expanded) list
# as root, or prints exactly what to run and stops (exit 2); nothing when empty.
install_or_say = if [ -z "$(1)" ]; then exit 0; fi; \
	echo "mergelab: missing Debian packages:$(1)"; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "mergelab: installing them with apt-get"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq --no-install-recommends $(1) >/dev/null 2>&1 \
	    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends $(1) >/dev/null; } \
	    || { echo "mergelab: apt-get install failed; run: apt-get update && apt-get install -y$(1)" >&2; exit 2; }; \
	else echo "mergelab: not root; run as root:  apt-get update && apt-get install -y$(1)" >&2; exit 2; fi

# Flags come in named parts so the saved settings below can tell a change.
STD   := -std=c11 -D_GNU_SOURCE
WARN  := -Wall -Wextra -Wstrict-prototypes -Wshadow -Wno-unused-parameter
OPT   := -O2 -g
# Vectorise element-wise loops (GELU, softmax) in every build, sanitizers
# included; -fno-trapping-math lets GCC if-convert their clamps. Neither
# reorders a floating-point sum, so results do not change with it.
VEC   := -ftree-vectorize -fvect-cost-model=dynamic -fno-trapping-math
ifeq ($(CI),true)
WARN  += -Werror
endif

BUILD := build
ifeq ($(SANITIZER),address)
BUILD := build-asan
OPT   := -O1 -g -fno-omit-frame-pointer -fsanitize=address
LDSAN := -fsanitize=address
else ifeq ($(SANITIZER),undefined)
BUILD := build-ubsan
OPT   := -O1 -g -fno-omit-frame-pointer -fsanitize=undefined -fno-sanitize-recover=undefined
LDSAN := -fsanitize=undefined
else ifneq ($(SANITIZER),)
$(error SANITIZER must be address or undefined, got '$(SANITIZER)')
endif

# MPI=1: the same program with the MPI executor (sched/mpi.c) in build-mpi/,
# against Debian's OpenMPI (make deps-mpi). Its flags stay out of the build
# stamp below: its numbers and its cells' identities are the default build's.
ifeq ($(MPI),1)
ifneq ($(SANITIZER),)
$(error MPI=1 and SANITIZER exclude each other)
endif
BUILD      := build-mpi
MPI_CFLAGS  = -DML_MPI $(shell pkg-config --cflags ompi-c 2>/dev/null)
MPI_LIBS    = $(shell pkg-config --libs ompi-c 2>/dev/null)
endif

PKGS     := openblas libgit2 cairo libcjson libpng zlib
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS_ALL = $(STD) $(WARN) $(OPT) $(VEC) -I. -I$(BUILD) $(PKG_CFLAGS) $(MPI_CFLAGS) $(CFLAGS)
LDLIBS_ALL = $(LDSAN) $(PKG_LIBS) $(MPI_LIBS) -lm -lpthread $(LDLIBS)

LIB_SRC  := $(wildcard core/*.c kernels/*.c kernels/ref/*.c data/*.c suite/*.c study/*.c sched/*.c store/*.c analysis/*.c reports/*.c)
CLI_SRC  := $(wildcard cli/*.c)
LIB_SRC  := $(filter-out $(CLI_SRC),$(LIB_SRC))
TEST_SRC := $(wildcard tests/*.c)
BENCH_SRC := $(wildcard bench/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
BIN      := $(BUILD)/mergelab
TESTBIN  := $(BUILD)/mltest
BENCHBIN := $(BUILD)/mlbench

# Debian packages that provide each pkg-config module, and the data package.
DEB_openblas := libopenblas-dev
DEB_libgit2  := libgit2-dev
DEB_cairo    := libcairo2-dev
DEB_libcjson := libcjson-dev
DEB_libpng   := libpng-dev
DEB_zlib     := zlib1g-dev
DATA_DIR     := /usr/share/datasets/fashion-mnist
DEB_DATA     := dataset-fashion-mnist
# The figures are drawn in DejaVu Sans (reports/plot.c), by demo and test alike.
DEB_FONT     := fonts-dejavu-core
FONT_FILE    := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
# Test-only tools, as command:package, installed by `make test` (deps-test) and
# never needed by `make demo`: xmllint checks the SVG and JUnit outputs; pdfinfo,
# pdffonts and pdftoppm check the PDF figures.
DEB_TEST_TOOLS := xmllint:libxml2-utils pdfinfo:poppler-utils pdffonts:poppler-utils pdftoppm:poppler-utils
# Chromium renders the HTML report headless (tests/test_browser.c; ML_CHROMIUM
# names another binary). Its recommends are not needed: with only DejaVu fonts
# and no Mesa drivers its --headless --disable-gpu screenshots render the same.
DEB_CHROMIUM   := chromium

.PHONY: all deps deps-test demo paper paper-quick test check bench clean FORCE
all: $(BIN)

# The C compiler comes first: a bare Debian 12 (git and make only) has none.
# gcc brings /usr/bin/cc; libc6-dev the C headers and crt files. CC=clang or
# another compiler the user chose is reported, never replaced by gcc.
DEB_CC := gcc libc6-dev

deps:
	@missing=""; \
	if ! command -v $(CC) >/dev/null 2>&1; then \
	  case "$(CC)" in cc|gcc) missing="$$missing $(DEB_CC)";; \
	  *) echo "mergelab: the compiler CC=$(CC) is not on PATH; install it or run make with CC=gcc" >&2; exit 2;; esac; \
	elif [ ! -f /usr/include/stdio.h ]; then missing="$$missing libc6-dev"; fi; \
	command -v pkg-config >/dev/null 2>&1 || missing="$$missing pkg-config"; \
	command -v git >/dev/null 2>&1 || missing="$$missing git"; \
	[ -f $(FONT_FILE) ] || missing="$$missing $(DEB_FONT)"; \
	for p in $(PKGS); do \
	  case $$p in openblas) d=$(DEB_openblas);; libgit2) d=$(DEB_libgit2);; cairo) d=$(DEB_cairo);; \
	    libcjson) d=$(DEB_libcjson);; libpng) d=$(DEB_libpng);; zlib) d=$(DEB_zlib);; esac; \
	  pkg-config --exists $$p 2>/dev/null || missing="$$missing $$d"; \
	done; \
	[ -f $(DATA_DIR)/train-images-idx3-ubyte.gz ] || missing="$$missing $(DEB_DATA)"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	echo "mergelab: missing Debian packages:$$missing"; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "mergelab: installing them with apt-get"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends$$missing >/dev/null \
	    || { echo "mergelab: apt-get install failed; run: apt-get update && apt-get install -y$$missing" >&2; exit 2; }; \
	else \
	  echo "mergelab: not root; run as root:  apt-get update && apt-get install -y$$missing" >&2; exit 2; \
	fi

# Chromium is installed on its own, after the other test tools: it is the large
# one and the one a machine may not be able to get (no root, a mirror without
# it). Outside CI, `make test` then goes on and the browser tests print SKIP
# with the reason; with CI=true a missing chromium stops here (exit 2), so a CI
# run can never pass without having run them.
deps-test: deps
	@missing=""; chromium=""; \
	for t in $(DEB_TEST_TOOLS); do \
	  command -v $${t%%:*} >/dev/null 2>&1 && continue; \
	  case " $$missing " in *" $${t#*:} "*) ;; *) missing="$$missing $${t#*:}";; esac; \
	done; \
	if [ -z "$$ML_CHROMIUM" ] && ! command -v chromium >/dev/null 2>&1 && \
	   ! command -v chromium-browser >/dev/null 2>&1; then chromium=" $(DEB_CHROMIUM)"; fi; \
	if [ -z "$$missing$$chromium" ]; then exit 0; fi; \
	echo "mergelab: missing Debian packages for the tests:$$missing$$chromium"; \
	cmd="apt-get update && apt-get install -y --no-install-recommends"; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "mergelab: installing them with apt-get"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq || true; \
	  if [ -n "$$missing" ]; then \
	    apt-get install -y -qq --no-install-recommends$$missing >/dev/null \
	      || { echo "mergelab: apt-get install failed; run: $$cmd$$missing" >&2; exit 2; }; \
	  fi; \
	  if [ -n "$$chromium" ] && apt-get install -y -qq --no-install-recommends$$chromium >/dev/null; then chromium=""; fi; \
	elif [ -n "$$missing" ]; then \
	  echo "mergelab: not root; run as root:  $$cmd$$missing$$chromium" >&2; exit 2; \
	fi; \
	if [ -n "$$chromium" ]; then \
	  if [ "$(CI)" = true ]; then \
	    echo "mergelab: CI=true needs chromium for the browser tests; run as root:  $$cmd$$chromium" >&2; exit 2; \
	  fi; \
	  echo "mergelab: warning: chromium is not installed; the browser tests will SKIP. To run them, as root:  $$cmd$$chromium" >&2; \
	fi

# What a cell's identity and the model cache key on: every file the
# numbers can depend on (the CLI's argument handling cannot change them).
SOURCE_FILES := $(wildcard core/*.[ch] kernels/*.[ch] kernels/ref/*.[ch] data/*.[ch] suite/*.[ch] study/*.[ch] sched/*.[ch] store/*.[ch] analysis/*.[ch])

# The build commit and flags are stamped into the binary (mergelab --version)
# and into every results file; the header changes only when they do.
$(BUILD)/ml_build_stamp.h: FORCE
	@mkdir -p $(BUILD)
	@c=$$(git rev-parse --verify -q HEAD 2>/dev/null || echo unknown); \
	 d=$$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo -dirty); \
	 { echo "#define ML_BUILD_COMMIT \"$$c$$d\""; \
	   echo "#define ML_BUILD_CC \"$$($(CC) --version | head -1)\""; \
	   echo "#define ML_BUILD_CFLAGS \"$(STD) $(WARN) $(OPT) $(VEC) $(CFLAGS)\""; \
	   echo "#define ML_BUILD_SOURCE \"$$(cat $$(ls $(SOURCE_FILES) | LC_ALL=C sort) | sha256sum | cut -c1-64)\""; } > $@.new; \
	 cmp -s $@.new $@ || mv $@.new $@; rm -f $@.new

# Changing flags rebuilds everything (redis's .make-settings idea).
$(BUILD)/.make-settings: FORCE
	@mkdir -p $(BUILD)
	@echo "$(CC) $(CFLAGS_ALL) | $(LDLIBS_ALL)" > $@.new; cmp -s $@.new $@ || mv $@.new $@; rm -f $@.new

$(BUILD)/%.o: %.c $(BUILD)/.make-settings | $(BUILD)/ml_build_stamp.h
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/core/version.o: $(BUILD)/ml_build_stamp.h

$(BUILD)/libmergelab.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(CLI_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libmergelab.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS_ALL)

$(TESTBIN): $(TEST_OBJ) $(BUILD)/libmergelab.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS_ALL)

$(BENCHBIN): $(BENCH_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libmergelab.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS_ALL)

# Speed, as ratios to references measured in the same run: PyTorch on the
# same model (Debian's python3-torch, bench/torch_gpt.py) and OpenBLAS's sgemm
# peak. BENCH_ARGS=--gate makes a line short of its target exit 1.
.PHONY: deps-bench
deps-bench: deps
	@missing=""; \
	/usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || missing=" python3-torch"; \
	$(call install_or_say,$$missing)

bench: deps-bench
	@$(MAKE) --no-print-directory $(BIN) $(BENCHBIN)
	$(BIN) bench --threads $(or $(THREADS),2) $(BENCH_ARGS)

# suites/demo.json: the paper's study in miniature (GPT, 3 seeds x 3 fine-tuning
# lengths, findings F1-F4), two cells at a time. The results go to the store
# (results/<machine>/<commit>/demo.json, so `mergelab history` and `compare`
# see them); the report to out/demo/report.
demo: deps
	@$(MAKE) --no-print-directory $(BIN)
	$(BIN) run suites/demo.json --jobs 2 --report out/demo/report
	@echo "mergelab: open out/demo/report/index.html"

# suites/paper.json: the paper's protocol at the default GPT size, 3 bases x 3 seeds, uncut (see
# the README for its time on 2 cores); results into the store, the report to out/paper/report.
paper: deps
	@$(MAKE) --no-print-directory $(BIN)
	$(BIN) run suites/paper.json --jobs 2 --report out/paper/report
	@echo "mergelab: open out/paper/report/index.html"

# suites/paper-quick.json: the same on one base, with three cuts to the routers' evaluation, for a
# 30-minute budget (a CI job, say); the README says what they cost.
paper-quick: deps
	@$(MAKE) --no-print-directory $(BIN)
	$(BIN) run suites/paper-quick.json --jobs 2 --report out/paper-quick/report
	@echo "mergelab: open out/paper-quick/report/index.html"

test: deps-test
	@$(MAKE) --no-print-directory $(BIN) $(TESTBIN) $(BENCHBIN)
	ML_BIN=$(BIN) $(TESTBIN)

# Longer tier: every test again under AddressSanitizer (with LeakSanitizer) and UBSan.
# make check's own tools: valgrind (the smoke suite under memcheck); clang for
# the fuzz targets comes with deps-fuzz.
deps-check: deps-test
	@if ! command -v valgrind >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "mergelab: installing valgrind with apt-get"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null \
	      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null; } \
	      || { echo "mergelab: apt-get install failed; run: apt-get update && apt-get install -y valgrind" >&2; exit 2; }; \
	  else echo "mergelab: not root; run as root:  apt-get update && apt-get install -y valgrind" >&2; exit 2; fi; \
	fi

check: deps-check test
	$(MAKE) --no-print-directory SANITIZER=address build-asan/mltest build-asan/mergelab build-asan/mlbench
	ML_BIN=build-asan/mergelab ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp build-asan/mltest
	$(MAKE) --no-print-directory SANITIZER=undefined build-ubsan/mltest build-ubsan/mergelab build-ubsan/mlbench
	ML_BIN=build-ubsan/mergelab build-ubsan/mltest
	@# the long tests: every allocation site and every write failed once, kill -9 trials
	ML_BIN=$(BIN) $(TESTBIN) --tier check
	@# the allocation walk again under ASan on every 8th site: the error paths leak nothing
	ML_BIN=build-asan/mergelab ML_FAULT_STRIDE=8 ASAN_OPTIONS=detect_leaks=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp build-asan/mltest --tier check faults__every_allocation_site
	@# the smoke suite under valgrind memcheck: 0 errors, 0 definite leaks
	sh tests/valgrind.sh $(BIN)
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS)

# make fuzz: a libFuzzer target per parser of outside input (tests/fuzz/fuzz_*.c):
# results and baselines (reader -> aggregate -> gate -> findings), suites,
# cell files, model cache entries, checkpoints, IDX data, the text readers;
# built with Debian's clang into its own folder. Each runs its seed corpus
# (tests/fuzz/corpus/<target>/, crashes found become regression inputs there)
# once, then fuzzes for FUZZ_SECONDS; new inputs go to build-fuzz/corpus-<target>/
# and crashing ones to build-fuzz/crash-*, never into the source tree. The last
# lines say, per target: seconds, executions, crashes.
FUZZ_BUILD   := build-fuzz
FUZZ_CC      := clang
FUZZ_SECONDS ?= 60
CHECK_FUZZ_SECONDS ?= 30
FUZZ_TARGETS := results suite cellfile cache checkpoint idx text
FUZZ_DICT    := tests/fuzz/results.dict
DEB_FUZZ     := clang libclang-rt-14-dev
FUZZ_CFLAGS   = $(STD) $(WARN) -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
                -fno-sanitize-recover=undefined -I. -I$(FUZZ_BUILD) $(PKG_CFLAGS)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_OBJ     := $(FUZZ_LIB_OBJ) $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/tests/fuzz/fuzz_%.o)
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

.PHONY: fuzz deps-fuzz deps-check
deps-fuzz:
	@missing=""; \
	if ! command -v $(FUZZ_CC) >/dev/null 2>&1; then missing=" $(DEB_FUZZ)"; \
	else \
	  t=$$(mktemp -d) && \
	  echo 'int LLVMFuzzerTestOneInput(const unsigned char*d, unsigned long n){return 0;}' > $$t/probe.c && \
	  $(FUZZ_CC) -fsanitize=fuzzer $$t/probe.c -o $$t/probe >/dev/null 2>&1 || missing=" libclang-rt-14-dev"; \
	  rm -rf "$$t"; \
	fi; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	echo "mergelab: missing Debian packages for make fuzz:$$missing"; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "mergelab: installing them with apt-get"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends$$missing >/dev/null \
	    || { echo "mergelab: apt-get install failed; run: apt-get update && apt-get install -y$$missing" >&2; exit 2; }; \
	else \
	  echo "mergelab: not root; run as root:  apt-get update && apt-get install -y$$missing" >&2; exit 2; \
	fi

# Scale-out's tools: OpenMPI for make MPI=1, and a Slurm the scale tests start
# on this machine (tests/slurm.sh): installed as root, else what to run.
DEB_MPI   := openmpi-bin libopenmpi-dev
DEB_SLURM := slurmctld slurmd slurm-client munge
.PHONY: deps-mpi deps-scale check-scale
deps-mpi: deps
	@missing=""; \
	command -v mpirun >/dev/null 2>&1 || missing="$$missing openmpi-bin"; \
	pkg-config --exists ompi-c 2>/dev/null || missing="$$missing libopenmpi-dev"; \
	$(call install_or_say,$$missing)

deps-scale: deps-mpi deps-test
	@missing=""; \
	for t in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge; do \
	  command -v $${t%%:*} >/dev/null 2>&1 || [ -x /usr/sbin/$${t%%:*} ] || missing="$$missing $${t#*:}"; \
	done; \
	$(call install_or_say,$$missing)

# make check-scale: the suite under MPI (mpirun -np 3, oversubscribed), as
# shards with gather, and as Slurm job arrays on a real single-node Slurm the
# tests start and stop; each bit-identical to a run in one process.
check-scale: deps-scale
	@$(MAKE) --no-print-directory $(BIN) $(TESTBIN)
	@$(MAKE) --no-print-directory MPI=1 build-mpi/mergelab
	ML_BIN=$(BIN) ML_MPI_BIN=build-mpi/mergelab $(TESTBIN) --tier scale

# make bench-scale: the scale-out figures (bench/scale.sh): the demo suite's
# wall time in one process and under MPI with 1, 2, 3 ranks running jobs, the
# scheduling overhead per job of each engine; PAPER=1 adds the per-job costs
# of suites/paper.json and the machines its full sweep needs for one hour.
.PHONY: bench-scale
bench-scale: deps-mpi
	@$(MAKE) --no-print-directory $(BIN)
	@$(MAKE) --no-print-directory MPI=1 build-mpi/mergelab
	ML_BIN=$(BIN) ML_MPI_BIN=build-mpi/mergelab PAPER=$(or $(PAPER),0) bash bench/scale.sh

# The fuzz build stamps itself "fuzz": the target never writes a results file.
$(FUZZ_BUILD)/ml_build_stamp.h:
	@mkdir -p $(FUZZ_BUILD)
	@{ echo '#define ML_BUILD_COMMIT "fuzz"'; echo '#define ML_BUILD_CC "$(FUZZ_CC)"'; \
	   echo '#define ML_BUILD_CFLAGS "fuzz"'; echo '#define ML_BUILD_SOURCE "fuzz"'; } > $@

$(FUZZ_BUILD)/.make-settings: FORCE
	@mkdir -p $(FUZZ_BUILD)
	@echo "$(FUZZ_CC) $(FUZZ_CFLAGS)" > $@.new; cmp -s $@.new $@ || mv $@.new $@; rm -f $@.new

$(FUZZ_BUILD)/%.o: %.c $(FUZZ_BUILD)/.make-settings | $(FUZZ_BUILD)/ml_build_stamp.h
	@mkdir -p $(dir $@)
	@echo "  FUZZCC $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_LIB_OBJ) $(FUZZ_BUILD)/tests/fuzz/fuzz_%.o
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS) -lm -lpthread

fuzz: deps deps-fuzz
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_DICT=$(FUZZ_DICT) sh tests/fuzz/run.sh $(FUZZ_TARGETS)

-include $(FUZZ_OBJ:.o=.d)
# the fuzz objects are kept: make would delete them as intermediates of fuzz_% and rebuild all next time
.SECONDARY: $(FUZZ_OBJ)

clean:
	rm -rf build build-asan build-ubsan build-mpi build-fuzz out   # results/ (the store) is kept: it is data

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BENCH_SRC:%.c=$(BUILD)/%.d) $(CLI_SRC:%.c=$(BUILD)/%.d)
