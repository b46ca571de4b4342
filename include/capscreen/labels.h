/* labels.h - read a labels CSV (`file,bleeding[,group,...]`, or any other
 * finding's column) for the training tool and `capscreen eval`.
 *
 * The first line names the columns; `file` and `bleeding` are required,
 * `group` is optional (-1 when absent), other columns are ignored. Fields
 * are plain (no quoting); CRLF line ends are accepted. A bad row is an
 * error naming its line, not silently skipped.
 *
 * Ownership: cs_labels_free() releases what cs_labels_read() made. */
#ifndef CAPSCREEN_LABELS_H
#define CAPSCREEN_LABELS_H

#include <stddef.h>

#include "capscreen/status.h"

typedef struct cs_label {
    char *file;
    int bleeding; /* 0 or 1: the label column read (named 'bleeding' by
                      cs_labels_read, any name by cs_labels_read_column) */
    int value;    /* the same value, by a name that fits any finding */
    long group;   /* -1 if the CSV has no group column */
} cs_label;

typedef struct cs_labels {
    cs_label *items;
    size_t n;
} cs_labels;

cs_status cs_labels_read(const char *path, cs_labels *out, cs_error *err) CS_WARN_UNUSED;
/* The same with the label column named `column` (e.g. "polyp"). */
cs_status cs_labels_read_column(const char *path, const char *column, cs_labels *out,
                                cs_error *err) CS_WARN_UNUSED;
void cs_labels_free(cs_labels *l);

#endif
