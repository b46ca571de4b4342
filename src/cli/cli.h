/* cli.h - the capscreen command-line subcommands. Each returns the process
 * exit status: 0 success, 1 failure (one-line reason on stderr), 2 usage. */
#ifndef CS_CLI_H
#define CS_CLI_H

#include <stdbool.h>

int cli_analyze(int argc, char **argv);
int cli_pack(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_eval_bleeding(int argc, char **argv);
#ifdef CS_HAVE_SERVER
int cli_serve(int argc, char **argv);
int cli_study(int argc, char **argv);
int cli_user(int argc, char **argv);
#endif

/* True and *out set when `s` is a whole decimal number (no leading space,
 * nothing after it) within [lo, hi]; false for anything else, including a
 * number too large for long long (never wrapped or clamped into range). */
bool cli_parse_int(const char *s, long long lo, long long hi, long long *out);

/* Print "capscreen: <message>" on stderr. */
void cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
