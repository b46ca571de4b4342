/* decode_internal.h - per-format decoders behind cs_decode_frame(). */
#ifndef CS_DECODE_INTERNAL_H
#define CS_DECODE_INTERNAL_H

#include "capscreen/image.h"

/* detail_min_side: as cs_decode_frame_detail (0: none). */
cs_status cs_decode_jpeg(const uint8_t *data, size_t len, int detail_min_side, cs_image *out,
                         cs_error *err);
cs_status cs_decode_png(const uint8_t *data, size_t len, int detail_min_side, cs_image *out,
                        cs_error *err);
/* Classic TIFF (cs_decode_image only). */
cs_status cs_decode_tiff(const uint8_t *data, size_t len, int detail_min_side, cs_image *out,
                         cs_error *err);

#endif
