/* ahead.c - the next chunk packed in memory while a PATCH is sent (ahead.h). */
#include "uplink/ahead.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capscreen/crc32c.h"
#include "capscreen/framestream.h"
#include "uplink/fileio.h"
#include "uplink/sha256.h"

cs_status csu_ahead_init(csu_ahead *a, size_t cap, size_t max_frame, cs_error *err)
{
    memset(a, 0, sizeof *a);
    a->data = malloc(cap);
    a->scratch = malloc(max_frame);
    a->entries = calloc(CSU_CHUNK_FRAMES_MAX, sizeof *a->entries);
    if (!a->data || !a->scratch || !a->entries) {
        csu_ahead_free(a);
        return cs_error_set(err, CS_ERR_NOMEM, "read-ahead: cannot allocate %zu bytes",
                            cap + max_frame);
    }
    a->cap = cap;
    a->scratch_cap = max_frame;
    return CS_OK;
}

void csu_ahead_free(csu_ahead *a)
{
    if (!a)
        return;
    csu_ahead_finish(a, true);
    free(a->data);
    free(a->scratch);
    free(a->entries);
    a->data = a->scratch = NULL;
    a->entries = NULL;
    a->cap = a->scratch_cap = 0;
}

void csu_ahead_drop(csu_ahead *a)
{
    a->n = 0;
    a->len = 0;
    a->hashed = false;
    a->saved = false;
    a->crc = 0;
}

/* The whole of spool file `f` into the scratch buffer, exactly its listed
 * size: false for anything else (the normal packing will look at it). */
static bool read_whole(csu_ahead *a, const csu_spool_file *f)
{
    char path[4096];
    size_t got = 0;
    if (f->size > a->scratch_cap || !csu_path(path, sizeof path, a->spool_dir, f->name))
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    for (;;) {
        size_t want = got < f->size ? (size_t)f->size - got : 1; /* 1: is it longer? */
        if (got + want > a->scratch_cap)
            break;
        ssize_t n = read(fd, a->scratch + got, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        if (got > f->size)
            break;
    }
    close(fd);
    return got == f->size && got >= 2 && a->scratch[0] == 0xFF && a->scratch[1] == 0xD8;
}

static void *work(void *arg)
{
    csu_ahead *a = arg;
    for (size_t i = 0; i < a->nfiles && a->n < a->max_frames; i++) {
        const csu_spool_file *f = &a->files[i];
        uint64_t rec = CS_FS_RECORD_OVERHEAD + f->size;
        size_t written = 0;
        cs_error e = {0};
        if (atomic_load(&a->cancel) || (a->n > 0 && a->len + rec > a->budget) ||
            a->len + rec > a->cap || !read_whole(a, f))
            break;
        csu_entry *en = &a->entries[a->n];
        memset(en, 0, sizeof *en);
        en->index = a->first_index + a->n;
        en->time_us = f->mtime_us;
        en->size = (uint32_t)f->size;
        memcpy(en->name, f->name, sizeof en->name);
        if (cs_fs_encode_record(a->data + a->len, a->cap - a->len, en->index, en->time_us, 0,
                                a->scratch, en->size, &written, &e) != CS_OK)
            break;
        a->len += written;
        a->n++;
    }
    if (a->n == 0 || atomic_load(&a->cancel))
        return NULL;
    a->crc = cs_crc32c(0, a->data, a->len);
    if (a->hash) {
        csu_sha256(a->data, a->len, a->sha256);
        a->hashed = true;
    }
    char path[4096];
    cs_error e = {0};
    a->saved = csu_path(path, sizeof path, a->state_dir, CSU_AHEAD_FILE) &&
               csu_file_replace(path, a->data, a->len, 0600, false, &e) == CS_OK;
    return NULL;
}

bool csu_ahead_start(csu_ahead *a, const char *spool_dir, const char *state_dir,
                     const csu_spool_file *files, size_t nfiles, uint64_t first_index,
                     uint64_t budget, size_t max_frames, bool hash)
{
    csu_ahead_finish(a, true);
    csu_ahead_drop(a);
    if (!a->data || nfiles == 0 || max_frames == 0)
        return false;
    a->spool_dir = spool_dir;
    a->state_dir = state_dir;
    a->files = files;
    a->nfiles = nfiles;
    a->first_index = first_index;
    a->budget = budget;
    a->max_frames = max_frames < CSU_CHUNK_FRAMES_MAX ? max_frames : CSU_CHUNK_FRAMES_MAX;
    a->hash = hash;
    atomic_store(&a->cancel, 0);
    /* Signals stay with the uplink's thread (its handlers, its sleeps). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    a->running = pthread_create(&a->thread, NULL, work, a) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return a->running;
}

void csu_ahead_finish(csu_ahead *a, bool cancel)
{
    if (!a->running)
        return;
    if (cancel)
        atomic_store(&a->cancel, 1);
    pthread_join(a->thread, NULL);
    a->running = false;
    a->files = NULL;
    if (cancel)
        csu_ahead_drop(a);
}
