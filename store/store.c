/* gongji store: opening and closing a store. The environment, its named databases,
 * the format check that refuses a directory of another layout, and the named
 * counters kept next to the format version in the meta database. See store.h for
 * the contract and docs/store.md for the key spaces, record formats, the writer and
 * durability. */
#include "store_internal.h"

#include "gj_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* STORE_FORMAT_CURRENT (store_internal.h): bump it when any record layout or key
 * encoding changes, and teach upgrade.c the step: an old file must be converted or
 * refused, never misread. */

/* Named databases we use plus room for later ones without a format change. */
#define STORE_MAXDBS 32
/* Reader slots bound concurrent read txns: one per server context at most, plus the
 * pooled handles and reads made by the writer thread itself. LMDB's default is 126. */
#define STORE_MAXREADERS (GJ_SERVER_CONTEXTS_MAX + READ_POOL_MAX + 16)
/* Counter names ("seq:" + name). */
#define SEQ_NAME_MAX 32

_Static_assert(DB_COUNT < STORE_MAXDBS, "maxdbs must cover every named database");

static const char *const db_names[DB_COUNT] = {
    [DB_META] = "meta",
    [DB_PERSONS] = "persons",
    [DB_ACCOUNTS] = "ledger",
    [DB_BIND_SPONSOR] = "bindings_by_sponsor",
    [DB_BIND_BENEFICIARY] = "bindings_by_beneficiary",
    [DB_ORDERS] = "orders",
    [DB_JOURNAL] = "journal",
    [DB_IDEM] = "idem",
    [DB_SPEND] = NULL, /* in the ledger */
    [DB_SETTLEMENTS] = "settlements",
    [DB_HOLDS] = "holds",
    [DB_HOLDS_OPEN] = "holds_open",
    [DB_DECISIONS] = "decisions",
    [DB_DECISIONS_OPEN] = "decisions_open",
    [DB_SETL_BY_PSN] = "settlements_by_day",
    [DB_CLEARING] = "clearing",
    [DB_WINDOWS] = "windows",
    [DB_VERIFICATIONS] = "verifications",
    [DB_FREEZES] = "freezes",
    [DB_RECOVERIES] = "recoveries",
    [DB_MOVES] = "moves",
    [DB_POOLS] = "pools",
    [DB_POOL_DRAWS] = "pool_draws",
    [DB_WALLETS] = "wallets",
    [DB_WALLET_PENDING] = "wallet_pending",
    [DB_IDEM_TIME] = "idem_by_time",
    [DB_CREDIT_ROWS] = "credit_rows",
};

/* ---- open / close ---- */

unsigned store_format_version(void)
{
    return STORE_FORMAT_CURRENT;
}

static gj_err format_check(MDB_txn *txn, MDB_dbi meta)
{
    unsigned char buf[4];
    MDB_val k = {6, (void *)"format"}, v;
    int rc = mdb_get(txn, meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        put_be32(buf, STORE_FORMAT_CURRENT);
        v.mv_size = sizeof buf;
        v.mv_data = buf;
        return st_map_err(mdb_put(txn, meta, &k, &v, 0));
    }
    if (rc != 0)
        return st_map_err(rc);
    if (v.mv_size != 4)
        return GJ_ERR_CORRUPT;
    return get_be32(v.mv_data) == STORE_FORMAT_CURRENT ? GJ_OK : GJ_ERR_FORMAT;
}

/* One process per data directory: LMDB itself lets several share an environment, and two
 * nodes writing one ledger would each answer as the region. flock's lock ends with the
 * process, however it ends, so a node killed with -9 can start again at once. The file
 * names the holder's pid for the message a second process prints. */
#define LOCK_FILE "gongji.lock"

static gj_err lock_dir(store *s, const char *dir)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, LOCK_FILE) >= (int)sizeof path)
        return GJ_ERR_INVAL;
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0)
        return GJ_ERR_IO;
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return errno == EWOULDBLOCK ? GJ_ERR_BUSY : GJ_ERR_IO;
    char pid[24];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(s->lock_fd, 0) != 0 || pwrite(s->lock_fd, pid, (size_t)len, 0) != len)
        return GJ_ERR_IO;
    return GJ_OK;
}

