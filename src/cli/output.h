/* output.h - the result file of analyze and pack: it appears whole or not
 * at all, and what was at its path stays until then. One output at a time. */
#ifndef CS_CLI_OUTPUT_H
#define CS_CLI_OUTPUT_H

#include <stdio.h>

typedef struct cli_output {
    FILE *f;          /* write here */
    const char *path; /* the target: as given, or `resolved` */
    char *tmp;        /* temp file beside it; NULL when writing to path itself */
    char *resolved;   /* a symlink's target (realpath), owned; NULL when none */
} cli_output;

/* Open `path` for writing, before any long work, so that a bad target fails
 * at once. A directory is refused. An existing FIFO, terminal or device
 * (/dev/stdout, a pipe from the shell) is written directly and never
 * replaced. A symlink is followed, never replaced: the target is the file
 * it names (as root, `-o /dev/stdout > x` once renamed a file onto the
 * system's /dev/stdout link). Otherwise a new temp file PATH.partial-XXXXXX
 * is created beside the target; it appears only at cli_output_commit().
 * Until then SIGINT, SIGTERM
 * and SIGHUP (unless ignored at start) remove the temp file and end the
 * process with that signal. 0 on success; else a
 * one-line reason on stderr and -1. */
int cli_output_open(cli_output *o, const char *path);

/* Flush, fsync and close; then rename the temp file onto the target.
 * 0 on success; else a one-line reason on stderr, the temp file removed,
 * the target untouched, and -1. */
int cli_output_commit(cli_output *o);

/* Close and remove the temp file (no-op after commit or when never opened).
 * Commit and abort both release what open took. */
void cli_output_abort(cli_output *o);

#endif
