/* Backups of a store (gongji-admin backup, restore): a compacted copy taken from a live
 * node, what a copy holds, and the mark a restored store carries until an operator has
 * reconciled it with the other regions' nodes (store.h, "backup"). The copy reads the
 * environment as one more LMDB reader: the node goes on writing meanwhile, and the copy
 * is one committed state of it. */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RESTORED_KEY "restored"

/* The format and journal position of an environment open read-only. */
static gj_err read_info(MDB_env *env, store_backup_info *info)
{
    MDB_txn *txn;
    MDB_dbi meta, journal;
    MDB_cursor *cur;
    gj_err err = st_map_err(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn));
    if (err != GJ_OK)
        return err;
    memset(info, 0, sizeof *info);
    if ((err = st_map_err(mdb_dbi_open(txn, "meta", 0, &meta))) == GJ_OK) {
        MDB_val k = {6, (void *)"format"}, v;
        int rc = mdb_get(txn, meta, &k, &v);
        if (rc == 0 && v.mv_size == 4)
            info->format = get_be32(v.mv_data);
        else
            err = rc == 0 ? GJ_ERR_CORRUPT : st_map_err(rc);
        MDB_val rk = {sizeof RESTORED_KEY - 1, (void *)RESTORED_KEY};
        info->restored = mdb_get(txn, meta, &rk, &v) == 0;
    }
    if (err == GJ_OK && info->format == store_format_version() &&
        (err = st_map_err(mdb_dbi_open(txn, "journal", 0, &journal))) == GJ_OK &&
        (err = st_map_err(mdb_cursor_open(txn, journal, &cur))) == GJ_OK) {
        MDB_val k, v;
        int rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        if (rc == 0 && k.mv_size == 8)
            info->journal_seq = get_be64(k.mv_data);
        else if (rc != MDB_NOTFOUND)
            err = rc == 0 ? GJ_ERR_CORRUPT : st_map_err(rc);
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return err;
}

static gj_err open_readonly(const char *dir, MDB_env **env)
{
    gj_err err = st_map_err(mdb_env_create(env));
    if (err != GJ_OK)
        return err;
    if ((err = st_map_err(mdb_env_set_maxdbs(*env, 64))) != GJ_OK ||
        (err = st_map_err(mdb_env_open(*env, dir, MDB_RDONLY | MDB_NOTLS, 0600))) != GJ_OK) {
        mdb_env_close(*env);
        *env = NULL;
    }
    return err;
}

gj_err store_info(const char *dir, store_backup_info *info)
{
    MDB_env *env;
    if (dir == NULL || info == NULL)
        return GJ_ERR_INVAL;
    gj_err err = open_readonly(dir, &env);
    if (err != GJ_OK)
        return err;
    err = read_info(env, info);
    mdb_env_close(env);
    return err;
}

gj_err store_usage(const char *dir, store_usage_info *out)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi main_dbi;
    MDB_cursor *cur;
    if (dir == NULL || out == NULL)
        return GJ_ERR_INVAL;
    memset(out, 0, sizeof *out);
    gj_err err = open_readonly(dir, &env);
    if (err != GJ_OK)
        return err;
    MDB_envinfo ei;
    MDB_stat es;
    mdb_env_info(env, &ei);
    mdb_env_stat(env, &es);
    out->map_bytes = ei.me_mapsize;
    out->used_bytes = (uint64_t)(ei.me_last_pgno + 1) * es.ms_psize;
    if ((err = st_map_err(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))) != GJ_OK) {
        mdb_env_close(env);
        return err;
    }
    /* The named trees are the keys of the unnamed one. */
    if ((err = st_map_err(mdb_dbi_open(txn, NULL, 0, &main_dbi))) == GJ_OK &&
        (err = st_map_err(mdb_cursor_open(txn, main_dbi, &cur))) == GJ_OK) {
        MDB_val k, v;
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && out->count < STORE_USAGE_TREES_MAX;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            store_tree_usage *t = &out->trees[out->count];
            if (k.mv_size == 0 || k.mv_size >= sizeof t->name)
                continue;
            memcpy(t->name, k.mv_data, k.mv_size);
            t->name[k.mv_size] = '\0';
            MDB_dbi dbi;
            MDB_stat st;
            if (mdb_dbi_open(txn, t->name, 0, &dbi) != 0 || mdb_stat(txn, dbi, &st) != 0)
                continue;
            t->entries = st.ms_entries;
            t->bytes = (uint64_t)(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * st.ms_psize;
            out->count++;
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return err;
}

gj_err store_backup(const char *dir, const char *to_dir, store_backup_info *info)
{
    char path[PATH_MAX];
    if (dir == NULL || to_dir == NULL || info == NULL ||
        snprintf(path, sizeof path, "%s/data.mdb", to_dir) >= (int)sizeof path)
        return GJ_ERR_INVAL;
    MDB_env *env;
    gj_err err = open_readonly(dir, &env);
    if (err != GJ_OK)
        return err;
    /* The copy is made 0600 whatever the umask: it holds every person's account. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        mdb_env_close(env);
        return errno == EEXIST ? GJ_ERR_EXISTS : GJ_ERR_IO;
    }
    if ((err = st_map_err(mdb_env_copyfd2(env, fd, MDB_CP_COMPACT))) == GJ_OK && fsync(fd) != 0)
        err = GJ_ERR_IO;
    if (close(fd) != 0 && err == GJ_OK)
        err = GJ_ERR_IO;
    mdb_env_close(env);
    if (err != GJ_OK) {
        unlink(path);
        return err;
    }
    /* What the copy holds, read from the copy itself. */
    if ((err = store_info(to_dir, info)) != GJ_OK)
        return err;
    struct stat st;
    info->bytes = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
    /* The copy's own lock file is not part of the backup. */
    char lock[PATH_MAX];
    if (snprintf(lock, sizeof lock, "%s/lock.mdb", to_dir) < (int)sizeof lock)
        unlink(lock);
    return GJ_OK;
}

gj_err store_restored_get(store_txn *txn, store_restored *out)
{
    gj_err err;
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (out == NULL)
        return GJ_ERR_INVAL;
    return st_get_rec(txn, DB_META, RESTORED_KEY, sizeof RESTORED_KEY - 1, out, sizeof *out);
}

gj_err store_restored_put(store_txn *txn, const store_restored *r)
{
    gj_err err;
    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if (r == NULL || !FIELD_OK(r->backup_time))
        return GJ_ERR_INVAL;
    return st_put_rec(txn, DB_META, RESTORED_KEY, sizeof RESTORED_KEY - 1, r, sizeof *r, 0);
}

gj_err store_restored_clear(store_txn *txn)
{
    gj_err err;
    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    return st_del_rec(txn, DB_META, RESTORED_KEY, sizeof RESTORED_KEY - 1);
}
