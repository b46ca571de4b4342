/* labels.c - the labels CSV reader. */
#include "capscreen/labels.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLUMNS 64

/* Split `line` in place at commas; returns the number of fields. */
static int split(char *line, char **fields)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line; n < MAX_COLUMNS;) {
        fields[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    return n;
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

cs_status cs_labels_read(const char *path, cs_labels *out, cs_error *err)
{
    return cs_labels_read_column(path, "bleeding", out, err);
}

cs_status cs_labels_read_column(const char *path, const char *column, cs_labels *out, cs_error *err)
{
    char *line = NULL, *fields[MAX_COLUMNS];
    size_t cap = 0, alloc = 0;
    cs_status st = CS_OK;
    int col_file = -1, col_bleed = -1, col_group = -1;
    long lineno = 0;

    out->items = NULL;
    out->n = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return cs_error_set(err, CS_ERR_IO, "cannot open labels %s: %s", path, strerror(errno));
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        int nf = split(line, fields);
        if (lineno == 1) {
            for (int i = 0; i < nf; i++) {
                if (strcmp(fields[i], "file") == 0)
                    col_file = i;
                else if (strcmp(fields[i], column) == 0)
                    col_bleed = i;
                else if (strcmp(fields[i], "group") == 0)
                    col_group = i;
            }
            if (col_file < 0 || col_bleed < 0) {
                st = cs_error_set(err, CS_ERR_CORRUPT,
                                  "%s: header must name columns 'file' and '%s'", path, column);
                goto done;
            }
            continue;
        }
        if (nf == 1 && fields[0][0] == '\0')
            continue; /* blank line */
        if (nf <= col_file || nf <= col_bleed || (col_group >= 0 && nf <= col_group)) {
            st =
                cs_error_set(err, CS_ERR_CORRUPT, "%s:%ld: expected at least %d columns, got %d",
                             path, lineno, (col_group > col_bleed ? col_group : col_bleed) + 1, nf);
            goto done;
        }
        const char *b = fields[col_bleed];
        if (strcmp(b, "0") != 0 && strcmp(b, "1") != 0) {
            st = cs_error_set(err, CS_ERR_CORRUPT, "%s:%ld: %s must be 0 or 1, got '%s'", path,
                              lineno, column, b);
            goto done;
        }
        if (fields[col_file][0] == '\0') {
            st = cs_error_set(err, CS_ERR_CORRUPT, "%s:%ld: empty file name", path, lineno);
            goto done;
        }
        if (out->n == alloc) {
            size_t na = alloc ? alloc * 2 : 256;
            cs_label *ni = realloc(out->items, na * sizeof *ni);
            if (!ni) {
                st = cs_error_set(err, CS_ERR_NOMEM, "out of memory reading labels");
                goto done;
            }
            out->items = ni;
            alloc = na;
        }
        cs_label *l = &out->items[out->n];
        l->file = strdup(fields[col_file]);
        l->bleeding = b[0] == '1';
        l->value = l->bleeding;
        l->group = col_group >= 0 ? strtol(fields[col_group], NULL, 10) : -1;
        if (!l->file) {
            st = cs_error_set(err, CS_ERR_NOMEM, "out of memory reading labels");
            goto done;
        }
        out->n++;
    }
    if (lineno == 0)
        st = cs_error_set(err, CS_ERR_EMPTY, "labels file %s is empty", path);
done:
    free(line);
    fclose(f);
    if (st != CS_OK)
        cs_labels_free(out);
    return st;
}
