/* spool.h - the recorder's spool folder: listing frames in natural name
 * order, the study.end and spool.full markers, releasing confirmed frames.
 *
 * Drop protocol (docs/uplink.md): the recorder writes NAME.tmp (any name not
 * ending in .jpg) and renames it to NAME.jpg when complete; a frame file is
 * never changed after the rename. Only *.jpg files (any case, also .jpeg)
 * whose names do not start with '.' are frames. Frames are removed only by
 * csu_spool_release(), which the uplink calls after the server confirmed
 * their bytes. Thread rule: plain functions over the file system. */
#ifndef CSU_SPOOL_H
#define CSU_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capscreen/status.h"

#define CSU_NAME_MAX 256            /* bytes of a frame file name, NUL included */
#define CSU_SPOOL_LIST_MAX 1000000u /* frames one scan lists at most */
#define CSU_END_MARKER "study.end"
#define CSU_FULL_MARKER "spool.full"

typedef struct csu_spool_file {
    char name[CSU_NAME_MAX];
    uint64_t size;
    int64_t mtime_us; /* capture time used for the record */
} csu_spool_file;

typedef struct csu_spool_list {
    csu_spool_file *files; /* natural name order; owned, csu_spool_list_free */
    size_t n, cap;
    uint64_t bytes;  /* sum of sizes */
    bool end_marker; /* study.end present */
    size_t ignored;  /* frame-like names too long to handle */
} csu_spool_list;

/* Natural order: runs of digits compare by value ("f2" < "f10"), the rest
 * bytewise; equal values with different zero padding fall back to bytes. */
int csu_natcmp(const char *a, const char *b);

/* True for a name the spool treats as a frame. */
bool csu_spool_is_frame(const char *name);

/* List the frames in `dir` into *out (reset first). Errors: CS_ERR_IO
 * (folder unreadable), CS_ERR_TOO_LARGE (over CSU_SPOOL_LIST_MAX frames),
 * CS_ERR_NOMEM. */
cs_status csu_spool_scan(const char *dir, csu_spool_list *out, cs_error *err) CS_WARN_UNUSED;
void csu_spool_list_free(csu_spool_list *l);

/* Remove a confirmed frame. A frame already gone is fine (a release
 * repeated after a crash). Errors: CS_ERR_IO. */
cs_status csu_spool_release(const char *dir, const char *name, cs_error *err) CS_WARN_UNUSED;

/* Create (full) or remove (!full) the spool.full marker. Errors: CS_ERR_IO. */
cs_status csu_spool_mark_full(const char *dir, bool full, cs_error *err) CS_WARN_UNUSED;

#endif
