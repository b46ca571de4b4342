/* uplink.h - libcsuplink: the home hub's uploader. It takes the frames a
 * recorder drops into a spool folder (or appends to a frame-stream file),
 * packs them into the frame stream (docs/frame-stream.md) and sends them to
 * the hospital with tus 1.0, surviving network loss, its own crash, reboots
 * and server restarts. docs/uplink.md is the guide for hub makers.
 *
 * Dependencies: libcurl and libc. The embedder calls
 * curl_global_init(CURL_GLOBAL_DEFAULT) once before the first
 * csu_uplink_create() or csu_enrol() and curl_global_cleanup() after the last
 * csu_uplink_destroy(); the library keeps no other global state.
 *
 * Threads: a csu_uplink belongs to one thread at a time; every function on
 * it must be called from that thread, with one exception:
 * csu_uplink_stop(), which any thread or a signal handler may call. Separate
 * handles are independent (they must not share a state directory).
 *
 * Errors: fallible functions return cs_status (CS_OK == 0, status.h) and fill
 * the optional cs_error with a one-line reason. Network and server trouble is
 * never an error of csu_uplink_step(): the uplink backs off and retries, and
 * reports it in csu_uplink_status (state, last_error). */
#ifndef CAPSCREEN_UPLINK_H
#define CAPSCREEN_UPLINK_H

#include <stdbool.h>
#include <stdint.h>

#include "capscreen/status.h"

typedef struct csu_uplink csu_uplink;

/* What the uplink is doing, as shown on the hub's display. */
typedef enum csu_state {
    CSU_STATE_IDLE,        /* running, nothing waiting to be sent */
    CSU_STATE_ENROLLED,    /* has a token, no upload created yet */
    CSU_STATE_UPLOADING,   /* sending, or about to */
    CSU_STATE_BACKING_OFF, /* waiting before a retry (see last_error) */
    CSU_STATE_SPOOL_FULL,  /* spool at its cap: the recorder must hold frames */
    CSU_STATE_FINISHED,    /* the study is closed (Upload-Length sent) */
    CSU_STATE_ERROR,       /* the server refused us (e.g. 401, 413); retrying
                              slowly, someone should look (see last_error) */
} csu_state;

/* Stable lower-case name of a state ("backing_off", ...), as written in the
 * status file. Never NULL. */
const char *csu_state_name(csu_state s);

/* A snapshot of the uplink, also written to the status file. */
typedef struct csu_status_info {
    csu_state state;
    uint64_t frames_queued;  /* frames on the hub not yet confirmed */
    uint64_t spool_bytes;    /* bytes of those frames (spool mode) */
    uint64_t frames_sent;    /* frames the server has confirmed */
    uint64_t bytes_sent;     /* stream bytes the server has confirmed */
    uint64_t upload_offset;  /* the server's offset in the current upload */
    int64_t last_success_us; /* time of the last confirmed PATCH, 0 never */
    char last_error[256];    /* the last trouble, "" when none since start */
    char upload_url[512];    /* the current upload, "" before creation */
} csu_status_info;

typedef enum csu_checksum {
    CSU_CHECKSUM_AUTO, /* send Upload-Checksum: sha256 when the server's
                            OPTIONS lists the checksum extension and sha256 */
    CSU_CHECKSUM_ALWAYS,
    CSU_CHECKSUM_NEVER,
} csu_checksum;

/* Called after each step that changed the snapshot (state or counters),
 * from the thread that runs the uplink; `st` is borrowed for the call. */
typedef void (*csu_status_cb)(void *user, const csu_status_info *st);

/* The hub's health, for the care team (docs/uplink.md, "Health reports"). */
typedef struct csu_hub_health {
    int battery_pct;      /* 0..100 */
    int signal_dbm;       /* -150..0 */
    int spool_used_pct;   /* 0..100; -1: the uplink's own spool use against
                               spool_max_bytes */
    const char *recorder; /* "recording", "stopped" or "error" */
    const char *message;  /* NULL or up to 255 bytes of text */
} csu_hub_health;

/* Filled by the hub's firmware when the uplink asks (at most once a
 * second, from the thread that runs the uplink): return false when nothing
 * is known yet. String members must stay valid until the next call. */
typedef bool (*csu_health_cb)(void *user, csu_hub_health *out);

/* Configuration. Strings are copied by csu_uplink_create(). Start from
 * csu_config_init() and set what you need. */
