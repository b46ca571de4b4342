/* step.c - the upload state machine: each call does one bounded piece of
 * work (a spool scan, packing a chunk, or one tus request) and says how long
 * to wait before the next. The server's offset is the truth: after any
 * failed request the next one is a HEAD, and bytes are re-sent from there. */
#include "uplink/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "uplink/fileio.h"

void csu__set_error(csu_uplink *u, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(u->info.last_error, sizeof u->info.last_error, fmt, ap);
    va_end(ap);
}

/* A request failed: back off (with jitter), then resynchronise by HEAD.
 * `refused`: the server answered with a status that retrying may not fix. */
static uint32_t retry_later(csu_uplink *u, bool refused, const csu_reply *r, const char *what)
{
    uint32_t delay = csu_backoff_fail(&u->backoff);
    if (r->code == 0)
        csu__set_error(u, "%s", r->error);
    else
        csu__set_error(u, "%s: HTTP %ld%s%.120s", what, r->code, r->body_len ? ": " : "", r->body);
    u->refused = refused;
    u->synced = false;
    u->retry_at_ms = csu_mono_ms() + delay;
    return delay;
}

static void succeeded(csu_uplink *u)
{
    csu_backoff_reset(&u->backoff);
    u->refused = false;
    u->retry_at_ms = 0;
    u->info.last_success_us = csu_wall_us();
}

/* Case-insensitive: does `list` (a header value) mention `word`? */
static bool mentions(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (; *list; list++)
        if (strncasecmp(list, word, n) == 0)
            return true;
    return false;
}

/* Statuses that mean "try again later" rather than "you are wrong". */
static bool transient(long code)
{
    return code == 0 || code >= 500 || code == 429 || code == 423 || code == 409 || code == 460;
}

/* The server holds our bytes up to `o`: release the frames whose records
 * end there or before, and close the outbox once all of it is confirmed.
 * The removals are made durable (an fsync of the spool folder) before the
 * new offset is: else a power cut could bring back frames that the stored
 * offset counts as sent, and the next scan would send them again as new
 * frames (ext4's journal happens to order the two; f2fs and btrfs do not). */
cs_status csu__confirm(csu_uplink *u, uint64_t o, cs_error *err)
{
    csu_saved *s = u->saved;
    cs_status st;
    bool released = false;
    if (s->seg_len && u->spool_dir[0])
        for (size_t i = 0; i < s->n; i++)
            if (csu_outbox_entry_end(s, i) <= o) {
                if ((st = csu_spool_release(u->spool_dir, s->entries[i].name, err)) != CS_OK)
                    return st;
                released = true;
            }
    if (released && (st = csu_dir_sync(u->spool_dir, err)) != CS_OK)
        return st;
    s->offset = o;
    if (s->seg_len && o >= s->seg_start + s->seg_len) {
        s->frames_sent += s->n;
        s->bytes_sent += s->seg_len;
        csu_outbox_clear(&u->ob, s);
        u->last_scan_ms = 0; /* rescan: the spool shrank */
    }
    return csu_saved_store(s, u->state_dir, err);
}

/* The upload is gone (404/410), or the server lost bytes it had confirmed
 * (then it is abandoned with a DELETE, so the server can move on): forget
 * it. What the old upload confirmed counts as sent; the rest of the outbox
 * moves to a new upload. The study's stream continues there: the file
 * header is sent again only if no byte of the study was ever confirmed. */
static cs_status new_upload(csu_uplink *u, const char *why, bool abandon, cs_error *err)
{
    csu_saved *s = u->saved;
    uint64_t o = s->offset;
    if (abandon) {
        csu_reply r; /* best effort: the answer changes nothing here */
        csu_tus_delete(&u->tus, s->upload_url, &r);
    }
    csu__set_error(u,
                   "%s; starting a new upload for the frames not yet "
                   "confirmed",
                   why);
    if (s->seg_len) {
        for (size_t i = 0; i < s->n; i++)
            if (csu_outbox_entry_end(s, i) <= o)
                s->frames_sent++;
        if (o > s->seg_start)
            s->bytes_sent += o - s->seg_start;
    }
    s->upload_url[0] = '\0';
    s->offset = 0;
    u->synced = true;
    if (s->seg_len && s->n > 0)
        return csu__rebuild(u, 0, s->bytes_sent == 0, o, true, err);
    if (s->seg_len && s->bytes_sent == 0) { /* a header-only outbox */
        csu_outbox_begin(&u->ob, s, 0, true);
        csu_outbox_seal(&u->ob, s);
        cs_status st = csu_outbox_save(&u->ob, u->state_dir, err);
        if (st != CS_OK)
            return st;
    } else {
        csu_outbox_clear(&u->ob, s);
    }
    return csu_saved_store(s, u->state_dir, err);
}

