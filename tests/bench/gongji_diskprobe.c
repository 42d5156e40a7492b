/* gongji-diskprobe: what one durable commit costs on a disk, shaped as LMDB makes it.
 *
 * An LMDB commit writes every page the transaction dirtied (wherever the free pages
 * are), flushes the file (fdatasync), then writes the meta page through a descriptor
 * opened O_DSYNC. On many disks, virtual ones especially, the flush costs per separate
 * request, so scattered pages cost far more than the same number side by side. This
 * tool times those three steps for a few page patterns, so an operator can see, before
 * deploying, what a node's writer will pay per commit (docs/performance.md). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096

typedef struct {
    const char *dir;
    int pages;   /* pages per commit in the multi-page patterns */
    int rounds;  /* commits per pattern */
    int file_mb; /* size of each test file */
    bool keep;
} options;

static options opt = {.dir = NULL, .pages = 36, .rounds = 300, .file_mb = 256};

/* One test file and what one commit pattern cost on it. */
typedef struct {
    char path[512];
    int fd;       /* ordinary descriptor: page writes, fdatasync */
    int meta_fd;  /* O_DSYNC descriptor: the meta page, as LMDB writes it */
    long npages;
    unsigned seed;
    bool scattered;
    int pages;
    double write_ms, flush_ms, meta_ms; /* per commit */
    int err;
} probe_file;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int file_open(probe_file *f, const char *dir, int index)
{
    char page[PAGE];
    memset(page, 0x5a, sizeof page);
    snprintf(f->path, sizeof f->path, "%s/probe-%d.dat", dir, index);
    f->fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (f->fd < 0)
        return errno;
    f->npages = (long)opt.file_mb * (1024 * 1024 / PAGE);
    /* Really written, not sparse: a commit overwrites pages that exist, as LMDB's do. */
    for (long i = 0; i < f->npages; i++)
        if (pwrite(f->fd, page, PAGE, (off_t)i * PAGE) != PAGE)
            return errno ? errno : EIO;
    if (fsync(f->fd) != 0)
        return errno;
    f->meta_fd = open(f->path, O_RDWR | O_DSYNC);
    if (f->meta_fd < 0)
        return errno;
    f->seed = 12345u + (unsigned)index;
    return 0;
}

static void file_close(probe_file *f)
{
    if (f->meta_fd >= 0)
        close(f->meta_fd);
    if (f->fd >= 0)
        close(f->fd);
    if (!opt.keep)
        unlink(f->path);
}

/* Times opt.rounds commits of f->pages pages (page 0 is the meta page, never used for
 * data). Scattered pages are drawn at random; adjacent ones start at a random page. */
static void *run_pattern(void *arg)
{
    probe_file *f = arg;
    char page[PAGE];
    memset(page, 0xa5, sizeof page);
    double w = 0, fl = 0, m = 0;
    f->err = 0;
    for (int r = 0; r < opt.rounds; r++) {
        long base = 1 + (long)(rand_r(&f->seed) % (unsigned)(f->npages - f->pages - 1));
        double t0 = now_ms();
        for (int p = 0; p < f->pages; p++) {
            long pg = f->scattered ? 1 + (long)(rand_r(&f->seed) % (unsigned)(f->npages - 1))
                                   : base + p;
            if (pwrite(f->fd, page, PAGE, (off_t)pg * PAGE) != PAGE) {
                f->err = errno ? errno : EIO;
                return NULL;
            }
        }
        double t1 = now_ms();
        if (fdatasync(f->fd) != 0) {
            f->err = errno;
            return NULL;
        }
        double t2 = now_ms();
        if (pwrite(f->meta_fd, page, PAGE, 0) != PAGE) {
            f->err = errno ? errno : EIO;
            return NULL;
        }
        double t3 = now_ms();
        w += t1 - t0;
        fl += t2 - t1;
        m += t3 - t2;
    }
    f->write_ms = w / opt.rounds;
    f->flush_ms = fl / opt.rounds;
    f->meta_ms = m / opt.rounds;
    return NULL;
}

/* Runs one pattern on `streams` files at once; prints the mean over streams. */
static int pattern(probe_file *files, int streams, const char *name, int pages, bool scattered,
                   double *total_ms)
{
    pthread_t th[2];
    for (int i = 0; i < streams; i++) {
        files[i].pages = pages;
        files[i].scattered = scattered;
        if (pthread_create(&th[i], NULL, run_pattern, &files[i]) != 0)
            return EAGAIN;
    }
    double w = 0, fl = 0, m = 0;
    int err = 0;
    for (int i = 0; i < streams; i++) {
        pthread_join(th[i], NULL);
        if (files[i].err != 0)
            err = files[i].err;
        w += files[i].write_ms;
        fl += files[i].flush_ms;
        m += files[i].meta_ms;
    }
    if (err != 0)
        return err;
    w /= streams;
    fl /= streams;
    m /= streams;
    *total_ms = w + fl + m;
    printf("%-34s %7.3f %7.3f %7.3f %8.3f\n", name, w, fl, m, *total_ms);
    return 0;
}