typedef struct csu_config {
    const char *server_url;  /* e.g. "https://ingest.example.org"; uploads
                                 go to server_url + "/uploads/". NULL: the
                                 URL stored by csu_enrol() */
    const char *state_dir;   /* required: device token, progress, outbox */
    const char *spool_dir;   /* spool mode: *.jpg frames dropped here */
    const char *stream_path; /* stream mode: a frame-stream file being
                                 appended; exactly one of spool_dir and
                                 stream_path is set */
    const char *status_file; /* JSON snapshot for the display; NULL: none */
    const char *device_id;   /* sent in Upload-Metadata; NULL: "hub" */
    const char *ca_file;     /* extra CA bundle for HTTPS; NULL: system */

    uint64_t chunk_bytes;      /* a PATCH carries up to this many bytes of
                                 whole records (one bigger frame goes alone);
                                 default 16 MiB */
    uint32_t chunk_target_ms;  /* size PATCHes to last about this long at the
                                 measured rate, from min(256 KiB,
                                 chunk_bytes) up to chunk_bytes; halve after
                                 a failed PATCH. 0: always chunk_bytes.
                                 Default 8000 (docs/uplink.md, "Chunks") */
    uint32_t chunk_frames;     /* ... or this many frames; default and max 1024 */
    uint32_t chunk_ms;         /* ... or what came in this long; default 2000 */
    uint64_t spool_max_bytes;  /* spool cap in bytes; 0 = none; default 1 GiB */
    uint32_t spool_max_frames; /* spool cap in frames; 0 = none (default) */
    uint32_t max_frame_bytes;  /* bigger frames are set aside; default 2 MiB
                                 (memory: about chunk_bytes + 2 x this,
                                 twice that with read_ahead) */

    uint32_t backoff_min_ms; /* first retry delay; default 1000 */
    uint32_t backoff_max_ms; /* retry delay cap; default 60000 */
    uint32_t poll_ms;        /* spool scan interval when idle; default 200 */
    long connect_timeout_s;  /* default 10 */
    long low_speed_bytes;    /* a transfer slower than this many bytes/s ... */
    long low_speed_time_s;   /* ... for this long is dropped; default 100, 20 */
    uint64_t max_send_rate;  /* bytes/s cap on uploads (metered links); 0 none */
    csu_checksum checksum;   /* default CSU_CHECKSUM_AUTO */
    bool finish;             /* close the study once everything is sent,
                                 as if the spool held study.end */
    uint64_t rng_seed;       /* jitter seed; 0: from the clock and pid */
    bool read_ahead;         /* spool mode: pack (and hash) the next chunk
                                on a worker thread while a PATCH is sent,
                                so the link does not wait for it; costs a
                                second chunk buffer. Default true
                                (docs/uplink.md, "Chunks") */

    csu_status_cb on_status; /* optional */
    void *user;

    csu_health_cb on_health;     /* optional: health reports to the server */
    void *health_user;           /* passed to on_health */
    uint32_t health_interval_ms; /* a report at least this often; default 60000 */
} csu_config;

/* Fill `c` with the defaults above (pointers NULL). Never fails. */
void csu_config_init(csu_config *c);

/* Exchange a one-time enrolment code for a device token:
 * POST server_url/api/v1/devices/enrol {"code": CODE} -> {"token", "study"},
 * stored with the server URL in state_dir/device (mode 0600; state_dir is
 * created, mode 0700). Refuses to overwrite an existing device file.
 * `study_out` (may be NULL) receives the study id, `study_cap` bytes at most.
 * Errors: CS_ERR_ARG (bad argument, device file exists), CS_ERR_IO (network,
 * file system), CS_ERR_CORRUPT (reply not understood), CS_ERR_UNSUPPORTED
 * (the server refused the code: HTTP status in the message). */
cs_status csu_enrol(const char *server_url, const char *code, const char *state_dir,
                    char *study_out, size_t study_cap, const char *ca_file,
                    cs_error *err) CS_WARN_UNUSED;

/* Create an uplink: reads the device file and the saved progress from
 * state_dir, checks the outbox (rebuilding it from the spool if torn). No
 * network traffic yet. *out gets a handle for csu_uplink_destroy().
 * Errors: CS_ERR_ARG (bad config, not enrolled), CS_ERR_IO, CS_ERR_NOMEM,
 * CS_ERR_CORRUPT (the state file is damaged: the message says which). */
cs_status csu_uplink_create(const csu_config *cfg, csu_uplink **out, cs_error *err) CS_WARN_UNUSED;

/* Do one bounded piece of work: scan the spool, pack a chunk, or make one
 * HTTP request (at most one). *wait_ms (may be NULL) gets how long the
 * caller should sleep before the next step (0: at once). Returns CS_OK, or
 * CS_END once the study is finished. Errors are local trouble only:
 * CS_ERR_IO (state dir or spool unusable), CS_ERR_NOMEM. */
cs_status csu_uplink_step(csu_uplink *u, uint32_t *wait_ms, cs_error *err) CS_WARN_UNUSED;

/* Step and sleep until the study is finished (CS_OK), csu_uplink_stop() is
 * called (CS_AGAIN), or a local error (its status). Sleeps are cut short by
 * csu_uplink_stop(). */
cs_status csu_uplink_run(csu_uplink *u, cs_error *err) CS_WARN_UNUSED;

/* Ask csu_uplink_run() to return soon (a sleep ends within 50 ms; a
 * transfer in flight is aborted within about a second and resumed next
 * time). Async-signal-safe and callable
 * from any thread. Accepts NULL. */
void csu_uplink_stop(csu_uplink *u);

/* Copy the current snapshot into *st. Never fails on non-NULL arguments. */
void csu_uplink_status(const csu_uplink *u, csu_status_info *st);

/* Free the handle (progress is already on disk). Accepts NULL. */
void csu_uplink_destroy(csu_uplink *u);

#endif