/* The format an existing store says it has (0: a new store, no format yet). */
static gj_err read_format(store *s, unsigned *found)
{
    MDB_txn *txn;
    MDB_dbi meta;
    *found = 0;
    gj_err err = st_map_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn));
    if (err != GJ_OK)
        return err;
    int rc = mdb_dbi_open(txn, "meta", 0, &meta);
    if (rc == 0) {
        MDB_val k = {6, (void *)"format"}, v;
        rc = mdb_get(txn, meta, &k, &v);
        if (rc == 0)
            *found = v.mv_size == 4 ? get_be32(v.mv_data) : 0;
        if (rc == 0 && v.mv_size != 4)
            err = GJ_ERR_CORRUPT;
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        err = st_map_err(rc);
    mdb_txn_abort(txn);
    return err;
}

/* Before converting: a compacted copy of the old store, fsync'd, in a new directory
 * inside dir named for the format it holds. */
static gj_err copy_before_upgrade(store *s, const char *dir, unsigned found, store_upgrade_report *report)
{
    char stamp[32], path[PATH_MAX];
    time_t now = time(NULL);
    struct tm tm;
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", gmtime_r(&now, &tm));
    if (snprintf(report->backup_dir, sizeof report->backup_dir, "%s/before-upgrade-format%u-%s", dir, found,
                 stamp) >= (int)sizeof report->backup_dir ||
        snprintf(path, sizeof path, "%s/data.mdb", report->backup_dir) >= (int)sizeof path)
        return GJ_ERR_INVAL;
    if (mkdir(report->backup_dir, 0700) != 0)
        return errno == EEXIST ? GJ_ERR_EXISTS : GJ_ERR_IO;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return GJ_ERR_IO;
    gj_err err = st_map_err(mdb_env_copyfd2(s->env, fd, MDB_CP_COMPACT));
    if (err == GJ_OK && fsync(fd) != 0)
        err = GJ_ERR_IO;
    if (close(fd) != 0 && err == GJ_OK)
        err = GJ_ERR_IO;
    int dfd = open(report->backup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) != 0 && err == GJ_OK)
            err = GJ_ERR_IO;
        close(dfd);
    }
    return err;
}

long store_dir_holder(const char *dir)
{
    char path[PATH_MAX], text[24] = {0};
    if (dir == NULL || snprintf(path, sizeof path, "%s/%s", dir, LOCK_FILE) >= (int)sizeof path)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    return n > 0 ? strtol(text, NULL, 10) : 0;
}

/* Frees whatever store_open got to; the writer is not running. */
static void store_free(store *s)
{
    while (s->pool != NULL) {
        store_txn *t = s->pool;
        s->pool = t->next;
        mdb_txn_abort(t->txn);
        free(t);
    }
    if (s->env != NULL) {
        if (s->dbis_open)
            for (int i = 0; i < DB_COUNT; i++)
                if (db_names[i] != NULL)
                    mdb_dbi_close(s->env, s->dbi[i]);
        mdb_env_close(s->env);
    }
    if (s->cwork_ready) {
        pthread_cond_destroy(&s->cwork);
        pthread_cond_destroy(&s->cspace);
    }
    if (s->cmu_ready)
        pthread_mutex_destroy(&s->cmu);
    free(s->cq);
    if (s->work_ready)
        pthread_cond_destroy(&s->work);
    if (s->mu_ready)
        pthread_mutex_destroy(&s->mu);
    if (s->pool_mu_ready)
        pthread_mutex_destroy(&s->pool_mu);
    free(s->queue);
    free(s->batch);
    free(s->results);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* last: the directory is free once the environment is closed */
    free(s);
}

