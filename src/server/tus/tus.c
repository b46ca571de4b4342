/* tus.c - tus 1.0.0 at /uploads/: core, creation, creation-defer-length,
 * creation-with-upload, checksum (sha1, sha256), termination, expiration
 * (docs/api.md). Bodies are written to the upload's file as they arrive;
 * the offset is persisted after fsync, at the end of a request, every
 * PERSIST_EVERY bytes, and when the client goes away mid-body. A request
 * whose holder of the upload's lock has received nothing for lock_takeover
 * seconds takes the lock over (takeover_stale); the old request, marked
 * superseded, writes nothing more and, should it complete, gets 409.
 *
 * A refused request changes nothing: every check runs before the first
 * write, a deferred Upload-Length is saved only with an accepted body,
 * and every save of an upload record goes through the store's checked
 * update, so a closed study (or a signed report) takes no byte more. A
 * device's body in flight ends at the next chunk after its study's
 * devices are revoked (the signals' device_revocations moved and the token no
 * longer resolves). */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/tus/tus.h"
#include "server/ingest/ingest.h"
#include "server/tus/sha1.h"
#include "server/files/tus_files.h"
#include "server/tus/tus_headers.h"
#include "server/auth/tokens.h"

#define PERSIST_EVERY (1u << 20)
#define OCTET "application/offset+octet-stream"

struct cs_tus_req {
    bool active;  /* a body is being received into `fd` */
    bool is_post; /* creation-with-upload: answer 201 */
    bool locked;
    uint64_t ticket; /* our lock ticket while `locked` */
    bool superseded; /* a newer request took our lock over */
    bool counted;    /* counted in uploads_active */
    int fd;
    cs_upload_rec up; /* offset = persisted offset */
    uint64_t start;   /* offset when this body began */
    uint64_t written; /* body bytes written in this request */
    uint64_t limit;   /* bytes this request may write */
    bool over_limit, io_failed;
    bool study_closed;            /* the store refused a save: study closed or signed */
    bool upload_ended;            /* a newer upload ended this one meanwhile (save_checked) */
    int64_t stored_length;        /* the length before this request (a deferred one may be set) */
    bool device;                  /* the body comes with a device token ... */
    char token_hash[CS_HASH_HEX]; /* ... whose hash this is */
    unsigned long long revocations_seen; /* device_revocations when the token was last checked */
    char io_reason[256];
    bool has_sum;
    cs_tus_checksum want;
    cs_sha1 sha1;
    crypto_hash_sha256_state sha256;
};

void cs_tus_free(cs_tus_req *t)
{
    if (!t)
        return;
    if (t->fd >= 0)
        close(t->fd);
    free(t);
}

