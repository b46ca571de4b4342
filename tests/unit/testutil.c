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

#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>

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

typedef struct tu_jfail {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
} tu_jfail;

static void tu_jerror_exit(j_common_ptr c)
{
    longjmp(((tu_jfail *)c->err)->jump, 1);
}

static void tu_jsilent(j_common_ptr c, int level)
{
    (void)c;
    (void)level;
}

int tu_jpeg_encode(const uint8_t *rgb, int w, int h, int quality, uint8_t **out,
                   size_t *len)
{
    struct jpeg_compress_struct c;
    tu_jfail f;
    unsigned char *volatile buf = NULL;
    unsigned long n = 0;
    c.err = jpeg_std_error(&f.mgr);
    f.mgr.error_exit = tu_jerror_exit;
    if (setjmp(f.jump)) {
        jpeg_destroy_compress(&c);
        free(buf);
        return -1;
    }
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, (unsigned char **)&buf, &n);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = (JSAMPROW)(rgb + (size_t)c.next_scanline * (size_t)w * 3);
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *out = buf;
    *len = n;
    return 0;
}

uint8_t *tu_jpeg_decode_full(const uint8_t *data, size_t len, int *w, int *h)
{
    struct jpeg_decompress_struct d;
    tu_jfail f;
    uint8_t *volatile px = NULL;
    d.err = jpeg_std_error(&f.mgr);
    f.mgr.error_exit = tu_jerror_exit;
    f.mgr.emit_message = tu_jsilent;
    if (setjmp(f.jump)) {
        jpeg_destroy_decompress(&d);
        free(px);
        return NULL;
    }
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, data, (unsigned long)len);
    jpeg_read_header(&d, TRUE);
    d.out_color_space = JCS_RGB;
    jpeg_start_decompress(&d);
    size_t row = (size_t)d.output_width * 3;
    px = malloc(row * d.output_height);
    if (!px)
        longjmp(f.jump, 1);
    while (d.output_scanline < d.output_height) {
        JSAMPROW r = px + row * d.output_scanline;
        jpeg_read_scanlines(&d, &r, 1);
    }
    jpeg_finish_decompress(&d);
    *w = (int)d.output_width;
    *h = (int)d.output_height;
    jpeg_destroy_decompress(&d);
    return px;
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
