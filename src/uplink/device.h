/* device.h - the hub's identity in STATE_DIR/device (mode 0600): the server
 * URL, the device token and the study it may upload to, as obtained once by
 * enrolment (csu_enrol in uplink.h). Thread rule: plain functions. */
#ifndef CSU_DEVICE_H
#define CSU_DEVICE_H

#include "capscreen/status.h"

#define CSU_DEVICE_FILE "device"

typedef struct csu_device {
    char server[512];
    char token[512];
    char study[128];
} csu_device;

/* Errors: CS_ERR_ARG (no device file: not enrolled), CS_ERR_CORRUPT,
 * CS_ERR_IO. */
cs_status csu_device_load(const char *state_dir, csu_device *d, cs_error *err) CS_WARN_UNUSED;
/* Create the device file (refuses to replace one). Errors: CS_ERR_ARG
 * (exists), CS_ERR_IO. */
cs_status csu_device_store(const char *state_dir, const csu_device *d,
                           cs_error *err) CS_WARN_UNUSED;

#endif
