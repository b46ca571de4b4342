/* test_framestream.c - CRC-32C vectors, the frame-stream writer, the
 * incremental reader under every chunking and kind of damage, and the
 * frame-stream study source. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capscreen/crc32c.h"
#include "capscreen/framestream.h"
#include "capscreen/source.h"
#include "testutil.h"

/* ---- building streams ------------------------------------------------ */

#define MAX_RECS 64

typedef struct stream {
    uint8_t buf[64 * 1024];
    size_t len;
    int n; /* records appended */
    size_t off[MAX_RECS], size[MAX_RECS];
    uint64_t index[MAX_RECS];
} stream;

static void sb_bytes(stream *s, const void *p, size_t n)
{
    assert_true(s->len + n <= sizeof s->buf);
    memcpy(s->buf + s->len, p, n);
    s->len += n;
}

static void sb_header(stream *s)
{
    uint8_t h[CS_FS_FILE_HEADER_SIZE];
    cs_fs_encode_file_header(h);
    sb_bytes(s, h, sizeof h);
}

static void sb_record(stream *s, uint64_t idx, uint16_t flags, const uint8_t *payload, uint32_t len)
{
    size_t w = 0;
    assert_true(s->n < MAX_RECS);
    assert_int_equal(cs_fs_encode_record(s->buf + s->len, sizeof s->buf - s->len, idx,
                                         1700000000000000 + (int64_t)idx * 250000, flags, payload,
                                         len, &w, NULL),
                     CS_OK);
    assert_int_equal(w, CS_FS_RECORD_OVERHEAD + len);
    s->off[s->n] = s->len;
    s->size[s->n] = w;
    s->index[s->n] = idx;
    s->n++;
    s->len += w;
}

/* Payload of record i: length (i * 37) % 300 (so record 0 is empty),
 * pseudo-random bytes, record 5 holding the record magic, record 7 holding
 * a whole valid record. */
static uint32_t payload_for(int i, uint8_t *out)
{
    uint32_t len = (uint32_t)(i * 37) % 300, x = 2463534242u + (uint32_t)i;
    for (uint32_t k = 0; k < len; k++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        out[k] = (uint8_t)x;
    }
    if (i == 5)
        memcpy(out + 10, "CSFRCSFR", 8);
    if (i == 7) {
        size_t w;
        assert_int_equal(
            cs_fs_encode_record(out + 20, len - 20, 999, 1, 0, (const uint8_t *)"xy", 2, &w, NULL),
            CS_OK);
    }
    return len;
}

/* A header and `n` records with indexes 100, 101, ... */
static void sb_standard(stream *s, int n)
{
    uint8_t p[300];
    memset(s, 0, sizeof *s);
    sb_header(s);
    for (int i = 0; i < n; i++) {
        uint32_t len = payload_for(i, p);
        sb_record(s, 100 + (uint64_t)i, (uint16_t)(i % 3 == 2 ? 0x8001 : 0), p, len);
    }
}

/* ---- reading streams ------------------------------------------------- */

typedef struct ev {
    cs_fs_event_kind kind;
    uint64_t off, len;
    bool has_index;
    uint64_t index;
    int64_t time;
    uint16_t flags, unknown, version;
    uint32_t hflags, plen, pcrc;
    cs_status status;
    char reason[200];
} ev;

typedef struct evlist {
    ev e[256];
    int n;
} evlist;

static void drain(cs_fs_reader *r, evlist *out, cs_status want_last)
{
    cs_fs_event e;
    cs_status st;
    while ((st = cs_fs_reader_next(r, &e)) == CS_OK) {
        assert_true(out->n < 256);
        ev *d = &out->e[out->n++];
        d->kind = e.kind;
        d->off = e.offset;
        d->len = e.length;
        d->has_index = e.has_index;
        d->index = e.frame_index;
        d->time = e.capture_time_us;
        d->flags = e.flags;
        d->unknown = e.unknown_flags;
        d->version = e.version;
        d->hflags = e.header_flags;
        d->plen = e.payload_len;
        d->pcrc = cs_crc32c(0, e.payload, e.payload_len);
        assert_true((e.payload == NULL) == (e.payload_len == 0 || e.kind != CS_FS_EV_RECORD));
        d->status = e.status;
        snprintf(d->reason, sizeof d->reason, "%s", e.reason);
    }
    assert_int_equal(st, want_last);
}

/* Feed `data` in chunks of `chunk` bytes (draining after each), finish, and
 * check that the events tile [start, start + n) without gap or overlap. */
