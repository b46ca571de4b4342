/* outbox.h - the packed chunk waiting for the server's confirmation: its
 * bytes in memory and in STATE_DIR/outbox.csfs, described by the entries
 * of csu_saved (state.h). The bytes are a pure function of the entries and
 * their payloads, so a lost or torn outbox file is rebuilt exactly.
 * Thread rule: one owner. */
#ifndef CSU_OUTBOX_H
#define CSU_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capscreen/status.h"
#include "uplink/state.h"

#define CSU_OUTBOX_FILE "outbox.csfs"

typedef struct csu_outbox {
    uint8_t *data;      /* owned */
    size_t len, cap;    /* cap is fixed at init: the chunk limit */
    uint8_t sha256[32]; /* of data[0..len) when has_sha256: set by the
                           packer from the read-ahead, cleared by every
                           change of the bytes */
    bool has_sha256;
} csu_outbox;

/* Allocate `cap` bytes. Errors: CS_ERR_NOMEM. */
cs_status csu_outbox_init(csu_outbox *ob, size_t cap, cs_error *err) CS_WARN_UNUSED;
void csu_outbox_free(csu_outbox *ob);

/* Start a new chunk at upload offset `start`, with the file header first
 * when `header`: clears the bytes and s's entries. */
void csu_outbox_begin(csu_outbox *ob, csu_saved *s, uint64_t start, bool header);
/* Empty the outbox (nothing waits; it would start at s->offset). */
void csu_outbox_clear(csu_outbox *ob, csu_saved *s);

/* Append a record for `e` (copied into s) with its payload. Errors:
 * CS_ERR_TOO_LARGE (no room: the caller seals what it has),
 * CS_ERR_ARG (entry table full). */
cs_status csu_outbox_add(csu_outbox *ob, csu_saved *s, const csu_entry *e, const uint8_t *payload,
                         cs_error *err) CS_WARN_UNUSED;

/* Append a record already encoded (`rec`, `rec_len` bytes: the read-ahead's
 * copy of what csu_outbox_add() would write for `e`). Errors as
 * csu_outbox_add(). */
cs_status csu_outbox_add_encoded(csu_outbox *ob, csu_saved *s, const csu_entry *e,
                                 const uint8_t *rec, size_t rec_len, cs_error *err) CS_WARN_UNUSED;

/* Record length and CRC in s. */
void csu_outbox_seal(const csu_outbox *ob, csu_saved *s);

/* Write the bytes to dir/outbox.csfs (atomically replaced, not fsynced:
 * a cache that csu_outbox_load() checks against the progress). Errors:
 * CS_ERR_IO. */
cs_status csu_outbox_save(const csu_outbox *ob, const char *dir, cs_error *err) CS_WARN_UNUSED;

/* Read dir/outbox.csfs; *valid is true when it matches s (length, CRC).
 * Errors: CS_ERR_IO other than a missing file, CS_ERR_NOMEM. */
cs_status csu_outbox_load(csu_outbox *ob, const csu_saved *s, const char *dir, bool *valid,
                          cs_error *err) CS_WARN_UNUSED;

/* Upload offset just past entry i's record. */
uint64_t csu_outbox_entry_end(const csu_saved *s, size_t i);

#endif
