/* gongji-admin: what an operator does to a node's data directory rather than through the
 * node. backup (live, compacted, 0600, with a manifest), verify, restore (the restored
 * store is marked: the node serves no new money movement until an operator has
 * reconciled it with the other regions and confirmed, docs/operations.md), info. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "gj_util.h"
#include "store.h"

#define MANIFEST_MAGIC "gongji-backup 1"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: gongji-admin COMMAND [options]\n"
            "\n"
            "Work on a node's data directory (docs/operations.md).\n"
            "\n"
            "  backup --data-dir DIR --to BACKUP [--region CODE]\n"
            "        copy the store, compacted, while the node runs; BACKUP is a new directory\n"
            "        (0700) with data.mdb (0600) and MANIFEST (format, journal position, size,\n"
            "        SHA-256, time, region)\n"
            "  verify --from BACKUP\n"
            "        check a backup against its manifest and that this build reads it\n"
            "  restore --from BACKUP --data-dir DIR\n"
            "        put a verified backup in DIR, which must hold no store; the restored\n"
            "        store is marked: the node then refuses new money movement until an\n"
            "        operator has reconciled with the other regions and run\n"
            "        `gongji confirm-restore`\n"
            "  upgrade --data-dir DIR\n"
            "        convert a store of an older format (5 or later) in place, after copying\n"
            "        it compacted into a new directory inside DIR; the node does the same\n"
            "        when it starts on one. The node must be stopped.\n"
            "  info --data-dir DIR\n"
            "        the store format, journal position and restored mark of DIR, and\n"
            "        what it takes on disk, tree by tree (entries, bytes)\n"
            "\n"
            "  -h, --help     show this help\n"
            "  -V, --version  show the version\n"
            "Exit status: 0 done, 1 refused or failed (the message says why), 2 bad usage.\n");
}

/* SHA-256 of a file, as 64 hex digits. */
static int file_sha256(const char *path, char hex[65])
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char buf[1 << 16], md[32];
    unsigned int mdlen = 0;
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0)
        ok = EVP_DigestUpdate(ctx, buf, n) == 1;
    ok = ok && !ferror(f) && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
    EVP_MD_CTX_free(ctx);
    fclose(f);
    for (unsigned i = 0; ok && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return ok ? 0 : -1;
}

typedef struct manifest {
    unsigned format;
    unsigned long long journal_seq, bytes;
    char sha256[65], taken[40], region[16];
} manifest;

static int read_manifest(const char *dir, manifest *m)
{
    char path[4200], line[512], magic[64] = "";
    snprintf(path, sizeof path, "%s/MANIFEST", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "gongji-admin: %s: %s\n", path, strerror(errno));
        return -1;
    }
    memset(m, 0, sizeof *m);
    if (fgets(magic, sizeof magic, f) == NULL || strncmp(magic, MANIFEST_MAGIC, strlen(MANIFEST_MAGIC)) != 0) {
        fprintf(stderr, "gongji-admin: %s is not a gongji backup manifest\n", path);
        fclose(f);
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        sscanf(line, "format %u", &m->format);
        sscanf(line, "journal_seq %llu", &m->journal_seq);
        sscanf(line, "bytes %llu", &m->bytes);
        sscanf(line, "sha256 %64s", m->sha256);
        sscanf(line, "taken %39s", m->taken);
        sscanf(line, "region %15s", m->region);
    }
    fclose(f);
    if (m->format == 0 || strlen(m->sha256) != 64 || m->taken[0] == '\0') {
        fprintf(stderr, "gongji-admin: %s lacks format, sha256 or taken\n", path);
        return -1;
    }
    return 0;
}

static void now_text(char out[40])
{
    time_t t = time(NULL) + 8 * 3600; /* China Standard Time */
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
}

