/* output.c - the result file of analyze and pack: written beside its target
 * and renamed onto it when complete (output.h). */
#include "cli/output.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

/* The temp file to remove if the process is stopped by a signal. */
static char *volatile pending_tmp;

static void remove_pending(int sig)
{
    char *tmp = pending_tmp;
    if (tmp)
        unlink(tmp); /* async-signal-safe */
    signal(sig, SIG_DFL);
    raise(sig); /* die of the signal, so the caller sees why */
}

/* Ctrl-C, kill or a closed terminal mid-run must not leave a partial file
 * behind. A signal ignored at start (nohup, a background job) stays so. */
static void catch_stop_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction old, sa;
        if (sigaction(sigs[i], NULL, &old) != 0 || old.sa_handler == SIG_IGN)
            continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = remove_pending;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}

/* Forget the temp file before it is renamed or freed (after it is removed:
 * a signal in between must still find it). */
static void forget_pending(void) { pending_tmp = NULL; }

/* The file a symlink names, malloc'd: realpath() when it exists, else the
 * links read one by one (a dangling link, up to 8 deep), each relative
 * target taken from its link's folder. NULL when it cannot be told. */
static char *follow_links(const char *path)
{
    char *p = realpath(path, NULL);
    if (p || errno != ENOENT)
        return p;
    if (!(p = strdup(path)))
        return NULL;
    struct stat st;
    for (int depth = 0; depth < 8 && lstat(p, &st) == 0 && S_ISLNK(st.st_mode); depth++) {
        char to[4096];
        ssize_t n = readlink(p, to, sizeof to - 1);
        if (n <= 0)
            break;
        to[n] = '\0';
        const char *slash = strrchr(p, '/');
        size_t dir = to[0] == '/' || !slash ? 0 : (size_t)(slash - p) + 1;
        char *next = malloc(dir + (size_t)n + 1);
        if (!next)
            break;
        memcpy(next, p, dir);
        memcpy(next + dir, to, (size_t)n + 1);
        free(p);
        p = next;
    }
    if (lstat(p, &st) == 0 && S_ISLNK(st.st_mode)) { /* a loop, or too deep */
        free(p);
        return NULL;
    }
    return p;
}

static void release(cli_output *o)
{
    free(o->resolved);
    o->resolved = NULL;
}

int cli_output_open(cli_output *o, const char *path)
{
    struct stat st;
    memset(o, 0, sizeof *o);
    o->path = path;
    /* A symlink (/dev/stdout, a link to a shared folder) is followed to the
     * file it names: renaming onto the link itself would replace the link.
     * A dangling link names no file yet: its target is created. */
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) && (o->resolved = follow_links(path)))
        o->path = path = o->resolved;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        cli_fail("cannot write %s: it is a directory", path);
        release(o);
        return -1;
    }
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* Renaming a file onto a FIFO or device would replace the node
         * (as root, /dev/null itself); a reader waits on it instead. */
        if (!(o->f = fopen(path, "wb"))) {
            cli_fail("cannot write %s: %s", path, strerror(errno));
            release(o);
            return -1;
        }
        return 0;
    }
    size_t n = strlen(path) + sizeof ".partial-XXXXXX";
    if (!(o->tmp = malloc(n))) {
        cli_fail("out of memory");
        release(o);
        return -1;
    }
    snprintf(o->tmp, n, "%s.partial-XXXXXX", path);
    /* The handlers are in place, and the stop signals held back, before
     * the file exists: a signal in between would leave it behind. */
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    catch_stop_signals();
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    int fd = mkstemp(o->tmp); /* O_EXCL: never another run's file, nor a link */
    if (fd >= 0)
        pending_tmp = o->tmp;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (fd < 0 || !(o->f = fdopen(fd, "wb"))) {
        cli_fail("cannot write %s: %s", o->tmp, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(o->tmp);
            forget_pending();
        }
        free(o->tmp);
        o->tmp = NULL;
        release(o);
        return -1;
    }
    /* mkstemp makes 0600; give the file the mode a plain create would. */
    mode_t mask = umask(0);
    umask(mask);
    (void)fchmod(fd, 0666 & ~mask);
    return 0;
}

int cli_output_commit(cli_output *o)
{
    FILE *f = o->f;
    o->f = NULL;
    int failed = fflush(f) != 0;
    /* fsync: a regular file is durable before it replaces the old one (a
     * FIFO or terminal cannot be synced, and need not be). */
    if (!failed && o->tmp && fsync(fileno(f)) != 0)
        failed = 1;
    int saved = errno;
    if (fclose(f) != 0 && !failed) {
        failed = 1;
        saved = errno;
    }
    if (failed) {
        cli_fail("cannot write %s: %s", o->tmp ? o->tmp : o->path, strerror(saved));
        cli_output_abort(o);
        return -1;
    }
    if (o->tmp && rename(o->tmp, o->path) != 0) {
        cli_fail("cannot rename %s to %s: %s", o->tmp, o->path, strerror(errno));
        cli_output_abort(o);
        return -1;
    }
    forget_pending();
    free(o->tmp);
    o->tmp = NULL;
    release(o);
    return 0;
}

void cli_output_abort(cli_output *o)
{
    if (o->f)
        fclose(o->f);
    o->f = NULL;
    if (o->tmp) {
        unlink(o->tmp);
        forget_pending();
        free(o->tmp);
        o->tmp = NULL;
    }
    forget_pending();
    release(o);
}