static void read_all(const uint8_t *data, size_t n, size_t chunk, const cs_fs_reader_opts *opts,
                     evlist *out)
{
    cs_fs_reader *r = NULL;
    uint64_t start = opts ? opts->start_offset : 0;
    out->n = 0;
    assert_int_equal(cs_fs_reader_new(opts, &r, NULL), CS_OK);
    for (size_t i = 0; i < n; i += chunk) {
        size_t c = n - i < chunk ? n - i : chunk;
        assert_int_equal(cs_fs_reader_feed(r, data + i, c, NULL), CS_OK);
        drain(r, out, CS_AGAIN);
    }
    assert_int_equal(cs_fs_reader_finish(r), CS_OK);
    drain(r, out, CS_END);
    cs_fs_reader_free(r);

    uint64_t at = start;
    for (int i = 0; i < out->n; i++) {
        assert_int_equal(out->e[i].off, at);
        at += out->e[i].len;
    }
    assert_int_equal(at, start + n);
}

/* Event `e` is record i of `s`, intact. */
static void assert_record(const ev *e, const stream *s, int i)
{
    uint8_t p[300];
    uint32_t len = payload_for(i, p);
    assert_int_equal(e->kind, CS_FS_EV_RECORD);
    assert_int_equal(e->off, s->off[i]);
    assert_int_equal(e->len, s->size[i]);
    assert_int_equal(e->index, s->index[i]);
    assert_int_equal(e->time, 1700000000000000 + (int64_t)s->index[i] * 250000);
    assert_int_equal(e->plen, len);
    assert_int_equal(e->pcrc, cs_crc32c(0, p, len));
    assert_int_equal(e->flags, i % 3 == 2 ? 0x8001 : 0);
    assert_int_equal(e->unknown, e->flags);
}

/* Events are: header, records first..last-1 of the standard stream. */
static void assert_records(const evlist *l, int at, const stream *s, int first, int last)
{
    for (int i = first; i < last; i++)
        assert_record(&l->e[at + i - first], s, i);
}

/* ---- tests ----------------------------------------------------------- */