static int cmd_backup(const char *data_dir, const char *to, const char *region)
{
    if (mkdir(to, 0700) != 0) {
        fprintf(stderr, "gongji-admin: cannot make %s: %s (a backup goes into a new directory)\n", to,
                strerror(errno));
        return 1;
    }
    store_backup_info info;
    gj_err err = store_backup(data_dir, to, &info);
    if (err != GJ_OK) {
        fprintf(stderr, "gongji-admin: cannot copy the store in %s: %s\n", data_dir, gj_err_name(err));
        return 1;
    }
    char path[4200], hex[65], taken[40];
    snprintf(path, sizeof path, "%s/data.mdb", to);
    if (file_sha256(path, hex) != 0) {
        fprintf(stderr, "gongji-admin: cannot read back %s\n", path);
        return 1;
    }
    now_text(taken);
    snprintf(path, sizeof path, "%s/MANIFEST", to);
    FILE *f = fopen(path, "wx");
    if (f == NULL || fchmod(fileno(f), 0600) != 0) {
        fprintf(stderr, "gongji-admin: cannot write %s: %s\n", path, strerror(errno));
        if (f != NULL)
            fclose(f);
        return 1;
    }
    fprintf(f, "%s\nformat %u\njournal_seq %llu\nbytes %llu\nsha256 %s\ntaken %s\nregion %s\nsource %s\n",
            MANIFEST_MAGIC, info.format, (unsigned long long)info.journal_seq, (unsigned long long)info.bytes, hex,
            taken, region != NULL ? region : "-", data_dir);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0) {
        fprintf(stderr, "gongji-admin: cannot write %s\n", path);
        return 1;
    }
    printf("backup %s: format %u, journal position %llu, %llu bytes, sha256 %s\n", to, info.format,
           (unsigned long long)info.journal_seq, (unsigned long long)info.bytes, hex);
    return 0;
}

static int cmd_verify(const char *from, manifest *m)
{
    char path[4200], hex[65];
    if (read_manifest(from, m) != 0)
        return 1;
    snprintf(path, sizeof path, "%s/data.mdb", from);
    if (file_sha256(path, hex) != 0 || strcmp(hex, m->sha256) != 0) {
        fprintf(stderr, "gongji-admin: %s does not match its manifest's sha256: damaged or changed\n", path);
        return 1;
    }
    if (m->format != store_format_version()) {
        fprintf(stderr, "gongji-admin: the backup holds store format %u; this build reads %u\n", m->format,
                store_format_version());
        return 1;
    }
    store_backup_info info;
    gj_err err = store_info(from, &info);
    char lock[4200];
    snprintf(lock, sizeof lock, "%s/lock.mdb", from);
    unlink(lock); /* reading made one; a backup holds none */
    if (err != GJ_OK || info.journal_seq != m->journal_seq) {
        fprintf(stderr, "gongji-admin: %s cannot be read as its manifest says (%s)\n", path, gj_err_name(err));
        return 1;
    }
    printf("backup %s: good: format %u, journal position %llu, taken %s, region %s\n", from, m->format,
           m->journal_seq, m->taken, m->region);
    return 0;
}

/* Copy src to dst (new, 0600), fsync'd. */
static int copy_file(const char *src, const char *dst)
{
    FILE *in = fopen(src, "rb");
    if (in == NULL)
        return -1;
    FILE *out = fopen(dst, "wxb");
    if (out == NULL || fchmod(fileno(out), 0600) != 0) {
        fclose(in);
        if (out != NULL)
            fclose(out);
        return -1;
    }
    char buf[1 << 16];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        rc = fwrite(buf, 1, n, out) == n ? 0 : -1;
    if (ferror(in) || fflush(out) != 0 || fsync(fileno(out)) != 0)
        rc = -1;
    fclose(in);
    if (fclose(out) != 0)
        rc = -1;
    return rc;
}

typedef struct mark_job {
    store_restored mark;
} mark_job;

static gj_err apply_mark(store_txn *txn, void *arg)
{
    return store_restored_put(txn, &((mark_job *)arg)->mark);
}

static int cmd_restore(const char *from, const char *data_dir)
{
    manifest m;
    if (cmd_verify(from, &m) != 0)
        return 1;
    char src[4200], dst[4200];
    snprintf(dst, sizeof dst, "%s/data.mdb", data_dir);
    if (access(dst, F_OK) == 0) {
        fprintf(stderr, "gongji-admin: %s holds a store already; stop its node and move the directory aside "
                        "first (a restore never overwrites a ledger)\n", data_dir);
        return 1;
    }
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "gongji-admin: cannot make %s: %s\n", data_dir, strerror(errno));
        return 1;
    }
    snprintf(src, sizeof src, "%s/data.mdb", from);
    if (copy_file(src, dst) != 0) {
        fprintf(stderr, "gongji-admin: cannot copy %s to %s: %s\n", src, dst, strerror(errno));
        unlink(dst);
        return 1;
    }
    store *s = NULL;
    gj_err err = store_open(&s, data_dir, NULL);
    if (err != GJ_OK) {
        fprintf(stderr, "gongji-admin: cannot open the restored store: %s\n", gj_err_name(err));
        return 1;
    }
    mark_job job = {.mark = {.restored_unix_ms = gj_now_unix_ms(), .journal_seq = m.journal_seq}};
    snprintf(job.mark.backup_time, sizeof job.mark.backup_time, "%s", m.taken);
    err = store_submit_wait(s, apply_mark, &job);
    store_close(s);
    if (err != GJ_OK) {
        fprintf(stderr, "gongji-admin: cannot mark the store restored: %s\n", gj_err_name(err));
        return 1;
    }
    printf("restored %s into %s (journal position %llu, taken %s).\n"
           "Start its node: it serves reads and the other regions' nodes, and refuses new money\n"
           "movement until you have reconciled every window since %s with each peer\n"
           "(gongji reconcile) and run: gongji confirm-restore\n",
           from, data_dir, m.journal_seq, m.taken, m.taken);
    return 0;
}

