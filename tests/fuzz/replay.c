/* Runs a libFuzzer target's LLVMFuzzerTestOneInput over files, without libFuzzer: how
 * the suite builds every fuzz target with gcc (and under ASan + UBSan) and runs it over
 * its seed corpus, so a target keeps compiling and its checks keep holding between
 * fuzzing runs. Arguments: files or directories (their regular files, one level). */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs larger than this are not seeds: refused, so a mistake in the corpus shows. */
#define REPLAY_INPUT_MAX (4 * 1024 * 1024)

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    uint8_t *buf = malloc(REPLAY_INPUT_MAX);
    size_t n = buf != NULL ? fread(buf, 1, REPLAY_INPUT_MAX, f) : 0;
    bool whole = buf != NULL && feof(f) && !ferror(f);
    fclose(f);
    if (!whole) {
        fprintf(stderr, "replay: %s is unreadable or over %d bytes\n", path, REPLAY_INPUT_MAX);
        free(buf);
        return -1;
    }
    /* An exact-size copy, so ASan sees a read past the input's end. */
    uint8_t *input = malloc(n ? n : 1);
    if (input == NULL) {
        free(buf);
        return -1;
    }
    memcpy(input, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(input, n);
    free(input);
    return 0;
}

int main(int argc, char **argv)
{
    int inputs = 0, failures = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: no %s\n", argv[i]);
            return 2;
        }
        if (!S_ISDIR(st.st_mode)) {
            failures += run_file(argv[i]) != 0;
            inputs++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        struct dirent *e;
        while (d != NULL && (e = readdir(d)) != NULL) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            if (e->d_name[0] == '.' || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            failures += run_file(path) != 0;
            inputs++;
        }
        if (d != NULL)
            closedir(d);
    }
    printf("replay: %d inputs, %d unreadable\n", inputs, failures);
    return inputs > 0 && failures == 0 ? 0 : 1;
}