static void crc32c_matches_known_vectors(void **state)
{
    (void)state;
    uint8_t zeros[32] = {0}, ones[32], inc[32];
    memset(ones, 0xff, sizeof ones);
    for (int i = 0; i < 32; i++)
        inc[i] = (uint8_t)i;
    assert_int_equal(cs_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(cs_crc32c(0, zeros, 32), 0x8A9136AAu); /* RFC 3720 */
    assert_int_equal(cs_crc32c(0, ones, 32), 0x62A8AB43u);
    assert_int_equal(cs_crc32c(0, inc, 32), 0x46DD794Eu);
    assert_int_equal(cs_crc32c(0, NULL, 0), 0u);
    static const char check[] = "123456789";
    for (size_t k = 0; k <= 9; k++) /* incremental, split anywhere */
        assert_int_equal(cs_crc32c(cs_crc32c(0, check, k), &check[k], 9 - k), 0xE3069283u);
}

static void writer_output_is_byte_exact(void **state)
{
    (void)state;
    /* The worked example of docs/frame-stream.md. */
    static const uint8_t want[] = {
        0x43, 0x53, 0x46, 0x53, 0x01, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x53,
        0x61, 0x37, 0x43, 0x53, 0x46, 0x52, 0x20, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x1e, 0x18, 0x24, 0x0a, 0x06, 0x00, 0x03, 0x00,
        0x00, 0x00, 0x69, 0xce, 0x84, 0x91, 0x61, 0x62, 0x63, 0xb7, 0x3f, 0x4b, 0x36};
    uint8_t got[sizeof want + 8];
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(cs_fs_write_header(f, NULL), CS_OK);
    assert_int_equal(cs_fs_write_record(f, 7, 1700000000000000, 0, (const uint8_t *)"abc", 3, NULL),
                     CS_OK);
    rewind(f);
    assert_int_equal(fread(got, 1, sizeof got, f), sizeof want);
    fclose(f);
    assert_memory_equal(got, want, sizeof want);
}

static void writer_refuses_bad_arguments(void **state)
{
    (void)state;
    uint8_t buf[64], big[128];
    size_t w = 0;
    cs_error err = {0};
    memset(big, 0xAA, sizeof big); /* 64 bytes offered, 65 needed */
    assert_int_equal(cs_fs_encode_record(big, 64, 1, 1, 0,
                                         (const uint8_t *)"0123456789abcdefghijklmnopqrstuvwxyz",
                                         29, &w, &err),
                     CS_ERR_TOO_LARGE);
    assert_int_equal(err.code, CS_ERR_TOO_LARGE);
    assert_int_equal(big[0], 0xAA); /* nothing written */
    assert_int_equal(big[64], 0xAA);
    assert_int_equal(cs_fs_encode_record(buf, sizeof buf, 1, 1, 0, NULL, 5, &w, NULL), CS_ERR_ARG);
    assert_int_equal(cs_fs_write_record(stdout, 1, 1, 0, buf, CS_FS_DEFAULT_MAX_PAYLOAD + 1, &err),
                     CS_ERR_TOO_LARGE);
    assert_int_equal(cs_fs_write_header(NULL, NULL), CS_ERR_ARG);
    uint8_t p28[28] = {1, 2, 3};
    assert_int_equal(cs_fs_encode_record(buf, sizeof buf, 1, 1, 0, p28, 28, &w, NULL), CS_OK);
    assert_int_equal(w, sizeof buf);
}

static void every_chunk_size_gives_the_same_records(void **state)
{
    (void)state;
    static stream s;
    static evlist l;
    sb_standard(&s, 40);
    for (size_t chunk = 1; chunk <= s.len + 1; chunk++) {
        read_all(s.buf, s.len, chunk, NULL, &l);
        assert_int_equal(l.n, 41);
        assert_int_equal(l.e[0].kind, CS_FS_EV_HEADER);
        assert_int_equal(l.e[0].len, CS_FS_FILE_HEADER_SIZE);
        assert_records(&l, 1, &s, 0, 40);
    }
}

static void byte_at_a_time_emits_each_record_on_its_last_byte(void **state)
{
    (void)state;
    static stream s;
    static evlist l;
    cs_fs_reader *r = NULL;
    sb_standard(&s, 12);
    assert_int_equal(cs_fs_reader_new(NULL, &r, NULL), CS_OK);
    l.n = 0;
    int rec = 0;
    for (size_t i = 0; i < s.len; i++) {
        int before = l.n;
        assert_int_equal(cs_fs_reader_feed(r, s.buf + i, 1, NULL), CS_OK);
        drain(r, &l, CS_AGAIN);
        bool ends_header = i + 1 == CS_FS_FILE_HEADER_SIZE;
        bool ends_record = rec < s.n && i + 1 == s.off[rec] + s.size[rec];
        assert_int_equal(l.n - before, ends_header || ends_record ? 1 : 0);
        if (ends_record)
            assert_record(&l.e[l.n - 1], &s, rec++);
        assert_int_equal(cs_fs_reader_offset(r), ends_header || ends_record   ? i + 1
                                                 : i < CS_FS_FILE_HEADER_SIZE ? 0
                                                                              : s.off[rec]);
    }
    assert_int_equal(rec, 12);
    assert_int_equal(cs_fs_reader_finish(r), CS_OK);
    drain(r, &l, CS_END);
    assert_int_equal(cs_fs_reader_feed(r, s.buf, 1, NULL), CS_ERR_ARG);
    cs_fs_reader_free(r);
}

static void flipped_payload_bit_damages_only_that_record(void **state)
{
    (void)state;
    static stream s, bad;
    static evlist l;
    sb_standard(&s, 20);
    for (int k = 1; k < s.n; k++) { /* record 0 has no payload */
        if (k == 7)                 /* holds a whole record: see the next test */
            continue;
        bad = s;
        bad.buf[s.off[k] + CS_FS_RECORD_HEADER_SIZE + (size_t)k % 5] ^= 0x10;
        read_all(bad.buf, bad.len, 61, NULL, &l);
        assert_int_equal(l.n, 1 + s.n);
        assert_records(&l, 1, &s, 0, k);
        const ev *d = &l.e[1 + k];
        assert_int_equal(d->kind, CS_FS_EV_DAMAGE);
        assert_int_equal(d->status, CS_ERR_CHECKSUM);
        assert_int_equal(d->off, s.off[k]);
        assert_int_equal(d->len, s.size[k]);
        assert_true(d->has_index);
        assert_int_equal(d->index, s.index[k]);
        assert_non_null(strstr(d->reason, "payload CRC mismatch"));
        char at[64];
        snprintf(at, sizeof at, "offset %zu (frame %llu)", s.off[k],
                 (unsigned long long)s.index[k]);
        assert_non_null(strstr(d->reason, at));
        assert_records(&l, k + 2, &s, k + 1, s.n);
    }
}

static void damaged_record_hiding_a_record_yields_the_inner_one(void **state)
{
    (void)state;
    static stream s, bad;
    static evlist l;
    sb_standard(&s, 9);
    bad = s; /* record 7 carries a whole record at payload offset 20 */
    bad.buf[s.off[7] + CS_FS_RECORD_HEADER_SIZE + 2] ^= 1;
    read_all(bad.buf, bad.len, 4096, NULL, &l);
    size_t inner = s.off[7] + CS_FS_RECORD_HEADER_SIZE + 20;
    assert_int_equal(l.n, 1 + 7 + 4);
    assert_int_equal(l.e[8].kind, CS_FS_EV_DAMAGE);
    assert_int_equal(l.e[8].off, s.off[7]);
    assert_int_equal(l.e[8].len, inner - s.off[7]);
    assert_int_equal(l.e[9].kind, CS_FS_EV_RECORD);
    assert_int_equal(l.e[9].index, 999);
    assert_int_equal(l.e[10].kind, CS_FS_EV_DAMAGE); /* rest of record 7 */
    assert_int_equal(l.e[10].off + l.e[10].len, s.off[8]);
    assert_record(&l.e[11], &s, 8);
}

static void corrupted_length_field_fails_the_header_crc(void **state)
{
    (void)state;
    static stream s, bad;
    static evlist l;
    sb_standard(&s, 10);
    bad = s;
    bad.buf[s.off[4] + 24 + 2] ^= 0x40; /* payload length += 4 MiB */
    read_all(bad.buf, bad.len, 7, NULL, &l);
    assert_int_equal(l.n, 11);
    assert_records(&l, 1, &s, 0, 4);
    assert_int_equal(l.e[5].kind, CS_FS_EV_DAMAGE);
    assert_int_equal(l.e[5].status, CS_ERR_CHECKSUM);
    assert_false(l.e[5].has_index);
    assert_int_equal(l.e[5].off, s.off[4]);
    assert_int_equal(l.e[5].len, s.size[4]);
    assert_non_null(strstr(l.e[5].reason, "header CRC mismatch"));
    assert_records(&l, 6, &s, 5, 10);

    bad = s; /* header length field out of range */
    bad.buf[s.off[2] + 4] = 3;
    read_all(bad.buf, bad.len, 1000, NULL, &l);
    assert_int_equal(l.n, 11);
    assert_int_equal(l.e[3].status, CS_ERR_CORRUPT);
    assert_int_equal(l.e[3].len, s.size[2]);
    assert_records(&l, 4, &s, 3, 10);
}

static void garbage_between_records_is_reported_and_skipped(void **state)
{
    (void)state;
    static stream s;
    static evlist l;
    uint8_t p[300];
    static const char junk[] = "xxCSFRzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzCSFCS";
    memset(&s, 0, sizeof s);
    sb_header(&s);
    for (int i = 0; i < 6; i++) {
        if (i == 3)
            sb_bytes(&s, junk, sizeof junk - 1);
        sb_record(&s, 100 + (uint64_t)i, i % 3 == 2 ? 0x8001 : 0, p, payload_for(i, p));
    }
    for (size_t chunk = 1; chunk <= 80; chunk += 3) {
        read_all(s.buf, s.len, chunk, NULL, &l);
        assert_int_equal(l.n, 8);
        assert_records(&l, 1, &s, 0, 3);
        assert_int_equal(l.e[4].kind, CS_FS_EV_DAMAGE);
        assert_int_equal(l.e[4].status, CS_ERR_CORRUPT);
        assert_int_equal(l.e[4].off, s.off[2] + s.size[2]);
        assert_int_equal(l.e[4].len, sizeof junk - 1);
        assert_non_null(strstr(l.e[4].reason, "garbage"));
        assert_records(&l, 5, &s, 3, 6);
    }
}

static void truncated_tail_is_reported_as_truncated(void **state)
{
    (void)state;
    static stream s;
    static evlist l;
    sb_standard(&s, 6);
    size_t last = s.off[5];
    for (size_t cut = last + 1; cut < s.len; cut++) {
        read_all(s.buf, cut, 13, NULL, &l);
        assert_int_equal(l.n, 7);
        assert_records(&l, 1, &s, 0, 5);
        const ev *d = &l.e[6];
        assert_int_equal(d->kind, CS_FS_EV_DAMAGE);
        assert_int_equal(d->status, CS_ERR_TRUNCATED);
        assert_int_equal(d->off, last);
        assert_int_equal(d->len, cut - last);
        assert_int_equal(d->has_index, cut >= last + CS_FS_RECORD_HEADER_SIZE);
        assert_non_null(strstr(d->reason, "offset"));
    }
    read_all(s.buf, s.len, 13, NULL, &l); /* the whole stream: no damage */
    assert_int_equal(l.n, 7);
    assert_record(&l.e[6], &s, 5);
}

/* Record k of sb_standard stream `s`, copied into `bad`, with its
 * payload_len raised by `extra` and its header CRC made to pass again: a
 * hub writer's lie. */
static void lie_about_length(stream *bad, const stream *s, int k, uint32_t extra)
{
    *bad = *s;
    uint8_t *h = bad->buf + s->off[k];
    uint32_t plen = (uint32_t)(h[24] | h[25] << 8 | h[26] << 16 | (uint32_t)h[27] << 24);
    cs_fs_encode_record_header(h, s->index[k], 1700000000000000 + (int64_t)s->index[k] * 250000,
                               (uint16_t)(k % 3 == 2 ? 0x8001 : 0), plen + extra);
}

/* Stream `b` read in chunks of many sizes gives the events `l` (read in
 * chunks of 61): status, length and reason each. */
static void same_events_whatever_the_chunks(const stream *b, const evlist *l)
{
    static evlist again;
    for (size_t chunk = 1; chunk <= b->len; chunk = chunk * 3 + 2) {
        read_all(b->buf, b->len, chunk, NULL, &again);
        assert_int_equal(again.n, l->n);
        for (int i = 0; i < l->n; i++) {
            assert_int_equal(again.e[i].status, l->e[i].status);
            assert_int_equal(again.e[i].len, l->e[i].len);
            assert_string_equal(again.e[i].reason, l->e[i].reason);
        }
    }
}

/* A record whose header passes but whose payload_len lies (a writer's bug)
 * fails alone: the intact records its false length covers are read. It
 * fails as soon as the record behind its true end is held whole
 * (CS_ERR_CORRUPT, naming where it ends), with the same events whatever
 * the chunks. (With nothing behind it, it fails at the end of the stream:
 * truncated_tail_is_reported_as_truncated.) */
static void lying_payload_length_swallows_no_record(void **state)
{
    (void)state;
    static stream s, bad;
    static evlist l;
    sb_standard(&s, 8);
    for (int k = 1; k < s.n - 1; k++) { /* the last holds a record: read when it fails */
        lie_about_length(&bad, &s, k, 5000);
        read_all(bad.buf, bad.len, 61, NULL, &l);
        assert_int_equal(l.n, 1 + s.n);
        assert_records(&l, 1, &s, 0, k);
        const ev *d = &l.e[1 + k];
        assert_int_equal(d->kind, CS_FS_EV_DAMAGE);
        assert_int_equal(d->off, s.off[k]);
        assert_int_equal(d->len, s.size[k]);
        assert_true(d->has_index);
        assert_int_equal(d->index, s.index[k]);
        char want[96];
        snprintf(want, sizeof want, "lies: frame %llu starts intact at %zu",
                 (unsigned long long)s.index[k + 1], s.off[k + 1]);
        assert_int_equal(d->status, CS_ERR_CORRUPT);
        if (!strstr(d->reason, want))
            fail_msg("reason '%s' does not say '%s'", d->reason, want);
        assert_records(&l, k + 2, &s, k + 1, s.n);
        same_events_whatever_the_chunks(&bad, &l);
    }
}

/* A lying length whose true end is followed by a damaged record (its
 * header passes, its payload CRC does not): that candidate decides, the
 * scan for the lie ends there, and the lying record waits for its length
 * or the end as before; at the end every intact record is still read, and
 * the events are the same whatever the chunks. */
static void lying_payload_length_before_a_damaged_record(void **state)
{
    (void)state;
    static stream s, bad;
    static evlist l;
    sb_standard(&s, 8);
    const int k = 2;
    lie_about_length(&bad, &s, k, 5000);
    bad.buf[s.off[k + 1] + s.size[k + 1] - 1] ^= 0x40; /* record k + 1's payload CRC */
    read_all(bad.buf, bad.len, 61, NULL, &l);
    assert_int_equal(l.n, 1 + s.n);
    assert_records(&l, 1, &s, 0, k);
    assert_int_equal(l.e[1 + k].status, CS_ERR_TRUNCATED); /* found at the end */
    assert_int_equal(l.e[1 + k].len, s.size[k]);
    assert_int_equal(l.e[2 + k].status, CS_ERR_CHECKSUM);
    assert_records(&l, k + 3, &s, k + 2, s.n);
    same_events_whatever_the_chunks(&bad, &l);
}

/* Live: the stream still open, every record behind a lying length is
 * yielded before the stream ends (a hub's study is triaged as it arrives),
 * and finishing adds nothing. Only a lie at the last record waits for the
 * end, as there is nothing behind it to show the length false. */
static void lying_payload_length_holds_back_no_live_record(void **state)
{
    (void)state;
    static stream s, bad;
    static evlist l;
    sb_standard(&s, 8);
    for (int k = 1; k < s.n - 1; k++) {
        lie_about_length(&bad, &s, k, 1000000);
        cs_fs_reader *r = NULL;
        assert_int_equal(cs_fs_reader_new(NULL, &r, NULL), CS_OK);
        l.n = 0;
        for (size_t i = 0; i < bad.len; i += 50) {
            size_t c = bad.len - i < 50 ? bad.len - i : 50;
            assert_int_equal(cs_fs_reader_feed(r, bad.buf + i, c, NULL), CS_OK);
            drain(r, &l, CS_AGAIN);
        }
        assert_int_equal(l.n, 1 + s.n); /* all of it, before the end */
        assert_records(&l, k + 2, &s, k + 1, s.n);
        assert_int_equal(l.e[1 + k].status, CS_ERR_CORRUPT);
        assert_int_equal(cs_fs_reader_finish(r), CS_OK);
        drain(r, &l, CS_END);
        assert_int_equal(l.n, 1 + s.n);
        cs_fs_reader_free(r);
    }
}

static void reading_can_start_mid_file(void **state)
{
    (void)state;
    static stream s;
    static evlist l;
    sb_standard(&s, 10);
    for (size_t at = 1; at < s.off[4]; at += 7) {
        int next = 0; /* first record starting at or after `at` */
        while (s.off[next] < at)
            next++;
        cs_fs_reader_opts o = {.expect_header = false, .start_offset = at};
        read_all(s.buf + at, s.len - at, 33, &o, &l);
        int lead = s.off[next] != at;
        assert_int_equal(l.n, lead + s.n - next);
        if (lead) {
            assert_int_equal(l.e[0].kind, CS_FS_EV_SKIPPED);
            assert_int_equal(l.e[0].status, CS_OK);
            assert_int_equal(l.e[0].len, s.off[next] - at);
        }
        assert_records(&l, lead, &s, next, s.n);
    }
}

static void zero_length_payload_round_trips(void **state)
{
    (void)state;
    static stream s;
    static evlist l;
    memset(&s, 0, sizeof s);
    sb_header(&s);
    sb_record(&s, 5, 0, NULL, 0);
    sb_record(&s, 6, 0, NULL, 0);
    read_all(s.buf, s.len, 1, NULL, &l);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.e[1].kind, CS_FS_EV_RECORD);
    assert_int_equal(l.e[1].plen, 0);
    assert_int_equal(l.e[1].len, CS_FS_RECORD_OVERHEAD);
    assert_int_equal(l.e[2].index, 6);
}

