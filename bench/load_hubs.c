/* load_hubs.c - many hubs uploading at once to one capscreen server, on
 * loopback, from one epoll thread that costs the server as little CPU as a
 * load generator can (bench/README.md, "Server load").
 *
 *   bench-load-hubs --url http://127.0.0.1:PORT --stream FILE
 *                   [--admin-token TOKEN] [--hubs 1000] [--seconds 30]
 *                   [--frames-per-patch 2] [--interval 1.0]
 *                   [--hubs-per-address 1] [--timeout 10] [--server-pid PID]
 *
 * Setup (blocking, before the clock runs): for each hub a study and a
 * device token (admin API, then enrolment, as a real hub is enrolled), then
 * on the hub's own keep-alive connection, bound to its own loopback source
 * address (127.0.0.2, 127.0.0.3, ...: real hubs come from many addresses,
 * and the server limits connections per address), a deferred-length tus
 * upload. The admin token comes from --admin-token or CAPSCREEN_ADMIN_TOKEN.
 *
 * Run: every --interval seconds, on a fixed schedule spread evenly over the
 * hubs, each hub PATCHes --frames-per-patch new frame-stream records (the
 * records of FILE in turn, with their own increasing frame indexes; the
 * first PATCH starts with the file header). A hub has one request out at a
 * time: when an answer comes after the hub's next tick, the next PATCH
 * leaves at once and the delay is counted (start_delay).
 *
 * Measures: every PATCH's latency, first byte written to last byte of the
 * answer read (exact percentiles), errors by kind, the server's own
 * request-duration histogram for tus PATCHes (GET /metrics before and
 * after: the delta, and the bucket in which 99% is reached), and with
 * --server-pid its CPU time, threads and resident memory (sampled each
 * second, and at the end while every connection is still open), plus this
 * program's own CPU time. Prints a summary on stderr and one JSON line on
 * stdout; never fails on a number. Traffic goes to the --url host, which
 * must be a loopback address. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HUBS 20000
#define RESP_MAX 8192 /* an answer's headers and (error) body */
#define METRIC_BUCKETS 32

/* ---- small helpers ---- */

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench-load-hubs: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static uint32_t crc32c_table[256];

static void crc32c_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc32c_table[i] = c;
    }
}

static uint32_t crc32c(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    while (n--)
        c = crc32c_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* ---- the frame stream to send ---- */

typedef struct {
    uint8_t *file;           /* the whole file */
    size_t header_len;       /* file header: file[0 .. header_len) */
    size_t n;                /* records */
    const uint8_t **payload; /* each record's payload and its 4-byte CRC */
    size_t *payload_len;     /* payload bytes, CRC not counted */
    size_t max_payload;
} stream;

static void stream_read(const char *path, stream *s)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    s->file = xmalloc((size_t)size);
    if (size < 16 || fread(s->file, 1, (size_t)size, f) != (size_t)size)
        die("cannot read %s", path);
    fclose(f);
    if (memcmp(s->file, "CSFS", 4) != 0)
        die("%s is not a frame-stream file", path);
    s->header_len = get_le(s->file + 6, 2);
    size_t cap = 1024;
    s->payload = xmalloc(cap * sizeof *s->payload);
    s->payload_len = xmalloc(cap * sizeof *s->payload_len);
    for (size_t pos = s->header_len; pos + 32 <= (size_t)size;) {
        size_t rh = get_le(s->file + pos + 4, 2), pl = get_le(s->file + pos + 24, 4);
        if (memcmp(s->file + pos, "CSFR", 4) != 0 || pos + rh + pl + 4 > (size_t)size)
            die("%s: no whole record at offset %zu", path, pos);
        if (s->n == cap) {
            cap *= 2;
            s->payload = realloc(s->payload, cap * sizeof *s->payload);
            s->payload_len = realloc(s->payload_len, cap * sizeof *s->payload_len);
            if (!s->payload || !s->payload_len)
                die("out of memory");
        }
        s->payload[s->n] = s->file + pos + rh;
        s->payload_len[s->n] = pl;
        if (pl > s->max_payload)
            s->max_payload = pl;
        s->n++;
        pos += rh + pl + 4;
    }
    if (!s->n)
        die("%s holds no records", path);
}

/* A version 1 record (docs/frame-stream.md): header, payload, payload CRC. */
static size_t record_put(uint8_t *out, uint64_t index, int64_t time_us, const uint8_t *payload_crc,
                         size_t payload_len)
{
    memcpy(out, "CSFR", 4);
    put_le(out + 4, 32, 2);
    put_le(out + 6, 0, 2);
    put_le(out + 8, index, 8);
    put_le(out + 16, (uint64_t)time_us, 8);
    put_le(out + 24, payload_len, 4);
    put_le(out + 28, crc32c(out, 28), 4);
    memcpy(out + 32, payload_crc, payload_len + 4);
    return 32 + payload_len + 4;
}

