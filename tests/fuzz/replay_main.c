/*
 * replay_main.c - runs a libFuzzer target without libFuzzer: the regression
 * test of the fuzz corpora in `make test`. It is linked once per target
 * (BUILD/tests/fuzz_log, fuzz_container, fuzz_recipe) with that target's
 * LLVMFuzzerTestOneInput, by the project's compiler and flags, so the SAN=1
 * build runs every corpus file under ASan and UBSan.
 *
 * usage: fuzz_NAME PATH...     corpus directories and/or single files
 *
 * Every regular file (directories are read one level deep, dot files
 * skipped, in name order) is read into a buffer of exactly its size, so a
 * read one byte past the input is an ASan error, and given to the target
 * once. A target reports a bug by crashing or calling abort(), which ends the
 * process with a non-zero status (counted as a failure by tests/run_all.sh),
 * after a last line naming the input. Otherwise the closing line is
 * "fuzz_NAME: N passed, 0 failed". No input at all is a failure: a mistyped
 * corpus path must not pass.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* In the sanitizer runtimes (GCC's and Clang's); absent from other builds. */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

static const char *prog = "fuzz";
static const char *current; /* the input being run, for the crash line */

static void say_input(void)
{
    if (!current)
        return;
    /* Only async-signal-safe calls: this runs from a signal handler too. */
    const char *parts[] = {"\n", prog, ": crashed on input ", current, "\n"};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        if (write(STDERR_FILENO, parts[i], strlen(parts[i])) < 0)
            break;
}

static void on_signal(int sig)
{
    say_input();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st)) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        fclose(f);
        return -1;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *b = malloc(n ? n : 1);
    if (!b || fread(b, 1, n, f) != n) {
        fprintf(stderr, "%s: %s: short read\n", prog, path);
        free(b);
        fclose(f);
        return -1;
    }
    fclose(f);
    current = path;
    LLVMFuzzerTestOneInput(b, n);
    current = NULL;
    free(b);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static long passed;
static int failed;

static void run_path(const char *path)
{
    if (run_file(path))
        failed++;
    else
        passed++;
}

/* Runs the regular files in dir, in name order. */
static void run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "%s: %s: %s\n", prog, dir, strerror(errno));
        failed++;
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **g = realloc(names, cap * sizeof *g);
            if (!g)
                abort();
            names = g;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        if (!(names[n] = malloc(len)))
            abort();
        snprintf(names[n++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            run_path(names[i]);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    const char *slash = strrchr(argv[0], '/');
    prog = slash ? slash + 1 : argv[0];
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", prog);
        return 2;
    }
    /* Under a sanitizer its report ends with the death callback; its own
     * SEGV handler must stay. abort() (the targets' invariant checks) is
     * left to us either way. */
    if (__sanitizer_set_death_callback) {
        __sanitizer_set_death_callback(say_input);
    } else {
        signal(SIGSEGV, on_signal);
        signal(SIGBUS, on_signal);
        signal(SIGFPE, on_signal);
    }
    signal(SIGABRT, on_signal);

    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st)) {
            fprintf(stderr, "%s: %s: %s\n", prog, argv[i], strerror(errno));
            failed++;
        } else if (S_ISDIR(st.st_mode)) {
            run_dir(argv[i]);
        } else {
            run_path(argv[i]);
        }
    }
    if (passed == 0 && failed == 0) {
        fprintf(stderr, "%s: no inputs found\n", prog);
        failed = 1;
    }
    printf("%s: %ld passed, %d failed\n", prog, passed, failed);
    return failed != 0;
}
