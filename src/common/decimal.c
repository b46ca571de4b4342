/* decimal.c - a plain decimal number from text (decimal.h). */
#include "capscreen/decimal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

bool cs_parse_decimal(const char *s, double *out)
{
    if (!s)
        return false;
    /* Check the shape first: strtod alone takes signs, spaces, hex, inf
     * and nan, which a threshold setting must not. */
    const char *p = s;
    int digits = 0;
    while (isdigit((unsigned char)*p)) {
        p++;
        digits++;
    }
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++)
            digits++;
    if (digits == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p)
        return false;
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (errno == ERANGE || end != p)
        return false;
    *out = v;
    return true;
}
