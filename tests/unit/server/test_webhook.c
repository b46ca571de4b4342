/* test_webhook.c - the webhook sender (care/webhook.h) against a small
 * HTTP receiver on a loopback socket in a thread: deliveries run side by
 * side (the receiver holds alert 1 unanswered until alert 2's request
 * has come and been answered: a sender that waited for alert 1 first
 * would see it time out); a 2xx answer is delivered, another status an error naming
 * it; each request carries its alert id and a signature over its body;
 * a refused connection is an error; more than CS_WEBHOOK_IN_FLIGHT_MAX
 * at once is refused, and freeing the sender with deliveries in flight
 * leaks nothing (ASan, valgrind). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/care/webhook.h"
#include "server/core/core.h"

#define KEY "test-webhook-key-0123456789"

/* The receiver: accepts two connections; answers alert 2 with 200 at
 * once, and alert 1 with 503 only after that. */
typedef struct receiver {
    int listen_fd;
    int port;
    pthread_t thread;
    char request[2][4096]; /* by alert id - 1 */
    bool bad;              /* a request the receiver could not read */
} receiver;

/* One request's head and body (Content-Length), NUL-terminated. */
static bool read_request(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    buf[0] = '\0';
    for (;;) {
        ssize_t n = read(fd, buf + got, cap - 1 - got);
        if (n <= 0)
            return false;
        got += (size_t)n;
        buf[got] = '\0';
        const char *end = strstr(buf, "\r\n\r\n");
        const char *cl = strstr(buf, "Content-Length: ");
        if (end && cl && got >= (size_t)(end + 4 - buf) + (size_t)atoi(cl + 16))
            return true;
        if (got == cap - 1)
            return false;
    }
}

static int alert_id_of(const char *req)
{
    const char *h = strstr(req, "X-Capscreen-Alert-Id: ");
    return h ? atoi(h + 22) : 0;
}

static void answer(int fd, int status)
{
    char out[128];
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status);
    if (write(fd, out, (size_t)n) != n)
        fprintf(stderr, "receiver: short write\n");
}

static void *receiver_main(void *arg)
{
    receiver *r = arg;
    int fd[2] = {-1, -1};
    for (int i = 0; i < 2; i++) {
        int c = accept(r->listen_fd, NULL, NULL);
        char req[4096];
        int id = c >= 0 && read_request(c, req, sizeof req) ? alert_id_of(req) : 0;
        if (id < 1 || id > 2 || fd[id - 1] >= 0) {
            r->bad = true;
            if (c >= 0)
                close(c);
            break;
        }
        fd[id - 1] = c;
        snprintf(r->request[id - 1], sizeof r->request[id - 1], "%s", req);
        if (id == 2) /* alert 2 answered at once, alert 1 only after it */
            answer(c, 200);
    }
    if (fd[0] >= 0)
        answer(fd[0], 503);
    for (int i = 0; i < 2; i++)
        if (fd[i] >= 0)
            close(fd[i]);
    return NULL;
}

static int listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

typedef struct outcomes {
    int n;
    int64_t id[CS_WEBHOOK_IN_FLIGHT_MAX + 1];
    cs_status st[CS_WEBHOOK_IN_FLIGHT_MAX + 1];
    char msg[CS_WEBHOOK_IN_FLIGHT_MAX + 1][256];
} outcomes;

static void record(void *ctx, const cs_alert_rec *a, cs_status st, const cs_error *err)
{
    outcomes *o = ctx;
    assert_true(o->n < CS_WEBHOOK_IN_FLIGHT_MAX + 1);
    o->id[o->n] = a->id;
    o->st[o->n] = st;
    snprintf(o->msg[o->n], sizeof o->msg[o->n], "%s", st == CS_OK ? "" : err->msg);
    o->n++;
}

static cs_alert_rec alert(int64_t id)
{
    cs_alert_rec a;
    memset(&a, 0, sizeof a);
    a.id = id;
    snprintf(a.study, sizeof a.study, "study-%lld", (long long)id);
    snprintf(a.kind, sizeof a.kind, "bleeding");
    snprintf(a.key, sizeof a.key, "0");
    snprintf(a.message, sizeof a.message, "alert %lld", (long long)id);
    a.raised_at_ms = 1000;
    return a;
}