gj_err store_open(store **out, const char *dir, const store_options *opts)
{
    store *s = NULL;
    MDB_txn *txn = NULL;
    gj_err err;

    /* Cleared before anything can fail: a caller prints why whatever the failure. */
    store_upgrade_report scratch, *report = opts && opts->upgrade_report ? opts->upgrade_report : &scratch;
    memset(report, 0, sizeof *report);
    if (out == NULL || dir == NULL)
        return GJ_ERR_INVAL;
    *out = NULL;
    uint64_t map_size = opts && opts->map_size ? opts->map_size : GJ_MAP_SIZE_DEFAULT;
    unsigned batch_max = opts && opts->batch_max ? opts->batch_max : GJ_WRITE_BATCH_MAX;
    unsigned queue_max = opts && opts->queue_max ? opts->queue_max : GJ_WRITE_QUEUE_MAX;
    if (map_size > SIZE_MAX)
        return GJ_ERR_INVAL;
    if (batch_max > queue_max)
        batch_max = queue_max; /* a batch never holds more than the queue */

    if ((s = calloc(1, sizeof *s)) == NULL)
        return GJ_ERR_NOMEM;
    s->lock_fd = -1;
    if ((err = lock_dir(s, dir)) != GJ_OK)
        goto fail;
    s->batch_max = batch_max;
    s->queue_max = queue_max;
    s->gather_us = opts ? opts->gather_us : 0;
    s->queue = calloc(queue_max, sizeof *s->queue);
    s->cq = calloc(queue_max, sizeof *s->cq);
    s->batch = calloc(batch_max, sizeof *s->batch);
    s->results = calloc(batch_max, sizeof *s->results);
    if (s->queue == NULL || s->cq == NULL || s->batch == NULL || s->results == NULL) {
        err = GJ_ERR_NOMEM;
        goto fail;
    }

    if ((err = st_map_err(mdb_env_create(&s->env))) != GJ_OK)
        goto fail;
    if ((err = st_map_err(mdb_env_set_maxdbs(s->env, STORE_MAXDBS))) != GJ_OK)
        goto fail;
    if ((err = st_map_err(mdb_env_set_maxreaders(s->env, STORE_MAXREADERS))) != GJ_OK)
        goto fail;
    if ((err = st_map_err(mdb_env_set_mapsize(s->env, (size_t)map_size))) != GJ_OK)
        goto fail;
    /* MDB_NOTLS: read txns are begun and ended on different threads and pooled.
     * No NOSYNC/NOMETASYNC/WRITEMAP/MAPASYNC: every commit is fsync'd before done. */
    if ((err = st_map_err(mdb_env_open(s->env, dir, MDB_NOTLS, 0600))) != GJ_OK)
        goto fail;
    /* Free reader slots left by a crashed process, which would pin old pages. */
    int dead;
    if ((err = st_map_err(mdb_reader_check(s->env, &dead))) != GJ_OK)
        goto fail;

    unsigned found;
    if ((err = read_format(s, &found)) != GJ_OK)
        goto fail;
    bool upgrade = opts && opts->upgrade && found >= STORE_OLDEST_UPGRADABLE && found < STORE_FORMAT_CURRENT;
    if (upgrade)
        report->from = found;
    if (upgrade && (err = copy_before_upgrade(s, dir, found, report)) != GJ_OK)
        goto fail;

    if ((err = st_map_err(mdb_txn_begin(s->env, NULL, 0, &txn))) != GJ_OK)
        goto fail;
    for (int i = 0; i < DB_COUNT; i++)
        if (db_names[i] != NULL &&
            (err = st_map_err(mdb_dbi_open(txn, db_names[i], MDB_CREATE, &s->dbi[i]))) != GJ_OK)
            goto fail;
    s->dbi[DB_SPEND] = s->dbi[DB_ACCOUNTS];
    if (upgrade && (err = st_upgrade(s, txn, found, gj_now_unix_ms(), report)) != GJ_OK)
        goto fail;
    if ((err = format_check(txn, s->dbi[DB_META])) != GJ_OK)
        goto fail;
    err = st_map_err(mdb_txn_commit(txn));
    txn = NULL;
    if (err != GJ_OK)
        goto fail;
    s->dbis_open = true;

    if ((err = st_writer_start(s)) != GJ_OK)
        goto fail;
    *out = s;
    return GJ_OK;

fail:
    if (txn != NULL)
        mdb_txn_abort(txn);
    st_writer_stop(s);
    store_free(s);
    return err;
}

void store_close(store *s)
{
    if (s == NULL)
        return;
    st_writer_stop(s);
    store_free(s);
}

/* ---- counters ---- */

gj_err store_next_seq(store_txn *txn, const char *name, uint64_t *out)
{
    gj_err err;
    char key[4 + SEQ_NAME_MAX];
    unsigned char val[8];
    uint64_t cur = 0;

    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if (!key_ok(name, SEQ_NAME_MAX) || out == NULL)
        return GJ_ERR_INVAL;
    size_t nlen = strlen(name);
    memcpy(key, "seq:", 4);
    memcpy(key + 4, name, nlen);
    err = st_get_rec(txn, DB_META, key, 4 + nlen, val, sizeof val);
    if (err == GJ_OK)
        cur = get_be64(val);
    else if (err != GJ_ERR_NOTFOUND)
        return err;
    if (cur == UINT64_MAX)
        return GJ_ERR_FULL;
    put_be64(val, cur + 1);
    if ((err = st_put_rec(txn, DB_META, key, 4 + nlen, val, sizeof val, 0)) != GJ_OK)
        return err;
    *out = cur + 1;
    return GJ_OK;
}
