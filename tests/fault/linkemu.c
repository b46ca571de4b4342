/* linkemu.c - a link emulator for the fault tests: holds the packets that
 * netfilter queues to it (NFQUEUE) for a set delay plus jitter, drops a set
 * share of them, and lets the rest go in order. A test tool, not product
 * code; tests/fault/netlab.sh (netlab_delay) starts one per namespace.
 *
 * Why: this kernel has no sch_netem, so `tc netem delay` is not available;
 * NFQUEUE is. The kernel keeps each queued packet and waits for a verdict;
 * this program issues NF_ACCEPT when the packet is due (or NF_DROP for the
 * lost share). Only the packet's metadata is copied to user space
 * (NFQNL_COPY_META), so holding thousands of packets costs 16 bytes each
 * here; the kernel holds the packets themselves.
 *
 * Usage:
 *   cs-linkemu --queue N [--queue M ...] --delay-ms D [--jitter-ms J]
 *              [--jitter-period-ms P] [--loss PCT] [--seed S]
 *              [--stats FILE] [--ready FILE]
 *
 * Each --queue is delayed independently by D ms. netlab runs one emulator
 * in each namespace, holding the packets that namespace receives from the
 * link (iptables INPUT -> NFQUEUE 0), so a round trip gains 2*D. (Holding
 * packets on their way out instead would stall TCP senders: a held packet
 * still counts against its socket's small-queue limit; see netlab.sh.)
 *
 * Jitter and order. A real mobile link's delay wanders as its queues fill
 * and drain; packets a few milliseconds apart see almost the same delay, and
 * the link does not reorder them. Independent per-packet jitter would
 * reorder a bulk flow constantly (packet k+1 drawn 20 ms shorter than
 * packet k overtakes it), which TCP reads as loss. So the extra delay of a
 * direction is a random walk through points drawn uniformly from [-J, +J]
 * every P ms (default 100), interpolated linearly between them: the delay
 * changes by at most 2J/P ms per ms, less than 1 for any J < P/2, so a
 * later packet is never due before an earlier one. The release time is
 * also clamped to the previous release of the same direction, so order
 * holds for any J and P. Because releases are in arrival order, each
 * direction's held packets form a FIFO already sorted by due time: no heap
 * is needed, and many packets are held at once.
 *
 * Loss: each packet is dropped (NF_DROP, at arrival) with probability
 * PCT/100, independently, from a seeded generator (--seed).
 *
 * Drops we did not choose: a full kernel queue (nfq_set_queue_maxlen, set
 * to 65536 here) or a full netlink socket (receive buffer forced to 32 MiB)
 * drops packets before they reach us. Those are counted by the kernel per
 * queue (/proc/net/netfilter/nfnetlink_queue, this namespace's view) and
 * reported in the stats as queue_dropped and user_dropped, with our own
 * count of ENOBUFS reads (socket_overruns). Tests check they are zero.
 *
 * Stats: a JSON object written to --stats (atomically, by rename) about
 * once a second and at exit: per queue received, dropped (loss), accepted,
 * held now, most held at once; verdicts refused by the kernel (packets the
 * kernel already discarded, e.g. when the link went down; one count for all
 * queues), and the kernel's drop counters. --ready FILE is created once
 * the queues are bound, so a caller can add its NFQUEUE rules only then (a
 * queue without a listener drops everything).
 *
 * Ends on SIGTERM or SIGINT (and when its parent dies: PR_SET_PDEATHSIG), after
 * writing the stats; held packets are then discarded by the kernel.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#define MAX_QUEUES 4
#define KERNEL_QUEUE_MAXLEN 65536u
#define SOCKET_BUFFER_BYTES (32 * 1024 * 1024)
#define READS_PER_ROUND 512 /* then release what is due, so reads cannot starve releases */

struct held {
    uint32_t id;
    int64_t due_ns;
};

