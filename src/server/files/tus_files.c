/* tus_files.c - upload files, per-upload locks, crash reconciliation and
 * the expiry sweep (tus_files.h). */
#include "server/files/tus_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct cs_upload_lock {
    char id[CS_ID_MAX];
    uint64_t ticket; /* the holder's */
    bool busy;       /* the holder is working, not waiting for its client */
    int64_t last_ms; /* monotonic time of the holder's last activity */
    uint64_t keep;   /* offset a takeover persists */
    int64_t beat_ms; /* monotonic time of the lease's last beat (shared store) */
    struct cs_upload_lock *next;
} cs_upload_lock;

struct cs_upload_files {
    char dir[CS_CFG_PATH + 16]; /* DATA/uploads */
    pthread_mutex_t locks_mu;   /* guards locks, lock_tickets */
    cs_upload_lock *locks;      /* uploads with a body in flight */
    uint64_t lock_tickets;      /* the last ticket handed out */
    cs_store *shared;           /* leases live here too; NULL: one server */
    int64_t takeover_ms;        /* a lease silent this long may be taken over */
};

cs_status cs_upload_files_open(const char *data_dir, cs_upload_files **out, cs_error *err)
{
    cs_upload_files *f = calloc(1, sizeof *f);
    if (!f)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    snprintf(f->dir, sizeof f->dir, "%s/uploads", data_dir);
    if (mkdir(f->dir, 0750) != 0 && errno != EEXIST) {
        cs_status st =
            cs_error_set(err, CS_ERR_IO, "cannot create %s: %s", f->dir, strerror(errno));
        free(f);
        return st;
    }
    pthread_mutex_init(&f->locks_mu, NULL);
    *out = f;
    return CS_OK;
}

void cs_upload_files_share(cs_upload_files *f, cs_store *store, int64_t takeover_ms)
{
    f->shared = cs_store_shared(store) ? store : NULL;
    f->takeover_ms = takeover_ms;
}

void cs_upload_files_close(cs_upload_files *f)
{
    if (!f)
        return;
    while (f->locks) {
        cs_upload_lock *n = f->locks->next;
        free(f->locks);
        f->locks = n;
    }
    pthread_mutex_destroy(&f->locks_mu);
    free(f);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The entry of `id`, or NULL; under locks_mu. */
static cs_upload_lock *find_lock(cs_upload_files *s, const char *id)
{
    cs_upload_lock *l = s->locks;
    while (l && strcmp(l->id, id) != 0)
        l = l->next;
    return l;
}

void cs_tus_path(const cs_upload_files *s, const char *id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s.bin", s->dir, id);
}

static void fsync_dir(const char *dir)
{
    int d = open(dir, O_RDONLY | O_DIRECTORY);
    if (d >= 0) {
        (void)fsync(d);
        close(d);
    }
}

cs_status cs_tus_file_create(const cs_upload_files *s, const char *id, cs_error *err)
{
    char path[CS_CFG_PATH + 96];
    cs_tus_path(s, id, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0)
        return cs_error_set(err, CS_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    int rc = fsync(fd);
    close(fd);
    if (rc != 0)
        return cs_error_set(err, CS_ERR_IO, "cannot fsync %s: %s", path, strerror(errno));
    fsync_dir(s->dir);
    return CS_OK;
}

cs_status cs_tus_file_open_at(const cs_upload_files *s, const char *id, uint64_t offset, int *fd,
                              cs_error *err)
{
    char path[CS_CFG_PATH + 96];
    struct stat st;
    cs_tus_path(s, id, path, sizeof path);
    *fd = open(path, O_WRONLY | O_CLOEXEC);
    if (*fd < 0)
        return cs_error_set(err, CS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    cs_status r = CS_OK;
    if (fstat(*fd, &st) != 0) {
        r = cs_error_set(err, CS_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
        goto fail;
    }
    if ((uint64_t)st.st_size < offset) {
        r = cs_error_set(err, CS_ERR_CORRUPT, "%s holds %lld bytes, fewer than the %llu recorded",
                         path, (long long)st.st_size, (unsigned long long)offset);
        goto fail;
    }
    if ((uint64_t)st.st_size > offset && ftruncate(*fd, (off_t)offset) != 0) {
        r = cs_error_set(err, CS_ERR_IO, "cannot cut %s back to %llu: %s", path,
                         (unsigned long long)offset, strerror(errno));
        goto fail;
    }
    if (lseek(*fd, (off_t)offset, SEEK_SET) < 0) {
        r = cs_error_set(err, CS_ERR_IO, "cannot seek %s: %s", path, strerror(errno));
        goto fail;
    }
    return CS_OK;
fail:
    close(*fd);
    *fd = -1;
    return r;
}

cs_status cs_tus_file_write(int fd, const void *data, size_t len, cs_error *err)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return cs_error_set(err, CS_ERR_IO, "write failed: %s",
                                n < 0 ? strerror(errno) : "no progress");
        p += n;
        len -= (size_t)n;
    }
    return CS_OK;
}

/* Remove the entry of `id` if `ticket` holds it: true when it did. */
static bool unlink_lock(cs_upload_files *s, const char *id, uint64_t ticket)
{
    bool removed = false;
    pthread_mutex_lock(&s->locks_mu);
    for (cs_upload_lock **pp = &s->locks; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->id, id) == 0) {
            cs_upload_lock *dead = *pp;
            if (dead->ticket == ticket) {
                *pp = dead->next;
                free(dead);
                removed = true;
            }
            break;
        }
    }
    pthread_mutex_unlock(&s->locks_mu);
    return removed;
}

