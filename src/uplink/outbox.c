/* outbox.c - the packed, unconfirmed chunk: building, saving, checking. */
#include "uplink/outbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "capscreen/crc32c.h"
#include "capscreen/framestream.h"
#include "uplink/fileio.h"

cs_status csu_outbox_init(csu_outbox *ob, size_t cap, cs_error *err)
{
    ob->len = 0;
    ob->cap = cap;
    ob->has_sha256 = false;
    ob->data = malloc(cap);
    if (!ob->data)
        return cs_error_set(err, CS_ERR_NOMEM,
                            "outbox: cannot allocate %zu "
                            "bytes",
                            cap);
    return CS_OK;
}

void csu_outbox_free(csu_outbox *ob)
{
    if (!ob)
        return;
    free(ob->data);
    ob->data = NULL;
    ob->len = ob->cap = 0;
}

void csu_outbox_clear(csu_outbox *ob, csu_saved *s) { csu_outbox_begin(ob, s, s->offset, false); }

void csu_outbox_begin(csu_outbox *ob, csu_saved *s, uint64_t start, bool header)
{
    ob->len = 0;
    ob->has_sha256 = false;
    s->n = 0;
    s->seg_start = start;
    s->seg_len = 0;
    s->seg_crc = 0;
    s->seg_header = header;
    if (header) {
        cs_fs_encode_file_header(ob->data);
        ob->len = CS_FS_FILE_HEADER_SIZE;
    }
}

cs_status csu_outbox_add(csu_outbox *ob, csu_saved *s, const csu_entry *e, const uint8_t *payload,
                         cs_error *err)
{
    size_t written = 0;
    if (s->n >= CSU_CHUNK_FRAMES_MAX)
        return cs_error_set(err, CS_ERR_ARG, "outbox: entry table full");
    cs_status st = cs_fs_encode_record(ob->data + ob->len, ob->cap - ob->len, e->index, e->time_us,
                                       e->flags, payload, e->size, &written, err);
    if (st != CS_OK)
        return st;
    ob->len += written;
    ob->has_sha256 = false;
    s->entries[s->n++] = *e;
    return CS_OK;
}

cs_status csu_outbox_add_encoded(csu_outbox *ob, csu_saved *s, const csu_entry *e,
                                 const uint8_t *rec, size_t rec_len, cs_error *err)
{
    if (s->n >= CSU_CHUNK_FRAMES_MAX)
        return cs_error_set(err, CS_ERR_ARG, "outbox: entry table full");
    if (rec_len != CS_FS_RECORD_OVERHEAD + (size_t)e->size || rec_len > ob->cap - ob->len)
        return cs_error_set(err, CS_ERR_TOO_LARGE, "outbox: no room for a %zu-byte record",
                            rec_len);
    memcpy(ob->data + ob->len, rec, rec_len);
    ob->len += rec_len;
    ob->has_sha256 = false;
    s->entries[s->n++] = *e;
    return CS_OK;
}

void csu_outbox_seal(const csu_outbox *ob, csu_saved *s)
{
    s->seg_len = ob->len;
    s->seg_crc = cs_crc32c(0, ob->data, ob->len);
}

cs_status csu_outbox_save(const csu_outbox *ob, const char *dir, cs_error *err)
{
    char path[4096];
    if (!csu_path(path, sizeof path, dir, CSU_OUTBOX_FILE))
        return cs_error_set(err, CS_ERR_ARG, "state folder path too long");
    /* Not fsynced: the file is a cache of bytes that are a pure function of
     * the entries in `progress` (which is fsynced) and the spool frames.
     * After a power cut a stale or torn file fails the length/CRC check of
     * csu_outbox_load() and is rebuilt, so the fsync of up to chunk_bytes
     * per chunk bought nothing but time on a slow hub's flash. */
    return csu_file_replace(path, ob->data, ob->len, 0600, false, err);
}

cs_status csu_outbox_load(csu_outbox *ob, const csu_saved *s, const char *dir, bool *valid,
                          cs_error *err)
{
    char path[4096], *buf = NULL;
    size_t len = 0;
    cs_status st;
    *valid = false;
    ob->len = 0;
    ob->has_sha256 = false;
    if (!csu_path(path, sizeof path, dir, CSU_OUTBOX_FILE))
        return cs_error_set(err, CS_ERR_ARG, "state folder path too long");
    st = csu_file_read(path, ob->cap, &buf, &len, err);
    if ((st == CS_ERR_IO && errno == ENOENT) || st == CS_ERR_TOO_LARGE)
        return CS_OK; /* missing or not ours: rebuilt by the caller */
    if (st != CS_OK)
        return st;
    if (len == s->seg_len && cs_crc32c(0, buf, len) == s->seg_crc) {
        memcpy(ob->data, buf, len);
        ob->len = len;
        *valid = true;
    }
    free(buf);
    return CS_OK;
}

uint64_t csu_outbox_entry_end(const csu_saved *s, size_t i)
{
    uint64_t pos = s->seg_start + (s->seg_header ? CS_FS_FILE_HEADER_SIZE : 0);
    for (size_t k = 0; k <= i && k < s->n; k++)
        pos += CS_FS_RECORD_OVERHEAD + s->entries[k].size;
    return pos;
}
