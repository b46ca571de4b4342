/* progress.c - the terminal progress line. */
#include "cli/progress.h"

#include "capscreen/source.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define REDRAW_SECONDS 0.25

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void progress_start(progress *p, const struct cs_source *src)
{
    p->enabled = isatty(STDERR_FILENO);
    p->src = src;
    p->start = p->last_draw = now();
    p->done = 0;
}

static void draw(progress *p, double t)
{
    double elapsed = t - p->start;
    double rate = elapsed > 0 ? (double)p->done / elapsed : 0;
    /* Share done: from the source (bytes of a stream), else frames of the
     * expected count. The source may run a little ahead of analysis; that
     * error is the reorder window, a few dozen frames. */
    int64_t expected = cs_source_expected(p->src);
    double frac = cs_source_fraction_done(p->src);
    if (frac < 0 && expected > 0)
        frac = (double)p->done / (double)expected;
    if (frac > 0 && rate > 0) {
        double left = elapsed * (1.0 - frac) / frac;
        if (left < 0)
            left = 0;
        fprintf(stderr, "\r%llu frames  %3.0f%%  %.0f frames/s  %d:%02d left   ",
                (unsigned long long)p->done, frac * 100.0, rate, (int)left / 60, (int)left % 60);
    } else {
        fprintf(stderr, "\r%llu frames  %.0f frames/s   ", (unsigned long long)p->done, rate);
    }
    fflush(stderr);
}

void progress_tick(progress *p)
{
    p->done++;
    if (!p->enabled)
        return;
    double t = now();
    if (t - p->last_draw >= REDRAW_SECONDS) {
        p->last_draw = t;
        draw(p, t);
    }
}

void progress_end(progress *p)
{
    if (!p->enabled)
        return;
    draw(p, now());
    fputc('\n', stderr);
}
