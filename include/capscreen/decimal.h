/* decimal.h - a plain decimal number from text, for settings that must read
 * the same from a config file, the environment and a command line (the
 * polyp threshold, a target specificity).
 *
 * Accepted: digits with at most one '.', at least one digit, then an
 * optional exponent ('e' or 'E', an optional sign, digits): "0.5", ".5",
 * "5.", "5e-1". Refused: everything else strtod() would take (a sign,
 * leading or trailing spaces, hex, "inf", "nan"), an empty string, and a
 * value that overflows or underflows a double.
 *
 * Thread-safe; pure (strtod in the "C" locale's decimal point, which the
 * CLI and server never change). */
#ifndef CAPSCREEN_DECIMAL_H
#define CAPSCREEN_DECIMAL_H

#include <stdbool.h>

/* True and *out set when `s` is a plain decimal number; false (and *out
 * untouched) otherwise. */
bool cs_parse_decimal(const char *s, double *out);

#endif
