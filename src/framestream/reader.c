/* reader.c - the incremental frame-stream reader: fed bytes in any chunks, it
 * yields headers, CRC-checked records and damaged regions, resynchronising
 * on the next record magic after damage (docs/frame-stream.md, "Reading"). */
#include "capscreen/framestream.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "capscreen/crc32c.h"

enum rd_state {
    ST_FILE_HEADER, /* at the start of a stream that should have a header */
    ST_RECORD,      /* at a record start, or scanning for one (pend set) */
    ST_PAYLOAD,     /* record header at pos passed; waiting for the rest */
    ST_DONE,        /* finished and every byte reported */
};

struct cs_fs_reader {
    uint8_t *buf;
    size_t cap, len, pos; /* bytes held: buf[pos, len) not yet consumed */
    uint64_t base;        /* absolute offset of buf[0] */
    uint32_t max_payload;
    enum rd_state state;
    bool finished; /* cs_fs_reader_finish() was called */
    bool synced;   /* a header or record has validated */
    /* ST_PAYLOAD: the record whose header validated at pos. */
    size_t hlen;
    uint16_t flags;
    uint64_t index;
    int64_t time_us;
    uint32_t plen;
    /* The scan of its claimed payload for its true end (nested_record):
     * where it resumes, the CRC-32C of the payload from hlen up to
     * nested_crc_to (kept, so each byte is summed once), and whether a
     * candidate end failed, which ends the scan for this record. */
    size_t nested_from, nested_crc_to;
    uint32_t nested_crc;
    bool nested_done;
    /* A region being skipped, reported once the next record header
     * validates or the stream ends; its reason is the first failure. */
    bool pend;
    cs_fs_event_kind pend_kind;
    cs_status pend_status;
    uint64_t pend_off;
    bool pend_has_index;
    uint64_t pend_index;
    int64_t pend_time;
    char pend_reason[120];
};

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint64_t here(const cs_fs_reader *r) { return r->base + r->pos; }

/* The first unconsumed byte (NULL before the first feed). */
static const uint8_t *cur(const cs_fs_reader *r) { return r->buf ? r->buf + r->pos : NULL; }

/* Open a skipped region at the current position, unless one is open. */
CS_PRINTF(3, 4)
static void start_pend(cs_fs_reader *r, cs_status st, const char *fmt, ...)
{
    if (r->pend)
        return;
    r->pend = true;
    r->pend_off = here(r);
    r->pend_has_index = false;
    if (!r->synced) {
        r->pend_kind = CS_FS_EV_SKIPPED;
        r->pend_status = CS_OK;
        snprintf(r->pend_reason, sizeof r->pend_reason,
                 "lead-in before the first record (reading started "
                 "mid-stream at offset %llu)",
                 (unsigned long long)r->pend_off);
        return;
    }
    va_list ap;
    r->pend_kind = CS_FS_EV_DAMAGE;
    r->pend_status = st;
    va_start(ap, fmt);
    vsnprintf(r->pend_reason, sizeof r->pend_reason, fmt, ap);
    va_end(ap);
}

/* The candidate at pos failed: note why, step one byte past its magic and
 * scan for the next one. */
#define FAIL(r, st, ...)                    \
    do {                                    \
        start_pend((r), (st), __VA_ARGS__); \
        (r)->pos++;                         \
        (r)->state = ST_RECORD;             \
    } while (0)

/* As FAIL, for a record whose header passed (so no region is open and the
 * reader is synced): the region keeps the frame index and time. */
static void fail_record(cs_fs_reader *r, cs_status st, const char *what)
{
    start_pend(r, st, "record at offset %llu (frame %llu): %s", (unsigned long long)here(r),
               (unsigned long long)r->index, what);
    r->pend_has_index = true;
    r->pend_index = r->index;
    r->pend_time = r->time_us;
    r->pos++;
    r->state = ST_RECORD;
}

