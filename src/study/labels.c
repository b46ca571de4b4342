/* labels.c - the labels CSV reader: the whole file into memory, then one
 * pass over its lines (format and errors: include/capscreen/labels.h). */
#include "capscreen/labels.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_SHOWN 200 /* bytes of a bad header quoted in its message */

/* One line split into fields: field i is the NUL-terminated string at
 * buf + off[i] (unquoted and trimmed). */
typedef struct fields {
    char *buf;
    size_t buf_cap;
    size_t *off;
    size_t off_cap;
    size_t n;
} fields;

static const char *field(const fields *f, size_t i) { return f->buf + f->off[i]; }

/* Blanks trimmed around a field. A carriage return is one too: in a file
 * whose lines end in LF, a CR inside a line is an artefact of joining
 * CRLF text (a field copied from a Windows file), not a line end. */
static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

static cs_status nomem(cs_error *err)
{
    return cs_error_set(err, CS_ERR_NOMEM, "out of memory reading labels");
}

/* Split the line p[0..len) (no line end in it) into `f`. */
static cs_status split(fields *f, const char *p, size_t len, const char *name, long lineno,
                       cs_error *err)
{
    /* Unquoting only shrinks a field, and each comma becomes its NUL. */
    if (len + 1 > f->buf_cap) {
        char *nb = realloc(f->buf, len + 1);
        if (!nb)
            return nomem(err);
        f->buf = nb;
        f->buf_cap = len + 1;
    }
    char *o = f->buf;
    size_t i = 0;
    f->n = 0;
    for (;;) {
        if (f->n == CS_LABELS_MAX_COLUMNS)
            return cs_error_set(err, CS_ERR_CORRUPT, "%s:%ld: more than %d columns", name, lineno,
                                CS_LABELS_MAX_COLUMNS);
        if (f->n == f->off_cap) {
            size_t nc = f->off_cap ? f->off_cap * 2 : 16;
            size_t *no = realloc(f->off, nc * sizeof *no);
            if (!no)
                return nomem(err);
            f->off = no;
            f->off_cap = nc;
        }
        f->off[f->n++] = (size_t)(o - f->buf);
        while (i < len && is_blank(p[i]))
            i++;
        if (i < len && p[i] == '"') {
            for (i++;; i++) {
                if (i == len)
                    return cs_error_set(err, CS_ERR_CORRUPT,
                                        "%s:%ld: unclosed quote in column %zu (a quoted field "
                                        "must end on its own line)",
                                        name, lineno, f->n);
                if (p[i] == '"') {
                    if (i + 1 < len && p[i + 1] == '"') {
                        *o++ = '"';
                        i++;
                        continue;
                    }
                    i++;
                    break;
                }
                *o++ = p[i];
            }
            while (i < len && is_blank(p[i]))
                i++;
            if (i < len && p[i] != ',')
                return cs_error_set(err, CS_ERR_CORRUPT,
                                    "%s:%ld: text after the closing quote in column %zu", name,
                                    lineno, f->n);
        } else {
            size_t start = i;
            while (i < len && p[i] != ',')
                i++;
            size_t end = i;
            while (end > start && is_blank(p[end - 1]))
                end--;
            memcpy(o, p + start, end - start);
            o += end - start;
        }
        *o++ = '\0';
        if (i == len)
            return CS_OK;
        i++; /* the comma */
    }
}

/* The first HEADER_SHOWN bytes of a header line for a message: control
 * bytes as '?', cut at a UTF-8 character boundary, "..." when cut. */
static void show_header(char *dst, size_t cap, const char *p, size_t len)
{
    size_t n = len, max = cap - 4;
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = (unsigned char)p[i] < 0x20 || p[i] == 0x7F ? '?' : p[i];
    strcpy(dst + n, n < len ? "..." : "");
}

static cs_status header_missing(const char *name, long lineno, const char *column, int no_file,
                                int no_value, const char *p, size_t len, cs_error *err)
{
    char shown[HEADER_SHOWN + 4], what[160];
    show_header(shown, sizeof shown, p, len);
    if (no_file && no_value)
        snprintf(what, sizeof what, "no 'file' column and no '%.60s' column", column);
    else
        snprintf(what, sizeof what, "no '%.60s' column", no_file ? "file" : column);
    const char *sep = "";
    if (!memchr(p, ',', len)) {
        if (memchr(p, ';', len))
            sep = " (the file must be comma-separated; this one looks separated by ';')";
        else if (memchr(p, '\t', len))
            sep = " (the file must be comma-separated; this one looks separated by tabs)";
    }
    return cs_error_set(err, CS_ERR_CORRUPT, "%s:%ld: header has %s%s; header read: \"%s\"", name,
                        lineno, what, sep, shown);
}