static const char *hdr(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

#define ERR(st, code, ...) cs_http_error(s->metrics, c, st, true, code, __VA_ARGS__)

static enum MHD_Result options(const cs_tus *s, struct MHD_Connection *c)
{
    char max[32];
    snprintf(max, sizeof max, "%" PRIu64, s->cfg->max_upload_size);
    const char *h[] = {"Tus-Version",
                       CS_TUS_VERSION,
                       "Tus-Extension",
                       CS_TUS_EXTENSIONS,
                       "Tus-Max-Size",
                       max,
                       "Tus-Checksum-Algorithm",
                       "sha1,sha256",
                       NULL};
    return cs_http_empty(c, 204, h);
}

/* What a save_checked stored. */
typedef enum save_result { SAVED, STUDY_CLOSED, UPLOAD_ENDED } save_result;

/* Save `up`, unless its study is closed or its report signed
 * (STUDY_CLOSED), or the store has ended the upload since it was read
 * (UPLOAD_ENDED): a new upload of a study ends the study's open uploads
 * that stored no byte (store.h), also one whose first body is still
 * arriving. An ended upload is never saved again: saved with that body's
 * offset (open, or closed as an orphan), its bytes would slide in front
 * of the newer upload's in the study stream, under frames already
 * analysed from there (the viewer would show other frames' pictures).
 * Then nothing is saved, CS_OK. */
static cs_status save_checked(const cs_tus *s, const cs_upload_rec *up, save_result *res,
                              cs_error *err)
{
    cs_check_outcome out = CS_CHECK_OK;
    *res = SAVED;
    /* The store checks both in the write's own transaction: a check read
     * before it would leave a window for a creation to end the upload. */
    cs_status st = cs_store_upload_update_checked(s->store, up, &out, err);
    if (st != CS_OK)
        return st;
    if (out == CS_CHECK_LOCKED) {
        *res = STUDY_CLOSED;
        return CS_OK;
    }
    if (out == CS_CHECK_CONFLICT) {
        *res = UPLOAD_ENDED;
        return CS_OK;
    }
    if (out != CS_CHECK_OK)
        return cs_error_set(err, CS_ERR_IO, "upload '%s': %s", up->id, cs_check_outcome_name(out));
    return CS_OK;
}

/* Persist `up`'s offset (after fsync of `fd`, if any) and wake its
 * study's analysis. *res (may be NULL): whether it was saved
 * (save_checked). */
static cs_status persist_up(const cs_tus *s, cs_upload_rec *up, int fd, uint64_t offset,
                            bool clear_sum, save_result *res, cs_error *err)
{
    save_result dummy;
    if (!res)
        res = &dummy;
    *res = SAVED;
    if (fd >= 0 && fsync(fd) != 0)
        return cs_error_set(err, CS_ERR_IO, "fsync failed: %s", strerror(errno));
    up->offset = offset;
    if (clear_sum)
        up->checksum_base = -1;
    int64_t now = cs_now_s();
    up->updated_at = now;
    if (up->length >= 0 && up->offset == (uint64_t)up->length)
        up->state = CS_UPLOAD_COMPLETE;
    else
        up->expires_at = now + s->cfg->upload_expiry_s;
    cs_status st = save_checked(s, up, res, err);
    if (st == CS_OK && *res == SAVED) {
        cs_error e2 = {0};
        if (cs_store_study_touch(s->store, up->study, cs_now_ms(), &e2) != CS_OK)
            cs_metrics_error(s->metrics, CS_EK_INTERNAL); /* only the data rate suffers */
        cs_ingest_notify(s->ingest, up->study);
        cs_signals_progress(s->signals);
    }
    return st;
}

static cs_status persist(const cs_tus *s, cs_tus_req *t, uint64_t offset, bool clear_sum,
                         cs_error *err)
{
    save_result res = SAVED;
    cs_status st = persist_up(s, &t->up, t->fd, offset, clear_sum, &res, err);
    if (res == STUDY_CLOSED)
        t->study_closed = true;
    if (res == UPLOAD_ENDED)
        t->upload_ended = true;
    return st;
}

/* Go busy on the upload's lock before touching its file or record: false
 * (and `superseded` set) when a newer request took the lock over. */
static bool enter(const cs_tus *s, cs_tus_req *t)
{
    if (t->superseded || !t->locked)
        return false;
    if (!cs_tus_lock_enter(s->files, t->up.id, t->ticket))
        t->superseded = true;
    return !t->superseded;
}

/* Go idle (waiting for the client): a takeover would keep what this body
 * wrote, or nothing of it when it is checksummed (it cannot be verified). */
static void idle(const cs_tus *s, cs_tus_req *t)
{
    if (t->locked && !t->superseded)
        cs_tus_lock_idle(s->files, t->up.id, t->ticket,
                         t->has_sum ? t->start : t->start + t->written);
}

/* If the upload's lock holder has been silent for lock_takeover seconds,
 * take its lock over: fsync the file, persist the offset the holder reached
 * (cutting an unverified checksummed body back), release. *up is reloaded.
 * Returns CS_OK also when there was nothing to take over. */
static cs_status takeover_stale(const cs_tus *s, cs_upload_rec *up, cs_error *err)
{
    uint64_t ticket = 0, keep = 0;
    if (!cs_tus_lock_takeover(s->files, up->id, (int64_t)s->cfg->lock_takeover_s * 1000, &ticket,
                              &keep))
        return CS_OK;
    bool found = false;
    int fd = -1;
    cs_status st = cs_store_upload_get(s->store, up->id, &found, up, err);
    if (st == CS_OK && found && (up->state == CS_UPLOAD_OPEN || up->state == CS_UPLOAD_COMPLETE)) {
        if (keep < up->offset) /* never below what was acknowledged */
            keep = up->offset;
        st = cs_tus_file_open_at(s->files, up->id, keep, &fd, err);
        if (st == CS_OK)
            st = persist_up(s, up, fd, keep, true, NULL, err);
        if (fd >= 0)
            close(fd);
    }
    cs_tus_lock_release(s->files, up->id, ticket);
    return st;
}

static void end_body(const cs_tus *s, cs_tus_req *t)
{
    t->active = false;
    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
    }
    if (t->locked) {
        cs_tus_lock_release(s->files, t->up.id, t->ticket); /* no-op once superseded */
        t->locked = false;
    }
    if (t->counted) {
        atomic_fetch_sub(&s->metrics->uploads_active, 1);
        t->counted = false;
    }
}

/* Undo an unverified (checksummed) body: cut the file back to `start`,
 * and forget a deferred length this request declared. */