static void emit_pend(cs_fs_reader *r, cs_fs_event *ev, uint64_t end)
{
    ev->kind = r->pend_kind;
    ev->offset = r->pend_off;
    ev->length = end - r->pend_off;
    ev->status = r->pend_status;
    ev->has_index = r->pend_has_index;
    ev->frame_index = r->pend_has_index ? r->pend_index : 0;
    ev->capture_time_us = r->pend_has_index ? r->pend_time : 0;
    if (ev->length == 0)
        snprintf(ev->reason, sizeof ev->reason, "%s; no bytes skipped", r->pend_reason);
    else
        snprintf(ev->reason, sizeof ev->reason, "%s; skipped bytes %llu..%llu (%llu bytes)",
                 r->pend_reason, (unsigned long long)r->pend_off, (unsigned long long)(end - 1),
                 (unsigned long long)ev->length);
    r->pend = false;
}

/* First i >= from where buf[i..] starts with the record magic, or with a
 * prefix of it that runs to the end of the buffer; else len. */
static size_t scan_magic(const uint8_t *buf, size_t from, size_t len)
{
    const uint8_t *m = (const uint8_t *)CS_FS_RECORD_MAGIC;
    while (from < len) {
        const uint8_t *c = memchr(buf + from, m[0], len - from);
        if (!c)
            return len;
        size_t i = (size_t)(c - buf), n = len - i < 4 ? len - i : 4;
        if (memcmp(c, m, n) == 0)
            return i;
        from = i + 1;
    }
    return len;
}

/* The stream has ended with too few bytes for a header (file or record)
 * or a magic: report what is left as one event, or CS_END when nothing is.
 * (A record whose header passed fails like any record: record_payload.) */
static cs_status at_eof(cs_fs_reader *r, cs_fs_event *ev)
{
    uint64_t end = r->base + r->len;
    size_t have = r->len - r->pos;
    const uint8_t *p = cur(r);

    if (r->pend) {
        emit_pend(r, ev, end);
    } else if (r->state == ST_FILE_HEADER && have == 0) {
        ev->kind = CS_FS_EV_DAMAGE;
        ev->offset = here(r);
        ev->status = CS_ERR_EMPTY;
        snprintf(ev->reason, sizeof ev->reason,
                 "empty stream: no file "
                 "header at offset %llu",
                 (unsigned long long)here(r));
    } else if (have == 0) {
        r->state = ST_DONE;
        return CS_END;
    } else {
        const char *magic = r->state == ST_FILE_HEADER ? CS_FS_FILE_MAGIC : CS_FS_RECORD_MAGIC;
        bool partial = memcmp(p, magic, have < 4 ? have : 4) == 0;
        ev->kind = CS_FS_EV_DAMAGE;
        ev->offset = here(r);
        ev->length = have;
        ev->status = partial ? CS_ERR_TRUNCATED : CS_ERR_CORRUPT;
        snprintf(ev->reason, sizeof ev->reason,
                 "%s at offset %llu: "
                 "stream ends after %zu bytes",
                 r->state == ST_FILE_HEADER
                     ? (partial ? "truncated file header" : "no file header (stream too short)")
                     : (partial ? "truncated record header" : "garbage"),
                 (unsigned long long)here(r), have);
    }
    r->pos = r->len;
    r->state = ST_DONE;
    return CS_OK;
}