/* One direction: its queue, its FIFO of held packets, its jitter walk. */
struct direction {
    uint16_t num;
    struct nfq_q_handle *qh;
    struct held *ring;
    size_t cap, head, count;
    int64_t last_due_ns;
    /* jitter walk: offset goes from v0 at t0 to v1 at t1 */
    int64_t t0, t1;
    double v0, v1;
    /* counters */
    uint64_t received, lost, accepted, max_held;
};

struct emu {
    struct direction dir[MAX_QUEUES];
    int ndir;
    int64_t delay_ns, jitter_ns, period_ns;
    double loss; /* 0..1 */
    uint64_t rng;
    uint64_t socket_overruns;
    uint64_t verdicts_refused; /* the kernel's error replies: packet already gone */
    const char *stats_path;
};

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* splitmix64: small, seeded, good enough for loss and jitter draws */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) / 9007199254740992.0; }

static double jitter_offset(struct emu *e, struct direction *d, int64_t t)
{
    if (e->jitter_ns == 0)
        return 0;
    if (d->t1 == 0) { /* first packet: start the walk here */
        d->t0 = t;
        d->v0 = (2 * rng_unit(&e->rng) - 1) * (double)e->jitter_ns;
        d->t1 = t + e->period_ns;
        d->v1 = (2 * rng_unit(&e->rng) - 1) * (double)e->jitter_ns;
    }
    while (t >= d->t1) {
        d->t0 = d->t1;
        d->v0 = d->v1;
        d->t1 += e->period_ns;
        d->v1 = (2 * rng_unit(&e->rng) - 1) * (double)e->jitter_ns;
    }
    return d->v0 + (d->v1 - d->v0) * (double)(t - d->t0) / (double)(d->t1 - d->t0);
}

static int ring_push(struct direction *d, uint32_t id, int64_t due)
{
    if (d->count == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 4096;
        struct held *n = malloc(ncap * sizeof *n);
        if (!n)
            return -1;
        for (size_t i = 0; i < d->count; i++)
            n[i] = d->ring[(d->head + i) % d->cap];
        free(d->ring);
        d->ring = n;
        d->cap = ncap;
        d->head = 0;
    }
    d->ring[(d->head + d->count) % d->cap] = (struct held){id, due};
    d->count++;
    if (d->count > d->max_held)
        d->max_held = d->count;
    return 0;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa,
                     void *data)
{
    (void)msg;
    struct emu *e = data;
    struct direction *d = NULL;
    for (int i = 0; i < e->ndir; i++)
        if (e->dir[i].qh == qh)
            d = &e->dir[i];
    struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
    if (!d || !ph)
        return 0;
    uint32_t id = ntohl(ph->packet_id);
    d->received++;
    if (e->loss > 0 && rng_unit(&e->rng) < e->loss) {
        d->lost++;
        nfq_set_verdict(qh, id, NF_DROP, 0, NULL);
        return 0;
    }
    int64_t t = now_ns();
    int64_t due = t + e->delay_ns + (int64_t)jitter_offset(e, d, t);
    if (due < d->last_due_ns)
        due = d->last_due_ns; /* never overtake */
    d->last_due_ns = due;
    if (ring_push(d, id, due) !=
        0) { /* out of memory: accept now rather than hold the kernel's packet forever */
        nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
        d->accepted++;
    }
    return 0;
}

/* Accept every held packet that is due; return the earliest due time still
 * held (or -1). */
static int64_t release_due(struct emu *e, int64_t t)
{
    int64_t next = -1;
    for (int i = 0; i < e->ndir; i++) {
        struct direction *d = &e->dir[i];
        while (d->count && d->ring[d->head].due_ns <= t) {
            nfq_set_verdict(d->qh, d->ring[d->head].id, NF_ACCEPT, 0, NULL);
            d->accepted++;
            d->head = (d->head + 1) % d->cap;
            d->count--;
        }
        if (d->count && (next < 0 || d->ring[d->head].due_ns < next))
            next = d->ring[d->head].due_ns;
    }
    return next;
}

/* The kernel's drop counters for queue NUM, from this namespace's
 * /proc/net/netfilter/nfnetlink_queue (queue_num portid total copy_mode
 * copy_range queue_dropped user_dropped id_sequence 1). */
