/* fuzz_decode.c - libFuzzer target: hands arbitrary bytes to
 * cs_decode_image() (cs_decode_frame()'s JPEG and PNG decoders, and TIFF)
 * and aborts unless it either succeeds with an image of the size
 * cs_analysis_size() predicts, or fails with a status, a reason and a
 * zeroed image. Leaks and memory errors are caught by the sanitizers
 * the CS_FUZZ build adds.
 *
 * Seeds in corpus/decode/: a tiny JPEG, a tiny PNG, a small non-square
 * JPEG, and two tiny TIFFs (RGB raw; grey LZW). Build with -DCS_FUZZ=ON
 * and clang, then e.g.
 *   cp -r tests/fuzz/corpus/decode /tmp/decode-corpus
 *   ./build-fuzz/tests/fuzz_decode -max_total_time=60 -rss_limit_mb=2048 \
 *     /tmp/decode-corpus */
#include <stdlib.h>
#include <string.h>

#include "capscreen/image.h"

static void check(int ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cs_image img;
    cs_error err;
    memset(&err, 0, sizeof err);
    cs_status st = cs_decode_image(data, size, &img, &err);
    if (st == CS_OK) {
        int w = 0, h = 0;
        check(img.rgb != NULL);
        check(img.src_width >= 8 && img.src_height >= 8);
        check(img.src_width <= CS_IMAGE_MAX_SIDE && img.src_height <= CS_IMAGE_MAX_SIDE);
        cs_analysis_size(img.src_width, img.src_height, &w, &h);
        check(img.width == w && img.height == h);
        /* Touch every byte, so a short buffer shows under ASan. */
        unsigned sum = 0;
        for (size_t i = 0; i < (size_t)img.width * img.height * 3; i++)
            sum += img.rgb[i];
        (void)sum;
    } else {
        check(err.code == st);
        check(memchr(err.msg, 0, sizeof err.msg) != NULL && err.msg[0] != '\0');
        check(img.rgb == NULL && img.width == 0 && img.height == 0);
    }
    cs_image_free(&img);
    check(img.rgb == NULL);
    return 0;
}
