/* progress.h - frames done, rate and time left on stderr, for terminals
 * only: nothing is printed when stderr is not a TTY. One thread. */
#ifndef CS_CLI_PROGRESS_H
#define CS_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct cs_source;

typedef struct progress {
    bool enabled;
    const struct cs_source *src; /* asked for the share done */
    double start, last_draw;
    uint64_t done;
} progress;

void progress_start(progress *p, const struct cs_source *src);
void progress_tick(progress *p);
void progress_end(progress *p);

#endif