static cs_status discard(const cs_tus *s, cs_tus_req *t, cs_error *err)
{
    if (t->fd >= 0 && ftruncate(t->fd, (off_t)t->start) != 0)
        return cs_error_set(err, CS_ERR_IO, "cannot discard the chunk: %s", strerror(errno));
    t->up.length = t->stored_length;
    return persist(s, t, t->start, true, err);
}

static void upload_headers(const cs_tus_req *t, char *off, char *len, char *exp, const char **h,
                           size_t *k)
{
    snprintf(off, 32, "%" PRIu64, t->up.offset);
    h[(*k)++] = "Upload-Offset";
    h[(*k)++] = off;
    if (t->up.state == CS_UPLOAD_OPEN) {
        cs_http_date(t->up.expires_at, exp, 64);
        h[(*k)++] = "Upload-Expires";
        h[(*k)++] = exp;
    }
    (void)len;
}

/* A creation-with-upload that ends without its 201 (cut off, refused or
 * failed) leaves an upload whose URL its client never learnt, so nobody
 * can continue it. Its stored bytes stay in the study, but it is closed
 * (terminated): left open, it would hold back the analysis of the
 * study's next upload (the stream is the uploads in creation order)
 * until it expired. Call holding the lock, after the last persist. */
static void close_orphan(const cs_tus *s, cs_tus_req *t)
{
    save_result res = SAVED;
    cs_error e = {0};
    if (!t->is_post || t->up.state != CS_UPLOAD_OPEN)
        return;
    t->up.state = CS_UPLOAD_TERMINATED;
    t->up.updated_at = cs_now_s();
    if (save_checked(s, &t->up, &res, &e) == CS_OK && res == SAVED)
        cs_ingest_notify(s->ingest, t->up.study);
}

/* The last call of a request with a body: verify, persist, answer. */
static enum MHD_Result finish_body(const cs_tus *s, struct MHD_Connection *c, cs_req *r)
{
    cs_tus_req *t = r->tus_state;
    cs_error e = {0};
    enum MHD_Result ret;
    uint64_t got = t->start + t->written;
    if (!enter(s, t)) {
        end_body(s, t);
        return ERR(409, "superseded",
                   "superseded by a newer request: this request's lock was "
                   "taken over after %d s without data; HEAD gives the upload's offset",
                   s->cfg->lock_takeover_s);
    }
    if (t->has_sum && (t->over_limit || t->io_failed)) {
        (void)discard(s, t, &e);
    } else if (t->has_sum) {
        uint8_t d[32];
        if (t->want.algo == CS_TUS_SHA1)
            cs_sha1_final(&t->sha1, d);
        else
            crypto_hash_sha256_final(&t->sha256, d);
        if (sodium_memcmp(d, t->want.digest, t->want.len) != 0) {
            cs_status st = discard(s, t, &e);
            close_orphan(s, t);
            end_body(s, t);
            if (st != CS_OK)
                return ERR(500, "storage_failed", "%s", e.msg);
            return ERR(460, "checksum_mismatch",
                       "the body's %s does not match Upload-Checksum; the chunk was discarded",
                       t->want.algo == CS_TUS_SHA1 ? "sha1" : "sha256");
        }
    }
    cs_status st = CS_OK;
    if (!t->has_sum || (!t->over_limit && !t->io_failed))
        st = persist(s, t, got, true, &e);
    if (st != CS_OK || t->io_failed || t->over_limit)
        close_orphan(s, t);
    end_body(s, t);
    if (st != CS_OK)
        return ERR(500, "storage_failed", "%s", e.msg);
    if (t->study_closed)
        return ERR(409, "study_closed",
                   "the study was closed (or its report signed): it "
                   "takes no more data; the body was not stored");
    if (t->upload_ended)
        return ERR(410, "upload_gone",
                   "a newer upload of the study ended this one while the body "
                   "arrived (it had stored no byte); the body was not stored: "
                   "send it to the newer upload");
    if (t->io_failed)
        return ERR(500, "storage_failed", "%s; %" PRIu64 " bytes kept", t->io_reason, t->up.offset);
    if (t->over_limit)
        return ERR(413, "too_large",
                   "the body runs past Upload-Length or Tus-Max-Size; "
                   "%" PRIu64 " bytes kept",
                   t->up.offset);
    char off[32], len[32], exp[64], loc[CS_ID_MAX + 16];
    const char *h[12] = {0};
    size_t k = 0;
    upload_headers(t, off, len, exp, h, &k);
    if (t->is_post) {
        snprintf(loc, sizeof loc, "/uploads/%s", t->up.id);
        h[k++] = "Location";
        h[k++] = loc;
    }
    ret = cs_http_empty(c, t->is_post ? 201 : 204, h);
    return ret;
}