static void kernel_drops(uint16_t num, long long *queue_dropped, long long *user_dropped)
{
    *queue_dropped = *user_dropped = -1;
    FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "r");
    if (!f)
        return;
    unsigned q, portid, total, mode, range;
    long long qd, ud;
    unsigned long long seq;
    int one;
    while (fscanf(f, "%u %u %u %u %u %lld %lld %llu %d", &q, &portid, &total, &mode, &range, &qd,
                  &ud, &seq, &one) == 9) {
        if (q == num) {
            *queue_dropped = qd;
            *user_dropped = ud;
        }
    }
    fclose(f);
}

static void write_stats(const struct emu *e)
{
    if (!e->stats_path)
        return;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", e->stats_path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(
        f,
        "{\"delay_ms\": %.3f, \"jitter_ms\": %.3f, \"loss\": %.4f, \"socket_overruns\": %" PRIu64
        ", \"verdicts_refused\": %" PRIu64 ", \"queues\": [",
        (double)e->delay_ns / 1e6, (double)e->jitter_ns / 1e6, e->loss, e->socket_overruns,
        e->verdicts_refused);
    for (int i = 0; i < e->ndir; i++) {
        const struct direction *d = &e->dir[i];
        long long qd, ud;
        kernel_drops(d->num, &qd, &ud);
        fprintf(f,
                "%s{\"queue\": %u, \"received\": %" PRIu64 ", \"lost\": %" PRIu64
                ", \"accepted\": %" PRIu64 ", \"held\": %zu, \"max_held\": %" PRIu64
                ", \"queue_dropped\": %lld, \"user_dropped\": %lld}",
                i ? ", " : "", d->num, d->received, d->lost, d->accepted, d->count, d->max_held, qd,
                ud);
    }
    fprintf(f, "]}\n");
    if (fclose(f) == 0)
        rename(tmp, e->stats_path);
}

/* A verdict for a packet the kernel no longer holds (the link went down and
 * the kernel flushed its queue) comes back as an error message. */
static void count_refusals(struct emu *e, const char *buf, size_t len)
{
    for (const struct nlmsghdr *nh = (const void *)buf; NLMSG_OK(nh, len);
         nh = NLMSG_NEXT(nh, len)) {
        if (nh->nlmsg_type == NLMSG_ERROR &&
            nh->nlmsg_len >= NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
            const struct nlmsgerr *err = NLMSG_DATA(nh);
            if (err->error != 0)
                e->verdicts_refused++;
        }
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: cs-linkemu --queue N [--queue M ...] --delay-ms D [--jitter-ms J] "
                    "[--jitter-period-ms P]\n"
                    "                  [--loss PCT] [--seed S] [--stats FILE] [--ready FILE]\n");
}

static int parse_ms(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < 0 || v > 60000)
        return -1;
    *out = (int64_t)(v * 1e6);
    return 0;
}