static void payload_with_magic_is_one_record(void **state)
{
    (void)state;
    static stream s;
    static evlist l;
    sb_standard(&s, 8); /* 5 holds "CSFRCSFR", 7 a whole record */
    read_all(s.buf, s.len, 3, NULL, &l);
    assert_int_equal(l.n, 9);
    assert_record(&l.e[6], &s, 5);
    assert_record(&l.e[8], &s, 7);
}

static void over_cap_length_is_damage_without_waiting(void **state)
{
    (void)state;
    static stream s;
    static evlist l;
    uint8_t p[300];
    memset(&s, 0, sizeof s);
    sb_header(&s);
    for (int i = 0; i < 4; i++)
        sb_record(&s, 100 + (uint64_t)i, i % 3 == 2 ? 0x8001 : 0, p, payload_for(i, p));
    cs_fs_reader_opts o = {.expect_header = true, .max_payload = 100};
    read_all(s.buf, s.len, 50, &o, &l); /* record 3 has 111 bytes */
    assert_int_equal(l.n, 5);
    assert_int_equal(l.e[4].kind, CS_FS_EV_DAMAGE);
    assert_int_equal(l.e[4].status, CS_ERR_TOO_LARGE);
    assert_true(l.e[4].has_index);
    assert_int_equal(l.e[4].index, 103);
    assert_int_equal(l.e[4].len, s.size[3]);

    /* A valid header announcing 4 GiB: the next record comes out at once. */
    uint8_t h[CS_FS_RECORD_HEADER_SIZE];
    cs_fs_reader *r = NULL;
    cs_fs_event e;
    cs_fs_encode_record_header(h, 1, 0, 0, 0xFFFFFFF0u);
    assert_int_equal(cs_fs_reader_new(NULL, &r, NULL), CS_OK);
    assert_int_equal(cs_fs_reader_feed(r, s.buf, s.off[1], NULL), CS_OK);
    assert_int_equal(cs_fs_reader_feed(r, h, sizeof h, NULL), CS_OK);
    assert_int_equal(cs_fs_reader_feed(r, s.buf + s.off[1], s.size[1], NULL), CS_OK);
    int kinds[4] = {0}, n = 0;
    cs_status st;
    while ((st = cs_fs_reader_next(r, &e)) == CS_OK && n < 4) {
        kinds[n++] = e.kind;
        if (e.kind == CS_FS_EV_DAMAGE) {
            assert_int_equal(e.status, CS_ERR_TOO_LARGE);
            assert_int_equal(e.length, sizeof h);
        }
    }
    assert_int_equal(st, CS_AGAIN);
    assert_int_equal(n, 4);
    assert_int_equal(kinds[2], CS_FS_EV_DAMAGE);
    assert_int_equal(kinds[3], CS_FS_EV_RECORD);
    cs_fs_reader_free(r);
}

