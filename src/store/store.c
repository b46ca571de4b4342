/* store.c - the metadata store's public calls, dispatched to a backend. */
#include "store/store_backend.h"

#include <stddef.h>

cs_status cs_store_open(const char *data_dir, cs_store **out, cs_error *err)
{
    if (!data_dir || !*data_dir || !out)
        return cs_error_set(err, CS_ERR_ARG, "store: no data folder given");
    return cs_store_sqlite_open(data_dir, out, err);
}

void cs_store_close(cs_store *s)
{
    if (s)
        s->ops->close(s);
}

#define CHECK(s) \
    if (!(s)) return cs_error_set(err, CS_ERR_ARG, "store: NULL handle")

cs_status cs_store_ping(cs_store *s, cs_error *err)
{
    CHECK(s);
    return s->ops->ping(s, err);
}

cs_status cs_store_study_create(cs_store *s, const cs_study_rec *rec, const char *code_hash,
                                cs_error *err)
{
    CHECK(s && rec && code_hash);
    return s->ops->study_create(s, rec, code_hash, err);
}

cs_status cs_store_study_get(cs_store *s, const char *id, bool *found, cs_study_rec *out,
                             cs_error *err)
{
    CHECK(s && id && found && out);
    return s->ops->study_get(s, id, found, out, err);
}

cs_status cs_store_enrol(cs_store *s, const char *code_hash, const char *token_hash, int64_t now,
                         cs_enrol_outcome *outcome, char *study, cs_error *err)
{
    CHECK(s && code_hash && token_hash && outcome && study);
    return s->ops->enrol(s, code_hash, token_hash, now, outcome, study, err);
}

cs_status cs_store_device_study(cs_store *s, const char *token_hash, bool *found, char *study,
                                cs_error *err)
{
    CHECK(s && token_hash && found && study);
    return s->ops->device_study(s, token_hash, found, study, err);
}

cs_status cs_store_devices_revoke(cs_store *s, const char *study, int64_t now, int *n,
                                  cs_error *err)
{
    CHECK(s && study && n);
    return s->ops->devices_revoke(s, study, now, n, err);
}

cs_status cs_store_upload_create(cs_store *s, const cs_upload_rec *rec, cs_error *err)
{
    CHECK(s && rec);
    return s->ops->upload_create(s, rec, err);
}

cs_status cs_store_upload_get(cs_store *s, const char *id, bool *found, cs_upload_rec *out,
                              cs_error *err)
{
    CHECK(s && id && found && out);
    return s->ops->upload_get(s, id, found, out, err);
}

cs_status cs_store_upload_update(cs_store *s, const cs_upload_rec *rec, cs_error *err)
{
    CHECK(s && rec);
    return s->ops->upload_update(s, rec, err);
}

cs_status cs_store_upload_list(cs_store *s, const char *study, bool only_open,
                               cs_upload_rec **out, size_t *n, cs_error *err)
{
    CHECK(s && out && n);
    return s->ops->upload_list(s, study, only_open, out, n, err);
}

cs_status cs_store_study_touch(cs_store *s, const char *study, int64_t now_ms, cs_error *err)
{
    CHECK(s && study);
    return s->ops->study_touch(s, study, now_ms, err);
}

cs_status cs_store_frame_add(cs_store *s, const char *study, const cs_frame_rec *f,
                             uint64_t ingest_offset, cs_error *err)
{
    CHECK(s && study && f);
    return s->ops->frames_add(s, study, f, 1, ingest_offset, err);
}

cs_status cs_store_frames_add(cs_store *s, const char *study, const cs_frame_rec *f, size_t n,
                              uint64_t ingest_offset, cs_error *err)
{
    CHECK(s && study && (f || n == 0));
    return s->ops->frames_add(s, study, f, n, ingest_offset, err);
}

cs_status cs_store_study_set_ingest(cs_store *s, const char *study, uint64_t ingest_offset,
                                    cs_error *err)
{
    CHECK(s && study);
    return s->ops->study_set_ingest(s, study, ingest_offset, err);
}

cs_status cs_store_study_counts(cs_store *s, const char *study, cs_study_counts *out,
                                cs_error *err)
{
    CHECK(s && study && out);
    return s->ops->study_counts(s, study, out, err);
}

cs_status cs_store_study_frames(cs_store *s, const char *study, bool errors, cs_frame_brief *out,
                                size_t cap, size_t *n, cs_error *err)
{
    CHECK(s && study && out && n);
    return s->ops->study_frames(s, study, errors, out, cap, n, err);
}

cs_status cs_store_studies_pending(cs_store *s, char (**ids)[CS_ID_MAX], size_t *n, cs_error *err)
{
    CHECK(s && ids && n);
    return s->ops->studies_pending(s, ids, n, err);
}
