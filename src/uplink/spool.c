/* spool.c - listing, ordering and releasing the frames of a spool folder. */
#include "uplink/spool.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uplink/fileio.h"

int csu_natcmp(const char *a, const char *b)
{
    const char *a0 = a, *b0 = b;
    while (*a && *b) {
        if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
            while (*a == '0')
                a++;
            while (*b == '0')
                b++;
            size_t la = 0, lb = 0;
            while (isdigit((unsigned char)a[la]))
                la++;
            while (isdigit((unsigned char)b[lb]))
                lb++;
            if (la != lb)
                return la < lb ? -1 : 1;
            int c = memcmp(a, b, la);
            if (c)
                return c;
            a += la;
            b += lb;
            continue;
        }
        if (*a != *b)
            return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
        a++;
        b++;
    }
    if (*a || *b)
        return *a ? 1 : -1;
    return strcmp(a0, b0);
}

bool csu_spool_is_frame(const char *name)
{
    size_t n = strlen(name);
    if (name[0] == '.')
        return false;
    return (n > 4 && strcasecmp(name + n - 4, ".jpg") == 0) ||
           (n > 5 && strcasecmp(name + n - 5, ".jpeg") == 0);
}

static int cmp_files(const void *x, const void *y)
{
    return csu_natcmp(((const csu_spool_file *)x)->name, ((const csu_spool_file *)y)->name);
}

void csu_spool_list_free(csu_spool_list *l)
{
    if (!l)
        return;
    free(l->files);
    memset(l, 0, sizeof *l);
}

cs_status csu_spool_scan(const char *dir, csu_spool_list *out, cs_error *err)
{
    cs_status st = CS_OK;
    struct dirent *de;
    char end[4096];
    DIR *d;
    out->n = 0;
    out->bytes = 0;
    out->ignored = 0;
    /* Look for study.end before listing: every frame renamed in before the
     * marker appeared is then certain to be listed (readdir may miss entries
     * added while it runs, so the order matters). */
    out->end_marker = csu_path(end, sizeof end, dir, CSU_END_MARKER) && access(end, F_OK) == 0;
    d = opendir(dir);
    if (!d)
        return cs_error_set(err, CS_ERR_IO, "cannot read spool %s: %s", dir, strerror(errno));
    while ((de = readdir(d)) != NULL) {
        struct stat sb;
        if (!csu_spool_is_frame(de->d_name))
            continue;
        if (strlen(de->d_name) >= CSU_NAME_MAX) {
            out->ignored++;
            continue;
        }
        if (fstatat(dirfd(d), de->d_name, &sb, 0) != 0 || !S_ISREG(sb.st_mode))
            continue; /* vanished or not a file: not a frame */
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 256;
            csu_spool_file *f;
            if (out->n >= CSU_SPOOL_LIST_MAX) {
                st = cs_error_set(err, CS_ERR_TOO_LARGE,
                                  "spool %s holds over "
                                  "%u frames",
                                  dir, CSU_SPOOL_LIST_MAX);
                goto fail;
            }
            f = realloc(out->files, cap * sizeof *f);
            if (!f) {
                st = cs_error_set(err, CS_ERR_NOMEM, "spool scan: out of memory");
                goto fail;
            }
            out->files = f;
            out->cap = cap;
        }
        csu_spool_file *f = &out->files[out->n++];
        snprintf(f->name, sizeof f->name, "%s", de->d_name);
        f->size = (uint64_t)sb.st_size;
        f->mtime_us = (int64_t)sb.st_mtim.tv_sec * 1000000 + sb.st_mtim.tv_nsec / 1000;
        out->bytes += f->size;
    }
    if (out->n > 1)
        qsort(out->files, out->n, sizeof *out->files, cmp_files);
fail:
    closedir(d);
    return st;
}

cs_status csu_spool_release(const char *dir, const char *name, cs_error *err)
{
    char path[4096];
    if (!csu_path(path, sizeof path, dir, name))
        return cs_error_set(err, CS_ERR_ARG, "path too long: %s/%s", dir, name);
    if (unlink(path) != 0 && errno != ENOENT)
        return cs_error_set(err, CS_ERR_IO, "cannot remove sent frame %s: %s", path,
                            strerror(errno));
    return CS_OK;
}

cs_status csu_spool_mark_full(const char *dir, bool full, cs_error *err)
{
    char path[4096];
    if (!csu_path(path, sizeof path, dir, CSU_FULL_MARKER))
        return cs_error_set(err, CS_ERR_ARG, "path too long: %s", dir);
    if (full) {
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return cs_error_set(err, CS_ERR_IO, "cannot create %s: %s", path, strerror(errno));
        close(fd);
    } else if (unlink(path) != 0 && errno != ENOENT) {
        return cs_error_set(err, CS_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
    }
    return CS_OK;
}