/* A whole decimal number in [lo, hi], or -1. */
static int parse_int(const char *text, int lo, int hi)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi)
        return -1;
    return (int)v;
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: gongji-diskprobe [options]\n"
            "\n"
            "Times durable commits shaped as LMDB makes them (page writes, fdatasync, then\n"
            "the meta page through an O_DSYNC descriptor) on the disk holding DIR, for:\n"
            "  1 page                one page and the meta page: the floor of any commit\n"
            "  N scattered pages     N pages at random places, as a commit of settlements\n"
            "  N adjacent pages      the same number side by side\n"
            "  N scattered, 2 at once  two files committing at the same time (two nodes)\n"
            "Prints milliseconds per commit for each step, then one PROBE line.\n"
            "\n"
            "  --dir DIR       where to write the test files (default: a new /tmp directory;\n"
            "                  give a node's data disk to measure that disk)\n"
            "  --pages N       pages per commit (default 36, a local batch of ~15 settlements)\n"
            "  --rounds R      commits per pattern (default 300)\n"
            "  --file-mb M     size of each test file in MiB (default 256)\n"
            "  --keep          leave the test files\n"
            "  -h, --help      this text\n");
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"dir", required_argument, NULL, 'd'},   {"pages", required_argument, NULL, 'p'},
        {"rounds", required_argument, NULL, 'r'}, {"file-mb", required_argument, NULL, 'm'},
        {"keep", no_argument, NULL, 'k'},        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'd': opt.dir = optarg; break;
        case 'p': opt.pages = parse_int(optarg, 1, 4096); break;
        case 'r': opt.rounds = parse_int(optarg, 1, 1000000); break;
        case 'm': opt.file_mb = parse_int(optarg, 16, 65536); break;
        case 'k': opt.keep = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || opt.pages < 0 || opt.rounds < 0 || opt.file_mb < 0 ||
        (long)opt.file_mb * (1024 * 1024 / PAGE) <= 2L * opt.pages) {
        fprintf(stderr, "gongji-diskprobe: bad arguments (pages 1-4096, rounds 1-1000000, "
                        "file-mb 16-65536)\n");
        usage(stderr);
        return 2;
    }
    char made[64] = "";
    const char *dir = opt.dir;
    if (dir == NULL) {
        snprintf(made, sizeof made, "/tmp/gongji-diskprobe-XXXXXX");
        if (mkdtemp(made) == NULL) {
            perror("gongji-diskprobe: mkdtemp");
            return 1;
        }
        dir = made;
    }
    probe_file files[2] = {{.fd = -1, .meta_fd = -1}, {.fd = -1, .meta_fd = -1}};
    int err = 0;
    for (int i = 0; i < 2 && err == 0; i++)
        if ((err = file_open(&files[i], dir, i)) != 0)
            fprintf(stderr, "gongji-diskprobe: %s: %s\n", files[i].path, strerror(err));
    bool opened = err == 0;
    if (opened) {
        printf("gongji-diskprobe: %s, two files of %d MiB, %d commits per pattern\n", dir,
               opt.file_mb, opt.rounds);
        printf("%-34s %7s %7s %7s %8s   (ms per commit)\n", "pattern", "write", "flush",
               "meta", "total");
        char scattered_name[64], adjacent_name[64], two_name[64];
        snprintf(scattered_name, sizeof scattered_name, "%d scattered pages", opt.pages);
        snprintf(adjacent_name, sizeof adjacent_name, "%d adjacent pages", opt.pages);
        snprintf(two_name, sizeof two_name, "%d scattered, 2 files at once", opt.pages);
        double one = 0, scattered = 0, adjacent = 0, two = 0;
        if ((err = pattern(files, 1, "1 page", 1, true, &one)) == 0 &&
            (err = pattern(files, 1, scattered_name, opt.pages, true, &scattered)) == 0 &&
            (err = pattern(files, 1, adjacent_name, opt.pages, false, &adjacent)) == 0 &&
            (err = pattern(files, 2, two_name, opt.pages, true, &two)) == 0) {
            double per_page = opt.pages > 1 ? (scattered - one) / (opt.pages - 1) : 0;
            printf("PROBE floor_ms=%.3f scattered_ms=%.3f adjacent_ms=%.3f "
                   "per_scattered_page_ms=%.4f two_files_ms=%.3f\n",
                   one, scattered, adjacent, per_page, two);
        }
    }
    for (int i = 0; i < 2; i++)
        file_close(&files[i]);
    if (made[0] != '\0' && !opt.keep)
        rmdir(made);
    if (err != 0) {
        if (opened)
            fprintf(stderr, "gongji-diskprobe: a commit failed: %s\n", strerror(err));
        return 1;
    }
    return 0;
}