/* ---- blocking HTTP for the setup and /metrics ---- */

static struct sockaddr_in server_addr;
static char server_host[64];

/* A TCP connection to the server from `source` (network order), blocking. */
static int connect_from(uint32_t source, bool nonblocking)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = source};
    if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0)
        die("cannot bind to %s: %s", inet_ntoa(src.sin_addr), strerror(errno));
    if (connect(fd, (struct sockaddr *)&server_addr, sizeof server_addr) != 0 &&
        !(nonblocking && errno == EINPROGRESS))
        die("cannot connect to %s: %s", server_host, strerror(errno));
    return fd;
}

static void write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            die("write to the server: %s", k < 0 ? strerror(errno) : "closed");
        p += k;
        n -= (size_t)k;
    }
}

/* Case-insensitive header value in `head` (NUL-terminated), copied to `out`. */
static bool header_get(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
            const char *v = p + 3 + nl;
            while (*v == ' ' || *v == '\t')
                v++;
            size_t n = strcspn(v, "\r\n");
            if (n >= cap)
                n = cap - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return true;
        }
    }
    return false;
}

typedef struct {
    int status;
    char *head; /* headers, NUL-terminated */
    char *body; /* NUL-terminated */
    size_t body_len;
    bool close;
} http_resp;

static void resp_free(http_resp *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* Send a request and read its answer (Content-Length bodies only). */
static void http_do(int fd, const char *method, const char *path, const char *headers,
                    const void *body, size_t body_len, http_resp *out)
{
    char req[2048];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: %s\r\n%sContent-Length: %zu\r\n\r\n",
                     method, path, server_host, headers, body_len);
    if (n < 0 || (size_t)n >= sizeof req)
        die("request headers too long");
    write_all(fd, req, (size_t)n);
    if (body_len)
        write_all(fd, body, body_len);
    size_t cap = 4096, len = 0;
    char *buf = xmalloc(cap + 1);
    char *end = NULL;
    while (!end) {
        if (len == cap) {
            cap *= 2;
            if (!(buf = realloc(buf, cap + 1)))
                die("out of memory");
        }
        ssize_t k = read(fd, buf + len, cap - len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            die("%s %s: the server closed the connection", method, path);
        len += (size_t)k;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    size_t head_len = (size_t)(end - buf) + 2;
    char v[64] = "0";
    memset(out, 0, sizeof *out);
    out->head = xmalloc(head_len + 1);
    memcpy(out->head, buf, head_len);
    out->head[head_len] = '\0';
    out->status = atoi(strchr(buf, ' ') ? strchr(buf, ' ') + 1 : "0");
    header_get(out->head, "Content-Length", v, sizeof v);
    out->body_len = strtoul(v, NULL, 10);
    out->close = header_get(out->head, "Connection", v, sizeof v) && strcasecmp(v, "close") == 0;
    out->body = xmalloc(out->body_len + 1);
    size_t have = len - (head_len + 2);
    if (have > out->body_len)
        die("%s %s: more bytes than the answer's length", method, path);
    memcpy(out->body, end + 4, have);
    while (have < out->body_len) {
        ssize_t k = read(fd, out->body + have, out->body_len - have);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            die("%s %s: the answer was cut off", method, path);
        have += (size_t)k;
    }
    out->body[out->body_len] = '\0';
    free(buf);
}

/* The string value of "key" in a flat JSON object (no escapes expected). */
static void json_str(const char *json, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(json, pat);
    if (p)
        p = strchr(p + strlen(pat), '"');
    size_t n = p ? strcspn(p + 1, "\"") : 0;
    if (!p || n == 0 || n >= cap)
        die("no \"%s\" in %s", key, json);
    memcpy(out, p + 1, n);
    out[n] = '\0';
}

/* A JSON API call on the setup connection, reopened when the server closes it. */
static void api_post(int *fd, const char *path, const char *json, const char *auth, int want,
                     http_resp *out)
{
    char h[512];
    snprintf(h, sizeof h, "Content-Type: application/json\r\n%s%s%s",
             auth ? "Authorization: Bearer " : "", auth ? auth : "", auth ? "\r\n" : "");
    if (*fd < 0)
        *fd = connect_from(htonl(INADDR_LOOPBACK), false);
    http_do(*fd, "POST", path, h, json, strlen(json), out);
    if (out->status != want)
        die("POST %s answered %d: %s", path, out->status, out->body);
    if (out->close) {
        close(*fd);
        *fd = -1;
    }
}

/* ---- the server's /metrics ---- */

typedef struct {
    int n;
    double le[METRIC_BUCKETS]; /* upper bounds; the last is +Inf */
    double cum[METRIC_BUCKETS];
    double sum_s, frames_analysed, bytes_received, errors, connections;
} metrics;

static void metrics_get(metrics *m)
{
    memset(m, 0, sizeof *m);
    int fd = connect_from(htonl(INADDR_LOOPBACK), false);
    http_resp r;
    http_do(fd, "GET", "/metrics", "", NULL, 0, &r);
    close(fd);
    if (r.status != 200)
        die("GET /metrics answered %d", r.status);
    const char *pre = "capscreen_request_duration_seconds_bucket{class=\"tus_patch\",le=\"";
    for (char *line = strtok(r.body, "\n"); line; line = strtok(NULL, "\n")) {
        double v = atof(strrchr(line, ' ') ? strrchr(line, ' ') + 1 : "0");
        if (strncmp(line, pre, strlen(pre)) == 0 && m->n < METRIC_BUCKETS) {
            const char *le = line + strlen(pre);
            m->le[m->n] = strncmp(le, "+Inf", 4) == 0 ? INFINITY : atof(le);
            m->cum[m->n++] = v;
        } else if (strncmp(line, "capscreen_request_duration_seconds_sum{class=\"tus_patch\"}",
                           57) == 0) {
            m->sum_s = v;
        } else if (strncmp(line, "capscreen_frames_analysed_total", 31) == 0) {
            m->frames_analysed = v;
        } else if (strncmp(line, "capscreen_bytes_received_total", 30) == 0) {
            m->bytes_received = v;
        } else if (strncmp(line, "capscreen_connections_total", 27) == 0) {
            m->connections = v;
        } else if (strncmp(line, "capscreen_errors_total{", 23) == 0) {
            m->errors += v;
        }
    }
    resp_free(&r);
    if (m->n < 2)
        die("/metrics has no tus_patch histogram (capscreen_request_duration_seconds)");
}

/* The upper bound of the bucket where the run's cumulative count reaches q. */
static double metrics_quantile(const metrics *a, const metrics *b, double q, double *lower)
{
    double total = b->cum[b->n - 1] - a->cum[a->n - 1];
    *lower = 0;
    for (int i = 0; i < b->n && total > 0; i++) {
        if (b->cum[i] - a->cum[i] >= q * total)
            return b->le[i];
        *lower = b->le[i];
    }
    return NAN;
}

/* ---- the server's process ---- */

typedef struct {
    double cpu_s;
    long rss_kib, hwm_kib, threads;
} proc_sample;

static bool proc_read(int pid, proc_sample *p)
{
    char path[64], buf[4096];
    memset(p, 0, sizeof *p);
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *q = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!q || sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return false;
    p->cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    if (!(f = fopen(path, "r")))
        return false;
    while (fgets(buf, sizeof buf, f)) {
        sscanf(buf, "VmRSS: %ld", &p->rss_kib);
        sscanf(buf, "VmHWM: %ld", &p->hwm_kib);
        sscanf(buf, "Threads: %ld", &p->threads);
    }
    fclose(f);
    return true;
}

/* This thread's time waiting for a CPU while runnable, in seconds: a
 * generator that waits for a CPU reports the wait as server latency. */
static double self_runqueue_wait_s(void)
{
    unsigned long long run = 0, wait = 0;
    FILE *f = fopen("/proc/thread-self/schedstat", "r");
    if (!f)
        return NAN;
    int n = fscanf(f, "%llu %llu", &run, &wait);
    fclose(f);
    return n == 2 ? (double)wait / 1e9 : NAN;
}

/* ---- the hubs ---- */

enum hub_state { IDLE, SENDING, READING, DONE };

typedef struct {
    int fd;
    uint32_t source; /* network order */
    enum hub_state state;
    char path[160]; /* /uploads/ID */
    char token[96];
    uint64_t offset;  /* Upload-Offset */
    uint64_t index;   /* next frame index */
    bool sent_header; /* the file header went out (in the first PATCH) */
    bool need_head;   /* offset unknown after a failure: HEAD first */
    bool is_head;     /* the request out is a HEAD */
    uint8_t *out;     /* request being sent */
    size_t out_len, out_done, body_len;
    char in[RESP_MAX + 1];
    size_t in_len;
    int64_t sent_ns; /* first byte of the request written */
    int64_t tick_ns; /* when this PATCH was due */
    int64_t next_ns; /* when the next PATCH is due */
    bool in_heap;
} hub;

typedef struct {
    int hubs, frames_per_patch, per_address;
    double seconds, interval, timeout;
    int server_pid;
} options;

static hub *hubs;
static options opt;
static int64_t end_ns; /* no PATCH is due at or after this */
static stream strm;
static int ep;

/* Latencies and start delays, ns, one per PATCH answered. */
static int64_t *lat, *delay;
static size_t n_lat, n_delay, cap_lat;
static long n_ok, n_err_status, n_err_closed, n_err_timeout, n_reconnect, n_heads, n_late;
static long status_counts[600];
static double bytes_sent;

/* A min-heap of hubs by next_ns. */
static int *heap;
static int heap_n;

static void heap_swap(int a, int b)
{
    int t = heap[a];
    heap[a] = heap[b];
    heap[b] = t;
}

static void heap_push(int h)
{
    int i = heap_n++;
    heap[i] = h;
    hubs[h].in_heap = true;
    while (i > 0 && hubs[heap[(i - 1) / 2]].next_ns > hubs[heap[i]].next_ns) {
        heap_swap(i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static int heap_pop(void)
{
    int top = heap[0];
    heap[0] = heap[--heap_n];
    for (int i = 0;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < heap_n && hubs[heap[l]].next_ns < hubs[heap[m]].next_ns)
            m = l;
        if (r < heap_n && hubs[heap[r]].next_ns < hubs[heap[m]].next_ns)
            m = r;
        if (m == i)
            break;
        heap_swap(i, m);
        i = m;
    }
    hubs[top].in_heap = false;
    return top;
}

static void record_latency(int64_t l, int64_t d)
{
    if (n_lat == cap_lat) {
        cap_lat = cap_lat ? 2 * cap_lat : 65536;
        lat = realloc(lat, cap_lat * sizeof *lat);
        delay = realloc(delay, cap_lat * sizeof *delay);
        if (!lat || !delay)
            die("out of memory");
    }
    lat[n_lat++] = l;
    delay[n_delay++] = d;
}

static void hub_watch(hub *h, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)(h - hubs)};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, h->fd, &ev) != 0 &&
        (errno != ENOENT || epoll_ctl(ep, EPOLL_CTL_ADD, h->fd, &ev) != 0))
        die("epoll_ctl: %s", strerror(errno));
}

