/* The test federation's certificate authority: one per test program, made with
 * deploy/pki.sh (so the suite tests it too), and the credentials the harness hands its
 * clients and nodes (harness.h). */
#include "harness.h"

#include <nng/nng.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t pki_mu = PTHREAD_MUTEX_INITIALIZER;
static char pki_dir[200];
static char foreign_dir[200];

static void pki_remove(void)
{
    if (getenv("GONGJI_KEEP_TEST_DIRS") != NULL)
        return;
    char cmd[500];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", pki_dir, foreign_dir);
    if (pki_dir[0] != '\0' && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", pki_dir);
}

static const char *pki_script(void)
{
    const char *p = getenv("GONGJI_PKI");
    return p != NULL ? p : "deploy/pki.sh";
}

/* Run pki.sh with args in dir; 0 on success. */
static int pki_run(const char *dir, const char *args)
{
    char cmd[800];
    snprintf(cmd, sizeof cmd, "bash '%s' %s >/dev/null", pki_script(), args);
    (void)dir;
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "pki.sh %s failed (%d)\n", args, rc);
    return rc == 0 ? 0 : -1;
}

static const char *make_dir(char *dir, size_t size, const char *name)
{
    if (dir[0] == '\0') {
        snprintf(dir, size, "%s/%s-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", name);
        if (mkdtemp(dir) == NULL) {
            perror("mkdtemp");
            abort();
        }
        char args[400];
        snprintf(args, sizeof args, "init '%s/ca'", dir);
        if (pki_run(dir, args) != 0)
            abort();
    }
    return dir;
}

/* At exit: nng reaps closed sockets and TLS sessions on its own threads; let it finish
 * (nng_fini) so what it frees is not mistaken for a leak. */
static void nng_finish(void)
{
    nng_fini();
}

const char *th_pki_dir(void)
{
    pthread_mutex_lock(&pki_mu);
    if (pki_dir[0] == '\0') {
        atexit(pki_remove);
        atexit(nng_finish);
    }
    make_dir(pki_dir, sizeof pki_dir, "gongji-pki");
    pthread_mutex_unlock(&pki_mu);
    return pki_dir;
}

static void pem_path(const char *dir, int role, const char *id, char out[300])
{
    char base[GJ_CALLER_ID_MAX + 1];
    snprintf(base, sizeof base, "%s", id);
    for (char *p = base; *p; p++)
        if (*p == ':')
            *p = '-';
    snprintf(out, 300, "%s/ca/%s-%s.pem", dir, gj_role_ou(role), base);
}

void th_cred_paths(int role, const char *id, char pem[300])
{
    pem_path(th_pki_dir(), role, id, pem);
}

/* Issue role/id in dir's CA if it has no certificate yet. */
static int issue(const char *dir, int role, const char *id)
{
    char pem[300];
    pem_path(dir, role, id, pem);
    if (access(pem, R_OK) == 0)
        return 0;
    char args[500];
    snprintf(args, sizeof args, "issue '%s/ca' %s '%s'", dir, gj_role_ou(role), id);
    return pki_run(dir, args);
}

#define CREDS_MAX 64
static struct {
    int role;
    char id[GJ_CALLER_ID_MAX + 1];
    bool foreign;
    gj_cred *cred;
} creds[CREDS_MAX];
static size_t cred_count;

static const gj_cred *cred_load(int role, const char *id, bool foreign)
{
    const char *dir = th_pki_dir();
    pthread_mutex_lock(&pki_mu);
    gj_cred *found = NULL;
    for (size_t i = 0; i < cred_count && found == NULL; i++)
        if (creds[i].role == role && creds[i].foreign == foreign && strcmp(creds[i].id, id) == 0)
            found = creds[i].cred;
    if (found == NULL && cred_count < CREDS_MAX) {
        char pem[300], ca[300], crl[300], err[512];
        snprintf(crl, sizeof crl, "%s/ca/crl.pem", dir);
        if (foreign) {
            /* Its own CA, and ours too so it can check the nodes it calls. */
            make_dir(foreign_dir, sizeof foreign_dir, "gongji-foreign-pki");
            snprintf(ca, sizeof ca, "%s/both-cas.crt", foreign_dir);
            char cmd[900];
            snprintf(cmd, sizeof cmd, "cat '%s/ca/ca.crt' '%s/ca/ca.crt' > '%s'", foreign_dir, dir, ca);
            if (system(cmd) != 0 || issue(foreign_dir, role, id) != 0) {
                pthread_mutex_unlock(&pki_mu);
                return NULL;
            }
            pem_path(foreign_dir, role, id, pem);
            snprintf(crl, sizeof crl, "%s/ca/crl.pem", foreign_dir);
        } else {
            snprintf(ca, sizeof ca, "%s/ca/ca.crt", dir);
            if (issue(dir, role, id) != 0) {
                pthread_mutex_unlock(&pki_mu);
                return NULL;
            }
            pem_path(dir, role, id, pem);
        }
        gj_cred_files files = {ca, pem, NULL, foreign ? NULL : crl};
        if (gj_cred_open(&found, &files, err, sizeof err) != GJ_OK) {
            fprintf(stderr, "credential %s %s: %s\n", gj_role_ou(role), id, err);
            found = NULL;
        } else {
            creds[cred_count].role = role;
            snprintf(creds[cred_count].id, sizeof creds[cred_count].id, "%s", id);
            creds[cred_count].foreign = foreign;
            creds[cred_count].cred = found;
            cred_count++;
        }
    }
    pthread_mutex_unlock(&pki_mu);
    return found;
}

const gj_cred *th_cred(int role, const char *id)
{
    return cred_load(role, id, false);
}

const gj_cred *th_foreign_cred(int role, const char *id)
{
    return cred_load(role, id, true);
}

int th_revoke(int role, const char *id)
{
    char args[500];
    snprintf(args, sizeof args, "revoke '%s/ca' %s '%s'", th_pki_dir(), gj_role_ou(role), id);
    pthread_mutex_lock(&pki_mu);
    int rc = pki_run(pki_dir, args);
    /* A later th_cred of the same identity must not hand out the revoked one. */
    for (size_t i = 0; i < cred_count; i++)
        if (creds[i].role == role && !creds[i].foreign && strcmp(creds[i].id, id) == 0)
            creds[i].role = -1;
    pthread_mutex_unlock(&pki_mu);
    return rc;
}
