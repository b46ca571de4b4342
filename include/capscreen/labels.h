/* labels.h - read a labels CSV (`file,bleeding[,group,...]`, or any other
 * finding's column) for the training tools and `capscreen eval`.
 *
 * Format (RFC 4180 CSV, one record per line):
 *  - Text is UTF-8; a UTF-8 byte-order mark at the start is skipped. A
 *    UTF-16 file (byte-order mark FF FE or FE FF) or a NUL byte is an
 *    error. Lines end in \n or \r\n; in a file without any \n (classic
 *    Mac OS), in \r. Lines that are empty or hold only blanks are skipped
 *    anywhere in the file.
 *  - Fields are separated by commas (not ';' or tabs). Blanks around a
 *    field are trimmed: spaces, tabs and carriage returns (in a file of
 *    \n lines, a \r inside a line comes from joining CRLF text). A field whose first character (after
 *    blanks) is '"' is quoted: it runs to the closing '"', "" inside it is
 *    one '"', and commas inside it are data; only blanks may follow the
 *    closing quote before the next comma. A quote must close on its own
 *    line (no line breaks inside a field). A '"' inside an unquoted field
 *    is plain data.
 *  - The first non-blank line is the header. It must name the column
 *    `file` and the label column (`bleeding` for cs_labels_read, `column`
 *    for the others), each once; `group` is read only with
 *    CS_LABELS_GROUP (cs_labels_read) and is optional there. Names are
 *    matched exactly (case-sensitive). Other columns, in any order, are
 *    ignored, and a row may have more fields than the header. At most
 *    CS_LABELS_MAX_COLUMNS fields per line.
 *  - Each further line is one frame: a non-empty file name, the label
 *    `0` or `1` (also written `1.0`, `0.00`, `1.`: a decimal point and
 *    only zeros after it, as a float column is written), and (with
 *    CS_LABELS_GROUP, when the header has `group`) the group, a decimal whole number from 0 up. A row must have
 *    at least as many fields as the rightmost column read. Every file may
 *    be listed once. A header with no rows is a valid, empty list.
 *  - The file may hold at most CS_LABELS_MAX_BYTES bytes.
 *
 * Errors (out is left empty: items NULL, n 0): CS_ERR_IO when the file
 * cannot be opened or read; CS_ERR_EMPTY when it has no bytes, or nothing
 * but blank lines (and a byte-order mark); CS_ERR_TOO_LARGE above
 * CS_LABELS_MAX_BYTES; CS_ERR_ARG for a bad `column` or a NULL `out`;
 * CS_ERR_NOMEM; CS_ERR_CORRUPT for anything else. The message names the
 * file and, for a bad line, its number (`labels.csv:12: ...`): a header
 * without a needed column (naming which, showing the header as read, and
 * saying so when it looks separated by ';' or tabs), a row too short, a
 * bad label or group, an empty file name, an unclosed quote, text after a
 * closing quote, too many columns, a file listed twice (both lines).
 *
 * Ownership: the list and its file names belong to the caller once a call
 * succeeds; cs_labels_free() releases them (and may be called again on a
 * freed or failed list). Thread-safe: no shared state. */
#ifndef CAPSCREEN_LABELS_H
#define CAPSCREEN_LABELS_H

#include <stddef.h>

#include "capscreen/status.h"

#define CS_LABELS_MAX_BYTES ((size_t)64 << 20) /* 64 MiB */
#define CS_LABELS_MAX_COLUMNS 4096

/* Flags for cs_labels_parse(). */
#define CS_LABELS_GROUP 1u /* also read the optional `group` column */

typedef struct cs_label {
    char *file;
    int bleeding; /* 0 or 1: the label column read (named 'bleeding' by
                      cs_labels_read, any name by cs_labels_read_column) */
    int value;    /* the same value, by a name that fits any finding */
    long group;   /* -1 if the CSV has no group column or it was not read */
    long line;    /* the row's line number in the file (1 = first line) */
} cs_label;

typedef struct cs_labels {
    cs_label *items; /* in file order */
    size_t n;
} cs_labels;

/* The training tools' reader: label column `bleeding`, and `group` when the
 * header has it (CS_LABELS_GROUP). */
cs_status cs_labels_read(const char *path, cs_labels *out, cs_error *err) CS_WARN_UNUSED;
/* `capscreen eval`'s reader: label column `column` (e.g. "polyp"); `group`
 * is not read (an extra column like any other; group is -1). */
cs_status cs_labels_read_column(const char *path, const char *column, cs_labels *out,
                                cs_error *err) CS_WARN_UNUSED;
/* Parse `len` bytes of CSV text (need not end in NUL) as the readers do;
 * `name` (may be NULL) stands for the file in messages; `flags`: 0 or
 * CS_LABELS_GROUP. `column` must be non-empty and neither "file" nor, with
 * CS_LABELS_GROUP, "group". */
cs_status cs_labels_parse(const char *text, size_t len, const char *name, const char *column,
                          unsigned flags, cs_labels *out, cs_error *err) CS_WARN_UNUSED;
void cs_labels_free(cs_labels *l);

#endif
