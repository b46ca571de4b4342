/* cli.h - the capscreen-uplink command: shared helpers of its subcommands. */
#ifndef CSU_CLI_H
#define CSU_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "capscreen/status.h"

/* Print "capscreen-uplink: MESSAGE" as one line on stderr. */
void cli_fail(const char *fmt, ...) CS_PRINTF(1, 2);

/* Parse a whole number in [min, max], with an optional K, M or G suffix
 * (powers of 1024) when `suffix`. False (after cli_fail) when invalid. */
bool cli_number(const char *opt, const char *text, uint64_t min, uint64_t max, bool suffix,
                uint64_t *out);

int cli_enrol(int argc, char **argv);
int cli_run(int argc, char **argv);

#endif
