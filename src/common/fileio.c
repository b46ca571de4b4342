/* fileio.c - whole-file reads with a cap. */
#include "capscreen/fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

cs_status cs_file_read(const char *path, size_t max_bytes, uint8_t **out, size_t *len,
                       cs_error *err)
{
    struct stat st;
    cs_status rc = CS_OK;
    uint8_t *buf = NULL;
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return cs_error_set(err, CS_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = cs_error_set(err, CS_ERR_IO, "%s is not a regular file", path);
        goto done;
    }
    if ((uint64_t)st.st_size > max_bytes) {
        rc = cs_error_set(err, CS_ERR_TOO_LARGE, "%s is too large (%lld bytes, limit %zu)", path,
                          (long long)st.st_size, max_bytes);
        goto done;
    }
    size_t n = (size_t)st.st_size;
    buf = malloc(n ? n : 1);
    if (!buf) {
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory reading %s", path);
        goto done;
    }
    if (n && fread(buf, 1, n, f) != n) {
        rc = cs_error_set(err, CS_ERR_IO, "read failed on %s: %s", path,
                          ferror(f) ? strerror(errno) : "file shrank while reading");
        goto done;
    }
    *out = buf;
    *len = n;
    buf = NULL;
done:
    free(buf);
    fclose(f);
    return rc;
}