static void file_header_damage_and_extensions(void **state)
{
    (void)state;
    static stream s, bad;
    static evlist l;
    sb_standard(&s, 4);

    bad = s; /* damaged header CRC */
    bad.buf[9] ^= 1;
    read_all(bad.buf, bad.len, 5, NULL, &l);
    assert_int_equal(l.n, 5);
    assert_int_equal(l.e[0].kind, CS_FS_EV_DAMAGE);
    assert_int_equal(l.e[0].status, CS_ERR_CHECKSUM);
    assert_int_equal(l.e[0].len, 16);
    assert_records(&l, 1, &s, 0, 4);

    /* no header at all: a zero-length damage event, then the records */
    read_all(s.buf + 16, s.len - 16, 5, NULL, &l);
    assert_int_equal(l.n, 5);
    assert_int_equal(l.e[0].status, CS_ERR_CORRUPT);
    assert_int_equal(l.e[0].len, 0);
    assert_non_null(strstr(l.e[0].reason, "no file header"));
    assert_non_null(strstr(l.e[0].reason, "no bytes skipped"));
    assert_int_equal(l.e[1].index, 100);

    /* version 2 with 8 extension bytes: reported, records still read */
    uint8_t h[24];
    memcpy(bad.buf, "CSFS\x02\x00\x18\x00\x5a\x00\x00\x80", 12);
    memset(bad.buf + 12, 0xEE, 8);
    uint32_t c = cs_crc32c(0, bad.buf, 20);
    for (int i = 0; i < 4; i++)
        bad.buf[20 + i] = (uint8_t)(c >> (8 * i));
    memcpy(h, bad.buf, sizeof h);
    memcpy(bad.buf + 24, s.buf + 16, s.len - 16);
    read_all(bad.buf, s.len + 8, 9, NULL, &l);
    assert_int_equal(l.n, 5);
    assert_int_equal(l.e[0].kind, CS_FS_EV_DAMAGE);
    assert_int_equal(l.e[0].status, CS_ERR_UNSUPPORTED);
    assert_int_equal(l.e[0].len, 24);
    assert_int_equal(l.e[4].index, 103);

    h[4] = 1; /* version 1 with the same extension: a header event */
    c = cs_crc32c(0, h, 20);
    for (int i = 0; i < 4; i++)
        h[20 + i] = (uint8_t)(c >> (8 * i));
    memcpy(bad.buf, h, sizeof h);
    read_all(bad.buf, s.len + 8, 9, NULL, &l);
    assert_int_equal(l.e[0].kind, CS_FS_EV_HEADER);
    assert_int_equal(l.e[0].version, 1);
    assert_int_equal(l.e[0].hflags, 0x8000005au);
    assert_int_equal(l.e[0].len, 24);
    assert_int_equal(l.n, 5);

    read_all(s.buf, 0, 1, NULL, &l); /* empty stream */
    assert_int_equal(l.n, 1);
    assert_int_equal(l.e[0].status, CS_ERR_EMPTY);
}