/* ST_FILE_HEADER: check the file header at pos. */
static cs_status file_header(cs_fs_reader *r, cs_fs_event *ev, bool *done)
{
    size_t have = r->len - r->pos, need = 4;
    const uint8_t *p = cur(r);

    *done = false;
    if (have >= 4 && memcmp(p, CS_FS_FILE_MAGIC, 4) != 0) {
        r->synced = true; /* a header was promised: this is damage */
        start_pend(r, CS_ERR_CORRUPT,
                   "no file header (no \"CSFS\" magic) "
                   "at offset %llu",
                   (unsigned long long)here(r));
        r->state = ST_RECORD;
        return CS_OK;
    }
    if (have >= 8) {
        need = get16(p + 6);
        if (need < CS_FS_FILE_HEADER_SIZE || need > CS_FS_FILE_HEADER_MAX) {
            r->synced = true;
            FAIL(r, CS_ERR_CORRUPT,
                 "file header at offset %llu: header "
                 "length %zu out of range",
                 (unsigned long long)here(r), need);
            return CS_OK;
        }
    } else if (have >= 4) {
        need = 8;
    }
    if (have < need)
        return r->finished ? (*done = true, at_eof(r, ev)) : CS_AGAIN;
    r->synced = true;
    if (cs_crc32c(0, p, need - 4) != get32(p + need - 4)) {
        FAIL(r, CS_ERR_CHECKSUM,
             "file header at offset %llu: header CRC "
             "mismatch",
             (unsigned long long)here(r));
        return CS_OK;
    }
    ev->offset = here(r);
    ev->length = need;
    ev->version = get16(p + 4);
    ev->header_flags = get32(p + 8);
    if (ev->version != CS_FS_VERSION) {
        ev->kind = CS_FS_EV_DAMAGE;
        ev->status = CS_ERR_UNSUPPORTED;
        snprintf(ev->reason, sizeof ev->reason,
                 "file header at offset %llu: "
                 "format version %u, this reader knows %u; records are read "
                 "as version %u",
                 (unsigned long long)here(r), (unsigned)ev->version, CS_FS_VERSION, CS_FS_VERSION);
    } else {
        ev->kind = CS_FS_EV_HEADER;
    }
    r->pos += need;
    r->state = ST_RECORD;
    *done = true;
    return CS_OK;
}

/* ST_RECORD: find a record magic at pos and check the header behind it. */
static cs_status record_header(cs_fs_reader *r, cs_fs_event *ev, bool *done)
{
    size_t have = r->len - r->pos, need = 8;
    const uint8_t *p = cur(r);

    *done = false;
    if (have >= 4 && memcmp(p, CS_FS_RECORD_MAGIC, 4) != 0) {
        start_pend(r, CS_ERR_CORRUPT,
                   "garbage at offset %llu: no record "
                   "magic where a record should start",
                   (unsigned long long)here(r));
        r->pos = scan_magic(r->buf, r->pos + 1, r->len);
        return CS_OK;
    }
    if (have >= 8) {
        need = get16(p + 4);
        if (need < CS_FS_RECORD_HEADER_SIZE || need > CS_FS_RECORD_HEADER_MAX) {
            FAIL(r, CS_ERR_CORRUPT,
                 "record at offset %llu: header length "
                 "%zu out of range",
                 (unsigned long long)here(r), need);
            return CS_OK;
        }
    }
    if (have < need)
        return r->finished ? (*done = true, at_eof(r, ev)) : CS_AGAIN;
    if (cs_crc32c(0, p, need - 4) != get32(p + need - 4)) {
        FAIL(r, CS_ERR_CHECKSUM, "record at offset %llu: header CRC mismatch",
             (unsigned long long)here(r));
        return CS_OK;
    }
    r->synced = true;
    if (r->pend) { /* the skipped region ends here; re-check next call */
        emit_pend(r, ev, here(r));
        *done = true;
        return CS_OK;
    }
    r->hlen = need;
    r->flags = get16(p + 6);
    r->index = get64(p + 8);
    r->time_us = (int64_t)get64(p + 16);
    r->plen = get32(p + 24);
    if (r->plen > r->max_payload) {
        char what[80];
        snprintf(what, sizeof what, "payload length %lu over the cap of %lu",
                 (unsigned long)r->plen, (unsigned long)r->max_payload);
        fail_record(r, CS_ERR_TOO_LARGE, what);
        return CS_OK;
    }
    r->nested_from = r->nested_crc_to = r->hlen;
    r->nested_crc = 0;
    r->nested_done = false;
    r->state = ST_PAYLOAD;
    return CS_OK;
}

