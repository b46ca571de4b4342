/* internal.h - the csu_uplink handle, shared by the files of the uplink
 * module (uplink.c: life cycle and status; step.c: the upload state
 * machine; pack.c: packing frames into the outbox). Not a public header. */
#ifndef CSU_INTERNAL_H
#define CSU_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "capscreen/uplink.h"
#include "uplink/ahead.h"
#include "uplink/backoff.h"
#include "uplink/device.h"
#include "uplink/outbox.h"
#include "uplink/sizer.h"
#include "uplink/spool.h"
#include "uplink/state.h"
#include "uplink/tus.h"

#define CSU_PATH_MAX 4096

struct csu_uplink {
    csu_config cfg; /* string members point into the arrays */
    char state_dir[CSU_PATH_MAX], spool_dir[CSU_PATH_MAX];
    char stream_path[CSU_PATH_MAX], status_file[CSU_PATH_MAX];
    char device_id[128], ca_file[CSU_PATH_MAX], server[512];
    csu_device dev;
    csu_tus tus;
    csu_backoff backoff;
    csu_sizer sizer;  /* bytes per PATCH and per packed chunk */
    csu_saved *saved; /* progress, as last stored */
    csu_outbox ob;    /* bytes of saved's outbox */
    csu_ahead ahead;  /* the next chunk, packed while a PATCH is sent */
    uint8_t *scratch; /* one frame payload */
    size_t scratch_cap;
    csu_spool_list list; /* last spool scan */
    int stream_fd;       /* stream mode, -1 until opened */
    int lock_fd;         /* flock on STATE_DIR/lock */
    atomic_int stop;

    bool synced;              /* the server's offset was learned since start or
                             since the last failed request */
    bool options_done;        /* OPTIONS asked (checksum discovery) */
    bool refused;             /* the last failure was a refusal (4xx) */
    bool full;                /* spool at its cap */
    int full_marker;          /* marker state on disk: -1 unknown, 0, 1 */
    bool end_seen;            /* study.end (or STREAM.end) present */
    bool last_chunk;          /* the outbox holds the study's last frames (spool
                             mode): the PATCH that completes it also sends
                             Upload-Length, saving the closing round trip.
                             False after a restart: then an empty PATCH
                             closes the upload, as before */
    int64_t retry_at_ms;      /* monotonic time of the next try; 0: none */
    int64_t last_scan_ms;     /* monotonic time of the last spool scan */
    int64_t pending_since_ms; /* when unpacked frames were first seen */
    bool ob_stale;            /* the outbox file did not match the progress at
                             start: rebuilt once the server's offset is
                             known, since frames the server confirmed may
                             have left the spool before a crash stored it */
    bool looked;              /* csu__pack ran since create: until then the
                             frames waiting to be packed are not known, and
                             the state is not "idle" or "enrolled" */
    uint64_t pending_frames;  /* unpacked frames seen by the last scan */
    uint64_t pending_bytes;
    csu_status_info info;      /* last snapshot */
    csu_status_info written;   /* last snapshot written / reported */
    struct csu_health *health; /* health reports (health.c); NULL: none */
};

/* step.c */
cs_status csu__step(csu_uplink *u, uint32_t *wait_ms, cs_error *err);
void csu__set_error(csu_uplink *u, const char *fmt, ...) CS_PRINTF(2, 3);
/* The server holds the upload's bytes up to `o`: release (delete) the spool
 * frames whose records end at or before o, close the outbox when all of it
 * is confirmed, store the progress. The only place frames are deleted. */
cs_status csu__confirm(csu_uplink *u, uint64_t o, cs_error *err);

/* pack.c: with the outbox empty, when a chunk is due (from the last spool
 * scan, or the records now complete in the stream file), pack it into the
 * outbox and store the progress. *packed says whether it did. */
cs_status csu__pack(csu_uplink *u, bool *packed, cs_error *err);
/* Refill the outbox bytes from its entries at upload offset `start`, after
 * the file header when `header` (clears ob_stale).
 * Entries whose records end at or before `keep_from` are confirmed: with
 * drop_sent they are left out (a new upload), otherwise zeros stand in for
 * frames already released (those bytes are never sent again). Then seal and
 * save outbox and progress. */
cs_status csu__rebuild(csu_uplink *u, uint64_t start, bool header, uint64_t keep_from,
                       bool drop_sent, cs_error *err);
/* Scan the spool (u->list), note study.end, update the full signal. */
cs_status csu__scan(csu_uplink *u, cs_error *err);
/* Bring the spool.full marker and u->full up to date with the last scan. */
cs_status csu__update_full(csu_uplink *u, cs_error *err);

/* uplink.c: recompute u->info; write the status file and call on_status
 * when it changed. */
void csu__refresh_status(csu_uplink *u);

#endif
