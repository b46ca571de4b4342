/* testutil.c - file and path helpers for the unit tests. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

uint8_t *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    if (fseek(f, 0, SEEK_END) != 0)
        goto out;
    long n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto out;
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        *len = (size_t)n;
out:
    fclose(f);
    return buf;
}

static const char *join(const char *env, const char *fallback, const char *rel)
{
    static char path[4096];
    const char *base = getenv(env);
    snprintf(path, sizeof path, "%s/%s", base ? base : fallback, rel);
    return path;
}

const char *tu_source_path(const char *rel) { return join("CS_SOURCE_DIR", ".", rel); }
const char *tu_shared_path(const char *rel) { return join("CS_SHARED_DIR", "../shared", rel); }

void tu_require_shared(void)
{
    struct stat st;
    const char *p = tu_shared_path("data/wcebleedgen/labels.csv");
    if (stat(p, &st) != 0) {
        printf("SKIP: shared data set not found at %s (set CS_SHARED_DIR)\n", p);
        exit(CS_TEST_SKIP);
    }
}

const char *tu_tmpdir(void)
{
    static char dir[4096];
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/cs-test-XXXXXX", t ? t : "/tmp");
    if (!mkdtemp(dir))
        return NULL;
    return dir;
}
