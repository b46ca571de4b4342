/* test_linger.c - lingering close (transport/linger.h) over real loopback
 * TCP: a client still writing after the server closed its end gets its
 * bytes drained instead of a reset, and every bound (idle, total,
 * capacity) holds. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/transport/linger.h"

/* A connected pair over 127.0.0.1: *client and *server (the accepted end). */
static void tcp_pair(int *client, int *server)
{
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(ls >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(ls, 1), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(ls, (struct sockaddr *)&a, &len), 0);
    *client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(*client >= 0);
    assert_int_equal(connect(*client, (struct sockaddr *)&a, sizeof a), 0);
    *server = accept(ls, NULL, NULL);
    assert_true(*server >= 0);
    close(ls);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait, bounded, until no socket lingers. */
static bool wait_none_lingering(cs_linger *l, double limit_s)
{
    double until = now_s() + limit_s;
    while (cs_linger_count(l) > 0) {
        if (now_s() > until)
            return false;
        poll(NULL, 0, 10);
    }
    return true;
}

/* Send `total` bytes, blocking; 0 or the errno that stopped it. */
static int send_all(int fd, size_t total)
{
    static char chunk[64 * 1024];
    while (total > 0) {
        size_t n = total < sizeof chunk ? total : sizeof chunk;
        ssize_t w = send(fd, chunk, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        total -= (size_t)w;
    }
    return 0;
}

/* Write until the peer refuses (bounded by 20 s): the errno that stopped it. */
static int send_until_refused(int fd)
{
    int err = 0;
    double t0 = now_s();
    while (err == 0 && now_s() - t0 < 20)
        err = send_all(fd, 1 << 20);
    return err;
}

static bool refused(int err) { return err == EPIPE || err == ECONNRESET; }

static void a_client_still_writing_is_drained_not_reset(void **state)
{
    (void)state;
    cs_linger *l = NULL;
    cs_error e = {0};
    assert_int_equal(cs_linger_start(4, 5000, 30000, &l, &e), CS_OK);
    int client, server;
    tcp_pair(&client, &server);
    /* The server's answer, then its socket handed over and closed, as
     * libmicrohttpd does after an early answer. */
    assert_int_equal(send(server, "answer", 6, MSG_NOSIGNAL), 6);
    assert_true(cs_linger_add(l, server));
    close(server);
    assert_int_equal(cs_linger_count(l), 1);
    /* Far more than every socket buffer on the way holds: without the
     * draining the write fails (reset, broken pipe). */
    assert_int_equal(send_all(client, 32u << 20), 0);
    char buf[16] = {0};
    assert_int_equal(recv(client, buf, sizeof buf, 0), 6);
    assert_memory_equal(buf, "answer", 6);
    assert_int_equal(recv(client, buf, sizeof buf, 0), 0); /* the server's end of file */
    close(client);
    assert_true(wait_none_lingering(l, 10));
    assert_int_equal(cs_linger_total(l), 1);
    assert_int_equal(cs_linger_refused(l), 0);
    cs_linger_stop(l);
}

static void a_silent_client_is_closed_after_the_idle_bound(void **state)
{
    (void)state;
    cs_linger *l = NULL;
    cs_error e = {0};
    assert_int_equal(cs_linger_start(4, 200, 30000, &l, &e), CS_OK);
    int client, server;
    tcp_pair(&client, &server);
    double t0 = now_s();
    assert_true(cs_linger_add(l, server));
    close(server);
    assert_true(wait_none_lingering(l, 10));
    assert_true(now_s() - t0 >= 0.15); /* held until the bound, not closed at once */
    close(client);
    cs_linger_stop(l);
}

static void an_endless_sender_is_cut_after_the_total_bound(void **state)
{
    (void)state;
    cs_linger *l = NULL;
    cs_error e = {0};
    assert_int_equal(cs_linger_start(4, 5000, 300, &l, &e), CS_OK);
    int client, server;
    tcp_pair(&client, &server);
    double t0 = now_s();
    assert_true(cs_linger_add(l, server));
    close(server);
    assert_true(refused(send_until_refused(client)));
    assert_true(now_s() - t0 >= 0.25);
    assert_true(wait_none_lingering(l, 10));
    close(client);
    cs_linger_stop(l);
}

static void past_capacity_a_socket_closes_at_once(void **state)
{
    (void)state;
    cs_linger *l = NULL;
    cs_error e = {0};
    assert_int_equal(cs_linger_start(1, 5000, 30000, &l, &e), CS_OK);
    int c1, s1, c2, s2;
    tcp_pair(&c1, &s1);
    tcp_pair(&c2, &s2);
    assert_true(cs_linger_add(l, s1));
    assert_false(cs_linger_add(l, s2));
    close(s1);
    close(s2);
    assert_int_equal(cs_linger_count(l), 1);
    assert_int_equal(cs_linger_refused(l), 1);
    /* The refused one is closed for good: its client's writes fail soon. */
    assert_true(refused(send_until_refused(c2)));
    /* Stopping closes what still lingers. */
    cs_linger_stop(l);
    assert_true(refused(send_until_refused(c1)));
    close(c1);
    close(c2);
}

static void bad_arguments_are_refused(void **state)
{
    (void)state;
    cs_linger *l = NULL;
    cs_error e = {0};
    assert_int_equal(cs_linger_start(0, 5000, 30000, &l, &e), CS_ERR_ARG);
    assert_null(l);
    assert_true(e.msg[0] != '\0');
    assert_false(cs_linger_add(NULL, 0));
    assert_int_equal(cs_linger_start(1, 5000, 30000, &l, &e), CS_OK);
    assert_false(cs_linger_add(l, -1));
    assert_int_equal(cs_linger_count(l), 0);
    cs_linger_stop(l);
    cs_linger_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_client_still_writing_is_drained_not_reset),
        cmocka_unit_test(a_silent_client_is_closed_after_the_idle_bound),
        cmocka_unit_test(an_endless_sender_is_cut_after_the_total_bound),
        cmocka_unit_test(past_capacity_a_socket_closes_at_once),
        cmocka_unit_test(bad_arguments_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