/* Run the sender until `want` outcomes are in, or fail after 20 s. */
static void run_until(cs_webhook *w, outcomes *o, int want)
{
    int64_t end = cs_now_ms() + 20000;
    cs_error e = {0};
    while (o->n < want && cs_now_ms() < end)
        assert_int_equal(cs_webhook_run(w, 200, record, o, &e), CS_OK);
    assert_int_equal(o->n, want);
    assert_int_equal(cs_webhook_in_flight(w), 0);
}

static void test_side_by_side_and_statuses(void **state)
{
    (void)state;
    receiver r;
    memset(&r, 0, sizeof r);
    r.listen_fd = listen_loopback(&r.port);
    assert_int_equal(pthread_create(&r.thread, NULL, receiver_main, &r), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/alerts", r.port);
    cs_webhook *w = NULL;
    cs_error e = {0};
    assert_int_equal(cs_webhook_new(url, KEY, &w, &e), CS_OK);
    cs_alert_rec a1 = alert(1), a2 = alert(2);
    assert_int_equal(cs_webhook_send(w, &a1, &e), CS_OK);
    assert_int_equal(cs_webhook_send(w, &a2, &e), CS_OK);
    assert_int_equal(cs_webhook_in_flight(w), 2);
    outcomes o = {0};
    run_until(w, &o, 2);
    pthread_join(r.thread, NULL);
    close(r.listen_fd);
    assert_false(r.bad);
    /* alert 2 delivered; alert 1 answered (503), not timed out: it was
     * in flight while alert 2 went */
    int i2 = o.id[0] == 2 ? 0 : 1, i1 = 1 - i2;
    assert_int_equal(o.id[i2], 2);
    assert_int_equal(o.st[i2], CS_OK);
    assert_int_equal(o.id[i1], 1);
    assert_int_equal(o.st[i1], CS_ERR_IO);
    assert_string_equal(o.msg[i1], "webhook: the receiver answered 503");
    /* each request: its id, a signature over its body, the alert as JSON */
    for (int i = 0; i < 2; i++) {
        const char *req = r.request[i];
        const char *body = strstr(req, "\r\n\r\n");
        const char *sig = strstr(req, "X-Capscreen-Signature: t=");
        assert_non_null(body);
        assert_non_null(sig);
        assert_non_null(strstr(req, "POST /alerts HTTP/1.1\r\n"));
        assert_non_null(strstr(req, "Content-Type: application/json\r\n"));
        body += 4;
        long long t = atoll(sig + 25);
        char want[160], got[160];
        cs_webhook_sign(KEY, t, body, want, sizeof want);
        snprintf(got, sizeof got, "%.*s", (int)strcspn(sig + 23, "\r"), sig + 23);
        assert_string_equal(got, want);
        char id[32];
        snprintf(id, sizeof id, "\"id\":%d,", i + 1);
        assert_non_null(strstr(body, id));
        assert_non_null(strstr(body, "\"attempt\":1"));
    }
    cs_webhook_free(w);
}

static void test_refused_and_full(void **state)
{
    (void)state;
    /* A port bound but not listening: connections are refused, and no
     * other test can take the port meanwhile. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    int port = ntohs(sa.sin_port);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    cs_webhook *w = NULL;
    cs_error e = {0};
    assert_int_equal(cs_webhook_new(url, KEY, &w, &e), CS_OK);
    for (int i = 0; i < CS_WEBHOOK_IN_FLIGHT_MAX; i++) {
        cs_alert_rec a = alert(i + 1);
        assert_int_equal(cs_webhook_send(w, &a, &e), CS_OK);
    }
    cs_alert_rec extra = alert(99);
    assert_int_equal(cs_webhook_send(w, &extra, &e), CS_ERR_ARG);
    assert_non_null(strstr(e.msg, "in flight already"));
    outcomes o = {0};
    run_until(w, &o, CS_WEBHOOK_IN_FLIGHT_MAX);
    for (int i = 0; i < o.n; i++) {
        assert_int_equal(o.st[i], CS_ERR_IO);
        assert_non_null(strstr(o.msg[i], "webhook: "));
    }
    /* room again; freed with a delivery in flight: nothing leaks */
    assert_int_equal(cs_webhook_send(w, &extra, &e), CS_OK);
    assert_int_equal(cs_webhook_in_flight(w), 1);
    cs_webhook_free(w);
    cs_webhook_wakeup(NULL);
    cs_webhook_free(NULL);
    close(fd);
}

int main(void)
{
    cs_error e = {0};
    if (cs_webhook_global_init(&e) != CS_OK) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_side_by_side_and_statuses),
        cmocka_unit_test(test_refused_and_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
