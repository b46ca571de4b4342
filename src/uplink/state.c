/* state.c - saving and loading the uplink's progress file (see state.h). */
#include "uplink/state.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uplink/fileio.h"

#define STATE_MAGIC "csuplink-progress 1"
/* Header lines plus one line per entry, each well under 400 bytes. */
#define STATE_CAP (4096 + CSU_CHUNK_FRAMES_MAX * 400)

void csu_saved_init(csu_saved *s) { memset(s, 0, offsetof(csu_saved, entries)); }

cs_status csu_saved_store(const csu_saved *s, const char *dir, cs_error *err)
{
    char path[4096];
    char *buf = NULL;
    size_t len = 0;
    cs_status st;
    if (!csu_path(path, sizeof path, dir, CSU_STATE_FILE))
        return cs_error_set(err, CS_ERR_ARG, "state folder path too long");
    buf = malloc(STATE_CAP);
    if (!buf)
        return cs_error_set(err, CS_ERR_NOMEM, "saving progress: out of memory");
    len += (size_t)snprintf(buf + len, STATE_CAP - len,
                            STATE_MAGIC "\nupload %s\nnext_index %" PRIu64 "\nsource_pos %" PRIu64
                                        "\nframes_sent %" PRIu64 "\nbytes_sent %" PRIu64
                                        "\noffset %" PRIu64 "\nfinished %d\noutbox %" PRIu64
                                        " %" PRIu64 " %" PRIu32 " %zu %d\n",
                            s->upload_url[0] ? s->upload_url : "-", s->next_index, s->source_pos,
                            s->frames_sent, s->bytes_sent, s->offset, s->finished ? 1 : 0,
                            s->seg_start, s->seg_len, s->seg_crc, s->n, s->seg_header ? 1 : 0);
    for (size_t i = 0; i < s->n && i < CSU_CHUNK_FRAMES_MAX; i++) {
        const csu_entry *e = &s->entries[i];
        len += (size_t)snprintf(buf + len, STATE_CAP - len,
                                "frame %" PRIu64 " %" PRId64 " %" PRIu32 " %u %" PRIu64 " %s\n",
                                e->index, e->time_us, e->size, (unsigned)e->flags, e->src_off,
                                e->name[0] ? e->name : "-");
    }
    len += (size_t)snprintf(buf + len, STATE_CAP - len, "end\n");
    st = csu_file_replace(path, buf, len, 0600, true, err);
    free(buf);
    return st;
}

/* Next line of *p (NUL-terminated in place), or NULL at the end. */
static char *next_line(char **p)
{
    char *s = *p, *nl;
    if (!*s)
        return NULL;
    nl = strchr(s, '\n');
    if (nl) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = s + strlen(s);
    }
    return s;
}

static bool parse_u64(const char *line, const char *key, uint64_t *v)
{
    size_t k = strlen(key);
    char *end;
    if (strncmp(line, key, k) != 0 || line[k] != ' ')
        return false;
    errno = 0;
    *v = strtoull(line + k + 1, &end, 10);
    return errno == 0 && *end == '\0' && end != line + k + 1;
}

cs_status csu_saved_load(csu_saved *s, const char *dir, bool *found, cs_error *err)
{
    char path[4096], *buf = NULL, *p, *line;
    uint64_t fin = 0;
    size_t want = 0;
    bool ended = false;
    int lineno = 0;
    cs_status st;
    csu_saved_init(s);
    *found = false;
    if (!csu_path(path, sizeof path, dir, CSU_STATE_FILE))
        return cs_error_set(err, CS_ERR_ARG, "state folder path too long");
    st = csu_file_read(path, STATE_CAP, &buf, NULL, err);
    if (st == CS_ERR_IO && errno == ENOENT)
        return CS_OK;
    if (st != CS_OK)
        return st;
    p = buf;
    while ((line = next_line(&p)) != NULL) {
        lineno++;
        if (ended)
            goto corrupt;
        if (lineno == 1) {
            if (strcmp(line, STATE_MAGIC) != 0)
                goto corrupt;
        } else if (strncmp(line, "upload ", 7) == 0) {
            if (strlen(line + 7) >= sizeof s->upload_url)
                goto corrupt;
            snprintf(s->upload_url, sizeof s->upload_url, "%s",
                     strcmp(line + 7, "-") ? line + 7 : "");
        } else if (parse_u64(line, "next_index", &s->next_index) ||
                   parse_u64(line, "source_pos", &s->source_pos) ||
                   parse_u64(line, "frames_sent", &s->frames_sent) ||
                   parse_u64(line, "bytes_sent", &s->bytes_sent) ||
                   parse_u64(line, "offset", &s->offset) || parse_u64(line, "finished", &fin)) {
            s->finished = fin != 0;
        } else if (strncmp(line, "outbox ", 7) == 0) {
            int header = 0;
            if (sscanf(line + 7, "%" SCNu64 " %" SCNu64 " %" SCNu32 " %zu %d", &s->seg_start,
                       &s->seg_len, &s->seg_crc, &want, &header) != 5 ||
                want > CSU_CHUNK_FRAMES_MAX)
                goto corrupt;
            s->seg_header = header != 0;
        } else if (strncmp(line, "frame ", 6) == 0) {
            csu_entry *e = &s->entries[s->n];
            int used = 0;
            unsigned flags = 0;
            if (s->n >= want)
                goto corrupt;
            if (sscanf(line + 6, "%" SCNu64 " %" SCNd64 " %" SCNu32 " %u %" SCNu64 " %n", &e->index,
                       &e->time_us, &e->size, &flags, &e->src_off, &used) != 5 ||
                used == 0 || flags > 0xFFFF || strlen(line + 6 + used) >= sizeof e->name)
                goto corrupt;
            e->flags = (uint16_t)flags;
            snprintf(e->name, sizeof e->name, "%s",
                     strcmp(line + 6 + used, "-") ? line + 6 + used : "");
            s->n++;
        } else if (strcmp(line, "end") == 0) {
            ended = true;
        } else {
            goto corrupt;
        }
    }
    if (!ended || s->n != want)
        goto corrupt;
    free(buf);
    *found = true;
    return CS_OK;
corrupt:
    free(buf);
    csu_saved_init(s);
    return cs_error_set(err, CS_ERR_CORRUPT,
                        "%s is damaged (line %d); move it "
                        "aside to start over (frames still in the spool are "
                        "sent again)",
                        path, lineno);
}
