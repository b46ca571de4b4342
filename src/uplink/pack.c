/* pack.c - packing frames from the spool or the source stream into the
 * outbox, rebuilding it, and the spool's full signal. */
#include "uplink/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capscreen/framestream.h"
#include "uplink/fileio.h"
#include "uplink/stream.h"

static bool finishing(const csu_uplink *u) { return u->cfg.finish || u->end_seen; }

/* Read spool frame `name` into the scratch buffer. */
static cs_status read_frame(csu_uplink *u, const char *name, size_t *len, cs_error *err)
{
    char path[CSU_PATH_MAX];
    size_t got = 0;
    cs_status st = CS_OK;
    if (!csu_path(path, sizeof path, u->spool_dir, name))
        return cs_error_set(err, CS_ERR_ARG, "path too long: %s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cs_error_set(err, CS_ERR_IO, "cannot read frame %s: %s", path, strerror(errno));
    for (;;) {
        if (got == u->scratch_cap) {
            char c;
            if (read(fd, &c, 1) > 0)
                st = cs_error_set(err, CS_ERR_TOO_LARGE,
                                  "frame %s is over the "
                                  "cap of %zu bytes",
                                  name, u->scratch_cap);
            break;
        }
        ssize_t n = read(fd, u->scratch + got, u->scratch_cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            st = cs_error_set(err, CS_ERR_IO, "cannot read frame %s: %s", path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return st;
}

/* A frame that can never be sent is renamed NAME.rejected, never deleted. */
static void set_aside(csu_uplink *u, const char *name, const char *why)
{
    char from[CSU_PATH_MAX], to[CSU_PATH_MAX + 16];
    if (csu_path(from, sizeof from, u->spool_dir, name) &&
        snprintf(to, sizeof to, "%s.rejected", from) < (int)sizeof to && rename(from, to) == 0)
        csu__set_error(u, "frame %s set aside as %s.rejected: %s", name, name, why);
    else
        csu__set_error(u, "frame %s cannot be sent (%s) nor set aside: %s", name, why,
                       strerror(errno));
}

cs_status csu__update_full(csu_uplink *u, cs_error *err)
{
    const csu_config *c = &u->cfg;
    bool full = (c->spool_max_frames && u->list.n >= c->spool_max_frames) ||
                (c->spool_max_bytes && u->list.bytes >= c->spool_max_bytes);
    u->full = full;
    if (u->full_marker != (int)full) {
        cs_status st = csu_spool_mark_full(u->spool_dir, full, err);
        if (st != CS_OK)
            return st;
        u->full_marker = full;
    }
    return CS_OK;
}

static bool due(csu_uplink *u, uint64_t n, uint64_t bytes)
{
    int64_t now = csu_mono_ms();
    if (n == 0) {
        u->pending_since_ms = 0;
        return false;
    }
    if (u->pending_since_ms == 0)
        u->pending_since_ms = now;
    return finishing(u) || u->full || n >= u->cfg.chunk_frames ||
           bytes + n * CS_FS_RECORD_OVERHEAD >= csu_sizer_bytes(&u->sizer) ||
           now - u->pending_since_ms >= (int64_t)u->cfg.chunk_ms;
}

/* Seal, save the outbox bytes, then the progress that points at them. */
static cs_status commit(csu_uplink *u, cs_error *err)
{
    cs_status st;
    csu_outbox_seal(&u->ob, u->saved);
    if ((st = csu_outbox_save(&u->ob, u->state_dir, err)) != CS_OK)
        return st;
    u->pending_since_ms = 0;
    return csu_saved_store(u->saved, u->state_dir, err);
}

static bool room(const csu_uplink *u, uint64_t payload)
{
    return u->saved->n == 0 ||
           u->ob.len + CS_FS_RECORD_OVERHEAD + payload <= csu_sizer_bytes(&u->sizer);
}

cs_status csu__scan(csu_uplink *u, cs_error *err)
{
    cs_status st = csu_spool_scan(u->spool_dir, &u->list, err);
    if (st != CS_OK)
        return st;
    u->end_seen = u->list.end_marker;
    u->last_scan_ms = csu_mono_ms();
    if (u->list.ignored)
        csu__set_error(u, "%zu frame names in the spool are too long to handle", u->list.ignored);
    return csu__update_full(u, err);
}

/* Take the read-ahead's records (ahead.h) for the first frames of the new
 * listing, as long as each is still the same frame (name, size, time),
 * gets the same index and fits this chunk: exactly the bytes that packing
 * them here would make. All of them: the buffers are swapped, nothing is
 * copied. Returns how many were taken; *whole when that is all of them.
 * The read-ahead's records are used up either way (its CRC, hash and file
 * stay for the caller). */
static size_t take_ahead(csu_uplink *u, bool *whole, cs_error *err, cs_status *st)
{
    csu_saved *s = u->saved;
    csu_ahead *a = &u->ahead;
    size_t k = 0, off = 0;
    *st = CS_OK;
    *whole = false;
    if (a->n == 0 || s->seg_header || u->ob.len != 0)
        goto out;
    for (; k < a->n && k < u->list.n && s->n + k < u->cfg.chunk_frames; k++) {
        const csu_entry *e = &a->entries[k];
        const csu_spool_file *f = &u->list.files[k];
        if (e->index != s->next_index + k || strcmp(e->name, f->name) != 0 || e->size != f->size ||
            e->time_us != f->mtime_us ||
            (k > 0 && off + CS_FS_RECORD_OVERHEAD + e->size > csu_sizer_bytes(&u->sizer)))
            break;
        off += CS_FS_RECORD_OVERHEAD + (size_t)e->size;
    }
    if (k == a->n && a->cap == u->ob.cap) { /* all of it: swap the buffers */
        uint8_t *t = u->ob.data;
        u->ob.data = a->data;
        a->data = t;
        u->ob.len = a->len;
        memcpy(s->entries + s->n, a->entries, k * sizeof *a->entries);
        s->n += k;
        s->next_index += k;
        *whole = true;
        goto out;
    }
    off = 0;
    for (size_t i = 0; i < k; i++) {
        const csu_entry *e = &a->entries[i];
        size_t rec = CS_FS_RECORD_OVERHEAD + (size_t)e->size;
        if ((*st = csu_outbox_add_encoded(&u->ob, s, e, a->data + off, rec, err)) != CS_OK)
            return i;
        off += rec;
        s->next_index++;
    }
out:
    a->n = 0;
    a->len = 0;
    return k;
}

/* The chunk is exactly the read-ahead: its CRC, hash and outbox file hold
 * (ahead.h); only the progress is left to store. */
static cs_status commit_ahead(csu_uplink *u, cs_error *err)
{
    csu_ahead *a = &u->ahead;
    csu_saved *s = u->saved;
    char from[CSU_PATH_MAX], to[CSU_PATH_MAX];
    cs_status st;
    s->seg_len = u->ob.len;
    s->seg_crc = a->crc;
    if (!a->saved || !csu_path(from, sizeof from, u->state_dir, CSU_AHEAD_FILE) ||
        !csu_path(to, sizeof to, u->state_dir, CSU_OUTBOX_FILE) || rename(from, to) != 0) {
        if ((st = csu_outbox_save(&u->ob, u->state_dir, err)) != CS_OK)
            return st;
    }
    u->pending_since_ms = 0;
    if ((st = csu_saved_store(s, u->state_dir, err)) != CS_OK)
        return st;
    if (a->hashed) {
        memcpy(u->ob.sha256, a->sha256, sizeof a->sha256);
        u->ob.has_sha256 = true;
    }
    return CS_OK;
}

/* The outbox is empty here, so every listed frame is unpacked. */
static cs_status pack_spool(csu_uplink *u, bool *packed, cs_error *err)
{
    csu_saved *s = u->saved;
    cs_status st;
    u->pending_frames = u->list.n;
    u->pending_bytes = u->list.bytes;
    if (!due(u, u->list.n, u->list.bytes))
        return CS_OK;
    csu_outbox_begin(&u->ob, s, s->upload_url[0] ? s->offset : 0, s->bytes_sent == 0);
    bool whole = false;
    size_t i = take_ahead(u, &whole, err, &st);
    if (st != CS_OK)
        return st;
    size_t taken = i;
    for (; i < u->list.n && s->n < u->cfg.chunk_frames; i++) {
        const csu_spool_file *f = &u->list.files[i];
        csu_entry e = {0};
        size_t len = 0;
        cs_error why = {0};
        if (f->size > u->scratch_cap) {
            set_aside(u, f->name, "over the frame size cap");
            continue;
        }
        if (!room(u, f->size))
            break;
        st = read_frame(u, f->name, &len, &why);
        if (st == CS_ERR_TOO_LARGE ||
            (st == CS_OK && (len < 2 || u->scratch[0] != 0xFF || u->scratch[1] != 0xD8))) {
            set_aside(u, f->name, st == CS_OK ? "not a JPEG file" : why.msg);
            continue;
        }
        if (st != CS_OK) {
            csu__set_error(u, "%s", why.msg); /* vanished: skip it */
            continue;
        }
        e.index = s->next_index;
        e.time_us = f->mtime_us;
        e.size = (uint32_t)len;
        snprintf(e.name, sizeof e.name, "%s", f->name);
        if ((st = csu_outbox_add(&u->ob, s, &e, u->scratch, err)) != CS_OK)
            return st;
        s->next_index++;
    }
    if (s->n == 0) {
        csu_outbox_clear(&u->ob, s);
        return CS_OK;
    }
    *packed = true;
    /* The study's end was known when the spool was listed and every listed
     * frame is in this chunk: its PATCH can close the upload too. */
    u->last_chunk = finishing(u) && i == u->list.n;
    st = whole && s->n == taken ? commit_ahead(u, err) : commit(u, err);
    csu_ahead_drop(&u->ahead);
    return st;
}

static cs_status pack_stream(csu_uplink *u, bool *packed, cs_error *err)
{
    csu_saved *s = u->saved;
    char end_path[CSU_PATH_MAX + 8];
    uint64_t pos = s->source_pos, n = 0, bytes = 0;
    cs_status st;
    snprintf(end_path, sizeof end_path, "%s.end", u->stream_path);
    u->end_seen = access(end_path, F_OK) == 0;
    if (u->stream_fd < 0) {
        u->stream_fd = open(u->stream_path, O_RDONLY | O_CLOEXEC);
        if (u->stream_fd < 0) {
            if (errno != ENOENT)
                return cs_error_set(err, CS_ERR_IO, "cannot read %s: %s", u->stream_path,
                                    strerror(errno));
            return CS_OK; /* the recorder has not started it yet */
        }
    }
    u->last_chunk = false; /* stream mode closes with an empty PATCH */
    csu_outbox_begin(&u->ob, s, s->upload_url[0] ? s->offset : 0, s->bytes_sent == 0);
    while (s->n < u->cfg.chunk_frames) {
        csu_entry e;
        csu_stream_result res;
        cs_error why = {0};
        uint64_t before = pos;
        if ((st = csu_stream_next(u->stream_fd, &pos, u->scratch, u->scratch_cap, &e, &res,
                                  &why)) != CS_OK)
            return cs_error_set(err, st, "%s", why.msg);
        if (res == CSU_STREAM_SKIPPED) {
            csu__set_error(u, "%s", why.msg);
            continue;
        }
        if (res == CSU_STREAM_WAIT) {
            if (pos != before)
                continue; /* moved past the file header */
            break;
        }
        if (!room(u, e.size)) {
            pos = before;
            break;
        }
        if ((st = csu_outbox_add(&u->ob, s, &e, u->scratch, err)) != CS_OK)
            return st;
        n++;
        bytes += e.size;
    }
    u->pending_frames = n;
    u->pending_bytes = bytes;
    if (!due(u, n, bytes) && !(s->n == 0 && pos != s->source_pos)) {
        csu_outbox_clear(&u->ob, s);
        return CS_OK;
    }
    s->source_pos = pos;
    if (s->n == 0) { /* only skipped bytes: remember how far we got */
        csu_outbox_clear(&u->ob, s);
        return csu_saved_store(s, u->state_dir, err);
    }
    *packed = true;
    return commit(u, err);
}

cs_status csu__pack(csu_uplink *u, bool *packed, cs_error *err)
{
    csu_saved *s = u->saved;
    cs_status st;
    *packed = false;
    u->looked = true;
    st = u->spool_dir[0] ? pack_spool(u, packed, err) : pack_stream(u, packed, err);
    if (st != CS_OK || *packed)
        return st;
    if (finishing(u) && u->pending_frames == 0 && !s->upload_url[0] && s->bytes_sent == 0) {
        /* A study with no frame at all is still a valid stream. */
        csu_outbox_begin(&u->ob, s, 0, true);
        *packed = true;
        return commit(u, err);
    }
    return CS_OK;
}

cs_status csu__rebuild(csu_uplink *u, uint64_t start, bool header, uint64_t keep_from,
                       bool drop_sent, cs_error *err)
{
    csu_saved *s = u->saved;
    uint64_t ends[CSU_CHUNK_FRAMES_MAX];
    size_t n_old = s->n;
    cs_status st;
    for (size_t i = 0; i < n_old; i++)
        ends[i] = csu_outbox_entry_end(s, i);
    csu_outbox_begin(&u->ob, s, start, header); /* s->n = 0; entries stay */
    for (size_t i = 0; i < n_old; i++) {
        csu_entry e = s->entries[i];
        bool sent = ends[i] <= keep_from;
        size_t len = 0;
        cs_error why = {0};
        if (sent && drop_sent)
            continue; /* on the old upload already */
        if (u->spool_dir[0])
            st = read_frame(u, e.name, &len, &why);
        else if (u->stream_fd < 0)
            st = cs_error_set(&why, CS_ERR_IO, "source stream not open");
        else
            st = csu_stream_read(u->stream_fd, e.src_off, u->scratch, e.size, &why);
        if (st == CS_OK && u->spool_dir[0] && len != e.size)
            st = cs_error_set(&why, CS_ERR_CORRUPT,
                              "frame %s changed size "
                              "after it was packed",
                              e.name);
        if (st != CS_OK && !sent)
            return cs_error_set(err, st,
                                "cannot rebuild the outbox: %s "
                                "(an unsent frame was removed or changed)",
                                why.msg);
        if (st != CS_OK)
            memset(u->scratch, 0, e.size); /* confirmed bytes, never re-sent */
        if ((st = csu_outbox_add(&u->ob, s, &e, u->scratch, err)) != CS_OK)
            return st;
    }
    if ((st = commit(u, err)) == CS_OK)
        u->ob_stale = false;
    return st;
}