static void hub_close(hub *h)
{
    if (h->fd >= 0)
        close(h->fd); /* also leaves the epoll set */
    h->fd = -1;
}

/* Build the hub's next request (HEAD after a failure, else a PATCH). */
static void hub_build(hub *h)
{
    char head[512];
    int hl;
    h->is_head = h->need_head;
    if (h->is_head) {
        hl = snprintf(head, sizeof head,
                      "HEAD %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                      "Tus-Resumable: 1.0.0\r\n\r\n",
                      h->path, server_host, h->token);
        memcpy(h->out, head, (size_t)hl);
        h->out_len = (size_t)hl;
        h->body_len = 0;
        return;
    }
    /* the body first, after room for the headers */
    size_t room = 512, b = 0;
    uint8_t *body = h->out + room;
    if (!h->sent_header) {
        memcpy(body, strm.file, strm.header_len);
        b += strm.header_len;
    }
    for (int k = 0; k < opt.frames_per_patch; k++, h->index++) {
        size_t r = (size_t)((h - hubs) + h->index) % strm.n;
        b += record_put(body + b, h->index, (int64_t)h->index * 250000, strm.payload[r],
                        strm.payload_len[r]);
    }
    hl = snprintf(head, sizeof head,
                  "PATCH %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                  "Tus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n"
                  "Upload-Offset: %llu\r\nContent-Length: %zu\r\n\r\n",
                  h->path, server_host, h->token, (unsigned long long)h->offset, b);
    if (hl < 0 || (size_t)hl > room)
        die("PATCH headers too long");
    memmove(h->out + room - (size_t)hl, head, (size_t)hl);
    memmove(h->out, h->out + room - (size_t)hl, (size_t)hl + b); /* one contiguous request */
    h->out_len = (size_t)hl + b;
    h->body_len = b;
}