/* A group: decimal digits only, 0..LONG_MAX. */
static int parse_group(const char *s, long *out)
{
    long v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        int d = *s - '0';
        if (v > (LONG_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int by_file_then_line(const void *a, const void *b)
{
    const cs_label *x = *(const cs_label *const *)a, *y = *(const cs_label *const *)b;
    int c = strcmp(x->file, y->file);
    if (c)
        return c;
    return (x->line > y->line) - (x->line < y->line);
}

/* A file listed twice is an error naming the earliest repeat and the line
 * it repeats. */
static cs_status check_duplicates(const cs_labels *l, const char *name, cs_error *err)
{
    if (l->n < 2)
        return CS_OK;
    const cs_label **ix = malloc(l->n * sizeof *ix);
    if (!ix)
        return nomem(err);
    for (size_t i = 0; i < l->n; i++)
        ix[i] = &l->items[i];
    qsort(ix, l->n, sizeof *ix, by_file_then_line);
    const cs_label *first = NULL, *again = NULL;
    for (size_t i = 1; i < l->n; i++)
        if (strcmp(ix[i - 1]->file, ix[i]->file) == 0 && (!again || ix[i]->line < again->line)) {
            first = ix[i - 1];
            again = ix[i];
        }
    cs_status st = CS_OK;
    if (again)
        st = cs_error_set(err, CS_ERR_CORRUPT,
                          "%s:%ld: file '%.100s' is listed twice (lines %ld and %ld)", name,
                          again->line, again->file, first->line, again->line);
    free(ix);
    return st;
}

void cs_labels_free(cs_labels *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i].file);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

/* A label: 0 or 1, optionally with a decimal point and zeros after it
 * (`1.0`, `0.00`: what a float column of pandas or a spreadsheet writes);
 * nothing else (not `01`, `+1`, `1e0`, `true`, `0.5`). */
static int is_label(const char *v)
{
    if (v[0] != '0' && v[0] != '1')
        return 0;
    if (v[1] == '\0')
        return 1;
    if (v[1] != '.')
        return 0;
    for (v += 2; *v == '0'; v++)
        ;
    return *v == '\0';
}

cs_status cs_labels_parse(const char *text, size_t len, const char *name, const char *column,
                          unsigned flags, cs_labels *out, cs_error *err)
{
    if (!out)
        return cs_error_set(err, CS_ERR_ARG, "labels: no output list");
    out->items = NULL;
    out->n = 0;
    if (!name)
        name = "labels";
    int want_group = (flags & CS_LABELS_GROUP) != 0;
    if (!column || !*column || strcmp(column, "file") == 0 ||
        (want_group && strcmp(column, "group") == 0) || (flags & ~CS_LABELS_GROUP) ||
        (!text && len))
        return cs_error_set(err, CS_ERR_ARG, "labels: bad label column or flags");
    if (len > CS_LABELS_MAX_BYTES)
        return cs_error_set(err, CS_ERR_TOO_LARGE, "labels file %s is larger than %zu MiB", name,
                            CS_LABELS_MAX_BYTES >> 20);
    if (len >= 2 &&
        ((text[0] == '\xFF' && text[1] == '\xFE') || (text[0] == '\xFE' && text[1] == '\xFF')))
        return cs_error_set(err, CS_ERR_CORRUPT,
                            "%s: the file is UTF-16 text; save it as CSV (comma-separated, UTF-8)",
                            name);

    fields f = {0};
    cs_status st = CS_OK;
    size_t alloc = 0, pos = 0, need = 0;
    long lineno = 0, col_file = -1, col_value = -1, col_group = -1;
    int have_header = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3; /* UTF-8 byte-order mark (Excel) */
    /* Lines end in LF (a CR before it is dropped with the other blanks),
     * or, in a file without any LF (classic Mac OS), in CR. */
    const char eol = text && memchr(text, '\n', len) ? '\n' : '\r';
    while (pos < len) {
        const char *p = text + pos;
        size_t n = 0;
        while (pos + n < len && p[n] != eol)
            n++;
        pos += n + (pos + n < len);
        lineno++;

        if (memchr(p, '\0', n)) {
            st = cs_error_set(err, CS_ERR_CORRUPT, "%s:%ld: NUL byte (save the file as CSV, UTF-8)",
                              name, lineno);
            goto done;
        }
        size_t k = 0;
        while (k < n && is_blank(p[k]))
            k++;
        if (k == n)
            continue; /* blank line */
        if ((st = split(&f, p, n, name, lineno, err)) != CS_OK)
            goto done;

        if (!have_header) {
            have_header = 1;
            for (size_t i = 0; i < f.n; i++) {
                const char *h = field(&f, i);
                long *col = strcmp(h, "file") == 0                  ? &col_file
                            : strcmp(h, column) == 0                ? &col_value
                            : want_group && strcmp(h, "group") == 0 ? &col_group
                                                                    : NULL;
                if (!col)
                    continue;
                if (*col >= 0) {
                    st = cs_error_set(err, CS_ERR_CORRUPT,
                                      "%s:%ld: header names column '%.60s' twice (columns %ld "
                                      "and %zu)",
                                      name, lineno, h, *col + 1, i + 1);
                    goto done;
                }
                *col = (long)i;
            }
            if (col_file < 0 || col_value < 0) {
                st = header_missing(name, lineno, column, col_file < 0, col_value < 0, p, n, err);
                goto done;
            }
            need = (size_t)(col_file > col_value ? col_file : col_value);
            if (col_group > (long)need)
                need = (size_t)col_group;
            need++;
            continue;
        }

        if (f.n < need) {
            st = cs_error_set(err, CS_ERR_CORRUPT, "%s:%ld: expected at least %zu columns, got %zu",
                              name, lineno, need, f.n);
            goto done;
        }
        const char *v = field(&f, (size_t)col_value);
        if (!is_label(v)) {
            st = cs_error_set(err, CS_ERR_CORRUPT, "%s:%ld: %.60s must be 0 or 1, got '%.40s'",
                              name, lineno, column, v);
            goto done;
        }
        const char *file = field(&f, (size_t)col_file);
        if (!*file) {
            st = cs_error_set(err, CS_ERR_CORRUPT, "%s:%ld: empty file name", name, lineno);
            goto done;
        }
        long group = -1;
        if (col_group >= 0 && parse_group(field(&f, (size_t)col_group), &group) != 0) {
            st = cs_error_set(err, CS_ERR_CORRUPT,
                              "%s:%ld: group must be a whole number from 0 up, got '%.40s'", name,
                              lineno, field(&f, (size_t)col_group));
            goto done;
        }
        if (out->n == alloc) {
            size_t na = alloc ? alloc * 2 : 256;
            cs_label *ni = realloc(out->items, na * sizeof *ni);
            if (!ni) {
                st = nomem(err);
                goto done;
            }
            out->items = ni;
            alloc = na;
        }
        cs_label *l = &out->items[out->n];
        l->file = strdup(file);
        if (!l->file) {
            st = nomem(err);
            goto done;
        }
        l->bleeding = v[0] == '1';
        l->value = l->bleeding;
        l->group = group;
        l->line = lineno;
        out->n++;
    }
    if (!have_header)
        st = cs_error_set(err, CS_ERR_EMPTY, "labels file %s is empty%s", name,
                          len ? " (no header line)" : "");
    else
        st = check_duplicates(out, name, err);
done:
    free(f.buf);
    free(f.off);
    if (st != CS_OK)
        cs_labels_free(out);
    return st;
}

/* The whole file, up to CS_LABELS_MAX_BYTES (caller frees *text). */
static cs_status read_all(const char *path, char **text, size_t *len, cs_error *err)
{
    *text = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return cs_error_set(err, CS_ERR_IO, "cannot open labels %s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t n = 0, cap = 0;
    cs_status st = CS_OK;
    for (;;) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64 * 1024;
            if (nc > CS_LABELS_MAX_BYTES + 1)
                nc = CS_LABELS_MAX_BYTES + 1;
            char *nb = realloc(buf, nc);
            if (!nb) {
                st = nomem(err);
                break;
            }
            buf = nb;
            cap = nc;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n > CS_LABELS_MAX_BYTES) {
            st = cs_error_set(err, CS_ERR_TOO_LARGE, "labels file %s is larger than %zu MiB", path,
                              CS_LABELS_MAX_BYTES >> 20);
            break;
        }
        if (got == 0) {
            if (ferror(f))
                st = cs_error_set(err, CS_ERR_IO, "cannot read labels %s: %s", path,
                                  strerror(errno));
            break;
        }
    }
    fclose(f);
    if (st != CS_OK) {
        free(buf);
        return st;
    }
    *text = buf;
    *len = n;
    return CS_OK;
}

static cs_status read_file(const char *path, const char *column, unsigned flags, cs_labels *out,
                           cs_error *err)
{
    char *text;
    size_t len;
    if (!out)
        return cs_error_set(err, CS_ERR_ARG, "labels: no output list");
    out->items = NULL;
    out->n = 0;
    cs_status st = read_all(path, &text, &len, err);
    if (st != CS_OK)
        return st;
    st = cs_labels_parse(text, len, path, column, flags, out, err);
    free(text);
    return st;
}

cs_status cs_labels_read(const char *path, cs_labels *out, cs_error *err)
{
    return read_file(path, "bleeding", CS_LABELS_GROUP, out, err);
}

cs_status cs_labels_read_column(const char *path, const char *column, cs_labels *out, cs_error *err)
{
    return read_file(path, column, 0, out, err);
}