static void record_header_extension_and_unknown_flags_are_kept(void **state)
{
    (void)state;
    static stream s;
    static evlist l;
    uint8_t rec[48];
    memset(&s, 0, sizeof s);
    sb_header(&s);
    /* A 40-byte record header (8 future bytes) with flags 0xA5A5. */
    cs_fs_encode_record_header(rec, 42, -5, 0xA5A5, 4);
    rec[4] = 40;
    memset(rec + 28, 0x77, 8);
    uint32_t c = cs_crc32c(0, rec, 36);
    for (int i = 0; i < 4; i++)
        rec[36 + i] = (uint8_t)(c >> (8 * i));
    memcpy(rec + 40, "abcd", 4);
    c = cs_crc32c(0, "abcd", 4);
    for (int i = 0; i < 4; i++)
        rec[44 + i] = (uint8_t)(c >> (8 * i));
    sb_bytes(&s, rec, sizeof rec);
    read_all(s.buf, s.len, 2, NULL, &l);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.e[1].kind, CS_FS_EV_RECORD);
    assert_int_equal(l.e[1].index, 42);
    assert_int_equal(l.e[1].time, -5);
    assert_int_equal(l.e[1].flags, 0xA5A5);
    assert_int_equal(l.e[1].unknown, 0xA5A5);
    assert_int_equal(l.e[1].pcrc, cs_crc32c(0, "abcd", 4));
}