static void hub_send(hub *h, int64_t now);

/* The next PATCH is due one interval after the last was due. */
static void hub_schedule(hub *h)
{
    if (h->next_ns < end_ns)
        heap_push((int)(h - hubs));
    else
        h->state = DONE;
}

/* The request failed without an answer: count it, drop the connection;
 * the hub asks for its offset (HEAD) before its next PATCH. */
static void hub_fail(hub *h, long *counter)
{
    (*counter)++;
    hub_close(h);
    h->need_head = true;
    h->state = IDLE;
    hub_schedule(h);
}

/* Whether the server has closed this idle connection (FIN or RST in). */
static bool hub_closed_by_server(const hub *h)
{
    char c;
    ssize_t k = recv(h->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR);
}

static void hub_start(hub *h, int64_t now)
{
    if (h->fd >= 0 && hub_closed_by_server(h))
        hub_close(h);
    if (h->fd < 0) {
        h->fd = connect_from(h->source, true);
        n_reconnect++;
    }
    hub_build(h);
    h->out_done = h->in_len = 0;
    h->sent_ns = now_ns(); /* not the loop's `now`: many hubs may start in one pass */
    h->state = SENDING;
    hub_send(h, now);
}

static void hub_send(hub *h, int64_t now)
{
    (void)now;
    while (h->out_done < h->out_len) {
        ssize_t k = send(h->fd, h->out + h->out_done, h->out_len - h->out_done, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno == EAGAIN) {
            hub_watch(h, EPOLLOUT);
            return;
        }
        if (k <= 0) {
            hub_fail(h, &n_err_closed);
            return;
        }
        h->out_done += (size_t)k;
    }
    h->state = READING;
    hub_watch(h, EPOLLIN);
}