/* Shared store: take the upload's lease for the entry `ticket` now holds
 * in memory; without it the entry goes (this process holds nothing). */
static bool take_lease(cs_upload_files *s, const char *id, uint64_t ticket)
{
    bool took = false;
    cs_error e = {0};
    int64_t before = mono_ms();
    if (cs_store_upload_lease_take(s->shared, id, s->takeover_ms, &took, &e) != CS_OK || !took) {
        unlink_lock(s, id, ticket);
        return false;
    }
    pthread_mutex_lock(&s->locks_mu);
    cs_upload_lock *l = find_lock(s, id);
    if (l && l->ticket == ticket)
        l->beat_ms = before;
    pthread_mutex_unlock(&s->locks_mu);
    return true;
}

uint64_t cs_tus_lock_try(cs_upload_files *s, const char *id)
{
    uint64_t got = 0;
    pthread_mutex_lock(&s->locks_mu);
    if (!find_lock(s, id)) {
        cs_upload_lock *l = calloc(1, sizeof *l);
        if (l) {
            snprintf(l->id, sizeof l->id, "%s", id);
            l->ticket = got = ++s->lock_tickets;
            l->busy = true;
            l->last_ms = mono_ms();
            l->next = s->locks;
            s->locks = l;
        }
    }
    pthread_mutex_unlock(&s->locks_mu);
    if (got && s->shared && !take_lease(s, id, got))
        got = 0;
    return got;
}

bool cs_tus_lock_enter(cs_upload_files *s, const char *id, uint64_t ticket)
{
    bool beat = false;
    int64_t now = mono_ms();
    pthread_mutex_lock(&s->locks_mu);
    cs_upload_lock *l = find_lock(s, id);
    bool mine = l && l->ticket == ticket;
    if (mine) {
        l->busy = true;
        /* A third of the takeover time: the lease never looks silent while
         * this holder works, and the beat that finds it lost comes before
         * a write. */
        if (s->shared && now - l->beat_ms >= s->takeover_ms / 3) {
            beat = true;
            l->beat_ms = now;
        }
    }
    pthread_mutex_unlock(&s->locks_mu);
    if (beat) {
        bool held = false;
        cs_error e = {0};
        if (cs_store_upload_lease_beat(s->shared, id, &held, &e) != CS_OK || !held) {
            unlink_lock(s, id, ticket); /* another server holds it now */
            mine = false;
        }
    }
    return mine;
}

void cs_tus_lock_idle(cs_upload_files *s, const char *id, uint64_t ticket, uint64_t keep)
{
    pthread_mutex_lock(&s->locks_mu);
    cs_upload_lock *l = find_lock(s, id);
    if (l && l->ticket == ticket) {
        l->busy = false;
        l->last_ms = mono_ms();
        l->keep = keep;
    }
    pthread_mutex_unlock(&s->locks_mu);
}

