/* studies.c - study creation with its one-time enrolment code, and the
 * import of a frame-stream file as a study. */
#include "server/api/studies.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* cs_study_create, and the study's purpose (cs_study_rec.training). */
static cs_status study_create(cs_store *st, const char *label, const cs_patient_rec *p,
                              const cs_episode_rec *e, bool training, int64_t code_ttl_s, char *id,
                              char *code, int64_t *code_expires_at, char *patient_code,
                              cs_error *err)
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
    if (p)
        rec.patient = *p;
    if (e)
        rec.episode = *e;
    rec.training = training;
    rec.created_at = (int64_t)time(NULL);
    rec.code_expires_at = rec.created_at + code_ttl_s;
    cs_code_new(code);
    cs_token_hash(code, hash);
    if ((s = cs_store_study_create(st, &rec, hash, err)) != CS_OK)
        return s;
    if (patient_code) {
        cs_check_outcome out;
        cs_code_new(patient_code);
        cs_token_hash(patient_code, hash);
        if ((s = cs_store_patient_code_set(st, rec.id, hash, rec.created_at + CS_PATIENT_CODE_TTL_S,
                                           &out, err)) != CS_OK)
            return s;
    }
    snprintf(id, CS_ID_MAX, "%s", rec.id);
    if (code_expires_at)
        *code_expires_at = rec.code_expires_at;
    return CS_OK;
}

cs_status cs_study_create(cs_store *st, const char *label, const cs_patient_rec *p,
                          const cs_episode_rec *e, int64_t code_ttl_s, char *id, char *code,
                          int64_t *code_expires_at, char *patient_code, cs_error *err)
{
    return study_create(st, label, p, e, false, code_ttl_s, id, code, code_expires_at, patient_code,
                        err);
}

/* Copy `src` to a new file `dst` (O_EXCL) and fsync it. */
static cs_status copy_file(const char *src, const char *dst, uint64_t *size, cs_error *err)
{
    cs_status st = CS_OK;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    int out = -1;
    char buf[64 * 1024];
    *size = 0;
    if (in < 0)
        return cs_error_set(err, CS_ERR_IO, "cannot open %s: %s", src, strerror(errno));
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (out < 0) {
        st = cs_error_set(err, CS_ERR_IO, "cannot create %s: %s", dst, strerror(errno));
        goto done;
    }
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            st = cs_error_set(err, CS_ERR_IO, "cannot read %s: %s", src, strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        for (ssize_t w = 0; w < n;) {
            ssize_t k = write(out, buf + w, (size_t)(n - w));
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0) {
                st = cs_error_set(err, CS_ERR_IO, "cannot write %s: %s", dst, strerror(errno));
                goto done;
            }
            w += k;
        }
        *size += (uint64_t)n;
    }
    if (fsync(out) != 0)
        st = cs_error_set(err, CS_ERR_IO, "cannot fsync %s: %s", dst, strerror(errno));
done:
    close(in);
    if (out >= 0)
        close(out);
    if (st != CS_OK && out >= 0)
        unlink(dst);
    return st;
}

cs_status cs_study_import(cs_store *st, const char *data_dir, const char *label, const char *path,
                          bool training, char *id, cs_error *err)
{
    char code[CS_CODE_LEN + 1], file[4096 + 96], dir[4096 + 16];
    cs_upload_rec *up = calloc(1, sizeof *up);
    cs_status s = CS_OK;
    if (!up)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    snprintf(dir, sizeof dir, "%s/uploads", data_dir);
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        s = cs_error_set(err, CS_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
        goto done;
    }
    /* The enrolment code is never shown: an imported study has no hub. */
    if ((s = study_create(st, label, NULL, NULL, training, 1, id, code, NULL, NULL, err)) != CS_OK)
        goto done;
    cs_id_new(up->id, 16);
    snprintf(file, sizeof file, "%s/%s.bin", dir, up->id);
    uint64_t size = 0;
    if ((s = copy_file(path, file, &size, err)) != CS_OK)
        goto done;
    int64_t now = (int64_t)time(NULL);
    snprintf(up->study, sizeof up->study, "%s", id);
    up->length = (int64_t)size;
    up->offset = size;
    up->state = CS_UPLOAD_COMPLETE;
    up->created_at = up->updated_at = now;
    up->expires_at = now;
    up->checksum_base = -1;
    snprintf(up->metadata, sizeof up->metadata, "imported");
    if ((s = cs_store_upload_create(st, up, err)) != CS_OK ||
        (s = cs_store_study_touch(st, id, now * 1000, err)) != CS_OK)
        unlink(file);
done:
    free(up);
    return s;
}
