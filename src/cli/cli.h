/* cli.h - the capscreen command-line subcommands. Each returns the process
 * exit status: 0 success, 1 failure (one-line reason on stderr), 2 usage. */
#ifndef CS_CLI_H
#define CS_CLI_H

int cli_analyze(int argc, char **argv);
int cli_pack(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_eval_bleeding(int argc, char **argv);
#ifdef CS_HAVE_SERVER
int cli_serve(int argc, char **argv);
int cli_study(int argc, char **argv);
int cli_user(int argc, char **argv);
#endif

/* Print "capscreen: <message>" on stderr. */
void cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