/* A whole answer is in h->in (head_len bytes of headers, body after). */
static void hub_answered(hub *h, int status, bool close_after, int64_t now)
{
    if (status >= 0 && status < 600)
        status_counts[status]++;
    if (h->is_head) {
        char v[32];
        n_heads++;
        h->in[h->in_len] = '\0';
        if (status == 200 && header_get(h->in, "Upload-Offset", v, sizeof v)) {
            h->offset = strtoull(v, NULL, 10);
            h->need_head = false;
            h->sent_header = h->offset > 0;
        } else {
            n_err_status++;
        }
    } else {
        record_latency(now - h->sent_ns, h->sent_ns - h->tick_ns);
        if (status == 204) {
            n_ok++;
            h->offset += h->body_len;
            h->sent_header = true;
            bytes_sent += (double)h->body_len;
        } else {
            n_err_status++;
            h->need_head = true;
        }
    }
    if (close_after)
        hub_close(h);
    h->state = IDLE;
    if (h->is_head && !h->need_head) { /* the PATCH that the HEAD prepared, now */
        hub_start(h, now);
        return;
    }
    hub_schedule(h);
}

static void hub_read(hub *h, int64_t now)
{
    for (;;) {
        ssize_t k = read(h->fd, h->in + h->in_len, RESP_MAX - h->in_len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno == EAGAIN)
            return;
        if (k <= 0) {
            hub_fail(h, &n_err_closed);
            return;
        }
        h->in_len += (size_t)k;
        h->in[h->in_len] = '\0';
        char *end = strstr(h->in, "\r\n\r\n");
        if (!end) {
            if (h->in_len == RESP_MAX)
                die("an answer's headers exceed %d bytes", RESP_MAX);
            continue;
        }
        size_t head_len = (size_t)(end - h->in) + 4;
        char v[32] = "0";
        header_get(h->in, "Content-Length", v, sizeof v);
        size_t body = h->is_head ? 0 : strtoul(v, NULL, 10);
        if (head_len + body > RESP_MAX)
            die("an answer exceeds %d bytes", RESP_MAX);
        if (h->in_len < head_len + body)
            continue;
        if (h->in_len > head_len + body)
            die("the server sent bytes after an answer");
        int status = atoi(h->in + 9);
        bool close_after =
            header_get(h->in, "Connection", v, sizeof v) && strcasecmp(v, "close") == 0;
        hub_answered(h, status, close_after, now);
        return;
    }
}

/* A number for JSON: null for NaN and infinities (an empty histogram, +Inf). */
static const char *jnum(double v)
{
    static char ring[16][32];
    static int k;
    char *b = ring[k++ % 16];
    if (isnan(v) || isinf(v))
        return "null";
    snprintf(b, 32, "%.3f", v);
    return b;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct_ms(const int64_t *v, size_t n, double q)
{
    if (!n)
        return NAN;
    size_t i = (size_t)ceil(q * (double)n);
    i = i ? i - 1 : 0; /* nearest rank */
    return (double)v[i < n ? i : n - 1] / 1e6;
}

static void usage(void)
{
    fputs("usage: bench-load-hubs --url http://127.0.0.1:PORT --stream FILE [--admin-token T]\n"
          "       [--hubs 1000] [--seconds 30] [--frames-per-patch 2] [--interval 1.0]\n"
          "       [--hubs-per-address 1] [--timeout 10] [--server-pid PID]\n",
          stderr);
    exit(2);
}

static void parse_url(const char *url)
{
    unsigned port = 0;
    if (sscanf(url, "http://%63[^:/]:%u", server_host, &port) != 2 || !port || port > 65535)
        die("--url must be http://IP:PORT, not %s", url);
    server_addr.sin_family = AF_INET;
    server_addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, server_host, &server_addr.sin_addr) != 1 ||
        (ntohl(server_addr.sin_addr.s_addr) >> 24) != 127)
        die("--url must name a loopback IPv4 address (127.x.x.x), not %s", server_host);
    snprintf(server_host + strlen(server_host), sizeof server_host - strlen(server_host), ":%u",
             port);
}

