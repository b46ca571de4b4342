/* studies.c - study creation with its one-time enrolment code. */
#include "server/studies.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

cs_status cs_study_create(cs_store *st, const char *label, int64_t code_ttl_s, char *id,
                          char *code, int64_t *code_expires_at, cs_error *err)
{
    cs_study_rec rec;
    char hash[CS_HASH_HEX];
    memset(&rec, 0, sizeof rec);
    if (label && strlen(label) >= sizeof rec.label)
        return cs_error_set(err, CS_ERR_ARG, "label longer than %zu bytes", sizeof rec.label - 1);
    cs_status s = cs_tokens_init(err);
    if (s != CS_OK)
        return s;
    cs_id_new(rec.id, 10);
    snprintf(rec.label, sizeof rec.label, "%s", label ? label : "");
    rec.created_at = (int64_t)time(NULL);
    rec.code_expires_at = rec.created_at + code_ttl_s;
    cs_code_new(code);
    cs_token_hash(code, hash);
    if ((s = cs_store_study_create(st, &rec, hash, err)) != CS_OK)
        return s;
    snprintf(id, CS_ID_MAX, "%s", rec.id);
    if (code_expires_at)
        *code_expires_at = rec.code_expires_at;
    return CS_OK;
}
