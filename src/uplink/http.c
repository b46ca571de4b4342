/* http.c - one libcurl exchange: options, reply header parsing, body cap. */
#include "uplink/http.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Copy a header's value (trimmed) into out when `line` is that header. */
static bool header_value(const char *line, size_t len, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return false;
    const char *v = line + n + 1, *end = line + len;
    while (v < end && isspace((unsigned char)*v))
        v++;
    while (end > v && isspace((unsigned char)end[-1]))
        end--;
    size_t vl = (size_t)(end - v) < cap - 1 ? (size_t)(end - v) : cap - 1;
    memcpy(out, v, vl);
    out[vl] = '\0';
    return true;
}

static size_t on_header(char *data, size_t size, size_t n, void *user)
{
    csu_reply *r = user;
    size_t len = size * n;
    char num[32];
    if (header_value(data, len, "Upload-Offset", num, sizeof num)) {
        char *end;
        r->offset = strtoull(num, &end, 10);
        r->has_offset = end != num && *end == '\0' && num[0] != '-';
    }
    if (header_value(data, len, "Upload-Length", num, sizeof num)) {
        char *end;
        r->length = strtoull(num, &end, 10);
        r->has_length = end != num && *end == '\0' && num[0] != '-';
    }
    header_value(data, len, "Location", r->location, sizeof r->location);
    header_value(data, len, "Tus-Extension", r->tus_extension, sizeof r->tus_extension);
    header_value(data, len, "Tus-Checksum-Algorithm", r->tus_checksum, sizeof r->tus_checksum);
    return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
    csu_reply *r = user;
    size_t len = size * n, room = sizeof r->body - 1 - r->body_len;
    size_t take = len < room ? len : room; /* the rest is dropped */
    memcpy(r->body + r->body_len, data, take);
    r->body_len += take;
    r->body[r->body_len] = '\0';
    return len;
}

static int on_progress(void *user, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    atomic_int *stop = user;
    (void)a, (void)b, (void)c, (void)d;
    return stop && atomic_load(stop) ? 1 : 0;
}

void csu_http_do(CURL *curl, const csu_http_opts *o, const char *method, const char *url,
                 struct curl_slist *headers, const void *body, size_t len, csu_reply *r)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    memset(r, 0, sizeof *r);
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, o->stop);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, o->connect_timeout_s);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, o->low_speed_bytes);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, o->low_speed_time_s);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    if (o->max_send_rate)
        curl_easy_setopt(curl, CURLOPT_MAX_SEND_SPEED_LARGE, (curl_off_t)o->max_send_rate);
    if (o->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, o->ca_file);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "OPTIONS") == 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "OPTIONS");
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, len ? body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    }
    CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) {
        snprintf(r->error, sizeof r->error, "%.8s %.120s: %.120s", method, url,
                 rc == CURLE_ABORTED_BY_CALLBACK ? "stopped"
                 : errbuf[0]                     ? errbuf
                                                 : curl_easy_strerror(rc));
        r->code = 0;
        return;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->code);
}