/* Every hub: study, device token, connection from its address, upload. */
static void setup(const char *admin)
{
    int api = -1;
    char body[256], code[64];
    uint32_t base = 0x7F000002u; /* 127.0.0.2 */
    for (int i = 0; i < opt.hubs; i++) {
        hub *h = &hubs[i];
        http_resp r;
        api_post(&api, "/api/v1/studies", "{\"label\": \"load\"}", admin, 201, &r);
        char study[64];
        json_str(r.body, "study", study, sizeof study);
        json_str(r.body, "enrolment_code", code, sizeof code);
        resp_free(&r);
        snprintf(body, sizeof body, "{\"code\": \"%s\"}", code);
        api_post(&api, "/api/v1/devices/enrol", body, NULL, 200, &r);
        json_str(r.body, "token", h->token, sizeof h->token);
        resp_free(&r);

        uint32_t a = base + (uint32_t)(i / opt.per_address);
        if ((a >> 24) != 127)
            die("too many source addresses for loopback");
        h->source = htonl(a);
        /* The upload, created on the setup connection: the hub's own
         * connection opens just before the run, so that the server's
         * header_timeout does not close it while the other hubs are set up. */
        char hh[256];
        snprintf(hh, sizeof hh,
                 "Authorization: Bearer %s\r\nTus-Resumable: 1.0.0\r\n"
                 "Upload-Defer-Length: 1\r\n",
                 h->token);
        if (api < 0)
            api = connect_from(htonl(INADDR_LOOPBACK), false);
        http_do(api, "POST", "/uploads/", hh, NULL, 0, &r);
        if (r.status != 201)
            die("tus creation for hub %d answered %d: %s", i, r.status, r.body);
        char loc[256];
        if (!header_get(r.head, "Location", loc, sizeof loc) || !strstr(loc, "/uploads/"))
            die("tus creation answered no Location");
        snprintf(h->path, sizeof h->path, "%s", strstr(loc, "/uploads/"));
        if (r.close) {
            close(api);
            api = -1;
        }
        resp_free(&r);
        h->out = xmalloc(512 + strm.header_len +
                         (size_t)opt.frames_per_patch * (32 + strm.max_payload + 4));
        h->fd = -1;
        h->state = IDLE;
        if ((i + 1) % 200 == 0)
            fprintf(stderr, "bench-load-hubs: %d hubs set up\n", i + 1);
    }
    if (api >= 0)
        close(api);
}

/* Open every hub's connection, each from its own source address, and wait
 * (up to 10 s) until the server has taken them all. */
static void connect_all(void)
{
    metrics m;
    metrics_get(&m);
    double want = m.connections + opt.hubs + 1;
    for (int i = 0; i < opt.hubs; i++)
        hubs[i].fd = connect_from(hubs[i].source, true);
    for (int k = 0; k < 100; k++) {
        metrics_get(&m);
        if (m.connections >= want)
            return;
        usleep(100000);
    }
    fprintf(stderr, "bench-load-hubs: the server took %.0f of %d connections in 10 s\n",
            m.connections - (want - opt.hubs - 1), opt.hubs);
}

