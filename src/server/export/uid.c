/* uid.c - deterministic UUID-derived DICOM UIDs (uid.h). */
#include "server/export/uid.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* 16 big-endian bytes as a decimal number: repeated division by 10 of the
 * byte string (at most 39 digits for 128 bits). */
static void u128_decimal(const unsigned char in[16], char *out, size_t cap)
{
    unsigned char n[16];
    char rev[48];
    size_t len = 0;
    memcpy(n, in, sizeof n);
    for (;;) {
        unsigned rem = 0;
        int zero = 1;
        for (int i = 0; i < 16; i++) {
            unsigned cur = (rem << 8) | n[i];
            n[i] = (unsigned char)(cur / 10);
            rem = cur % 10;
            if (n[i])
                zero = 0;
        }
        rev[len++] = (char)('0' + rem);
        if (zero)
            break;
    }
    size_t k = 0;
    while (len > 0 && k + 1 < cap)
        out[k++] = rev[--len];
    out[k] = '\0';
}

cs_status cs_uid_make(const char *kind, const char *key, char out[CS_UID_MAX], cs_error *err)
{
    if (!kind || !*kind || !key || !*key)
        return cs_error_set(err, CS_ERR_ARG, "a UID needs a kind and a key");
    crypto_hash_sha256_state h;
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const unsigned char *)"capscreen/", 10);
    crypto_hash_sha256_update(&h, (const unsigned char *)kind, strlen(kind));
    crypto_hash_sha256_update(&h, (const unsigned char *)"/", 1);
    crypto_hash_sha256_update(&h, (const unsigned char *)key, strlen(key));
    crypto_hash_sha256_final(&h, d);
    d[6] = (unsigned char)((d[6] & 0x0f) | 0x80); /* UUID version 8 (custom) */
    d[8] = (unsigned char)((d[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    memcpy(out, "2.25.", 5);
    u128_decimal(d, out + 5, CS_UID_MAX - 5);
    return CS_OK;
}

cs_status cs_uid_study(const char *study_id, char out[CS_UID_MAX], cs_error *err)
{
    return cs_uid_make("study", study_id, out, err);
}

cs_status cs_uid_key_frame_series(const char *study_id, char out[CS_UID_MAX], cs_error *err)
{
    char key[256];
    if (!study_id || !*study_id)
        return cs_error_set(err, CS_ERR_ARG, "a UID needs a study id");
    snprintf(key, sizeof key, "%s/key-frames", study_id);
    return cs_uid_make("series", key, out, err);
}

cs_status cs_uid_frame_instance(const char *study_id, uint64_t seq, char out[CS_UID_MAX],
                                cs_error *err)
{
    char key[256];
    if (!study_id || !*study_id)
        return cs_error_set(err, CS_ERR_ARG, "a UID needs a study id");
    snprintf(key, sizeof key, "%s/%" PRIu64, study_id, seq);
    return cs_uid_make("instance", key, out, err);
}

void cs_uid_accession(const char *study_id, char out[17])
{
    snprintf(out, 17, "%.16s", study_id ? study_id : "");
}