/* Has the device sending this body been revoked since its token was
 * checked (cs_auth.device_revocations)? Cheap while no study's devices
 * were revoked: one atomic read. */
static bool device_revoked(const cs_tus *s, cs_tus_req *t)
{
    if (!t->device)
        return false;
    unsigned long long now = atomic_load(&s->signals->device_revocations);
    if (now == t->revocations_seen)
        return false;
    bool found = false;
    char study[CS_ID_MAX];
    cs_error e = {0};
    if (cs_store_device_study(s->store, t->token_hash, &found, study, &e) != CS_OK)
        return false; /* the store will refuse the save if it matters */
    t->revocations_seen = now;
    return !found;
}

/* A piece of body: write it (never past the limit) and hash it. */
static enum MHD_Result body_chunk(const cs_tus *s, cs_req *r, const char *data, size_t *size)
{
    cs_tus_req *t = r->tus_state;
    size_t n = *size;
    *size = 0;
    if (!enter(s, t))
        return MHD_YES; /* superseded: drain, write nothing */
    if (device_revoked(s, t)) {
        /* End the request: nothing of this chunk is written; the request's
         * end (cs_tus_request_done) persists what was written before. */
        cs_metrics_error(s->metrics, CS_EK_FORBIDDEN);
        idle(s, t);
        return MHD_NO;
    }
    if (t->over_limit || t->io_failed || t->study_closed || t->upload_ended) {
        idle(s, t);
        return MHD_YES; /* drain; the answer is decided */
    }
    if (t->written + n > t->limit) {
        n = (size_t)(t->limit - t->written);
        t->over_limit = true;
    }
    cs_error e = {0};
    if (n > 0 && cs_tus_file_write(t->fd, data, n, &e) != CS_OK) {
        t->io_failed = true;
        snprintf(t->io_reason, sizeof t->io_reason, "%s", e.msg);
        idle(s, t);
        return MHD_YES;
    }
    atomic_fetch_add(&s->metrics->bytes_received, n);
    if (t->has_sum) {
        if (t->want.algo == CS_TUS_SHA1)
            cs_sha1_update(&t->sha1, data, n);
        else
            crypto_hash_sha256_update(&t->sha256, (const unsigned char *)data, n);
    }
    uint64_t before = t->written;
    t->written += n;
    /* Long bodies: make progress durable and visible to the analysis. */
    if (!t->has_sum && t->written / PERSIST_EVERY != before / PERSIST_EVERY &&
        persist(s, t, t->start + t->written, false, &e) != CS_OK) {
        t->io_failed = true;
        snprintf(t->io_reason, sizeof t->io_reason, "%s", e.msg);
    }
    idle(s, t);
    return MHD_YES;
}

/* The checks on a body's headers that need no lock: the checksum header
 * parses, Content-Length fits the `limit` bytes left. Answers and returns
 * true on refusal. */
