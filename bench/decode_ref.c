/* decode_ref.c - the benchmark's reference: a plain full-size libjpeg-turbo
 * decode (default settings, RGB out) of every record of a frame-stream
 * file, reading the file the same way `capscreen analyze` does. Prints
 * frames per second as JSON. Usage: bench-decode-ref STREAM */
#include <stdio.h> /* before jpeglib.h, which uses FILE */

#include <jpeglib.h>
#include <stdlib.h>
#include <time.h>

#include "capscreen/source.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bench-decode-ref STREAM\n");
        return 2;
    }
    cs_source *src;
    cs_error err = {0};
    if (cs_source_open(argv[1], &src, &err) != CS_OK) {
        fprintf(stderr, "bench-decode-ref: %s\n", err.msg);
        return 1;
    }
    unsigned char *pixels = NULL;
    size_t cap = 0;
    unsigned long frames = 0, checksum = 0;
    cs_item item;
    double t0 = now();
    while (cs_source_next(src, &item, &err) == CS_OK) {
        if (item.kind == CS_ITEM_ENCODED) {
            struct jpeg_decompress_struct d;
            struct jpeg_error_mgr e;
            d.err = jpeg_std_error(&e);
            jpeg_create_decompress(&d);
            jpeg_mem_src(&d, item.data, (unsigned long)item.len);
            jpeg_read_header(&d, TRUE);
            d.out_color_space = JCS_RGB;
            jpeg_start_decompress(&d);
            size_t row = (size_t)d.output_width * 3, need = row * d.output_height;
            if (need > cap) {
                free(pixels);
                pixels = malloc(need);
                cap = need;
            }
            while (d.output_scanline < d.output_height) {
                JSAMPROW r = pixels + row * d.output_scanline;
                jpeg_read_scanlines(&d, &r, 1);
            }
            jpeg_finish_decompress(&d);
            jpeg_destroy_decompress(&d);
            checksum += pixels[need / 2];
            frames++;
        }
        cs_item_clear(&item);
    }
    double t = now() - t0;
    printf("{\"frames\": %lu, \"seconds\": %.3f, \"fps\": %.1f, \"checksum\": %lu}\n", frames, t,
           (double)frames / t, checksum);
    free(pixels);
    cs_source_close(src);
    return 0;
}