bool cs_tus_lock_takeover(cs_upload_files *s, const char *id, int64_t idle_ms, uint64_t *ticket,
                          uint64_t *keep)
{
    bool took = false;
    pthread_mutex_lock(&s->locks_mu);
    cs_upload_lock *l = find_lock(s, id);
    int64_t now = mono_ms();
    if (l && !l->busy && now - l->last_ms >= idle_ms) {
        l->ticket = *ticket = ++s->lock_tickets;
        l->busy = true;
        l->last_ms = now;
        *keep = l->keep;
        took = true;
    }
    pthread_mutex_unlock(&s->locks_mu);
    /* The old holder is superseded either way; without the lease (another
     * server has it) this process holds nothing. The silent holder's
     * bytes (written by this process, not yet stored) are kept only while
     * its lease is still this server's: then no other server can have
     * written the file since. Otherwise only the stored offset holds. */
    if (took && s->shared) {
        bool still_ours = false;
        cs_error e = {0};
        if (cs_store_upload_lease_beat(s->shared, id, &still_ours, &e) != CS_OK || !still_ours)
            *keep = 0;
        took = take_lease(s, id, *ticket);
    }
    return took;
}

bool cs_tus_lock_held(cs_upload_files *s, const char *id)
{
    pthread_mutex_lock(&s->locks_mu);
    cs_upload_lock *l = find_lock(s, id);
    pthread_mutex_unlock(&s->locks_mu);
    bool held = l != NULL;
    cs_error e = {0};
    if (!held && s->shared && cs_store_upload_lease_held(s->shared, id, &held, &e) != CS_OK)
        held = true; /* unknown: do not expire an upload someone may be writing */
    return held;
}

void cs_tus_lock_release(cs_upload_files *s, const char *id, uint64_t ticket)
{
    if (unlink_lock(s, id, ticket) && s->shared) {
        cs_error e = {0};
        cs_status st = cs_store_upload_lease_drop(s->shared, id, &e);
        (void)st; /* a lease not dropped goes stale: taken over after takeover_ms */
    }
}

void cs_http_date(int64_t t, char *out, size_t cap)
{
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    strftime(out, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* Make the bytes of the file at `path` durable: true when fsync says so. */
static bool fsync_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = fsync(fd) == 0;
    close(fd);
    return ok;
}

cs_status cs_tus_reconcile(cs_upload_files *s, cs_store *store, cs_error *err)
{
    cs_upload_rec *ups = NULL;
    size_t n = 0;
    cs_status r = cs_store_upload_list(store, NULL, true, &ups, &n, err);
    for (size_t i = 0; r == CS_OK && i < n; i++) {
        cs_upload_rec *u = &ups[i];
        char path[CS_CFG_PATH + 96];
        struct stat st;
        cs_tus_path(s, u->id, path, sizeof path);
        if (stat(path, &st) != 0)
            continue; /* left as recorded; a PATCH will report the missing file */
        uint64_t keep = (uint64_t)st.st_size;
        if (u->checksum_base >= 0 && (uint64_t)u->checksum_base < keep)
            keep = (uint64_t)u->checksum_base; /* an unverified chunk: not acknowledged */
        if (u->length >= 0 && keep > (uint64_t)u->length)
            keep = (uint64_t)u->length;
        if (keep < u->offset)
            keep = u->offset < (uint64_t)st.st_size ? u->offset : (uint64_t)st.st_size;
        /* Bytes past the recorded offset were written but never fsynced
         * (the crash came first): they are recorded, and so acknowledged
         * to the next HEAD, only once they are durable; else cut off, and
         * the client sends them again. */
        if (keep > u->offset && !fsync_file(path))
            keep = u->offset;
        if (keep != (uint64_t)st.st_size && truncate(path, (off_t)keep) != 0) {
            r = cs_error_set(err, CS_ERR_IO, "cannot cut %s to %llu bytes: %s", path,
                             (unsigned long long)keep, strerror(errno));
            break;
        }
        if (keep == u->offset && u->checksum_base < 0)
            continue;
        u->offset = keep;
        u->checksum_base = -1;
        if (u->length >= 0 && u->offset == (uint64_t)u->length)
            u->state = CS_UPLOAD_COMPLETE;
        r = cs_store_upload_update(store, u, err);
    }
    free(ups);
    return r;
}