static int cmd_info(const char *data_dir)
{
    store_backup_info info;
    gj_err err = store_info(data_dir, &info);
    if (err != GJ_OK) {
        fprintf(stderr, "gongji-admin: cannot read the store in %s: %s\n", data_dir, gj_err_name(err));
        return 1;
    }
    printf("format %u (this build reads %u)\njournal_seq %llu\nrestored %s\n", info.format, store_format_version(),
           (unsigned long long)info.journal_seq, info.restored ? "yes: the node waits for confirm-restore" : "no");
    store_usage_info *u = calloc(1, sizeof *u);
    if (u != NULL && store_usage(data_dir, u) == GJ_OK) {
        printf("used %llu bytes of a %llu-byte map (%.1f%%)\n%-24s %12s %14s\n", (unsigned long long)u->used_bytes,
               (unsigned long long)u->map_bytes, u->map_bytes ? 100.0 * (double)u->used_bytes / (double)u->map_bytes : 0,
               "tree", "entries", "bytes");
        for (size_t i = 0; i < u->count; i++)
            printf("%-24s %12llu %14llu\n", u->trees[i].name, (unsigned long long)u->trees[i].entries,
                   (unsigned long long)u->trees[i].bytes);
    }
    free(u);
    return info.format == store_format_version() ? 0 : 1;
}

static int cmd_upgrade(const char *data_dir)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/data.mdb", data_dir);
    if (stat(path, &st) != 0) {
        fprintf(stderr, "gongji-admin: %s holds no store (no data.mdb)\n", data_dir);
        return 1;
    }
    store_upgrade_report r;
    store_options o = {.upgrade = true, .upgrade_report = &r};
    store *s = NULL;
    gj_err err = store_open(&s, data_dir, &o);
    if (err == GJ_ERR_BUSY) {
        fprintf(stderr, "gongji-admin: %s is in use by process %ld: stop the node first\n", data_dir,
                store_dir_holder(data_dir));
        return 1;
    }
    if (err != GJ_OK) {
        fprintf(stderr, "gongji-admin: %s not upgraded (%s)%s%s; nothing in it was changed%s%s\n", data_dir,
                gj_err_name(err), r.why[0] ? ": " : "", r.why, r.backup_dir[0] ? "; a copy of it is in " : "",
                r.backup_dir);
        return 1;
    }
    store_close(s);
    if (r.from == 0)
        printf("%s holds store format %u already: nothing to do\n", data_dir, store_format_version());
    else
        printf("%s upgraded from format %u to %u: %zu decisions and %zu first answers converted, %zu patient "
               "index entries moved; the old store is in %s\n",
               data_dir, r.from, store_format_version(), r.decisions, r.first_answers, r.patient_index,
               r.backup_dir);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        printf("gongji-admin %s (store format %u)\n", GONGJI_VERSION, store_format_version());
        return 0;
    }
    static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'},
                                         {"to", required_argument, NULL, 't'},
                                         {"from", required_argument, NULL, 'f'},
                                         {"region", required_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *data_dir = NULL, *to = NULL, *from = NULL, *region = NULL;
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data_dir = optarg; break;
        case 't': to = optarg; break;
        case 'f': from = optarg; break;
        case 'r': region = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    umask(077);
    manifest m;
    if (!strcmp(cmd, "backup") && data_dir && to)
        return cmd_backup(data_dir, to, region);
    if (!strcmp(cmd, "verify") && from)
        return cmd_verify(from, &m);
    if (!strcmp(cmd, "restore") && from && data_dir)
        return cmd_restore(from, data_dir);
    if (!strcmp(cmd, "info") && data_dir)
        return cmd_info(data_dir);
    if (!strcmp(cmd, "upgrade") && data_dir)
        return cmd_upgrade(data_dir);
    fprintf(stderr, "gongji-admin: unknown command or missing options: %s\n", cmd);
    usage(stderr);
    return 2;
}
