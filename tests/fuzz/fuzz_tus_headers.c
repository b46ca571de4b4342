/* fuzz_tus_headers.c - libFuzzer target for the tus header parsers, which
 * read values straight from the network (src/server/tus_headers.h).
 *
 * The input is split at its first NUL-free prefix into one header value
 * (capped like the server caps it) and fed to every parser. Invariants
 * checked beyond "no crash": a parsed offset fits in int64; parsed
 * metadata keys are unique and every value stays within its cap; a parsed
 * checksum has its algorithm's digest length; every error has a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/tus/tus_headers.h"

static void check(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char value[CS_TUS_HEADER_MAX + 64];
    size_t n = size < sizeof value - 1 ? size : sizeof value - 1;
    memcpy(value, data, n);
    value[n] = '\0'; /* headers arrive as C strings from libmicrohttpd */

    cs_error err = {0};
    uint64_t u = 0;
    if (cs_tus_parse_u64(value, &u, &err) == CS_OK)
        check(u <= (uint64_t)INT64_MAX);
    else
        check(err.msg[0] != '\0');

    static cs_tus_meta meta;
    memset(&err, 0, sizeof err);
    if (cs_tus_parse_metadata(value, &meta, &err) == CS_OK) {
        check(meta.n <= CS_TUS_META_MAX_PAIRS);
        for (size_t i = 0; i < meta.n; i++) {
            check(meta.pairs[i].value_len <= CS_TUS_META_VALUE_MAX);
            check(strlen(meta.pairs[i].key) <= CS_TUS_META_KEY_MAX);
            for (size_t j = i + 1; j < meta.n; j++)
                check(strcmp(meta.pairs[i].key, meta.pairs[j].key) != 0);
            check(cs_tus_meta_get(&meta, meta.pairs[i].key) != NULL);
        }
    } else {
        check(err.msg[0] != '\0');
    }

    cs_tus_checksum sum;
    memset(&err, 0, sizeof err);
    if (cs_tus_parse_checksum(value, &sum, &err) == CS_OK)
        check((sum.algo == CS_TUS_SHA1 && sum.len == 20) ||
              (sum.algo == CS_TUS_SHA256 && sum.len == 32));
    else
        check(err.msg[0] != '\0');
    return 0;
}
