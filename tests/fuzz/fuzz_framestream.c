/* fuzz_framestream.c - libFuzzer target: feeds arbitrary bytes to the
 * frame-stream reader, whole and in pseudo-random chunks, and aborts unless
 * both give the same events and the events tile the input exactly.
 *
 * The input is a raw stream file (the seed corpus in corpus/framestream/ is
 * made of valid ones); chunk sizes come from the input's CRC, so a crash
 * replays exactly. Build: -DCS_FUZZ=ON with clang, or by hand:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
 *     tests/fuzz/fuzz_framestream.c src/common/crc32c.c \
 *     src/common/status.c src/framestream/reader.c \
 *     src/framestream/writer.c -o fuzz_framestream
 *   ./fuzz_framestream tests/fuzz/corpus/framestream -max_total_time=60 */
#include <stdlib.h>
#include <string.h>

#include "capscreen/crc32c.h"
#include "capscreen/framestream.h"

typedef struct fz_ev {
    int kind;
    uint64_t off, len, index;
    int has_index;
    int status;
    uint32_t plen, pcrc;
} fz_ev;

typedef struct fz_run {
    fz_ev *ev;
    size_t n, cap;
} fz_run;

static void check(int ok)
{
    if (!ok)
        abort();
}

static void drain(cs_fs_reader *r, fz_run *run, cs_status want)
{
    cs_fs_event e;
    cs_status st;
    while ((st = cs_fs_reader_next(r, &e)) == CS_OK) {
        if (run->n == run->cap) {
            run->cap = run->cap ? 2 * run->cap : 64;
            run->ev = realloc(run->ev, run->cap * sizeof *run->ev);
            check(run->ev != NULL);
        }
        check(e.kind != CS_FS_EV_RECORD ||
              e.length >= CS_FS_RECORD_OVERHEAD + (uint64_t)e.payload_len);
        check(e.kind == CS_FS_EV_RECORD || e.payload == NULL);
        check(memchr(e.reason, 0, sizeof e.reason) != NULL);
        fz_ev *d = &run->ev[run->n++];
        memset(d, 0, sizeof *d); /* padding too: runs are compared bytewise */
        d->kind = e.kind;
        d->off = e.offset;
        d->len = e.length;
        d->index = e.frame_index;
        d->has_index = e.has_index;
        d->status = e.status;
        d->plen = e.payload_len;
        d->pcrc = cs_crc32c(0, e.payload, e.payload_len);
    }
    check(st == want);
}

/* Read `data` with chunk sizes drawn from `seed` (0: one chunk). */
static void run_reader(const uint8_t *data, size_t size, uint32_t seed, const cs_fs_reader_opts *o,
                       fz_run *run)
{
    cs_fs_reader *r = NULL;
    uint32_t x = seed | 1u;
    check(cs_fs_reader_new(o, &r, NULL) == CS_OK);
    for (size_t i = 0; i < size;) {
        size_t c = size - i;
        if (seed) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            size_t lim = (x >> 24) < 64 ? 4 : (x >> 24) < 192 ? 64 : 1024;
            c = 1 + (x % lim);
            if (c > size - i)
                c = size - i;
        }
        check(cs_fs_reader_feed(r, data + i, c, NULL) == CS_OK);
        drain(r, run, CS_AGAIN);
        i += c;
    }
    check(cs_fs_reader_finish(r) == CS_OK);
    drain(r, run, CS_END);
    check(cs_fs_reader_next(r, &(cs_fs_event){0}) == CS_END);
    cs_fs_reader_free(r);

    uint64_t at = o->start_offset; /* every byte in exactly one event */
    for (size_t i = 0; i < run->n; i++) {
        check(run->ev[i].off == at);
        at += run->ev[i].len;
    }
    check(at == o->start_offset + size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t seed = cs_crc32c(0, data, size) | 0x100u;
    for (int mode = 0; mode < 3; mode++) {
        cs_fs_reader_opts o = {.expect_header = mode == 0,
                               .start_offset = mode == 1 ? 12345 : 0,
                               .max_payload = mode == 2 ? 100 : 0};
        fz_run whole = {0}, chunked = {0};
        run_reader(data, size, 0, &o, &whole);
        run_reader(data, size, seed + (uint32_t)mode, &o, &chunked);
        check(whole.n == chunked.n);
        check(whole.n == 0 || memcmp(whole.ev, chunked.ev, whole.n * sizeof *whole.ev) == 0);
        free(whole.ev);
        free(chunked.ev);
    }
    return 0;
}
