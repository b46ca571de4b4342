/* fileio.c - atomic file replacement, capped reads, folder creation, clocks. */
#include "uplink/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

bool csu_path(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n > 0 && (size_t)n < cap;
}

cs_status csu_dir_sync(const char *dir, cs_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return cs_error_set(err, CS_ERR_IO, "fsync of the folder %s: %s", dir, strerror(e));
    }
    close(fd);
    return CS_OK;
}

static cs_status fsync_dir_of(const char *path, cs_error *err)
{
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", path);
    return csu_dir_sync(dirname(copy), err);
}

cs_status csu_file_replace(const char *path, const void *data, size_t len, mode_t mode,
                           bool durable, cs_error *err)
{
    char tmp[4096];
    const char *p = data;
    int fd = -1;
    cs_status st = CS_ERR_IO;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return cs_error_set(err, CS_ERR_ARG, "path too long: %s", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        goto fail;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        p += n;
        len -= (size_t)n;
    }
    if ((durable && fsync(fd) != 0) || close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto fail;
    return durable ? fsync_dir_of(path, err) : CS_OK;
fail:
    cs_error_set(err, st, "cannot write %s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return st;
}

cs_status csu_file_read(const char *path, size_t cap, char **out, size_t *len, cs_error *err)
{
    struct stat sb;
    char *buf = NULL;
    size_t got = 0;
    cs_status st = CS_ERR_IO;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    *out = NULL;
    if (fd < 0 || fstat(fd, &sb) != 0)
        goto io_fail;
    if ((uint64_t)sb.st_size > cap) {
        st = cs_error_set(err, CS_ERR_TOO_LARGE,
                          "%s: %lld bytes, over the "
                          "cap of %zu",
                          path, (long long)sb.st_size, cap);
        goto fail;
    }
    buf = malloc((size_t)sb.st_size + 1);
    if (!buf) {
        st = cs_error_set(err, CS_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    while (got < (size_t)sb.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto io_fail;
        if (n == 0)
            break; /* shrank under us: what we have */
        got += (size_t)n;
    }
    buf[got] = '\0';
    close(fd);
    *out = buf;
    if (len)
        *len = got;
    return CS_OK;
io_fail:
    st = cs_error_set(err, CS_ERR_IO, "cannot read %s: %s", path, strerror(errno));
fail : {
    int e = errno;
    if (fd >= 0)
        close(fd);
    free(buf);
    errno = e;
}
    return st;
}

cs_status csu_dir_ensure(const char *path, mode_t mode, cs_error *err)
{
    struct stat sb;
    if (mkdir(path, mode) == 0)
        return CS_OK;
    if (errno == EEXIST && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return CS_OK;
    return cs_error_set(err, CS_ERR_IO, "cannot create folder %s: %s", path, strerror(errno));
}

int64_t csu_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t csu_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