static void stream_source_yields_frames_and_broken_items(void **state)
{
    (void)state;
    static stream s;
    char path[4200];
    const char *dir = tu_tmpdir();
    assert_non_null(dir);
    snprintf(path, sizeof path, "%s/study.csfs", dir);
    sb_standard(&s, 6);
    s.buf[s.off[2] + CS_FS_RECORD_HEADER_SIZE + 1] ^= 4; /* record 2 damaged */
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(s.buf, 1, s.len - 3, f), s.len - 3); /* 5 cut */
    fclose(f);
    assert_true(cs_fs_is_stream_file(path));
    assert_false(cs_fs_is_stream_file(dir));
    assert_false(cs_fs_is_stream_file("/nonexistent/x.csfs"));

    cs_source *src = NULL;
    cs_error err = {0};
    assert_int_equal(cs_source_open_framestream(path, &src, &err), CS_OK);
    assert_int_equal(src->type, CS_SOURCE_FRAMESTREAM);
    cs_item it;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(src->next(src, &it, &err), CS_OK);
        char name[32];
        snprintf(name, sizeof name, "frame %d", 100 + i);
        assert_string_equal(it.name, name);
        assert_int_equal(it.frame_index, 100 + i);
        if (i == 2 || i == 5) {
            char at[48];
            assert_int_equal(it.kind, CS_ITEM_BROKEN);
            assert_int_equal(it.status, i == 2 ? CS_ERR_CHECKSUM : CS_ERR_TRUNCATED);
            snprintf(at, sizeof at, "offset %zu", s.off[i]);
            assert_non_null(strstr(it.reason, at));
            assert_non_null(strstr(it.reason, name + 6));
            assert_int_equal(it.capture_time_us, 1700000000000000 + (100 + i) * 250000);
        } else {
            uint8_t p[300];
            uint32_t len = payload_for(i, p);
            assert_int_equal(it.kind, CS_ITEM_ENCODED);
            assert_int_equal(it.len, len);
            assert_memory_equal(it.data, p, len);
            assert_int_equal(it.capture_time_us, 1700000000000000 + (100 + i) * 250000);
        }
        free(it.data);
    }
    assert_int_equal(src->next(src, &it, &err), CS_END);
    src->close(src);
    remove(path);

    assert_int_equal(cs_source_open_framestream("/nonexistent/x.csfs", &src, &err), CS_ERR_IO);
    assert_null(src);
    assert_non_null(strstr(err.msg, "/nonexistent/x.csfs"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc32c_matches_known_vectors),
        cmocka_unit_test(writer_output_is_byte_exact),
        cmocka_unit_test(writer_refuses_bad_arguments),
        cmocka_unit_test(every_chunk_size_gives_the_same_records),
        cmocka_unit_test(byte_at_a_time_emits_each_record_on_its_last_byte),
        cmocka_unit_test(flipped_payload_bit_damages_only_that_record),
        cmocka_unit_test(damaged_record_hiding_a_record_yields_the_inner_one),
        cmocka_unit_test(corrupted_length_field_fails_the_header_crc),
        cmocka_unit_test(garbage_between_records_is_reported_and_skipped),
        cmocka_unit_test(truncated_tail_is_reported_as_truncated),
        cmocka_unit_test(lying_payload_length_swallows_no_record),
        cmocka_unit_test(lying_payload_length_holds_back_no_live_record),
        cmocka_unit_test(lying_payload_length_before_a_damaged_record),
        cmocka_unit_test(reading_can_start_mid_file),
        cmocka_unit_test(zero_length_payload_round_trips),
        cmocka_unit_test(payload_with_magic_is_one_record),
        cmocka_unit_test(over_cap_length_is_damage_without_waiting),
        cmocka_unit_test(file_header_damage_and_extensions),
        cmocka_unit_test(record_header_extension_and_unknown_flags_are_kept),
        cmocka_unit_test(stream_source_yields_frames_and_broken_items),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
