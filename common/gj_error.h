/* One error enum for the whole code base. Each library edge converts into it:
 * store/ turns MDB_* into these, node/ turns nng errors into these, and the wire
 * turns these into gRPC-style status codes. */
#ifndef GJ_ERROR_H
#define GJ_ERROR_H

typedef enum gj_err {
    GJ_OK = 0,
    GJ_ERR_NOTFOUND = 1,  /* key not present */
    GJ_ERR_EXISTS = 2,    /* key already present where it must not be */
    GJ_ERR_INVAL = 3,     /* argument out of range or malformed */
    GJ_ERR_NOMEM = 4,     /* allocation failed */
    GJ_ERR_FULL = 5,      /* LMDB map or a bounded queue is full */
    GJ_ERR_IO = 6,        /* disk or OS error */
    GJ_ERR_CORRUPT = 7,   /* stored record has the wrong size or version */
    GJ_ERR_CLOSED = 8,    /* the store or node is shutting down */
    GJ_ERR_ABORT = 9,     /* the caller asked to roll back its own changes */
    GJ_ERR_TOOBIG = 10,   /* message or value larger than its limit */
    GJ_ERR_TRANSPORT = 11, /* nng reported an error */
    GJ_ERR_BUSY = 12,      /* another process holds the data directory */
    GJ_ERR_DISK_FULL = 13, /* the file system is full (ENOSPC, EDQUOT): nothing was written */
    GJ_ERR_FORMAT = 14     /* a store of another format than this build's (older or newer) */
} gj_err;

/* Short stable name of an error, for logs ("GJ_ERR_FULL"). Never NULL. */
const char *gj_err_name(gj_err err);

#endif
