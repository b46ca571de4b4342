/* testutil.c - file and path helpers for the unit tests. */
#include "testutil.h"

#include "capscreen/fileio.h"
#include "capscreen/reencode.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

uint8_t *tu_read_file(const char *path, size_t *len)
{
    uint8_t *buf = NULL;
    return cs_file_read(path, SIZE_MAX, &buf, len, NULL) == CS_OK ? buf : NULL;
}

static const char *join(const char *env, const char *fallback, const char *rel)
{
    static _Thread_local char path[4096]; /* per thread: tests read frames from several threads */
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

/* ---- image helpers ---------------------------------------------------- */

#include <png.h>

int tu_have_shared(void)
{
    struct stat st;
    return stat(tu_shared_path("data/wcebleedgen/labels.csv"), &st) == 0;
}

uint8_t *tu_read_shared_frame(const char *name, size_t *len)
{
    char rel[512];
    snprintf(rel, sizeof rel, "data/wcebleedgen/images/%s", name);
    return tu_read_file(tu_shared_path(rel), len);
}

int tu_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int bad = len && fwrite(data, 1, len, f) != len;
    bad |= fclose(f) != 0;
    return bad ? -1 : 0;
}

/* JPEG helpers: thin wrappers over the library's own encoder and full
 * decoder (capscreen/reencode.h), so the tests exercise one copy. */
int tu_jpeg_encode(const uint8_t *rgb, int w, int h, int quality, uint8_t **out, size_t *len)
{
    return cs_jpeg_encode_rgb(rgb, w, h, quality, out, len, NULL) == CS_OK ? 0 : -1;
}

uint8_t *tu_jpeg_decode_full(const uint8_t *data, size_t len, int *w, int *h)
{
    uint8_t *px = NULL;
    return cs_jpeg_decode_rgb(data, len, &px, w, h, NULL) == CS_OK ? px : NULL;
}

int tu_png_encode(const uint8_t *rgb, int w, int h, uint8_t **out, size_t *len)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)w;
    img.height = (png_uint_32)h;
    img.format = PNG_FORMAT_RGB;
    png_alloc_size_t n = 0;
    if (!png_image_write_to_memory(&img, NULL, &n, 0, rgb, 0, NULL))
        return -1;
    uint8_t *buf = malloc(n);
    if (!buf)
        return -1;
    if (!png_image_write_to_memory(&img, buf, &n, 0, rgb, 0, NULL)) {
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

long tu_jpeg_sof_dims_offset(const uint8_t *data, size_t len)
{
    /* Walk the marker segments from SOI up to the first SOFn. */
    size_t i = 2;
    while (i + 4 <= len && data[i] == 0xFF) {
        uint8_t m = data[i + 1];
        size_t seg = (size_t)data[i + 2] << 8 | data[i + 3];
        if (m == 0xC0 || m == 0xC1 || m == 0xC2)
            return i + 7 <= len ? (long)(i + 5) : -1;
        i += 2 + seg;
    }
    return -1;
}
