/* source_open.c - the study-source dispatcher: a folder, a frame-stream
 * file or a video, told apart by what is at the path.
 *
 * Kept apart from source.c on purpose: this is the one caller of
 * cs_source_open_video(), so only programs that open studies by path (the
 * CLI, the video tests) link FFmpeg. The server's ingest, the worker pool and
 * their unit tests open frame streams and folders directly and never load
 * libavcodec (and the libhwy code it drags in: see scripts/run-tests.sh,
 * stage 3). */
#include "capscreen/source.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "capscreen/framestream.h"

cs_status cs_source_open(const char *path, cs_source **out, cs_error *err)
{
    struct stat st;
    *out = NULL;
    if (stat(path, &st) != 0)
        return cs_error_set(err, CS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return cs_source_open_folder(path, out, err);
    if (!S_ISREG(st.st_mode))
        return cs_error_set(err, CS_ERR_ARG, "%s is neither a folder nor a regular file", path);
    if (st.st_size == 0)
        return cs_error_set(err, CS_ERR_EMPTY, "%s is empty (0 bytes)", path);
    if (cs_fs_is_stream_file(path))
        return cs_source_open_framestream(path, out, err);
    return cs_source_open_video(path, out, err);
}
