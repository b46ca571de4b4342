/* status.c - names of status codes and the error-record helper. */
#include "capscreen/status.h"

#include <stdarg.h>
#include <stdio.h>

const char *cs_status_name(cs_status s)
{
    switch (s) {
    case CS_OK: return "ok";
    case CS_END: return "end";
    case CS_AGAIN: return "again";
    case CS_ERR_NOMEM: return "out_of_memory";
    case CS_ERR_IO: return "io_error";
    case CS_ERR_ARG: return "bad_argument";
    case CS_ERR_EMPTY: return "empty";
    case CS_ERR_TRUNCATED: return "truncated";
    case CS_ERR_CORRUPT: return "corrupt";
    case CS_ERR_CHECKSUM: return "checksum_mismatch";
    case CS_ERR_UNSUPPORTED: return "unsupported";
    case CS_ERR_TOO_LARGE: return "too_large";
    case CS_ERR_NOT_IMAGE: return "not_an_image";
    case CS_ERR_MODEL: return "model_error";
    }
    return "unknown";
}

cs_status cs_error_set(cs_error *err, cs_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}