static bool body_refused(const cs_tus *s, struct MHD_Connection *c, const char *sum, uint64_t limit,
                         cs_tus_checksum *want, enum MHD_Result *ret)
{
    cs_error e = {0};
    if (sum) {
        cs_status st = cs_tus_parse_checksum(sum, want, &e);
        if (st != CS_OK) {
            *ret = ERR(400, st == CS_ERR_UNSUPPORTED ? "checksum_algorithm" : "bad_header", "%s",
                       e.msg);
            return true;
        }
    }
    const char *cl = hdr(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t clen = 0;
    if (cl && cs_tus_parse_u64(cl, &clen, NULL) == CS_OK && clen > limit) {
        *ret = ERR(413, "too_large",
                   "Content-Length %" PRIu64 " runs past the upload's end "
                   "(%" PRIu64 " bytes left)",
                   clen, limit);
        return true;
    }
    return false;
}

/* Bytes a body may still bring to `up` when its length is `length`. */
static uint64_t bytes_left(const cs_tus *s, const cs_upload_rec *up, int64_t length)
{
    uint64_t cap = length >= 0 ? (uint64_t)length : s->cfg->max_upload_size;
    return cap > up->offset ? cap - up->offset : 0;
}

/* Set up the body of a PATCH (or creation-with-upload POST) at the
 * upload's current offset; `length` is the upload's length with a
 * deferred one this request declares (saved only with the body). Answers
 * and returns true on refusal, having changed nothing. */
static bool begin_body(const cs_tus *s, struct MHD_Connection *c, cs_req *r, cs_upload_rec *up,
                       int64_t length, const char *sum, bool is_post, enum MHD_Result *ret)
{
    cs_error e = {0};
    cs_tus_req *t = calloc(1, sizeof *t);
    if (!t) {
        *ret = MHD_NO;
        return true;
    }
    t->fd = -1;
    t->up = *up;
    t->stored_length = up->length;
    t->is_post = is_post;
    t->start = up->offset;
    r->tus_state = t;
    t->limit = bytes_left(s, up, length);
    if (body_refused(s, c, sum, t->limit, &t->want, ret))
        return true;
    if (sum) {
        t->has_sum = true;
        cs_sha1_init(&t->sha1);
        crypto_hash_sha256_init(&t->sha256);
    }
    if (r->auth.kind == CS_AUTH_DEVICE) {
        /* The count the router's token check started from, not the count
         * now: a revocation committed after that check, but counted before
         * this line, would otherwise go unseen and the body run on. */
        const char *h = hdr(c, MHD_HTTP_HEADER_AUTHORIZATION);
        t->device = h && strncmp(h, "Bearer ", 7) == 0;
        t->revocations_seen = r->auth.device_revocations;
        if (t->device)
            cs_token_hash(h + 7, t->token_hash);
    }
    if ((t->ticket = cs_tus_lock_try(s->files, up->id)) == 0) {
        *ret = ERR(423, "upload_locked",
                   "another request is writing to this upload; a holder "
                   "silent for %d s is taken over by the next request",
                   s->cfg->lock_takeover_s);
        return true;
    }
    t->locked = true;
    if (!is_post) {
        /* Another request (of this server or another) may have moved the
         * upload on between our read and our lock: it held the lock then
         * and has released it since. Opening the file at our stale offset
         * would cut off the bytes it was acknowledged for. The stored
         * record is the truth. */
        bool found = false;
        cs_upload_rec now;
        if (cs_store_upload_get(s->store, up->id, &found, &now, &e) != CS_OK) {
            *ret = ERR(503, "store_unavailable", "%s", e.msg);
            end_body(s, t);
            return true;
        }
        if (!found || now.offset != up->offset || now.state != up->state ||
            now.length != up->length) {
            *ret = ERR(409, "offset_mismatch",
                       "Upload-Offset %" PRIu64 " but the upload now holds %" PRIu64
                       " bytes (another request wrote it meanwhile)",
                       up->offset, now.offset);
            end_body(s, t);
            return true;
        }
    }
    if (cs_tus_file_open_at(s->files, up->id, up->offset, &t->fd, &e) != CS_OK) {
        *ret = ERR(500, "storage_failed", "%s", e.msg);
        end_body(s, t);
        return true;
    }
    if (t->has_sum) {
        save_result res = SAVED;
        t->up.checksum_base = (int64_t)up->offset;
        if (save_checked(s, &t->up, &res, &e) != CS_OK || res != SAVED) {
            *ret = res == STUDY_CLOSED ? ERR(409, "study_closed",
                                             "the study was closed (or its report "
                                             "signed): it takes no more data")
                   : res == UPLOAD_ENDED
                       ? ERR(410, "upload_gone", "a newer upload of the study ended this one")
                       : ERR(500, "storage_failed", "%s", e.msg);
            end_body(s, t);
            return true;
        }
    }
    t->up.length = length; /* saved with the body's first persist */
    t->active = true;
    t->counted = true;
    atomic_fetch_add(&s->metrics->uploads_active, 1);
    idle(s, t);
    return false;
}

/* Does the request announce a body? */
static bool has_body(struct MHD_Connection *c)
{
    const char *cl = hdr(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return (cl && strcmp(cl, "0") != 0) || hdr(c, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

static bool content_type_is_octet(struct MHD_Connection *c)
{
    const char *ct = hdr(c, MHD_HTTP_HEADER_CONTENT_TYPE);
    return ct && strncmp(ct, OCTET, sizeof OCTET - 1) == 0 &&
           (ct[sizeof OCTET - 1] == '\0' || ct[sizeof OCTET - 1] == ';');
}

static enum MHD_Result create(const cs_tus *s, struct MHD_Connection *c, cs_req *r,
                              const cs_auth *a)
{
    cs_error e = {0};
    const char *len = hdr(c, "Upload-Length"), *defer = hdr(c, "Upload-Defer-Length");
    const char *meta = hdr(c, "Upload-Metadata");
    uint64_t length = 0;
    if ((len != NULL) == (defer != NULL))
        return ERR(400, "bad_header", "send exactly one of Upload-Length and Upload-Defer-Length");
    if (defer && strcmp(defer, "1") != 0)
        return ERR(400, "bad_header", "Upload-Defer-Length must be 1");
    if (len && cs_tus_parse_u64(len, &length, &e) != CS_OK)
        return ERR(400, "bad_header", "Upload-Length: %s", e.msg);
    if (len && length > s->cfg->max_upload_size)
        return ERR(413, "too_large", "Upload-Length %" PRIu64 " is over Tus-Max-Size %" PRIu64,
                   length, s->cfg->max_upload_size);
    cs_tus_meta *m = calloc(1, sizeof *m);
    if (!m)
        return MHD_NO;
    enum MHD_Result ret;
    if (meta && cs_tus_parse_metadata(meta, m, &e) != CS_OK) {
        ret = ERR(400, "bad_header", "%s", e.msg);
        goto done;
    }
    const char *want = cs_tus_meta_get(m, "study");
    cs_upload_rec *up = calloc(1, sizeof *up);
    if (!up) {
        ret = MHD_NO;
        goto done;
    }
    if (a->kind == CS_AUTH_DEVICE) {
        if (want && strcmp(want, a->study) != 0) {
            ret = ERR(403, "forbidden", "this device may only upload to its own study");
            goto done_up;
        }
        snprintf(up->study, sizeof up->study, "%s", a->study);
    } else {
        bool found = false;
        cs_study_rec sr;
        if (!want || !*want) {
            ret = ERR(400, "bad_header", "an admin upload needs Upload-Metadata 'study'");
            goto done_up;
        }
        if (strlen(want) >= CS_ID_MAX ||
            cs_store_study_get(s->store, want, &found, &sr, &e) != CS_OK || !found) {
            ret = ERR(404, "unknown_study", "no study '%.64s'", want);
            goto done_up;
        }
        /* A known-answer case's frames: more of them would no longer fit
         * its reference (docs/training.md). */
        if (sr.training) {
            ret = ERR(409, "training_study",
                      "study '%.64s' holds a training case's frames: nothing is uploaded to it",
                      want);
            goto done_up;
        }
        snprintf(up->study, sizeof up->study, "%s", want);
    }
    bool with_body = has_body(c) && content_type_is_octet(c);
    cs_tus_checksum want_sum;
    if (with_body && body_refused(s, c, hdr(c, "Upload-Checksum"),
                                  len ? length : s->cfg->max_upload_size, &want_sum, &ret))
        goto done_up; /* refused before anything is created */
    int64_t now = cs_now_s();
    cs_id_new(up->id, 16);
    up->length = len ? (int64_t)length : -1;
    up->state = up->length == 0 ? CS_UPLOAD_COMPLETE : CS_UPLOAD_OPEN;
    up->created_at = up->updated_at = now;
    up->expires_at = now + s->cfg->upload_expiry_s;
    up->checksum_base = -1;
    snprintf(up->metadata, sizeof up->metadata, "%s", meta ? meta : "");
    cs_check_outcome out = CS_CHECK_OK;
    if (cs_tus_file_create(s->files, up->id, &e) != CS_OK ||
        cs_store_upload_create_checked(s->store, up, &out, &e) != CS_OK) {
        ret = ERR(500, "storage_failed", "%s", e.msg);
        goto done_up;
    }
    if (out != CS_CHECK_OK) {
        char path[CS_CFG_PATH + 64];
        cs_tus_path(s->files, up->id, path, sizeof path);
        (void)unlink(path); /* the record was refused: no file without one */
        ret = out == CS_CHECK_LOCKED ? ERR(409, "study_closed",
                                           "study '%s' was closed (or its report signed): "
                                           "it takes no more uploads",
                                           up->study)
                                     : ERR(404, "unknown_study", "no study '%s'", up->study);
        goto done_up;
    }
    if (with_body) {
        if (!begin_body(s, c, r, up, up->length, hdr(c, "Upload-Checksum"), true, &ret))
            ret = MHD_YES; /* the body follows */
        goto done_up;
    }
    char loc[CS_ID_MAX + 16], exp[64];
    snprintf(loc, sizeof loc, "/uploads/%s", up->id);
    cs_http_date(up->expires_at, exp, sizeof exp);
    const char *h[] = {"Location",
                       loc,
                       "Upload-Offset",
                       "0",
                       up->state == CS_UPLOAD_OPEN ? "Upload-Expires" : NULL,
                       exp,
                       NULL};
    ret = cs_http_empty(c, 201, h);
done_up:
    free(up);
done:
    free(m);
    return ret;
}

/* Look up the upload of the path and check who may touch it. Answers and
 * returns true when the request ends here. */
static bool load_upload(const cs_tus *s, struct MHD_Connection *c, cs_req *r, const cs_auth *a,
                        bool writes, cs_upload_rec *up, enum MHD_Result *ret)
{
    cs_error e = {0};
    bool found = false;
    if (cs_store_upload_get(s->store, r->id, &found, up, &e) != CS_OK) {
        *ret = ERR(503, "store_unavailable", "%s", e.msg);
        return true;
    }
    if (!found) {
        *ret = ERR(404, "unknown_upload", "no upload '%s'", r->id);
        return true;
    }
    if (a->kind == CS_AUTH_DEVICE && strcmp(a->study, up->study) != 0) {
        *ret = ERR(403, "forbidden", "this upload belongs to another study");
        return true;
    }
    if (takeover_stale(s, up, &e) != CS_OK) {
        *ret = ERR(500, "storage_failed", "taking over a stale lock: %s", e.msg);
        return true;
    }
    if (writes) {
        cs_study_rec sr;
        bool study_found = false;
        if (cs_store_study_get(s->store, up->study, &study_found, &sr, &e) != CS_OK) {
            *ret = ERR(503, "store_unavailable", "%s", e.msg);
            return true;
        }
        if (study_found && sr.closed_at_ms > 0) {
            *ret = ERR(409, "study_closed", "study '%s' was closed by %s: it takes no more data",
                       up->study, sr.closed_by);
            return true;
        }
    }
    int64_t now = cs_now_s();
    if (up->state == CS_UPLOAD_OPEN && up->expires_at <= now &&
        !cs_tus_lock_held(s->files, up->id)) {
        save_result res = SAVED;
        up->state = CS_UPLOAD_EXPIRED;
        up->updated_at = now;
        if (save_checked(s, up, &res, &e) == CS_OK && res == SAVED)
            cs_ingest_notify(s->ingest, up->study);
    }
    if (up->state == CS_UPLOAD_TERMINATED || up->state == CS_UPLOAD_EXPIRED) {
        *ret = ERR(410, "upload_gone", "the upload was %s; start a new one",
                   up->state == CS_UPLOAD_TERMINATED ? "terminated" : "expired");
        return true;
    }
    return false;
}

static enum MHD_Result head(const cs_tus *s, struct MHD_Connection *c, const cs_upload_rec *up)
{
    (void)s;
    char off[32], len[32], exp[64];
    const char *h[16] = {"Cache-Control", "no-store"};
    size_t k = 2;
    snprintf(off, sizeof off, "%" PRIu64, up->offset);
    h[k++] = "Upload-Offset";
    h[k++] = off;
    if (up->length >= 0) {
        snprintf(len, sizeof len, "%" PRId64, up->length);
        h[k++] = "Upload-Length";
        h[k++] = len;
    } else {
        h[k++] = "Upload-Defer-Length";
        h[k++] = "1";
    }
    if (up->metadata[0]) {
        h[k++] = "Upload-Metadata";
        h[k++] = up->metadata;
    }
    if (up->state == CS_UPLOAD_OPEN) {
        cs_http_date(up->expires_at, exp, sizeof exp);
        h[k++] = "Upload-Expires";
        h[k++] = exp;
    }
    return cs_http_empty(c, 200, h);
}

static enum MHD_Result patch(const cs_tus *s, struct MHD_Connection *c, cs_req *r,
                             cs_upload_rec *up)
{
    cs_error e = {0};
    uint64_t offset = 0, length = 0;
    const char *off = hdr(c, "Upload-Offset"), *len = hdr(c, "Upload-Length");
    if (!content_type_is_octet(c))
        return ERR(415, "media_type", "PATCH needs Content-Type: " OCTET);
    if (!off)
        return ERR(400, "bad_header", "PATCH needs Upload-Offset");
    if (cs_tus_parse_u64(off, &offset, &e) != CS_OK)
        return ERR(400, "bad_header", "Upload-Offset: %s", e.msg);
    if (len && cs_tus_parse_u64(len, &length, &e) != CS_OK)
        return ERR(400, "bad_header", "Upload-Length: %s", e.msg);
    if (offset != up->offset)
        return ERR(409, "offset_mismatch",
                   "Upload-Offset %" PRIu64 " but the upload holds %" PRIu64 " bytes", offset,
                   up->offset);
    if (len && up->length >= 0 && length != (uint64_t)up->length)
        return ERR(400, "bad_header", "Upload-Length is already %" PRId64, up->length);
    if (len && up->length < 0) {
        if (length > s->cfg->max_upload_size)
            return ERR(413, "too_large", "Upload-Length over Tus-Max-Size %" PRIu64,
                       s->cfg->max_upload_size);
        if (length < up->offset)
            return ERR(400, "bad_header",
                       "Upload-Length %" PRIu64 " is below the %" PRIu64 " bytes already received",
                       length, up->offset);
    }
    /* A deferred length is saved with the body (persist), never by a
     * request that is then refused. */
    enum MHD_Result ret;
    if (begin_body(s, c, r, up, len ? (int64_t)length : up->length, hdr(c, "Upload-Checksum"),
                   false, &ret))
        return ret;
    return MHD_YES;
}

static enum MHD_Result handle_headers(const cs_tus *s, struct MHD_Connection *c, cs_req *r,
                                      const char *method);

enum MHD_Result cs_tus_handle(const cs_tus *s, struct MHD_Connection *c, cs_req *r,
                              const char *method, const char *data, size_t *size)
{
    if (r->tus_state && r->tus_state->active) {
        if (*size > 0)
            return body_chunk(s, r, data, size);
        return finish_body(s, c, r);
    }
    if (r->tus_state) /* refused before the body: drain it */
        return MHD_YES;
    /* The router defers a bodiless POST or PATCH to its last call
     * (r->tus_deferred), so that the connection stays open. */
    r->tus_seen = true;
    enum MHD_Result ret = handle_headers(s, c, r, method);
    if (r->tus_deferred && r->tus_state && r->tus_state->active) /* an empty PATCH: done already */
        ret = finish_body(s, c, r);
    return ret;
}

static enum MHD_Result handle_headers(const cs_tus *s, struct MHD_Connection *c, cs_req *r,
                                      const char *method)
{
    if (strcmp(method, "OPTIONS") == 0)
        return options(s, c);
    const char *v = hdr(c, "Tus-Resumable");
    if (!v || strcmp(v, CS_TUS_VERSION) != 0) {
        const char *h[] = {"Tus-Version", CS_TUS_VERSION, NULL};
        return cs_http_error_h(s->metrics, c, 412, true, h, "tus_version",
                               "Tus-Resumable must be %s", CS_TUS_VERSION);
    }
    /* The router let only a device token or the admin token in. */
    const cs_auth *a = &r->auth;
    cs_error e = {0};
    if (strcmp(method, "POST") == 0)
        return create(s, c, r, a);
    bool is_head = strcmp(method, "HEAD") == 0, is_patch = strcmp(method, "PATCH") == 0;
    cs_upload_rec *up = malloc(sizeof *up);
    if (!up)
        return MHD_NO;
    enum MHD_Result ret;
    uint64_t ticket;
    if (load_upload(s, c, r, a, !is_head, up, &ret))
        goto done;
    if (is_head) {
        ret = head(s, c, up);
    } else if (is_patch) {
        ret = patch(s, c, r, up);
    } else if ((ticket = cs_tus_lock_try(s->files, up->id)) == 0) {
        ret = ERR(423, "upload_locked", "a request is writing to this upload");
    } else {
        save_result res = SAVED;
        up->state = CS_UPLOAD_TERMINATED;
        up->updated_at = cs_now_s();
        cs_status st = save_checked(s, up, &res, &e);
        cs_tus_lock_release(s->files, up->id, ticket);
        if (st != CS_OK) {
            ret = ERR(500, "storage_failed", "%s", e.msg);
        } else if (res == STUDY_CLOSED) {
            ret = ERR(409, "study_closed", "the study was closed: its uploads are final");
        } else {
            cs_ingest_notify(s->ingest, up->study);
            ret = cs_http_empty(c, 204, NULL);
        }
    }
done:
    free(up);
    return ret;
}

void cs_tus_request_done(const cs_tus *s, cs_req *r, enum MHD_RequestTerminationCode toe)
{
    cs_tus_req *t = r->tus_state;
    cs_error e = {0};
    if (!t || !t->active)
        return;
    /* The client went away (or the server stops) in the middle of a body. */
    (void)toe;
    cs_metrics_error(s->metrics, CS_EK_CUT_OFF);
    /* Superseded: the newer request has persisted what this one wrote. */
    if (enter(s, t)) {
        if (t->has_sum)
            (void)discard(s, t, &e); /* cannot be verified: not acknowledged */
        else
            (void)persist(s, t, t->start + t->written, true, &e);
        close_orphan(s, t);
    }
    end_body(s, t);
}

void cs_tus_sweep(const cs_tus *s)
{
    cs_upload_rec *ups = NULL;
    size_t n = 0;
    cs_error e = {0};
    int64_t now = cs_now_s();
    if (cs_store_upload_list(s->store, NULL, true, &ups, &n, &e) != CS_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        cs_upload_rec *u = &ups[i];
        uint64_t ticket;
        if (u->expires_at > now || (ticket = cs_tus_lock_try(s->files, u->id)) == 0)
            continue;
        save_result res = SAVED;
        u->state = CS_UPLOAD_EXPIRED;
        u->updated_at = now;
        if (save_checked(s, u, &res, &e) == CS_OK && res == SAVED)
            cs_ingest_notify(s->ingest, u->study);
        cs_tus_lock_release(s->files, u->id, ticket);
    }
    free(ups);
}