static cs_status do_head(csu_uplink *u, uint32_t *wait, cs_error *err)
{
    csu_saved *s = u->saved;
    csu_reply r;
    char why[200];
    csu_tus_head(&u->tus, s->upload_url, &r);
    if (r.code == 404 || r.code == 410) {
        snprintf(why, sizeof why,
                 "the server no longer has the upload "
                 "(HTTP %ld)",
                 r.code);
        return new_upload(u, why, false, err);
    }
    if ((r.code != 200 && r.code != 204) || !r.has_offset) {
        *wait = retry_later(u, !transient(r.code), &r, "HEAD");
        return CS_OK;
    }
    uint64_t o = r.offset, sent = s->seg_len ? s->seg_start + s->seg_len : s->offset;
    if (o > sent) {
        /* More than was ever sent (progress is stored before each PATCH):
         * a garbled or lying answer. Believing it would release unsent
         * frames, or take the next true answer for lost bytes and abandon
         * the upload. Ask again later; someone should look if it lasts. */
        *wait = retry_later(u, true, &r, "HEAD");
        csu__set_error(u,
                       "HEAD: the server's Upload-Offset %llu is beyond the %llu bytes "
                       "sent; not believed, asking again",
                       (unsigned long long)o, (unsigned long long)sent);
        return CS_OK;
    }
    succeeded(u);
    u->synced = true;
    if (o < s->offset) { /* the server lost bytes it had confirmed */
        snprintf(why, sizeof why,
                 "the server's offset %llu is behind the %llu "
                 "bytes it had confirmed",
                 (unsigned long long)o, (unsigned long long)s->offset);
        return new_upload(u, why, true, err);
    }
    cs_status st = csu__confirm(u, o, err);
    if (st == CS_OK && r.has_length && r.length == o && !s->seg_len) {
        s->finished = true; /* the closing PATCH went through before a crash */
        st = csu_saved_store(s, u->state_dir, err);
    }
    return st;
}

static void do_options(csu_uplink *u, uint32_t *wait)
{
    csu_reply r;
    csu_tus_options(&u->tus, &r);
    if (r.code == 0 || r.code >= 500 || r.code == 429) {
        *wait = retry_later(u, false, &r, "OPTIONS");
        return;
    }
    u->options_done = true;
    u->tus.checksum = (r.code == 200 || r.code == 204) && mentions(r.tus_extension, "checksum") &&
                      mentions(r.tus_checksum, "sha256");
}

static cs_status do_create(csu_uplink *u, uint32_t *wait, cs_error *err)
{
    csu_saved *s = u->saved;
    csu_reply r;
    csu_tus_create(&u->tus, &r);
    if (r.code != 201 || !r.location[0]) {
        if (r.code == 201)
            r.code = 502, snprintf(r.body, sizeof r.body, "no usable Location");
        *wait = retry_later(u, !transient(r.code), &r, "creating the upload");
        return CS_OK;
    }
    succeeded(u);
    snprintf(s->upload_url, sizeof s->upload_url, "%s", r.location);
    s->offset = 0;
    u->synced = true;
    return csu_saved_store(s, u->state_dir, err);
}

/* While a PATCH sends the rest of the outbox, pack the spool frames listed
 * after it (ahead.h). The last scan lists the outbox's frames first (they
 * stay in the spool until confirmed); the read-ahead starts after the
 * outbox's last frame, sized for the largest PATCH the sizer may allow
 * next. */
static void read_ahead(csu_uplink *u)
{
    const csu_saved *s = u->saved;
    const csu_spool_list *l = &u->list;
    if (!u->ahead.data || s->n == 0)
        return;
    const char *last = s->entries[s->n - 1].name;
    for (size_t i = l->n; i-- > 0;)
        if (strcmp(l->files[i].name, last) == 0) {
            if (i + 1 < l->n)
                csu_ahead_start(&u->ahead, u->spool_dir, u->state_dir, l->files + i + 1,
                                l->n - i - 1, s->next_index, csu_sizer_next_max(&u->sizer),
                                u->cfg.chunk_frames, u->tus.checksum);
            return;
        }
}