int main(int argc, char **argv)
{
    static struct emu e;
    e.period_ns = 100 * 1000000LL;
    e.rng = 1;
    const char *ready = NULL;
    int have_delay = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            usage();
            return 2;
        }
        i++;
        if (!strcmp(a, "--queue")) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 0 || n > 65535 || e.ndir == MAX_QUEUES) {
                fprintf(stderr, "cs-linkemu: bad --queue %s\n", v);
                return 2;
            }
            e.dir[e.ndir++].num = (uint16_t)n;
        } else if (!strcmp(a, "--delay-ms")) {
            if (parse_ms(v, &e.delay_ns)) {
                fprintf(stderr, "cs-linkemu: bad --delay-ms %s\n", v);
                return 2;
            }
            have_delay = 1;
        } else if (!strcmp(a, "--jitter-ms")) {
            if (parse_ms(v, &e.jitter_ns)) {
                fprintf(stderr, "cs-linkemu: bad --jitter-ms %s\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--jitter-period-ms")) {
            if (parse_ms(v, &e.period_ns) || e.period_ns < 1000000) {
                fprintf(stderr, "cs-linkemu: bad --jitter-period-ms %s (at least 1)\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--loss")) {
            char *end;
            double p = strtod(v, &end);
            if (*end || end == v || p < 0 || p > 100) {
                fprintf(stderr, "cs-linkemu: bad --loss %s (0..100)\n", v);
                return 2;
            }
            e.loss = p / 100;
        } else if (!strcmp(a, "--seed")) {
            e.rng = strtoull(v, NULL, 10);
        } else if (!strcmp(a, "--stats")) {
            e.stats_path = v;
        } else if (!strcmp(a, "--ready")) {
            ready = v;
        } else {
            usage();
            return 2;
        }
    }
    if (!e.ndir || !have_delay) {
        usage();
        return 2;
    }
    if (e.delay_ns < e.jitter_ns) {
        fprintf(stderr, "cs-linkemu: --jitter-ms must not exceed --delay-ms\n");
        return 2;
    }

    pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        return 0; /* parent already gone */
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    struct nfq_handle *h = nfq_open();
    if (!h) {
        fprintf(stderr, "cs-linkemu: nfq_open: %s\n", strerror(errno));
        return 1;
    }
    nfq_unbind_pf(h, AF_INET); /* no-ops on current kernels, needed on old ones */
    nfq_bind_pf(h, AF_INET);
    for (int i = 0; i < e.ndir; i++) {
        struct direction *d = &e.dir[i];
        d->qh = nfq_create_queue(h, d->num, on_packet, &e);
        if (!d->qh) {
            fprintf(stderr, "cs-linkemu: cannot bind queue %u: %s\n", d->num, strerror(errno));
            nfq_close(h);
            return 1;
        }
        if (nfq_set_mode(d->qh, NFQNL_COPY_META, 0) < 0 ||
            nfq_set_queue_maxlen(d->qh, KERNEL_QUEUE_MAXLEN) < 0) {
            fprintf(stderr, "cs-linkemu: cannot configure queue %u: %s\n", d->num, strerror(errno));
            nfq_close(h);
            return 1;
        }
    }
    nfnl_rcvbufsiz(nfq_nfnlh(h), SOCKET_BUFFER_BYTES);
    int fd = nfq_fd(h);
    /* report ENOBUFS (a full socket) to us rather than hide it */
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &(int){0}, sizeof(int));

    if (ready) {
        FILE *f = fopen(ready, "w");
        if (!f || fclose(f) != 0) {
            fprintf(stderr, "cs-linkemu: cannot write %s\n", ready);
            nfq_close(h);
            return 1;
        }
    }

    static char buf[65536];
    int64_t next_stats = now_ns() + 1000000000LL;
    while (!stop_requested) {
        int64_t t = now_ns();
        int64_t next = release_due(&e, t);
        if (t >= next_stats) {
            write_stats(&e);
            next_stats = t + 1000000000LL;
        }
        int64_t wait_ns = next_stats - t;
        if (next >= 0 && next - t < wait_ns)
            wait_ns = next - t;
        if (wait_ns < 0)
            wait_ns = 0;
        struct timespec ts = {wait_ns / 1000000000, wait_ns % 1000000000};
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = ppoll(&p, 1, &ts, NULL);
        if (r < 0 && errno != EINTR) {
            fprintf(stderr, "cs-linkemu: poll: %s\n", strerror(errno));
            break;
        }
        if (r <= 0)
            continue;
        for (int k = 0; k < READS_PER_ROUND; k++) {
            ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n < 0) {
                if (errno == ENOBUFS) {
                    e.socket_overruns++;
                    continue;
                }
                break; /* EAGAIN: drained */
            }
            count_refusals(&e, buf, (size_t)n);
            nfq_handle_packet(h, buf, (int)n);
        }
    }
    write_stats(&e);
    for (int i = 0; i < e.ndir; i++) {
        nfq_destroy_queue(e.dir[i].qh);
        free(e.dir[i].ring);
    }
    nfq_close(h);
    return 0;
}