/* ST_PAYLOAD: does the record at p end before its payload_len says? The
 * offset (from p) of a whole, intact record (both CRCs passing) inside its
 * claimed payload, among the `have` bytes held, that the record runs
 * into: the four bytes before it are the CRC-32C of the record's payload
 * up to them, so the record is whole with a shorter payload and its
 * payload_len lies (a writer's bug); 0 when there is none (yet). A payload
 * that merely holds a record (docs/frame-stream.md: an intact record is
 * taken whole) does not end in its own CRC there.
 *
 * Candidates (a magic and a valid header that fits in the payload) are
 * checked in order, the cheap test first: the payload's CRC up to the
 * candidate is summed once, as the scan moves on. The first candidate
 * that the payload's CRC points at decides, intact or not: the scan for
 * this record ends there (honest payloads reach it by a 2^-32 chance), so
 * the work stays linear in the bytes held. The scan waits at a candidate
 * whose bytes are not all held yet (r->nested_from), so the same record
 * is found whatever the chunks, live or at the end of the stream. */
static size_t nested_record(cs_fs_reader *r, const uint8_t *p, size_t have)
{
    const size_t end = r->hlen + (size_t)r->plen; /* the claimed payload's end */
    const size_t held = have < end ? have : end;
    size_t i = r->nested_from;
    if (r->nested_done)
        return 0;
    for (;; i++) {
        i = scan_magic(p, i, held);
        if (i + 8 > held) /* no magic, or one too near the end to read */
            break;
        size_t hl = get16(p + i + 4);
        if (i < r->hlen + 4 || hl < CS_FS_RECORD_HEADER_SIZE || hl > CS_FS_RECORD_HEADER_MAX ||
            i + hl > end)
            continue;
        if (i + hl > held)
            break;
        if (cs_crc32c(0, p + i, hl - 4) != get32(p + i + hl - 4))
            continue;
        uint32_t pl = get32(p + i + 24);
        if (pl > r->max_payload || i + hl + (size_t)pl + 4 > end)
            continue; /* runs past the payload: not a record inside it */
        /* i only grows (across calls too): sum the payload up to i - 4 */
        r->nested_crc = cs_crc32c(r->nested_crc, p + r->nested_crc_to, i - 4 - r->nested_crc_to);
        r->nested_crc_to = i - 4;
        if (r->nested_crc != get32(p + i - 4))
            continue;
        if (i + hl + (size_t)pl + 4 > held)
            break;
        if (cs_crc32c(0, p + i + hl, pl) == get32(p + i + hl + pl))
            return i;
        r->nested_done = true; /* the payload's CRC pointed at a damaged record */
        return 0;
    }
    /* at the end of the stream nothing more arrives: the rest is read */
    r->nested_from = i < held ? i : held;
    return 0;
}

/* ST_PAYLOAD: check the payload CRC once the whole record is held. */
static cs_status record_payload(cs_fs_reader *r, cs_fs_event *ev, bool *done)
{
    size_t have = r->len - r->pos, need = r->hlen + (size_t)r->plen + 4;
    const uint8_t *p = cur(r);

    *done = false;
    size_t nested = nested_record(r, p, have);
    if (nested) {
        /* Fail it now, not once the false length is reached: live reading
         * would otherwise hold back every record behind it (up to the
         * payload cap) until the stream ends. */
        char what[120];
        snprintf(what, sizeof what, "payload length %lu lies: frame %llu starts intact at %llu",
                 (unsigned long)r->plen, (unsigned long long)get64(p + nested + 8),
                 (unsigned long long)(here(r) + nested));
        fail_record(r, CS_ERR_CORRUPT, what);
        return CS_OK;
    }
    if (have < need && !r->finished)
        return CS_AGAIN;
    if (have < need) {
        /* The stream ends inside the record. Its header passed, but its
         * payload_len may still lie (a writer's bug): scan on from one byte
         * past its start like any failed record, so that intact records
         * the false length covers are read, not swallowed with it. */
        char what[96];
        snprintf(what, sizeof what, "truncated at end of stream: %zu of %zu bytes", have, need);
        fail_record(r, CS_ERR_TRUNCATED, what);
        return CS_OK;
    }
    if (cs_crc32c(0, p + r->hlen, r->plen) != get32(p + r->hlen + r->plen)) {
        fail_record(r, CS_ERR_CHECKSUM, "payload CRC mismatch");
        return CS_OK;
    }
    ev->kind = CS_FS_EV_RECORD;
    ev->offset = here(r);
    ev->length = need;
    ev->has_index = true;
    ev->frame_index = r->index;
    ev->capture_time_us = r->time_us;
    ev->flags = r->flags;
    ev->unknown_flags = r->flags & (uint16_t)~CS_FS_RECORD_FLAGS_KNOWN;
    ev->payload = r->plen ? p + r->hlen : NULL;
    ev->payload_len = r->plen;
    r->pos += need;
    r->state = ST_RECORD;
    *done = true;
    return CS_OK;
}

