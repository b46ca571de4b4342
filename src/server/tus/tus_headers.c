/* tus_headers.c - parsers for the tus request headers (see tus_headers.h). */
#include "server/tus/tus_headers.h"

#include <sodium.h>
#include <stdint.h>
#include <string.h>

cs_status cs_tus_parse_u64(const char *s, uint64_t *out, cs_error *err)
{
    if (!s || !out)
        return cs_error_set(err, CS_ERR_ARG, "missing number");
    size_t n = strnlen(s, 32);
    if (n == 0)
        return cs_error_set(err, CS_ERR_CORRUPT, "empty number");
    if (n > 19)
        return cs_error_set(err, CS_ERR_CORRUPT, "number has more than 19 digits");
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return cs_error_set(err, CS_ERR_CORRUPT,
                                "'%.32s' is not a non-negative decimal integer", s);
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        return cs_error_set(err, CS_ERR_CORRUPT, "number out of range");
    *out = v;
    return CS_OK;
}

/* Decode standard base64 (with padding) of `len` chars into `out`. */
static cs_status b64_decode(const char *s, size_t len, void *out, size_t cap, size_t *out_len,
                            cs_error *err)
{
    if (len % 4 != 0)
        return cs_error_set(err, CS_ERR_CORRUPT, "base64 length %zu is not a multiple of 4", len);
    if (len / 4 * 3 > cap + 2)
        return cs_error_set(err, CS_ERR_TOO_LARGE, "base64 value longer than %zu bytes", cap);
    const char *end = NULL;
    if (sodium_base642bin(out, cap, s, len, NULL, out_len, &end, sodium_base64_VARIANT_ORIGINAL) !=
            0 ||
        end != s + len)
        return cs_error_set(err, CS_ERR_CORRUPT, "invalid base64");
    return CS_OK;
}

static bool key_char_ok(char c) { return c > 0x20 && c < 0x7f && c != ','; }

cs_status cs_tus_parse_metadata(const char *s, cs_tus_meta *out, cs_error *err)
{
    if (!s || !out)
        return cs_error_set(err, CS_ERR_ARG, "missing metadata");
    out->n = 0;
    size_t total = strnlen(s, CS_TUS_HEADER_MAX + 1);
    if (total > CS_TUS_HEADER_MAX)
        return cs_error_set(err, CS_ERR_TOO_LARGE, "Upload-Metadata longer than %d bytes",
                            CS_TUS_HEADER_MAX);
    const char *p = s, *end = s + total;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *pe = comma ? comma : end;
        while (p < pe && *p == ' ')
            p++;
        const char *q = pe;
        while (q > p && q[-1] == ' ')
            q--;
        if (p == q) {
            if (total == 0 || (!comma && out->n == 0 && p == end))
                break;
            return cs_error_set(err, CS_ERR_CORRUPT, "Upload-Metadata has an empty pair");
        }
        if (out->n == CS_TUS_META_MAX_PAIRS)
            return cs_error_set(err, CS_ERR_TOO_LARGE, "Upload-Metadata has more than %d pairs",
                                CS_TUS_META_MAX_PAIRS);
        cs_tus_meta_pair *pr = &out->pairs[out->n];
        const char *k = p;
        while (p < q && *p != ' ') {
            if (!key_char_ok(*p))
                return cs_error_set(err, CS_ERR_CORRUPT, "Upload-Metadata key has a bad character");
            p++;
        }
        size_t klen = (size_t)(p - k);
        if (klen > CS_TUS_META_KEY_MAX)
            return cs_error_set(err, CS_ERR_TOO_LARGE, "Upload-Metadata key longer than %d bytes",
                                CS_TUS_META_KEY_MAX);
        memcpy(pr->key, k, klen);
        pr->key[klen] = '\0';
        for (size_t i = 0; i < out->n; i++)
            if (strcmp(out->pairs[i].key, pr->key) == 0)
                return cs_error_set(err, CS_ERR_CORRUPT, "Upload-Metadata key '%s' repeated",
                                    pr->key);
        pr->has_value = false;
        pr->value_len = 0;
        pr->value[0] = '\0';
        if (p < q) {
            p++; /* the one space */
            if (p == q || *p == ' ')
                return cs_error_set(err, CS_ERR_CORRUPT,
                                    "Upload-Metadata value of '%s' is malformed", pr->key);
            cs_error inner = {0};
            cs_status st = b64_decode(p, (size_t)(q - p), pr->value, CS_TUS_META_VALUE_MAX,
                                      &pr->value_len, &inner);
            if (st != CS_OK)
                return cs_error_set(err, st, "Upload-Metadata value of '%s': %s", pr->key,
                                    inner.msg);
            pr->value[pr->value_len] = '\0';
            pr->has_value = true;
        }
        out->n++;
        p = comma ? comma + 1 : end;
        if (comma && p == end)
            return cs_error_set(err, CS_ERR_CORRUPT, "Upload-Metadata ends with a comma");
    }
    return CS_OK;
}

const char *cs_tus_meta_get(const cs_tus_meta *m, const char *key)
{
    for (size_t i = 0; m && i < m->n; i++)
        if (strcmp(m->pairs[i].key, key) == 0)
            return m->pairs[i].value;
    return NULL;
}

cs_status cs_tus_parse_checksum(const char *s, cs_tus_checksum *out, cs_error *err)
{
    if (!s || !out)
        return cs_error_set(err, CS_ERR_ARG, "missing checksum");
    size_t n = strnlen(s, CS_TUS_HEADER_MAX + 1);
    if (n > CS_TUS_HEADER_MAX)
        return cs_error_set(err, CS_ERR_TOO_LARGE, "Upload-Checksum too long");
    const char *sp = memchr(s, ' ', n);
    if (!sp || sp == s)
        return cs_error_set(err, CS_ERR_CORRUPT,
                            "Upload-Checksum must be '<algorithm> <base64 digest>'");
    size_t alen = (size_t)(sp - s);
    if (alen == 4 && memcmp(s, "sha1", 4) == 0) {
        out->algo = CS_TUS_SHA1;
        out->len = 20;
    } else if (alen == 6 && memcmp(s, "sha256", 6) == 0) {
        out->algo = CS_TUS_SHA256;
        out->len = 32;
    } else {
        return cs_error_set(err, CS_ERR_UNSUPPORTED,
                            "checksum algorithm '%.*s' is not supported (sha1, sha256)",
                            (int)(alen > 32 ? 32 : alen), s);
    }
    size_t got = 0;
    uint8_t buf[40];
    cs_error inner = {0};
    if (b64_decode(sp + 1, n - alen - 1, buf, sizeof buf, &got, &inner) != CS_OK)
        return cs_error_set(err, CS_ERR_CORRUPT, "Upload-Checksum digest: %s", inner.msg);
    if (got != out->len)
        return cs_error_set(err, CS_ERR_CORRUPT,
                            "Upload-Checksum digest is %zu bytes, %s needs %zu", got,
                            out->algo == CS_TUS_SHA1 ? "sha1" : "sha256", out->len);
    memcpy(out->digest, buf, got);
    return CS_OK;
}