static cs_status do_patch(csu_uplink *u, bool final, uint32_t *wait, cs_error *err)
{
    csu_saved *s = u->saved;
    uint64_t end = s->seg_start + s->seg_len;
    const uint8_t *data = final ? NULL : u->ob.data + (s->offset - s->seg_start);
    size_t len = final ? 0 : (size_t)(end - s->offset);
    /* After a failure the sizer may allow less than the chunk holds: send
     * a prefix; the server's answer confirms it and the rest follows. */
    if (len > csu_sizer_bytes(&u->sizer))
        len = (size_t)csu_sizer_bytes(&u->sizer);
    bool closing = final || (u->last_chunk && s->offset + len == end);
    /* the read-ahead's digest, when this PATCH carries the whole outbox */
    const uint8_t *sum =
        !final && u->ob.has_sha256 && s->offset == s->seg_start && len == s->seg_len ? u->ob.sha256
                                                                                     : NULL;
    csu_reply r;
    if (!final && !closing && s->offset + len == end)
        read_ahead(u);
    int64_t t0 = csu_mono_ms();
    csu_tus_patch(&u->tus, s->upload_url, s->offset, data, len, closing, sum, &r);
    int64_t t1 = csu_mono_ms();
    csu_ahead_finish(&u->ahead, r.code != 204 && r.code != 200);
    if (r.code == 204 || r.code == 200)
        csu_sizer_sent(&u->sizer, len, t1 - t0);
    else if (!final)
        csu_sizer_failed(&u->sizer);
    if (r.code == 404 || r.code == 410) {
        char why[100];
        snprintf(why, sizeof why,
                 "the server no longer has the upload "
                 "(HTTP %ld)",
                 r.code);
        return new_upload(u, why, false, err);
    }
    if (r.code != 204 && r.code != 200) {
        *wait = retry_later(u, !transient(r.code), &r, final ? "closing the upload" : "PATCH");
        return CS_OK;
    }
    succeeded(u);
    uint64_t o = r.has_offset ? r.offset : s->offset + len;
    if (o < s->offset || o > s->offset + len) {
        u->synced = false; /* odd answer: ask the server where it is */
        return CS_OK;
    }
    if (final) {
        s->finished = true;
        return csu_saved_store(s, u->state_dir, err);
    }
    cs_status st = csu__confirm(u, o, err);
    if (st == CS_OK && closing && o == end) {
        s->finished = true;
        st = csu_saved_store(s, u->state_dir, err);
        /* the last frames just left the spool: list it once more, so the
         * final status counts nothing queued and the full marker goes */
        if (st == CS_OK && u->spool_dir[0])
            st = csu__scan(u, err);
    }
    return st;
}

cs_status csu__step(csu_uplink *u, uint32_t *wait, cs_error *err)
{
    csu_saved *s = u->saved;
    int64_t now = csu_mono_ms();
    bool packed = false;
    cs_status st;
    *wait = 0;
    if (s->finished)
        return CS_END;
    if (u->spool_dir[0] &&
        (u->last_scan_ms == 0 || now - u->last_scan_ms >= (int64_t)u->cfg.poll_ms) &&
        (st = csu__scan(u, err)) != CS_OK)
        return st;
    if (u->retry_at_ms > now) {
        int64_t left = u->retry_at_ms - now;
        *wait = left < (int64_t)u->cfg.poll_ms ? (uint32_t)left : u->cfg.poll_ms;
        return CS_OK;
    }
    u->retry_at_ms = 0;
    if (s->upload_url[0] && !u->synced)
        return do_head(u, wait, err);
    if (u->cfg.checksum == CSU_CHECKSUM_AUTO && !u->options_done) {
        do_options(u, wait);
        return CS_OK;
    }
    /* The outbox file was stale at start: rebuild it now that the server's
     * offset is known (frames wholly below it may be gone; zeros stand in
     * for them and are never sent). */
    if (u->ob_stale && s->seg_len)
        return csu__rebuild(u, s->seg_start, s->seg_header, s->offset, false, err);
    u->ob_stale = false;
    if (s->seg_len == 0) {
        if ((st = csu__pack(u, &packed, err)) != CS_OK)
            return st;
        if (packed)
            return CS_OK;
        if ((u->cfg.finish || u->end_seen) && u->pending_frames == 0)
            return s->upload_url[0] ? do_patch(u, true, wait, err) : do_create(u, wait, err);
        *wait = u->cfg.poll_ms;
        return CS_OK;
    }
    if (!s->upload_url[0])
        return do_create(u, wait, err);
    return do_patch(u, false, wait, err);
}
