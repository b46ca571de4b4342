/* studies.h - creating studies and revoking their devices: shared by the
 * admin API (api_studies.c) and the `capscreen study` command.
 *
 * Threads: as the store (any thread). Errors: the store's. */
#ifndef CS_SERVER_STUDIES_H
#define CS_SERVER_STUDIES_H

#include "capscreen/store.h"
#include "server/tokens.h"

/* Create a study labelled `label` (may be NULL) with a fresh enrolment code
 * valid for `code_ttl_s` seconds. `id` (CS_ID_MAX) and `code`
 * (CS_CODE_LEN + 1) get the new values; only the code's hash is stored.
 * Errors: CS_ERR_ARG (label over CS_LABEL_MAX - 1 bytes), store errors. */
cs_status cs_study_create(cs_store *st, const char *label, int64_t code_ttl_s, char *id,
                          char *code, int64_t *code_expires_at, cs_error *err) CS_WARN_UNUSED;

#endif