int main(int argc, char **argv)
{
    const char *url = NULL, *path = NULL, *admin = getenv("CAPSCREEN_ADMIN_TOKEN");
    opt = (options){.hubs = 1000,
                    .frames_per_patch = 2,
                    .per_address = 1,
                    .seconds = 30,
                    .interval = 1.0,
                    .timeout = 10};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--url"))
            url = v;
        else if (!strcmp(a, "--stream"))
            path = v;
        else if (!strcmp(a, "--admin-token"))
            admin = v;
        else if (!strcmp(a, "--hubs"))
            opt.hubs = atoi(v);
        else if (!strcmp(a, "--seconds"))
            opt.seconds = atof(v);
        else if (!strcmp(a, "--frames-per-patch"))
            opt.frames_per_patch = atoi(v);
        else if (!strcmp(a, "--interval"))
            opt.interval = atof(v);
        else if (!strcmp(a, "--hubs-per-address"))
            opt.per_address = atoi(v);
        else if (!strcmp(a, "--timeout"))
            opt.timeout = atof(v);
        else if (!strcmp(a, "--server-pid"))
            opt.server_pid = atoi(v);
        else
            usage();
    }
    if (!url || !path || !admin || opt.hubs < 1 || opt.hubs > MAX_HUBS || opt.seconds <= 0 ||
        opt.seconds > 600 || opt.interval <= 0 || opt.frames_per_patch < 1 || opt.per_address < 1 ||
        opt.timeout <= 0)
        usage();
    parse_url(url);
    crc32c_init();
    stream_read(path, &strm);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)opt.hubs + 64) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    hubs = calloc((size_t)opt.hubs, sizeof *hubs);
    heap = calloc((size_t)opt.hubs, sizeof *heap);
    if (!hubs || !heap)
        die("out of memory");
    if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        die("epoll_create1: %s", strerror(errno));
    setup(admin);
    connect_all();

    metrics m0, m1;
    metrics_get(&m0);
    proc_sample p0 = {0}, p1 = {0}, ps;
    bool have_proc = opt.server_pid > 0 && proc_read(opt.server_pid, &p0);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    double rq0 = self_runqueue_wait_s();

    time_t wall_start = time(NULL);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%H:%M:%S", localtime(&wall_start));
    fprintf(stderr, "bench-load-hubs: %d hubs connected; the run starts at %s\n", opt.hubs, stamp);
    int64_t interval_ns = (int64_t)(opt.interval * 1e9), timeout_ns = (int64_t)(opt.timeout * 1e9);
    int64_t start = now_ns() + 200000000, end = start + (int64_t)(opt.seconds * 1e9);
    end_ns = end;
    for (int i = 0; i < opt.hubs; i++) { /* spread evenly over one interval */
        hubs[i].next_ns = start + interval_ns * i / opt.hubs;
        heap_push(i);
    }
    long rss_min = 0, rss_max = 0, threads_max = 0;
    int64_t next_sample = start + (int64_t)(opt.seconds * 1e9 / 2); /* second half only */
    struct epoll_event evs[256];
    for (;;) {
        int64_t now = now_ns();
        while (heap_n && hubs[heap[0]].next_ns <= now) {
            hub *h = &hubs[heap_pop()];
            if (now >= end) { /* a hub behind its schedule sends no backlog after the end */
                h->state = DONE;
                continue;
            }
            h->tick_ns = h->next_ns;
            h->next_ns += interval_ns;
            if (now - h->tick_ns > interval_ns / 10)
                n_late++;
            hub_start(h, now);
        }
        if (!heap_n) { /* past the end: wait for the answers still out */
            bool busy = false;
            for (int i = 0; i < opt.hubs && !busy; i++)
                busy = hubs[i].state == SENDING || hubs[i].state == READING;
            if (!busy)
                break;
        }
        if (have_proc && now >= next_sample && now < end) {
            if (proc_read(opt.server_pid, &ps)) {
                rss_min = rss_min && rss_min < ps.rss_kib ? rss_min : ps.rss_kib;
                rss_max = rss_max > ps.rss_kib ? rss_max : ps.rss_kib;
                threads_max = threads_max > ps.threads ? threads_max : ps.threads;
            }
            next_sample = now + 1000000000;
        }
        if (now >= end + timeout_ns)
            break;
        int64_t wait = heap_n ? hubs[heap[0]].next_ns - now : 100000000;
        if (wait > 100000000)
            wait = 100000000;
        int n = epoll_wait(ep, evs, 256, (int)((wait + 999999) / 1000000));
        now = now_ns();
        for (int e = 0; e < n; e++) {
            hub *h = &hubs[evs[e].data.u32];
            now = now_ns(); /* each answer's own time */
            if (h->state == SENDING)
                hub_send(h, now);
            else if (h->state == READING)
                hub_read(h, now);
            else if (h->fd >= 0) { /* the server closed an idle connection */
                char c;
                if (read(h->fd, &c, 1) <= 0)
                    hub_close(h);
            }
        }
        /* Answers overdue by --timeout: errors, and the hub starts over. */
        static int64_t last_check;
        if (now - last_check > 100000000) {
            last_check = now;
            for (int i = 0; i < opt.hubs; i++) {
                hub *h = &hubs[i];
                if ((h->state == SENDING || h->state == READING) && now - h->sent_ns > timeout_ns) {
                    hub_fail(h, &n_err_timeout);
                }
            }
        }
    }
    int64_t wall = now_ns() - start;
    getrusage(RUSAGE_SELF, &ru1);
    double rq_wait = self_runqueue_wait_s() - rq0;
    if (have_proc)
        proc_read(opt.server_pid, &p1); /* every connection still open */
    long in_flight = 0;
    for (int i = 0; i < opt.hubs; i++)
        in_flight += hubs[i].state == SENDING || hubs[i].state == READING;
    metrics_get(&m1);
    for (int i = 0; i < opt.hubs; i++)
        hub_close(&hubs[i]);

    qsort(lat, n_lat, sizeof *lat, cmp_i64);
    qsort(delay, n_delay, sizeof *delay, cmp_i64);
    double lo50, lo99, lo999;
    double s50 = metrics_quantile(&m0, &m1, 0.50, &lo50),
           s99 = metrics_quantile(&m0, &m1, 0.99, &lo99);
    double s999 = metrics_quantile(&m0, &m1, 0.999, &lo999);
    double srv_n = m1.cum[m1.n - 1] - m0.cum[m0.n - 1];
    double srv_mean = srv_n > 0 ? (m1.sum_s - m0.sum_s) / srv_n : NAN;
    double self_cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
                               ru0.ru_stime.tv_sec) +
                      (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
                               ru0.ru_stime.tv_usec) /
                          1e6;
    double wall_s = (double)wall / 1e9;
    long errors = n_err_status + n_err_closed + n_err_timeout + in_flight;
    double c50 = pct_ms(lat, n_lat, .5), c90 = pct_ms(lat, n_lat, .9),
           c99 = pct_ms(lat, n_lat, .99);
    double c999 = pct_ms(lat, n_lat, .999), cmax = n_lat ? (double)lat[n_lat - 1] / 1e6 : NAN;
    double d99 = pct_ms(delay, n_delay, .99),
           dmax = n_delay ? (double)delay[n_delay - 1] / 1e6 : NAN;
    double analysed = m1.frames_analysed - m0.frames_analysed;
    double srv_cpu = have_proc ? 100 * (p1.cpu_s - p0.cpu_s) / wall_s : NAN;

    fprintf(
        stderr,
        "%d hubs, %.1f s: %zu PATCHes (%ld answered 204), %ld errors (%ld other status, %ld "
        "connection lost, %ld timed out, %ld unanswered at the end), %ld reconnects\n"
        "  client PATCH latency: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f "
        "ms\n"
        "  server tus_patch histogram: %.0f PATCHes, p50 <= %g ms, p99 in (%g, %g] ms, "
        "p99.9 <= %g ms, mean %.2f ms\n"
        "  start delay (after the tick it was due): p99 %.2f ms, max %.2f ms, %ld PATCHes "
        "later than interval/10\n"
        "  frames analysed by the server during the run: %.0f of %ld sent; generator CPU %.1f%%, "
        "waiting for a CPU %.1f ms per s\n",
        opt.hubs, wall_s, n_lat, n_ok, errors, n_err_status, n_err_closed, n_err_timeout, in_flight,
        n_reconnect, c50, c90, c99, c999, cmax, srv_n, s50 * 1e3, lo99 * 1e3, s99 * 1e3, s999 * 1e3,
        srv_mean * 1e3, d99, dmax, n_late, analysed, n_ok * opt.frames_per_patch,
        100 * self_cpu / wall_s, 1e3 * rq_wait / wall_s);
    for (int st = 0; st < 600; st++)
        if (status_counts[st] && st != 204)
            fprintf(stderr, "  answers with status %d: %ld (HEADs after a failure answer 200)\n",
                    st, status_counts[st]);
    if (have_proc)
        fprintf(stderr,
                "  server: CPU %.1f%%, %ld threads, RSS %ld KiB with the hubs connected "
                "before the run, %ld KiB at the end (second half %ld..%ld KiB), peak %ld KiB\n",
                srv_cpu, p1.threads, p0.rss_kib, p1.rss_kib, rss_min, rss_max, p1.hwm_kib);

    printf("{\"hubs\": %d, \"seconds\": %.1f, \"frames_per_patch\": %d, \"interval_s\": %g, "
           "\"hubs_per_address\": %d, \"patches\": %zu, \"ok\": %ld, \"errors\": %ld, "
           "\"errors_status\": %ld, \"errors_connection\": %ld, \"errors_timeout\": %ld, "
           "\"unanswered_at_end\": %ld, \"reconnects\": %ld, \"heads\": %ld, "
           "\"goodput_mbit_s\": %.2f, ",
           opt.hubs, wall_s, opt.frames_per_patch, opt.interval, opt.per_address, n_lat, n_ok,
           errors, n_err_status, n_err_closed, n_err_timeout, in_flight, n_reconnect, n_heads,
           8 * bytes_sent / wall_s / 1e6);
    printf("\"client_ms\": {\"p50\": %s, \"p90\": %s, \"p99\": %s, \"p999\": %s, \"max\": %s}, ",
           jnum(c50), jnum(c90), jnum(c99), jnum(c999), jnum(cmax));
    printf("\"server_patches\": %.0f, \"server_ms\": {\"p50_le\": %s, \"p99_gt\": %s, "
           "\"p99_le\": %s, \"p999_le\": %s, \"mean\": %s}, \"server_errors\": %.0f, ",
           srv_n, jnum(s50 * 1e3), jnum(lo99 * 1e3), jnum(s99 * 1e3), jnum(s999 * 1e3),
           jnum(srv_mean * 1e3), m1.errors - m0.errors);
    printf("\"start_delay_ms\": {\"p99\": %s, \"max\": %s}, \"late\": %ld, \"frames_sent\": %ld, "
           "\"frames_analysed\": %.0f, \"generator_cpu_percent\": %.1f, "
           "\"generator_runqueue_wait_ms_per_s\": %s",
           jnum(d99), jnum(dmax), n_late, n_ok * opt.frames_per_patch, analysed,
           100 * self_cpu / wall_s, jnum(1e3 * rq_wait / wall_s));
    if (have_proc)
        printf(", \"server_cpu_percent\": %.1f, \"server_threads\": %ld, \"server_rss_kib\": %ld, "
               "\"server_rss_kib_connected\": %ld, "
               "\"server_rss_kib_min\": %ld, \"server_rss_kib_max\": %ld, \"server_peak_rss_kib\": "
               "%ld",
               srv_cpu, p1.threads, p1.rss_kib, p0.rss_kib, rss_min, rss_max, p1.hwm_kib);
    printf("}\n");
    return 0;
}