cs_status cs_fs_reader_next(cs_fs_reader *r, cs_fs_event *ev)
{
    if (!r || !ev)
        return CS_ERR_ARG;
    memset(ev, 0, sizeof *ev);
    for (;;) {
        bool done = false;
        cs_status st;
        switch (r->state) {
        case ST_FILE_HEADER: st = file_header(r, ev, &done); break;
        case ST_RECORD:
            /* Fewer bytes than a magic at the end: the magic scan is done. */
            if (r->finished && r->len - r->pos < 4)
                return at_eof(r, ev);
            st = record_header(r, ev, &done);
            break;
        case ST_PAYLOAD: st = record_payload(r, ev, &done); break;
        default: return CS_END;
        }
        if (st != CS_OK || done)
            return st;
    }
}

cs_status cs_fs_reader_new(const cs_fs_reader_opts *opts, cs_fs_reader **out, cs_error *err)
{
    if (!out)
        return cs_error_set(err, CS_ERR_ARG, "frame-stream reader: NULL out");
    *out = NULL;
    cs_fs_reader *r = calloc(1, sizeof *r);
    if (!r)
        return cs_error_set(err, CS_ERR_NOMEM,
                            "frame-stream reader: out of "
                            "memory");
    bool expect = opts ? opts->expect_header : true;
    r->base = opts ? opts->start_offset : 0;
    r->max_payload = opts && opts->max_payload ? opts->max_payload : CS_FS_DEFAULT_MAX_PAYLOAD;
    r->state = expect ? ST_FILE_HEADER : ST_RECORD;
    *out = r;
    return CS_OK;
}

cs_status cs_fs_reader_feed(cs_fs_reader *r, const uint8_t *data, size_t len, cs_error *err)
{
    if (!r || (!data && len > 0))
        return cs_error_set(err, CS_ERR_ARG,
                            "frame-stream reader: NULL "
                            "argument");
    if (r->finished)
        return cs_error_set(err, CS_ERR_ARG,
                            "frame-stream reader: feed "
                            "after finish");
    if (len == 0)
        return CS_OK;
    if (r->pos > 0) { /* drop consumed bytes; events' pointers expire */
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->base += r->pos;
        r->pos = 0;
    }
    if (len > SIZE_MAX / 2 - r->len)
        return cs_error_set(err, CS_ERR_NOMEM,
                            "frame-stream reader: %zu "
                            "bytes will not fit",
                            len);
    size_t need = r->len + len, ncap = r->cap;
    if (need > ncap)
        ncap = need > 2 * ncap ? need : 2 * ncap;
    else if (ncap > (1u << 20) && need < ncap / 4) /* after a huge record */
        ncap = need;
    if (ncap < 65536)
        ncap = 65536;
    if (ncap != r->cap) {
        uint8_t *nb = realloc(r->buf, ncap);
        if (!nb && need > r->cap)
            return cs_error_set(err, CS_ERR_NOMEM,
                                "frame-stream reader: "
                                "out of memory for %zu bytes",
                                need);
        if (nb) {
            r->buf = nb;
            r->cap = ncap;
        }
    }
    memcpy(r->buf + r->len, data, len);
    r->len += len;
    return CS_OK;
}

cs_status cs_fs_reader_finish(cs_fs_reader *r)
{
    if (!r)
        return CS_ERR_ARG;
    r->finished = true;
    return CS_OK;
}

uint64_t cs_fs_reader_offset(const cs_fs_reader *r)
{
    if (!r)
        return 0;
    return r->pend ? r->pend_off : here(r);
}

void cs_fs_reader_free(cs_fs_reader *r)
{
    if (!r)
        return;
    free(r->buf);
    free(r);
}
