/* source_folder.c - a folder of frame files, in natural file-name order. */
#define _GNU_SOURCE /* strverscmp */
#include "capscreen/source.h"

#include "capscreen/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct folder_source {
    struct cs_source base;
    char *dir;
    char **names;
    size_t n, next;
} folder_source;

static int by_name(const void *a, const void *b)
{
    /* Natural order, so frame2.jpg comes before frame10.jpg. */
    return strverscmp(*(char *const *)a, *(char *const *)b);
}

static void folder_close(cs_source *src)
{
    folder_source *f = (folder_source *)src;
    for (size_t i = 0; i < f->n; i++)
        free(f->names[i]);
    free(f->names);
    free(f->dir);
    free(f);
}

static cs_status folder_next(cs_source *src, cs_item *item, cs_error *err)
{
    folder_source *f = (folder_source *)src;
    char path[4096];
    cs_error read_err = {0};
    (void)err;
    if (f->next >= f->n)
        return CS_END;
    const char *name = f->names[f->next++];
    snprintf(item->name, sizeof item->name, "%s", name);
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    /* A file that cannot be read is a broken frame of the study, not a
     * failure of the source: the next file follows. A FIFO, socket or
     * device (a link to one included) is refused before it is opened:
     * opening a FIFO with no writer would wait for ever. */
    struct stat st;
    cs_status rst =
        stat(path, &st) == 0 && !S_ISREG(st.st_mode)
            ? cs_error_set(&read_err, CS_ERR_IO, "%s is not a regular file", path)
            : cs_file_read(path, CS_ENCODED_MAX_BYTES, &item->data, &item->len, &read_err);
    if (rst != CS_OK) {
        item->kind = CS_ITEM_BROKEN;
        item->status = read_err.code;
        snprintf(item->reason, sizeof item->reason, "%s", read_err.msg);
        return CS_OK;
    }
    item->kind = CS_ITEM_ENCODED;
    return CS_OK;
}

static double folder_fraction(const cs_source *src)
{
    const folder_source *f = (const folder_source *)src;
    return f->n ? (double)f->next / (double)f->n : -1.0;
}

cs_status cs_source_open_folder(const char *path, cs_source **out, cs_error *err)
{
    cs_status st = CS_OK;
    size_t cap = 0;
    struct dirent *de;
    *out = NULL;
    DIR *d = opendir(path);
    if (!d)
        return cs_error_set(err, CS_ERR_IO, "cannot read folder %s: %s", path, strerror(errno));
    folder_source *f = calloc(1, sizeof *f);
    if (!f || !(f->dir = strdup(path))) {
        st = cs_error_set(err, CS_ERR_NOMEM, "out of memory listing %s", path);
        goto fail;
    }
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        /* Hidden files (., .., .DS_Store, editor droppings) are not frames;
         * every other entry is, and one that is not an image is reported. */
        if (de->d_name[0] == '.')
            continue;
        if (de->d_type == DT_DIR)
            continue;
        if (f->n == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            char **nn = realloc(f->names, nc * sizeof *nn);
            if (!nn) {
                st = cs_error_set(err, CS_ERR_NOMEM, "out of memory listing %s", path);
                goto fail;
            }
            f->names = nn;
            cap = nc;
        }
        if (!(f->names[f->n] = strdup(de->d_name))) {
            st = cs_error_set(err, CS_ERR_NOMEM, "out of memory listing %s", path);
            goto fail;
        }
        f->n++;
        errno = 0;
    }
    if (errno != 0) {
        st = cs_error_set(err, CS_ERR_IO, "cannot list folder %s: %s", path, strerror(errno));
        goto fail;
    }
    closedir(d);
    d = NULL;
    if (f->n == 0) {
        st = cs_error_set(err, CS_ERR_EMPTY, "folder %s holds no frame files", path);
        goto fail;
    }
    qsort(f->names, f->n, sizeof *f->names, by_name);
    f->base.type = CS_SOURCE_FOLDER;
    f->base.expected = (int64_t)f->n;
    f->base.next = folder_next;
    f->base.close = folder_close;
    f->base.fraction_done = folder_fraction;
    *out = &f->base;
    return CS_OK;

fail:
    if (d)
        closedir(d);
    if (f)
        folder_close(&f->base);
    return st;
}
